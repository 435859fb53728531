"""Matching: every condition, every action, order and stop, defaults, and `explain`."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from inbox.types import InboundMessage, Sender, SenderKind
from rules.facts import Facts
from rules.load import load_ruleset
from rules.ruleset import RuleSet
from rules.tomlsource import parse_toml

BASE = """
[business_hours.office]
timezone = "Europe/Berlin"
hours = "09:00-18:00"

[sla.standard]
first_response = "12h"

[agents.ann]
[agents.boris]
[teams.support]
agents = ["ann", "boris"]
[teams.billing]
agents = ["ann"]
[templates.vip]
en = "Hello VIP"
"""

TUESDAY_NOON = datetime(2026, 11, 24, 11, tzinfo=UTC)
TUESDAY_NIGHT = datetime(2026, 11, 24, 22, tzinfo=UTC)


def ruleset(rules: str, extra: str = "") -> RuleSet:
    return load_ruleset(parse_toml(BASE + extra + rules, "heard.toml"))


def facts(**overrides: Any) -> Facts:
    values: dict[str, Any] = {
        "channel": "email",
        "account": "mail",
        "text": "Hello there",
        "now": TUESDAY_NOON,
        "sender": "jo@customer.example",
        "sender_email": "jo@customer.example",
    }
    values.update(overrides)
    return Facts(**values)


def hits(when: str, **overrides: Any) -> bool:
    rs = ruleset(f'[[rules.list]]\nname = "r"\n{when}\nthen.tags = ["hit"]\n')
    return rs.match(facts(**overrides)).hits == ("r",)


CONDITIONS = [
    ('when.channel = ["email", "webhook"]', {}, {"channel": "telegram"}),
    ('when.channel = "email"', {}, {"channel": "x"}),
    ('when.account = ["mail"]', {}, {"account": "other"}),
    ('when.sender = ["JO@customer.example"]', {}, {"sender": "x@y.z", "sender_email": None}),
    ('when.sender = ["@jo_tw"]', {"sender": "@jo_tw", "sender_email": None}, {}),
    (
        'when.sender_domain = ["customer.example"]',
        {},
        {"sender_email": "a@other.example", "sender": "1"},
    ),
    (
        'when.sender_domain = ["example"]',
        {"sender_email": "a@mail.example"},
        {"sender_email": "a@example.org", "sender": "1"},
    ),
    ('when.contact_tags = ["VIP"]', {"contact_tags": frozenset({"vip", "x"})}, {}),
    ('when.subject_any = ["Rechnung"]', {"subject": "Ihre RECHNUNG 42"}, {"subject": "Hallo"}),
    ('when.subject_all = ["order", "late"]', {"subject": "Order is late"}, {"subject": "Order ok"}),
    ('when.subject_regex = "^re:"', {"subject": "RE: help"}, {"subject": "help"}),
    ('when.text_any = ["refund", "возврат"]', {"text": "I want a REFUND now"}, {"text": "hi"}),
    ('when.text_any = ["refund"]', {"text": "Refunds please"}, {"text": "unrefundable"}),
    ('when.text_any = ["счёт"]', {"text": "Пришлите СЧЕТ, пожалуйста"}, {"text": "Привет"}),
    ('when.text_any = ["café"]', {"text": "the CAFE is closed"}, {"text": "caf"}),
    (
        'when.text_any = ["credit card"]',
        {"text": "my Credit  Card was charged"},
        {"text": "card credit"},
    ),
    (
        'when.text_all = ["cancel", "account"]',
        {"text": "cancel my account"},
        {"text": "cancel order"},
    ),
    (
        'when.text_any = ["help"]\nwhen.text_none = ["unsubscribe"]',
        {"text": "help"},
        {"text": "help unsubscribe"},
    ),
    (
        'when.text_regex = "order #\\\\d+"',
        {"text": "Order #123 missing"},
        {"text": "order # missing"},
    ),
    ('when.text_regex = "счёт"', {"text": "мой счет"}, {"text": "мой"}),
    ('when.language = ["de"]', {"language": "de-AT"}, {"language": "en"}),
    ("when.in_business_hours = true", {}, {"now": TUESDAY_NIGHT}),
    ("when.in_business_hours = false", {"now": TUESDAY_NIGHT}, {}),
    (
        'when.business_hours = "office"\nwhen.in_business_hours = true',
        {},
        {"now": datetime(2026, 11, 28, 11, tzinfo=UTC)},
    ),
    ("when.first_message = true", {}, {"first_message": False}),
    ("when.first_message = false", {"first_message": False}, {}),
    ('when.sender_kind = ["auto_reply", "bounce"]', {"sender_kind": "bounce"}, {}),
    ('when.sender_kind = "list"', {"sender_kind": "list"}, {"sender_kind": "human"}),
    ("when.public = true", {"public": True, "channel": "x"}, {"channel": "x"}),
]


@pytest.mark.parametrize(("when", "yes", "no"), CONDITIONS, ids=[c[0] for c in CONDITIONS])
def test_condition(when: str, yes: dict[str, Any], no: dict[str, Any]) -> None:
    assert hits(when, **yes)
    assert not hits(when, **no)


def test_actions_merge_in_order_and_tags_accumulate() -> None:
    rs = ruleset(
        """
