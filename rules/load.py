"""Loading the rules sections from the main config and the rule files into one checked RuleSet.

Sections may live in the main config or in any file `[rules] files` names; they are merged, and
a name defined twice is an error that points at both places. Every problem is collected (not
just the first) with file, line and key, and references between sections ("unknown team
'biling'") come with the list of names that do exist, so an admin can fix all of it in one go.

In the main config `[rules]` is a table (`files`, `default_language`), so rules written inline
there use `[[rules.list]]`; a rule file uses plain `[[rules]]`.
"""

from __future__ import annotations

import difflib
import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel, ValidationError

from inbox.errors import ConfigError, Problem
from rules.ruleset import RuleSet
from rules.schema import AgentDef, BusinessHours, Defaults, Routing, Rule, Sla, Team
from rules.templates import check_template
from rules.tomlsource import KeyPath, TomlSource, load_toml

NAMED: dict[str, type[BaseModel]] = {
    "business_hours": BusinessHours,
    "sla": Sla,
    "agents": AgentDef,
    "teams": Team,
}
SINGLE: dict[str, type[BaseModel]] = {"defaults": Defaults, "routing": Routing}


@dataclass
class _Collected:
    named: dict[str, dict[str, tuple[Any, TomlSource, KeyPath]]] = field(
        default_factory=lambda: {name: {} for name in (*NAMED, "templates")}
    )
    single: dict[str, tuple[Any, TomlSource, KeyPath]] = field(default_factory=dict)
    rules: list[tuple[Any, TomlSource, KeyPath]] = field(default_factory=list)
    valid_rules: list[tuple[Rule, TomlSource, KeyPath]] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)


def load_ruleset(
    main: TomlSource | None,
    files: Sequence[str | Path] = (),
    *,
    default_language: str = "en",
    known_channels: Iterable[str] | None = None,
    known_accounts: Iterable[str] | None = None,
) -> RuleSet:
    """Build a RuleSet or raise ConfigError listing every problem found."""
    collected = _Collected()
    sources: list[TomlSource] = []
    if main is not None:
        _collect(main, collected, is_main=True)
        sources.append(main)
    for path in files:
        try:
            source = load_toml(path)
        except ConfigError as exc:
            collected.problems.extend(exc.problems)
            continue
        _collect(source, collected, is_main=False)
        sources.append(source)
    ruleset = _validate(collected, default_language)
    _check_references(ruleset, collected, known_channels, known_accounts)
    if collected.problems:
        raise ConfigError(collected.problems)
    assert ruleset is not None
    return ruleset


def _collect(src: TomlSource, out: _Collected, *, is_main: bool) -> None:
    for section, value in src.data.items():
        if section in NAMED or section == "templates":
            _collect_named(src, section, value, out)
        elif section in SINGLE:
            if section in out.single:
                first = out.single[section]
                out.problems.append(
                    src.problem(
                        (section,),
                        f"[{section}] is defined twice (first at {_where(first[1], first[2])})",
                    )
                )
            else:
                out.single[section] = (value, src, (section,))
        elif section == "rules":
            _collect_rules(src, value, out, is_main=is_main)
        elif not is_main:
            # The main config's own sections (store, web, ...) are validated by inbox.config.
            known = ", ".join(sorted((*NAMED, *SINGLE, "templates", "rules")))
            out.problems.append(
                src.problem((section,), f"unknown section; a rules file may hold: {known}")
            )


def _collect_named(src: TomlSource, section: str, value: Any, out: _Collected) -> None:
    if not isinstance(value, dict):
        out.problems.append(
            src.problem((section,), f"[{section}] must be a table of named entries")
        )
        return
    for name, entry in value.items():
        seen = out.named[section]
        if name in seen:
            first = seen[name]
            out.problems.append(
                src.problem(
                    (section, name),
                    f"{section} {name!r} is defined twice (first at {_where(first[1], first[2])})",
                )
            )
            continue
        seen[name] = (entry, src, (section, name))


