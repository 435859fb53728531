"""SLA clocks with fixed times: an update before a miss, escalation on a miss, pauses, replies."""

from __future__ import annotations

from datetime import timedelta

from inbox.actions import reply
from inbox.app import Heard
from inbox.models import Conversation
from tests.conftest import MakeHeard
from tests.inbox.routekit import TEAM_CONFIG, arrive, conversation, events, outbound, route, tick


def chat_conversation(make_heard: MakeHeard, store_url: str) -> tuple[Heard, int, Conversation]:
    """A refund request: billing team, 'chat' SLA (5m first response, warn 2m before, wall time)."""
    heard = make_heard(TEAM_CONFIG, store_url=store_url, queue=False)
    cid = arrive(heard, "m1", "I want a refund for order 17", name="Jo")
    route(heard, cid)
    return heard, cid, conversation(heard, cid)


def test_update_once_before_a_miss(make_heard: MakeHeard, store_url: str) -> None:
    heard, cid, conv = chat_conversation(make_heard, store_url)
    due = conv.first_response_due
    assert due is not None
    assert tick(heard, due - timedelta(minutes=3)).updates == 0  # not near yet
    assert tick(heard, due - timedelta(minutes=1)).updates == 1
    assert tick(heard, due - timedelta(seconds=30)).updates == 0  # one update only
    (update,) = outbound(heard, cid, "update")
    assert update[1].startswith(f"Still on it ({conv.reference}): Ann Smith will answer by ")
    (event,) = events(heard, cid, "update_queued")
    assert event.data["new_expected"] == (due + timedelta(minutes=2)).isoformat()


def test_escalation_on_a_miss(make_heard: MakeHeard, store_url: str) -> None:
    heard, cid, conv = chat_conversation(make_heard, store_url)
    assert conv.first_response_due is not None and conv.assignee == "ann"
    report = tick(heard, conv.first_response_due + timedelta(seconds=1))
    assert report.escalated == 1
    after = conversation(heard, cid)
    # billing escalates to the support team: round robin there; priority high -> urgent
    assert after.team == "support" and after.assignee in ("ann", "boris")
    assert after.priority_name == "urgent" and after.escalated_at is not None
    (event,) = events(heard, cid, "escalated")
    assert event.data["missed"] == "first_response" and event.data["before"]["agent"] == "ann"
    assert tick(heard, conv.first_response_due + timedelta(minutes=1)).escalated == 0


def test_escalation_to_an_agent(make_heard: MakeHeard, store_url: str) -> None:
    heard = make_heard(TEAM_CONFIG, store_url=store_url, queue=False)
    cid = arrive(heard, "m1", "My parcel never arrived, please help me")
    route(heard, cid)
    conv = conversation(heard, cid)
    assert conv.first_response_due is not None
    tick(heard, conv.first_response_due + timedelta(minutes=1))
    after = conversation(heard, cid)
    assert after.assignee == "lead" and after.priority_name == "high"
    assert any(
        e.data.get("reason") == "escalated" for e in events(heard, cid, "owner_not_notified")
    )


def test_agent_reply_stops_the_first_response_clock(make_heard: MakeHeard, store_url: str) -> None:
    heard, cid, conv = chat_conversation(make_heard, store_url)
    assert conv.first_response_due is not None and conv.resolution_due is not None
    with heard.sessions() as session, session.begin():
        row = session.get(Conversation, cid)
        assert row is not None
        reply(
            session,
            row,
            "Refund is on its way",
            "ann",
            now=conv.first_response_due - timedelta(minutes=4),
        )
    assert tick(heard, conv.first_response_due + timedelta(minutes=1)).escalated == 0
    # ... but the resolution clock still runs
    assert tick(heard, conv.resolution_due + timedelta(seconds=1)).escalated == 1
    assert events(heard, cid, "escalated")[0].data["missed"] == "resolution"


def test_clock_pauses_while_pending(make_heard: MakeHeard, store_url: str) -> None:
    heard, cid, conv = chat_conversation(make_heard, store_url)
    due = conv.first_response_due
    assert due is not None
    start = due - timedelta(minutes=4)
    with heard.sessions() as session, session.begin():
        row = session.get(Conversation, cid)
        assert row is not None
        row.status = "pending"
    assert tick(heard, start).paused == 1
    assert tick(heard, start + timedelta(hours=3)).escalated == 0  # waiting on the customer
    with heard.sessions() as session, session.begin():
        row = session.get(Conversation, cid)
        assert row is not None
        row.status = "open"
    assert tick(heard, start + timedelta(hours=5)).resumed == 1
    assert conversation(heard, cid).first_response_due == due + timedelta(hours=5)


