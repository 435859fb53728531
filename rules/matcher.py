"""Compiled rules: match a message against hundreds of rules in microseconds, and explain why.

Compiling does the work once per load: rules are indexed by channel, every keyword of every rule
goes into one index per field (see rules.keywords), regexes are compiled, and each rule becomes a
list of cheap checks ordered cheapest first. `match` is the hot path and builds no strings;
`explain` walks the same checks and says which one decided each rule. Pure: `now` comes in the
facts, nothing here reads a clock or the store.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from rules.facts import Facts
from rules.hours import Calendar
from rules.keywords import KeywordIndex, canonical
from rules.schema import Defaults, Rule, Then
from rules.text import fold, strip_accents

Check = Callable[["Prepared"], bool]
Seen = Callable[["Prepared"], Any]


@dataclass(frozen=True, slots=True)
class Condition:
    label: str
    check: Check
    seen: Seen


@dataclass(frozen=True, slots=True)
class Compiled:
    index: int
    rule: Rule
    conditions: tuple[Condition, ...]


class Prepared:
    """A message's facts plus what compiling decided to precompute for it (keyword hits)."""

    __slots__ = ("_plain", "facts", "sender", "subject_hits", "text_hits")

    def __init__(self, facts: Facts, text_index: KeywordIndex, subject_index: KeywordIndex) -> None:
        self.facts = facts
        self.sender = {fold(facts.sender)} | (
            {fold(facts.sender_email)} if facts.sender_email else set()
        )
        self.text_hits = text_index.hits(facts.text)
        self.subject_hits = subject_index.hits(facts.subject)
        self._plain: dict[str, str] = {}

    def plain(self, field_name: str) -> str:
        """The field without accents, computed once per message for all regex rules."""
        if field_name not in self._plain:
            self._plain[field_name] = strip_accents(getattr(self.facts, field_name))
        return self._plain[field_name]


@dataclass(frozen=True, slots=True)
class Actions:
    """The merged outcome of all matching rules and the defaults."""

    team: str | None = None
    agent: str | None = None
    strategy: str | None = None
    priority: str | None = None
    tags: tuple[str, ...] = ()
    sla: str | None = None
    ack: str | None = "ack"
    skills: tuple[str, ...] = ()
    escalate_to: str | None = None
    over_capacity: bool = False
    resolve: bool = False
    spam: bool = False


@dataclass(frozen=True, slots=True)
class Decision:
    actions: Actions
    hits: tuple[str, ...] = ()

    @property
    def defaulted(self) -> bool:
        return not self.hits


@dataclass(frozen=True, slots=True)
class RuleReport:
    index: int
    name: str
    matched: bool
    reason: str
    evaluated: bool = True


@dataclass(frozen=True)
class Explanation:
    reports: list[RuleReport] = field(default_factory=list)
    decision: Decision = Decision(Actions())


