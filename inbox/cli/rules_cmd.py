"""`heard rules check` and `heard rules explain`: how admins debug their rules.

`check` lists every problem at once and exits 1 when there is any. `explain` takes a message
(an .eml file, a JSON message or a stored message id) and prints, for every rule, whether it
matched and which condition decided it, then the actions that would be taken.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

from inbox.cli.common import add_config, load_heard
from inbox.config import Settings, config_path, load_settings, problems_text
from inbox.errors import BadInput, ConfigError
from inbox.models import Contact, Conversation, Message, utcnow
from inbox.rulebook import load_rules
from inbox.types import InboundMessage, Sender, SenderKind
from rules.facts import Facts
from rules.language import detect_language
from rules.matcher import Explanation
from rules.ruleset import RuleSet


def register(commands: Any) -> None:
    group = commands.add_parser("rules", help="check rules and explain routing decisions")
    sub = group.add_subparsers(dest="rules_command", required=True, metavar="ACTION")
    check = sub.add_parser("check", help="validate the rules; exit 1 listing every problem")
    add_config(check)
    check.set_defaults(handler=check_rules)
    explain = sub.add_parser("explain", help="show which rules a message hits and why")
    add_config(explain)
    source = explain.add_mutually_exclusive_group(required=True)
    source.add_argument("--eml", metavar="FILE", help="an email message file")
    source.add_argument(
        "--json", metavar="FILE", help='a JSON message: {"channel": ..., "text": ...}'
    )
    source.add_argument("--message", metavar="ID", type=int, help="a stored message id")
    explain.add_argument("--account", help="channel account the message came in on")
    explain.add_argument("--now", help="evaluate at this time (ISO 8601), default: now")
    explain.add_argument("--follow-up", action="store_true", help="treat it as a follow-up")
    explain.set_defaults(handler=explain_message)


def check_rules(args: argparse.Namespace) -> int:
    settings = load_settings(config_path(args.config))
    try:
        ruleset, files = load_rules(settings)
    except ConfigError as exc:
        print(problems_text(exc.problems), file=sys.stderr)
        return 1
    where = ", ".join(str(f) for f in [Path(settings.path), *files])
    print(
        f"rules OK ({where}): {len(ruleset.rules)} rules, {len(ruleset.teams)} teams, "
        f"{len(ruleset.agents)} agents, {len(ruleset.slas)} SLA policies, "
        f"{len(ruleset.templates)} templates"
    )
    return 0


def explain_message(args: argparse.Namespace) -> int:
    settings = load_settings(config_path(args.config))
    ruleset, _ = load_rules(settings)
    now = _when(args.now)
    if args.message is not None:
        facts = _stored_facts(args, now)
    else:
        msg = _eml(settings, args) if args.eml else _json_message(args)
        facts = Facts.from_message(
            msg,
            now=now,
            first_message=not args.follow_up,
            contact_tags=msg.extras.get("contact_tags", ()),
            language=msg.extras.get("language") or detect_language(msg.text),
        )
    print(render_explanation(ruleset, facts, ruleset.explain(facts)))
    return 0


def render_explanation(ruleset: RuleSet, facts: Facts, explanation: Explanation) -> str:
    lines = [
        f"message: channel={facts.channel} account={facts.account} sender={facts.sender} "
        f"kind={facts.sender_kind} language={facts.language or '?'} "
        f"first={str(facts.first_message).lower()} public={str(facts.public).lower()}",
        f"at: {facts.now.isoformat()}",
        "",
    ]
    for report in explanation.reports:
        mark = "MATCH" if report.matched else ("skip " if not report.evaluated else "no   ")
        origin = ruleset.origins[report.index] if report.index < len(ruleset.origins) else ""
        lines.append(f"{mark} {report.index + 1}. {report.name}  ({origin})")
        lines.append(f"      {report.reason}")
    decision = explanation.decision
    actions = decision.actions
    lines += ["", "default actions (no rule matched)" if decision.defaulted else "actions:"]
    for name in ("team", "agent", "strategy", "priority", "sla", "ack", "escalate_to"):
        value = getattr(actions, name)
        lines.append(f"  {name}: {value if value is not None else '-'}")
    lines.append(f"  tags: {', '.join(actions.tags) or '-'}")
    if actions.skills:
        lines.append(f"  skills: {', '.join(actions.skills)}")
    for flag in ("over_capacity", "resolve", "spam"):
        if getattr(actions, flag):
            lines.append(f"  {flag}: yes")
    return "\n".join(lines)


def _when(text: str | None) -> datetime:
    if not text:
        return utcnow()
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise BadInput(f"--now must be an ISO 8601 time, got {text!r}") from None
    if value.tzinfo is None:
        raise BadInput("--now needs a time zone, e.g. 2026-11-24T10:00+01:00")
    return value


def _eml(settings: Settings, args: argparse.Namespace) -> InboundMessage:
    from connectors.email.mime import MailContext, normalize

    channel = next((c for c in settings.channels if c.type == "email"), None)
    account = args.account or (channel.name if channel else "email")
    own: frozenset[str] = getattr(channel, "own_addresses", frozenset())
    try:
        raw = Path(args.eml).read_bytes()
    except OSError as exc:
        raise BadInput(f"cannot read {args.eml}: {exc}") from None
    return normalize(raw, MailContext(account=account, own_addresses=own))


def _json_message(args: argparse.Namespace) -> InboundMessage:
    try:
        data = json.loads(Path(args.json).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise BadInput(f"cannot read {args.json}: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("channel"), str):
        raise BadInput('the JSON message must be an object with at least "channel" and "text"')
    sender = data.get("sender", "")
    if isinstance(sender, str):
        sender = {"handle": sender, "email": sender if "@" in sender else None}
    try:
        return InboundMessage(
            channel=data["channel"],
            account=args.account or data.get("account") or data["channel"],
            external_id="explain",
            sender=Sender(**sender),
            text=str(data.get("text", "")),
            subject=str(data.get("subject", "")),
            received_at=utcnow(),
            sender_kind=SenderKind(data.get("sender_kind", "human")),
            is_public=bool(data.get("is_public", data.get("public", False))),
            extras={k: data[k] for k in ("contact_tags", "language") if k in data},
        )
    except (TypeError, ValueError) as exc:
        raise BadInput(f"bad JSON message: {exc}") from None


def _stored_facts(args: argparse.Namespace, now: datetime) -> Facts:
    heard = load_heard(args)
    with heard.sessions() as session:
        message = session.get(Message, args.message)
        if message is None:
            raise BadInput(f"no message {args.message}")
        conversation = session.get(Conversation, message.conversation_id)
        assert conversation is not None
        contact = session.get(Contact, conversation.contact_id)
        return Facts(
            channel=conversation.channel,
            account=conversation.account,
            text=message.text,
            now=now,
            subject=message.subject,
            sender=message.sender_handle,
            sender_email=contact.email if contact else None,
            sender_kind=message.sender_kind,
            contact_tags=frozenset(str(t) for t in (contact.tags if contact else []) or []),
            language=conversation.language or detect_language(message.text),
            first_message=not args.follow_up,
            public=conversation.is_public,
        )