def _collect_rules(src: TomlSource, value: Any, out: _Collected, *, is_main: bool) -> None:
    if isinstance(value, list):
        prefix: KeyPath = ("rules",)
        items = value
    elif isinstance(value, dict) and is_main:
        for key in sorted(set(value) - {"files", "default_language", "list"}):
            out.problems.append(
                src.problem(
                    ("rules", key), "unknown key; expected one of: default_language, files, list"
                )
            )
        items = value.get("list", [])
        prefix = ("rules", "list")
        if not isinstance(items, list):
            out.problems.append(src.problem(prefix, "write inline rules as [[rules.list]] tables"))
            return
    else:
        out.problems.append(src.problem(("rules",), "write rules as [[rules]] tables"))
        return
    for index, item in enumerate(items):
        out.rules.append((item, src, (*prefix, index)))


def _model(model: type[BaseModel], raw: Any, src: TomlSource, key: KeyPath, out: _Collected) -> Any:
    if not isinstance(raw, dict):
        out.problems.append(src.problem(key, "expected a table"))
        return None
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        for error in exc.errors():
            loc = (*key, *error["loc"])
            message = str(error["msg"]).removeprefix("Value error, ")
            if error["type"] == "extra_forbidden":
                fields = ", ".join(_fields_at(model, error["loc"][:-1]))
                message = f"unknown key; expected one of: {fields}"
            elif error["type"] == "missing":
                message = "required key is missing"
            out.problems.append(src.problem(loc, message))
        return None


def _fields_at(model: type[BaseModel], loc: Sequence[Any]) -> list[str]:
    current: Any = model
    for part in loc:
        info = getattr(current, "model_fields", {}).get(part)
        current = info.annotation if info is not None else None
    return sorted(getattr(current, "model_fields", {}))


def _validate(out: _Collected, default_language: str) -> RuleSet | None:
    named: dict[str, dict[str, Any]] = {}
    for section, model in NAMED.items():
        named[section] = {}
        for name, (raw, src, key) in out.named[section].items():
            value = _model(model, raw, src, key, out)
            if value is not None:
                named[section][name] = value
    templates = _templates(out)
    single: dict[str, Any] = {
        section: _model(model, *out.single[section], out) if section in out.single else model()
        for section, model in SINGLE.items()
    }
    defaults: Defaults = single["defaults"] or Defaults()
    routing: Routing = single["routing"] or Routing()
    rules, origins = [], []
    for raw, src, key in out.rules:
        rule = _model(Rule, raw, src, key, out)
        if rule is not None:
            rules.append(rule)
            origins.append(_where(src, key))
            out.valid_rules.append((rule, src, key))
    return RuleSet(
        rules=tuple(rules),
        business_hours=named["business_hours"],
        slas=named["sla"],
        agents=named["agents"],
        teams=named["teams"],
        templates=templates,
        defaults=defaults,
        routing=routing,
        default_language=defaults.language or default_language,
        origins=tuple(origins),
        fingerprint=_fingerprint(out),
    )


def _templates(out: _Collected) -> dict[str, dict[str, str]]:
    templates: dict[str, dict[str, str]] = {}
    for name, (raw, src, key) in out.named["templates"].items():
        if not isinstance(raw, dict) or not all(isinstance(v, str) for v in raw.values()):
            out.problems.append(
                src.problem(
                    key, 'expected one text per language, e.g. en = "Hi {{ customer_name }}"'
                )
            )
            continue
        for language, text in raw.items():
            problem = check_template(text)
            if problem:
                out.problems.append(src.problem((*key, language), problem))
        templates[name] = dict(raw)
    return templates


def _fingerprint(out: _Collected) -> str:
    digest = hashlib.sha256()
    for src in {id(s): s for s in _all_sources(out)}.values():
        digest.update(repr(src.data).encode())
    return digest.hexdigest()[:16]


def _all_sources(out: _Collected) -> list[TomlSource]:
    found = [src for section in out.named.values() for _, src, _ in section.values()]
    found += [src for _, src, _ in out.single.values()] + [src for _, src, _ in out.rules]
    return found