[[rules.list]]
name = "all"
then.team = "support"
then.tags = ["a"]
then.priority = "normal"
then.sla = "standard"

[[rules.list]]
name = "refund"
when.text_any = ["refund"]
then.team = "billing"
then.agent = "ann"
then.strategy = "least_loaded"
then.priority = "high"
then.tags = ["refund", "a"]
then.ack = "vip"
then.skills = ["money"]
then.escalate_to = "boris"
then.over_capacity = true
"""
    )
    decision = rs.match(facts(text="refund"))
    actions = decision.actions
    assert decision.hits == ("all", "refund")
    assert (actions.team, actions.agent, actions.strategy, actions.priority) == (
        "billing",
        "ann",
        "least_loaded",
        "high",
    )
    assert actions.tags == ("a", "refund")
    assert (actions.sla, actions.ack, actions.skills, actions.escalate_to) == (
        "standard",
        "vip",
        ("money",),
        "boris",
    )
    assert actions.over_capacity


def test_stop_ends_evaluation() -> None:
    rs = ruleset(
        '[[rules.list]]\nname = "first"\nthen.team = "billing"\nstop = true\n'
        '[[rules.list]]\nname = "second"\nthen.team = "support"\n'
    )
    assert rs.match(facts()).hits == ("first",)
    assert rs.match(facts()).actions.team == "billing"


def test_disabled_rules_never_match() -> None:
    rs = ruleset('[[rules.list]]\nname = "off"\nenabled = false\nthen.team = "billing"\n')
    assert rs.match(facts()).hits == ()


def test_defaults_apply_when_nothing_matches_and_fill_gaps() -> None:
    extra = (
        '[defaults]\nteam = "support"\nsla = "standard"\ntags = ["unsorted"]\npriority = "low"\n'
    )
    rs = ruleset(
        '[[rules.list]]\nname = "r"\nwhen.text_any = ["refund"]\nthen.team = "billing"\n', extra
    )
    nothing = rs.match(facts())
    assert (
        nothing.defaulted
        and nothing.actions.team == "support"
        and nothing.actions.tags == ("unsorted",)
    )
    refund = rs.match(facts(text="refund"))
    assert (refund.actions.team, refund.actions.sla, refund.actions.tags) == (
        "billing",
        "standard",
        (),
    )


@pytest.mark.parametrize(
    ("then", "ack"),
    [
        ("", "ack"),
        ("then.ack = true", "ack"),
        ("then.ack = false", None),
        ('then.ack = "vip"', "vip"),
        ("then.resolve = true", None),
        ("then.spam = true", None),
    ],
)
def test_acknowledgement_choice(then: str, ack: str | None) -> None:
    rs = ruleset(f'[[rules.list]]\nname = "r"\n{then}\n')
    actions = rs.match(facts()).actions
    assert actions.ack == ack
    if "resolve" in then:
        assert actions.resolve
    if "spam" in then:
        assert actions.spam


def test_channel_index_keeps_rule_order() -> None:
    rs = ruleset(
        '[[rules.list]]\nname = "any1"\n[[rules.list]]\nname = "mail"\nwhen.channel = "email"\n'
        '[[rules.list]]\nname = "any2"\n[[rules.list]]\nname = "tg"\nwhen.channel = "telegram"\n'
    )
    assert rs.match(facts()).hits == ("any1", "mail", "any2")
    assert rs.match(facts(channel="webchat")).hits == ("any1", "any2")


def test_explain_says_which_condition_decided() -> None:
    rs = ruleset(
        '[[rules.list]]\nname = "Chat"\nwhen.channel = "webchat"\n'
        '[[rules.list]]\nname = "Refunds"\nwhen.channel = "email"\nwhen.text_any = ["refund", "invoice"]\n'
        'then.team = "billing"\nstop = true\n'
        '[[rules.list]]\nname = "Later"\n'
    )
    explanation = rs.explain(facts(text="Where is my invoice?"))
    first, second, third = explanation.reports
    assert not first.matched and first.reason == "no: channel in webchat (message: email)"
    assert second.matched and "text_any invoice, refund (message: found invoice)" in second.reason
    assert not third.evaluated and "'Refunds' stopped evaluation" in third.reason
    assert explanation.decision.actions.team == "billing"


def test_facts_from_an_inbound_message() -> None:
    msg = InboundMessage(
        channel="x",
        account="x-main",
        external_id="1",
        sender=Sender("@jo"),
        text="hey @brand",
        received_at=TUESDAY_NOON,
        is_public=True,
        sender_kind=SenderKind.HUMAN,
    )
    f = Facts.from_message(msg, now=TUESDAY_NOON, contact_tags=["vip"], language="en")
    assert (f.channel, f.public, f.sender, f.sender_kind, f.contact_tags) == (
        "x",
        True,
        "@jo",
        "human",
        frozenset({"vip"}),
    )
