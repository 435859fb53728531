"""Routing a new conversation end to end: rules, owner, SLA, ack exactly once, events."""

from __future__ import annotations

import os
import time
from datetime import timedelta
from pathlib import Path

from sqlalchemy import select

from inbox.app import Heard
from inbox.models import Conversation, utcnow
from inbox.types import SenderKind
from rules.hours import Calendar, parse_ranges
from tests.conftest import MakeHeard
from tests.inbox.routekit import TEAM_CONFIG, arrive, conversation, events, outbound, route

OFFICE = Calendar("Europe/Berlin", frozenset(range(5)), parse_ranges("09:00-18:00"))


def team(make_heard: MakeHeard, store_url: str) -> Heard:
    return make_heard(TEAM_CONFIG, store_url=store_url, queue=False)


def test_new_conversation_is_assigned_promised_and_acknowledged_once(
    make_heard: MakeHeard, store_url: str
) -> None:
    heard = team(make_heard, store_url)
    cid = arrive(heard, "m1", "Hello, my parcel never arrived, can you help me please?", name="Jo")
    route(heard, cid)
    route(heard, cid)  # a second route job for the same conversation changes nothing
    conv = conversation(heard, cid)
    assert (conv.team, conv.assignee, conv.sla_policy) == ("support", "ann", "standard")
    with heard.sessions() as session:
        created = session.scalar(select(Conversation.created_at).where(Conversation.id == cid))
        assert created is not None
    assert conv.first_response_due is not None and conv.routed_at is not None
    expected = OFFICE.add(conv.first_response_due - timedelta(hours=2), timedelta(0))
    assert OFFICE.between(expected, conv.first_response_due) <= timedelta(hours=2)
    acks = outbound(heard, cid, "ack")
    assert len(acks) == 1
    text = acks[0][1]
    assert text.startswith(
        f"Hi Jo, we have your message ({conv.reference}). Ann Smith will reply by "
    )
    assert conv.ack_sent_at is not None
    kinds = [e.type for e in events(heard, cid)]
    for kind in ("rules_defaulted", "assigned", "sla_set", "ack_queued", "owner_not_notified"):
        assert kind in kinds, kinds


def test_follow_up_gets_no_second_ack_but_its_rules_add_tags(
    make_heard: MakeHeard, store_url: str
) -> None:
    heard = team(make_heard, store_url)
    cid = arrive(heard, "m1", "Hello, my parcel never arrived at all")
    route(heard, cid)
    assert arrive(heard, "m2", "Also I want a refund now") == cid
    route(heard, cid)
    conv = conversation(heard, cid)
    assert len(outbound(heard, cid, "ack")) == 1
    assert conv.tags == ["refund"] and conv.priority_name == "high"
    assert conv.team == "support"  # a follow-up never moves an owned conversation


def test_reopened_conversation_is_acknowledged_again(make_heard: MakeHeard, store_url: str) -> None:
    heard = team(make_heard, store_url)
    cid = arrive(heard, "m1", "Hello, my parcel never arrived at all")
    route(heard, cid)
    with heard.sessions() as session, session.begin():
        conv = session.get(Conversation, cid)
        assert conv is not None
        conv.status, conv.resolved_at = "resolved", utcnow()
    assert arrive(heard, "m2", "It happened again, the parcel is missing") == cid
    route(heard, cid)
    assert len(outbound(heard, cid, "ack")) == 2
    assert conversation(heard, cid).assignee == "ann"  # sticky: back to its owner


def test_machine_mail_is_never_acknowledged(make_heard: MakeHeard, store_url: str) -> None:
    heard = team(make_heard, store_url)
    cid = arrive(
        heard, "m1", "I am out of the office until Monday", sender_kind=SenderKind.AUTO_REPLY
    )
    route(heard, cid)
    assert outbound(heard, cid) == []
    assert conversation(heard, cid).assignee == "ann"  # still owned by someone
    assert "ack_skipped" in [e.type for e in events(heard, cid)]


def test_rule_without_ack(make_heard: MakeHeard, store_url: str) -> None:
    heard = team(make_heard, store_url)
    cid = arrive(heard, "m1", "noack please, just file this")
    route(heard, cid)
    assert outbound(heard, cid) == []
    (skipped,) = events(heard, cid, "ack_skipped")
    assert skipped.data["why"] == "the rule says no acknowledgement"


def test_spam_is_resolved_tagged_and_not_answered(make_heard: MakeHeard, store_url: str) -> None:
    heard = team(make_heard, store_url)
    cid = arrive(heard, "m1", "Best casino bonus for you")
    route(heard, cid)
    conv = conversation(heard, cid)
    assert conv.status == "resolved" and conv.tags == ["spam"] and conv.assignee is None
    assert outbound(heard, cid) == []