class Matcher:
    def __init__(
        self,
        rules: Sequence[Rule],
        calendars: Mapping[str, Calendar],
        default_hours: str | None,
    ) -> None:
        self._calendars = calendars
        self._default_hours = default_hours
        active = [(i, r) for i, r in enumerate(rules) if r.enabled]
        self._text = KeywordIndex(
            k for _, r in active for k in (*r.when.text_any, *r.when.text_all, *r.when.text_none)
        )
        self._subject = KeywordIndex(
            k for _, r in active for k in (*r.when.subject_any, *r.when.subject_all)
        )
        self._all = tuple(Compiled(i, r, tuple(self._conditions(r))) for i, r in active)
        self._by_position = {item.index: item for item in self._all}
        # Rules that need a keyword are only looked at when one of their keywords is in the
        # message; the rest ("unkeyed") are indexed by channel and always looked at.
        self._text_triggers: dict[str, list[int]] = {}
        self._subject_triggers: dict[str, list[int]] = {}
        unkeyed = [item for item in self._all if not self._index_trigger(item)]
        self._by_channel = _index_channels(unkeyed)

    def _index_trigger(self, item: Compiled) -> bool:
        when = item.rule.when
        for keywords, index in (
            (when.text_any or when.text_all, self._text_triggers),
            (when.subject_any or when.subject_all, self._subject_triggers),
        ):
            if keywords:
                for keyword in canonical(keywords):
                    index.setdefault(keyword, []).append(item.index)
                return True
        return False

    def candidates(self, prepared: Prepared) -> list[Compiled]:
        """Rules that could match, in rule order: unkeyed ones for the channel + triggered ones."""
        base = self._by_channel.get(prepared.facts.channel, self._by_channel[None])
        triggered: set[int] = set()
        for keyword in prepared.text_hits:
            triggered.update(self._text_triggers.get(keyword, ()))
        for keyword in prepared.subject_hits:
            triggered.update(self._subject_triggers.get(keyword, ()))
        if not triggered:
            return list(base)
        merged = {item.index: item for item in base}
        merged.update((i, self._by_position[i]) for i in triggered)
        return [merged[i] for i in sorted(merged)]

    def prepare(self, facts: Facts) -> Prepared:
        return Prepared(facts, self._text, self._subject)

    def match(self, facts: Facts, defaults: Defaults) -> Decision:
        prepared = self.prepare(facts)
        hits: list[Rule] = []
        for item in self.candidates(prepared):
            if all(c.check(prepared) for c in item.conditions):
                hits.append(item.rule)
                if item.rule.stop:
                    break
        return Decision(merge(hits, defaults), tuple(r.name for r in hits))

    def explain(self, facts: Facts, defaults: Defaults) -> Explanation:
        prepared = self.prepare(facts)
        reports: list[RuleReport] = []
        hits: list[Rule] = []
        stopped_by: str | None = None
        for item in self._all:
            if stopped_by is not None:
                reports.append(
                    RuleReport(
                        item.index,
                        item.rule.name,
                        False,
                        f"not evaluated: {stopped_by!r} stopped evaluation",
                        False,
                    )
                )
                continue
            failed = next((c for c in item.conditions if not c.check(prepared)), None)
            if failed is not None:
                reason = f"no: {failed.label} (message: {_show(failed.seen(prepared))})"
                reports.append(RuleReport(item.index, item.rule.name, False, reason))
                continue
            held = "; ".join(
                f"{c.label} (message: {_show(c.seen(prepared))})" for c in item.conditions
            )
            reports.append(
                RuleReport(item.index, item.rule.name, True, f"yes: {held or 'no conditions'}")
            )
            hits.append(item.rule)
            if item.rule.stop:
                stopped_by = item.rule.name
        return Explanation(reports, Decision(merge(hits, defaults), tuple(r.name for r in hits)))

    def _conditions(self, rule: Rule) -> list[Condition]:
        when = rule.when
        out: list[Condition] = []

        def add(label: str, check: Check, seen: Seen) -> None:
            out.append(Condition(label, check, seen))

        if when.channel:
            channels = frozenset(when.channel)
            add(
                f"channel in {_list(channels)}",
                lambda p: p.facts.channel in channels,
                lambda p: p.facts.channel,
            )
        if when.account:
            accounts = frozenset(when.account)
            add(
                f"account in {_list(accounts)}",
                lambda p: p.facts.account in accounts,
                lambda p: p.facts.account,
            )
        if when.public is not None:
            public = when.public
            add(
                f"public = {str(public).lower()}",
                lambda p: p.facts.public is public,
                lambda p: p.facts.public,
            )
        if when.first_message is not None:
            first = when.first_message
            add(
                f"first_message = {str(first).lower()}",
                lambda p: p.facts.first_message is first,
                lambda p: p.facts.first_message,
            )
        if when.sender_kind:
            kinds = frozenset(when.sender_kind)
            add(
                f"sender_kind in {_list(kinds)}",
                lambda p: p.facts.sender_kind in kinds,
                lambda p: p.facts.sender_kind,
            )
        if when.sender:
            senders = frozenset(fold(s) for s in when.sender)
            add(
                f"sender in {_list(senders)}",
                lambda p: not senders.isdisjoint(p.sender),
                lambda p: sorted(p.sender),
            )
        if when.sender_domain:
            domains = tuple(d.lower().lstrip("@") for d in when.sender_domain)
            add(
                f"sender_domain in {_list(domains)}",
                lambda p: _in_domains(p.facts.sender_domain, domains),
                lambda p: p.facts.sender_domain,
            )
        if when.contact_tags:
            tags = frozenset(fold(t) for t in when.contact_tags)
            add(
                f"contact_tags any of {_list(tags)}",
                lambda p: any(fold(t) in tags for t in p.facts.contact_tags),
                lambda p: sorted(p.facts.contact_tags),
            )
        if when.language:
            languages = frozenset(code.lower() for code in when.language)
            add(
                f"language in {_list(languages)}",
                lambda p: _primary(p.facts.language) in languages,
                lambda p: p.facts.language,
            )
        if when.in_business_hours is not None:
            out.append(self._hours_condition(when.business_hours, when.in_business_hours))
        out.extend(self._keyword_conditions(rule))
        for name, pattern in (
            ("subject_regex", when.subject_regex),
            ("text_regex", when.text_regex),
        ):
            if pattern is not None:
                out.append(_regex_condition(name, pattern))
        return out

    def _hours_condition(self, name: str | None, inside: bool) -> Condition:
        calendar = self._calendars.get(name or self._default_hours or "")
        label = f"in_business_hours = {str(inside).lower()}"
        if calendar is None:  # only while loading reports the unknown name; never matches
            return Condition(label, lambda p: False, lambda p: "no such business hours")
        return Condition(
            label,
            lambda p: calendar.is_open(p.facts.now) is inside,
            lambda p: calendar.is_open(p.facts.now),
        )

    def _keyword_conditions(self, rule: Rule) -> list[Condition]:
        when = rule.when
        out: list[Condition] = []
        specs: list[tuple[str, Sequence[str], str, bool]] = [
            ("subject_any", when.subject_any, "subject_hits", False),
            ("subject_all", when.subject_all, "subject_hits", True),
            ("text_any", when.text_any, "text_hits", False),
            ("text_all", when.text_all, "text_hits", True),
        ]
        for name, keywords, attribute, every in specs:
            if keywords:
                wanted = canonical(keywords)
                out.append(_keyword_condition(name, wanted, attribute, every))
        if when.text_none:
            unwanted = canonical(when.text_none)
            out.append(
                Condition(
                    f"text_none of {_list(unwanted)}",
                    lambda p: unwanted.isdisjoint(p.text_hits),
                    lambda p: _list(unwanted & p.text_hits) or "none of them",
                )
            )
        return out