def test_business_hours_clock_pauses_in_business_time(
    make_heard: MakeHeard, store_url: str
) -> None:
    heard = make_heard(TEAM_CONFIG, store_url=store_url, queue=False)
    cid = arrive(heard, "m1", "My parcel never arrived, please help me")
    route(heard, cid)
    conv = conversation(heard, cid)
    assert conv.first_response_due is not None
    from rules.hours import Calendar, parse_ranges

    office = Calendar("Europe/Berlin", frozenset(range(5)), parse_ranges("09:00-18:00"))
    paused = conv.first_response_due - timedelta(minutes=1)
    with heard.sessions() as session, session.begin():
        row = session.get(Conversation, cid)
        assert row is not None
        row.status = "snoozed"
    tick(heard, paused)
    back = paused + timedelta(days=3)
    with heard.sessions() as session, session.begin():
        row = session.get(Conversation, cid)
        assert row is not None
        row.status = "open"
    tick(heard, back)
    remaining = office.between(paused, conv.first_response_due)
    assert conversation(heard, cid).first_response_due == office.add(back, remaining)


def test_queued_conversation_is_assigned_when_capacity_frees(
    make_heard: MakeHeard, store_url: str
) -> None:
    heard = make_heard(TEAM_CONFIG, store_url=store_url, queue=False)
    ids = [arrive(heard, f"m{i}", f"refund request number {i}", handle=f"c{i}") for i in range(5)]
    for cid in ids:
        route(heard, cid)
    owners = [conversation(heard, cid).assignee for cid in ids]
    assert sorted(o for o in owners if o) == ["ann", "ann", "boris", "boris"] and owners[4] is None
    with heard.sessions() as session, session.begin():
        first = session.get(Conversation, ids[0])
        assert first is not None
        freed = first.assignee
        first.status = "resolved"
    assert tick(heard, conversation(heard, ids[4]).created_at).assigned_from_queue == 1
    assert conversation(heard, ids[4]).assignee == freed


def test_warning_counts_business_time_across_the_night(
    make_heard: MakeHeard, store_url: str
) -> None:
    from datetime import datetime
    from zoneinfo import ZoneInfo

    berlin = ZoneInfo("Europe/Berlin")
    heard = make_heard(TEAM_CONFIG, store_url=store_url, queue=False)
    cid = arrive(heard, "m1", "My parcel never arrived, please help")
    route(heard, cid)
    due = datetime(2026, 11, 25, 9, 20, tzinfo=berlin)  # Wednesday morning
    with heard.sessions() as session, session.begin():
        row = session.get(Conversation, cid)
        assert row is not None
        row.first_response_due = due
    # Tuesday 17:45: 15m today + 20m tomorrow = 35m of office time left: not yet.
    assert tick(heard, datetime(2026, 11, 24, 17, 45, tzinfo=berlin)).updates == 0
    # Tuesday 17:50: 30m of office time left, though the wall clock says 15.5 hours.
    assert tick(heard, datetime(2026, 11, 24, 17, 50, tzinfo=berlin)).updates == 1
    (event,) = events(heard, cid, "update_queued")
    # The update names the due time pushed on by warn_before (30m) of office time.
    expected = datetime.fromisoformat(event.data["new_expected"])
    assert expected == datetime(2026, 11, 25, 9, 50, tzinfo=berlin)


def test_a_snoozed_conversation_returns_when_its_time_is_up(
    make_heard: MakeHeard, store_url: str
) -> None:
    heard, cid, conv = chat_conversation(make_heard, store_url)
    assert conv.first_response_due is not None
    start = conv.first_response_due - timedelta(minutes=4)
    with heard.sessions() as session, session.begin():
        row = session.get(Conversation, cid)
        assert row is not None
        row.status, row.snoozed_until = "snoozed", start + timedelta(hours=1)
    assert tick(heard, start).woken == 0
    assert conversation(heard, cid).status == "snoozed"
    report = tick(heard, start + timedelta(hours=1, seconds=1))
    assert report.woken == 1
    after = conversation(heard, cid)
    assert (after.status, after.snoozed_until) == ("open", None)
    (event,) = [
        e for e in events(heard, cid, "status_changed") if e.data.get("why") == "snooze ended"
    ]
    assert event.data["from"] == "snoozed"