def _check_references(
    ruleset: RuleSet | None,
    out: _Collected,
    known_channels: Iterable[str] | None,
    known_accounts: Iterable[str] | None,
) -> None:
    if ruleset is None:
        return
    check = _Checker(ruleset, out)
    for name, (_, src, key) in out.named["sla"].items():
        sla = ruleset.slas.get(name)
        if sla and sla.business_hours:
            check.ref(sla.business_hours, "business_hours", src, (*key, "business_hours"))
    for name, (_, src, key) in out.named["teams"].items():
        team = ruleset.teams.get(name)
        if team is None:
            continue
        for index, agent in enumerate(team.agents):
            check.ref(agent, "agents", src, (*key, "agents", index))
        if team.escalate_to:
            check.owner(team.escalate_to, src, (*key, "escalate_to"))
        if team.sla:
            check.ref(team.sla, "sla", src, (*key, "sla"))
    if "defaults" in out.single:
        _, src, key = out.single["defaults"]
        check.then(ruleset.defaults, src, key)
        if ruleset.defaults.business_hours:
            check.ref(
                ruleset.defaults.business_hours, "business_hours", src, (*key, "business_hours")
            )
    for rule, src, key in out.valid_rules:
        check.then(rule.then, src, (*key, "then"))
        check.when(rule, src, key, known_channels, known_accounts)


class _Checker:
    """Reference checks with suggestions: "unknown team 'biling' — known teams: billing, support"."""

    PLURAL: ClassVar[dict[str, str]] = {
        "teams": "teams",
        "agents": "agents",
        "sla": "SLA policies",
        "business_hours": "business hours",
        "templates": "templates",
    }

    def __init__(self, ruleset: RuleSet, out: _Collected) -> None:
        self.names: dict[str, set[str]] = {
            "teams": set(ruleset.teams),
            "agents": set(ruleset.agents),
            "sla": set(ruleset.slas),
            "business_hours": set(ruleset.business_hours),
            "templates": set(ruleset.templates) | {"ack", "update"},
        }
        self.out = out

    def ref(self, name: str, section: str, src: TomlSource, key: KeyPath) -> None:
        known = self.names[section]
        if name in known:
            return
        singular = {
            "teams": "team",
            "agents": "agent",
            "sla": "SLA policy",
            "business_hours": "business hours",
            "templates": "template",
        }[section]
        self.out.problems.append(
            src.problem(
                key, f"unknown {singular} {name!r}{_suggest(name, known, self.PLURAL[section])}"
            )
        )

    def owner(self, name: str, src: TomlSource, key: KeyPath) -> None:
        known = self.names["agents"] | self.names["teams"]
        if name not in known:
            self.out.problems.append(
                src.problem(
                    key,
                    f"unknown agent or team {name!r}{_suggest(name, known, 'agents and teams')}",
                )
            )

    def then(self, then: Any, src: TomlSource, key: KeyPath) -> None:
        for attribute, section in (("team", "teams"), ("agent", "agents"), ("sla", "sla")):
            value = getattr(then, attribute)
            if value:
                self.ref(value, section, src, (*key, attribute))
        if isinstance(then.ack, str):
            self.ref(then.ack, "templates", src, (*key, "ack"))
        if then.escalate_to:
            self.owner(then.escalate_to, src, (*key, "escalate_to"))

    def when(
        self,
        rule: Rule,
        src: TomlSource,
        key: KeyPath,
        channels: Iterable[str] | None,
        accounts: Iterable[str] | None,
    ) -> None:
        when = rule.when
        if when.business_hours:
            self.ref(when.business_hours, "business_hours", src, (*key, "when", "business_hours"))
        elif when.in_business_hours is not None and not self.names["business_hours"]:
            self.out.problems.append(
                src.problem(
                    (*key, "when", "in_business_hours"), "no [business_hours.NAME] is defined"
                )
            )
        for attribute, known in (("channel", channels), ("account", accounts)):
            if known is None:
                continue
            known_set = set(known)
            for index, value in enumerate(getattr(when, attribute)):
                if value not in known_set:
                    plural = "channel types" if attribute == "channel" else "channel accounts"
                    self.out.problems.append(
                        src.problem(
                            (*key, "when", attribute, index),
                            f"unknown {attribute} {value!r}{_suggest(value, known_set, plural)}",
                        )
                    )


def _suggest(name: str, known: Iterable[str], plural: str) -> str:
    names = sorted(known)
    if not names:
        return f" — no {plural} are defined"
    close = difflib.get_close_matches(name, names, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return f"{hint} — known {plural}: {', '.join(names)}"


def _where(src: TomlSource, key: KeyPath) -> str:
    line = src.line_of(key)
    return f"{src.path}:{line}" if line else src.path