def _index_channels(items: Sequence[Compiled]) -> dict[str | None, tuple[Compiled, ...]]:
    channels = {c for item in items for c in item.rule.when.channel}
    unbound = tuple(item for item in items if not item.rule.when.channel)
    index: dict[str | None, tuple[Compiled, ...]] = {None: unbound}
    for channel in channels:
        index[channel] = tuple(
            item
            for item in items
            if not item.rule.when.channel or channel in item.rule.when.channel
        )
    return index


def _keyword_condition(name: str, wanted: frozenset[str], attribute: str, every: bool) -> Condition:
    label = f"{name} {_list(wanted)}"

    def hits(p: Prepared) -> frozenset[str]:
        value: frozenset[str] = getattr(p, attribute)
        return value

    if every:
        return Condition(
            label,
            lambda p: wanted <= hits(p),
            lambda p: f"found {_list(wanted & hits(p)) or 'none'}",
        )
    return Condition(
        label,
        lambda p: not wanted.isdisjoint(hits(p)),
        lambda p: f"found {_list(wanted & hits(p)) or 'none'}",
    )


def _regex_condition(name: str, pattern: str) -> Condition:
    # Matched against the text as written and folded, so "счёт" and "Café" work either way.
    compiled = re.compile(pattern, re.IGNORECASE)
    try:
        plain = re.compile(strip_accents(pattern), re.IGNORECASE)
    except re.error:  # NFKD turned a full-width symbol into syntax; the original must do
        plain = compiled
    field_name = "subject" if name.startswith("subject") else "text"

    def check(p: Prepared) -> bool:
        value: str = getattr(p.facts, field_name)
        return bool(compiled.search(value) or plain.search(p.plain(field_name)))

    return Condition(f"{name} /{pattern}/", check, lambda p: "matches" if check(p) else "no match")


def merge(hits: Sequence[Rule], defaults: Defaults) -> Actions:
    """Apply rule actions in order (later wins, tags add up), then defaults for the rest."""
    values: dict[str, Any] = {}
    tags: list[str] = []
    skills: list[str] = []
    for rule in hits:
        _apply(rule.then, values, tags, skills)
    fallback: dict[str, Any] = {}
    # Default tags and skills describe "nothing matched"; they would be noise on a matched rule.
    _apply(defaults, fallback, [] if hits else tags, [] if hits else skills)
    for key, value in fallback.items():
        values.setdefault(key, value)
    ack = values.pop("ack", None)
    if ack is True or ack is None:
        ack_name: str | None = "ack"
    else:
        ack_name = ack or None
    if values.get("resolve") or values.get("spam"):
        ack_name = None
    return Actions(
        ack=ack_name, tags=tuple(dict.fromkeys(tags)), skills=tuple(dict.fromkeys(skills)), **values
    )


_SCALARS = (
    "team",
    "agent",
    "strategy",
    "priority",
    "sla",
    "ack",
    "escalate_to",
    "over_capacity",
    "resolve",
    "spam",
)


def _apply(then: Then, values: dict[str, Any], tags: list[str], skills: list[str]) -> None:
    given = then.model_fields_set
    for name in _SCALARS:
        if name in given and getattr(then, name) is not None:
            values[name] = getattr(then, name)
    tags.extend(then.tags)
    skills.extend(then.skills)


def _in_domains(domain: str, domains: Sequence[str]) -> bool:
    return any(domain == d or domain.endswith("." + d) for d in domains)


def _primary(language: str | None) -> str:
    return (language or "").lower().replace("_", "-").split("-")[0]


def _list(values: Any) -> str:
    return ", ".join(sorted(str(v) for v in values))


def _show(value: Any) -> str:
    if isinstance(value, list | tuple | set | frozenset):
        return _list(value) or "none"
    return "none" if value is None or value == "" else str(value)