def test_ack_in_the_customers_language_with_fallback(make_heard: MakeHeard, store_url: str) -> None:
    heard = team(make_heard, store_url)
    de = arrive(
        heard, "m1", "Hallo, mein Paket ist leider nie angekommen. Können Sie helfen?", handle="de"
    )
    ru = arrive(
        heard, "m2", "Здравствуйте, моя посылка так и не пришла, помогите пожалуйста", handle="ru"
    )
    fr = arrive(
        heard, "m3", "Bonjour, mon colis n'est jamais arrivé, pouvez-vous m'aider?", handle="fr"
    )
    for cid in (de, ru, fr):
        route(heard, cid)
    assert outbound(heard, de, "ack")[0][1].startswith("Hallo Customer, Ihre Nachricht")
    assert outbound(heard, ru, "ack")[0][1].startswith("Здравствуйте, Customer! Обращение")
    assert outbound(heard, fr, "ack")[0][1].startswith("Hi Customer, we have your message")
    assert conversation(heard, de).language == "de"
    assert conversation(heard, ru).assignee == "boris"  # speaks Russian


def test_rule_routes_to_team_with_its_sla(make_heard: MakeHeard, store_url: str) -> None:
    heard = team(make_heard, store_url)
    cid = arrive(heard, "m1", "I want a refund for my order")
    route(heard, cid)
    conv = conversation(heard, cid)
    assert (conv.team, conv.sla_policy, conv.priority_name) == ("billing", "chat", "high")
    assert conv.first_response_due is not None and conv.routed_at is not None
    # chat has no business hours: five wall-clock minutes from arrival
    assert timedelta(0) < conv.first_response_due - conv.routed_at <= timedelta(minutes=5)
    (matched,) = events(heard, cid, "rules_matched")
    assert matched.data["rules"] == ["Refunds go to billing"]


def test_manual_team_waits_in_queue(make_heard: MakeHeard, store_url: str) -> None:
    heard = team(make_heard, store_url)
    cid = arrive(heard, "m1", "please forward to the desk team")
    route(heard, cid)
    conv = conversation(heard, cid)
    assert (conv.team, conv.assignee) == ("desk", None)
    assert events(heard, cid, "queued")[0].data["how"] == "manual"
    # The ack names the team when nobody owns it yet.
    assert (
        "Desk" in outbound(heard, cid, "ack")[0][1] or "desk" in outbound(heard, cid, "ack")[0][1]
    )


def test_edited_rules_apply_without_a_restart(make_heard: MakeHeard) -> None:
    heard = make_heard(TEAM_CONFIG, queue=False)
    cid = arrive(heard, "m1", "My parcel never arrived, please help", handle="a")
    route(heard, cid)
    assert conversation(heard, cid).team == "support"
    config = Path(heard.settings.path)
    edited = config.read_text().replace('[defaults]\nteam = "support"', '[defaults]\nteam = "desk"')
    config.write_text(edited)
    os.utime(config, ns=(time.time_ns() + 2_000_000_000,) * 2)
    assert heard.rules.reload_if_changed()
    later = arrive(heard, "m2", "My parcel never arrived, please help", handle="b")
    route(heard, later)
    assert conversation(heard, later).team == "desk"
    # A broken edit keeps the rules that work.
    config.write_text(edited.replace('team = "desk"', 'team = "dsk"'))
    os.utime(config, ns=(time.time_ns() + 4_000_000_000,) * 2)
    assert not heard.rules.reload_if_changed()
    third = arrive(heard, "m3", "My parcel never arrived, please help", handle="c")
    route(heard, third)
    assert conversation(heard, third).team == "desk"


def test_history_is_filed_resolved_without_ack_or_promise(
    make_heard: MakeHeard, store_url: str
) -> None:
    heard = team(make_heard, store_url)
    old = arrive(heard, "m1", "My parcel never arrived", received_at=utcnow() - timedelta(days=40))
    recent = arrive(
        heard, "m2", "Still no parcel", handle="cust-2", received_at=utcnow() - timedelta(days=3)
    )
    route(heard, old)
    route(heard, recent)
    conv = conversation(heard, old)
    assert (conv.status, conv.assignee, conv.first_response_due) == ("resolved", None, None)
    assert conv.language is None  # not worth guessing for mail nobody will answer
    assert outbound(heard, old) == []
    (archived,) = events(heard, old, "archived")
    assert "more than 14 days" in archived.data["why"]
    # Mail a few days old is a customer still waiting: acknowledged and owned as usual.
    assert conversation(heard, recent).assignee == "ann"
    assert len(outbound(heard, recent, "ack")) == 1


def test_archiving_history_can_be_turned_off(make_heard: MakeHeard, store_url: str) -> None:
    config = TEAM_CONFIG.replace('name = "forms"\n', 'name = "forms"\narchive_after_days = 0\n')
    heard = make_heard(config, store_url=store_url, queue=False)
    cid = arrive(heard, "m1", "My parcel never arrived", received_at=utcnow() - timedelta(days=400))
    route(heard, cid)
    assert conversation(heard, cid).status == "open"
    assert len(outbound(heard, cid, "ack")) == 1
