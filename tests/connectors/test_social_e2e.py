"""Telegram and X end to end: fake peer → `sync_once` → store → rules → ack; agent reply → peer.

The real python-telegram-bot and tweepy clients talk to the local fakes; the store, the rules
engine, routing, the outbox and the in-process queue are Heard's own.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from inbox.actions import reply
from inbox.app import Heard
from inbox.models import Agent, Conversation, Message, Outbound
from inbox.outbox import flush_enqueues
from inbox.sync import sync_once
from tests.conftest import MakeHeard, RunCli
from tests.fakes.telegram_api import FakeTelegram
from tests.fakes.x_api import FakeX

ADA, GRACE = "2244994945", "783214"

TEAM = """
[queue]
retry_base_seconds = 0.05

[sla.standard]
first_response = "2h"
resolution = "1d"

[sla.social]
first_response = "30m"
resolution = "8h"

[agents.ann]
name = "Ann Smith"
capacity = 10

[teams.support]
name = "Customer Support"
agents = ["ann"]
strategy = "round_robin"
sla = "standard"

[templates.ack]
en = "Hi {{ customer_name }}, we have your message ({{ reference }}). {{ owner_name }} will reply by {{ due }}."

[templates.mention]
en = "Thanks! {{ owner_name }} will answer by {{ due }} ({{ reference }})."

[defaults]
team = "support"

[[rules.list]]
name = "Public mentions are answered fast"
when.channel = ["x"]
when.public = true
then.sla = "social"
then.priority = "high"
then.ack = "mention"
then.tags = ["public"]
"""


def social_toml(telegram: FakeTelegram, x: FakeX) -> str:
    return (
        TEAM
        + f"""
[[channels]]
type = "telegram"
name = "bot"
token = "{telegram.token}"
api_base_url = "{telegram.url}"

[[channels]]
type = "x"
name = "x-support"
account = "@HeardSupport"
bearer_token = "{x.bearer_token}"
consumer_key = "{x.consumer_key}"
consumer_secret = "test-consumer-secret"
access_token = "{x.access_token}"
access_token_secret = "test-access-secret"
api_base_url = "{x.url}"
"""
    )


@pytest.fixture
def social(
    make_heard: MakeHeard, fake_telegram: FakeTelegram, fake_x: FakeX
) -> Iterator[Callable[[str], Heard]]:
    def make(store_url: str) -> Heard:
        return make_heard(social_toml(fake_telegram, fake_x), store_url)

    yield make


@pytest.fixture
def default_store(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'social.db'}"


def conversations(heard: Heard, channel: str) -> list[Conversation]:
    with heard.sessions() as session:
        found = list(session.scalars(select(Conversation).where(Conversation.channel == channel)))
        for conv in found:
            _ = conv.tags  # load the tags before leaving the session
            session.expunge(conv)
        return found


def owner_name(heard: Heard, conv: Conversation) -> str:
    with heard.sessions() as session:
        agent = session.scalars(select(Agent).where(Agent.key == conv.assignee)).one()
        return agent.name


def agent_reply(heard: Heard, cid: int, text: str) -> int:
    with heard.sessions() as session:
        with session.begin():
            conv = session.get(Conversation, cid)
            assert conv is not None
            outbound_id = reply(session, conv, text, "ann").id
        flush_enqueues(session, heard)
    heard.queue.drain()
    return outbound_id


def outbound(heard: Heard, outbound_id: int) -> Outbound:
    with heard.sessions() as session:
        row = session.get(Outbound, outbound_id)
        assert row is not None
        session.expunge(row)
        return row


def test_telegram_customer_is_acknowledged_with_owner_and_due_then_answered_in_chat(
    social: Callable[[str], Heard], fake_telegram: FakeTelegram, store_url: str
) -> None:
    heard = social(store_url)
    first = fake_telegram.add_message("/start", user_id=51, first_name="Ada")
    sync_once(heard)
    (conv,) = conversations(heard, "telegram")
    (ack,) = fake_telegram.sent()
    assert ack.params["chat_id"] == 51
    assert ack.params["reply_parameters"]["message_id"] == first["message"]["message_id"]
    assert "Hi Ada" in ack.params["text"] and conv.reference in ack.params["text"]
    assert f"{owner_name(heard, conv)} will reply by" in ack.params["text"]
    assert conv.first_response_due is not None
    # The customer writes again: same conversation, no second ack, nothing stored twice.
    second = fake_telegram.add_message("Order 1234 has not arrived", user_id=51, first_name="Ada")
    sync_once(heard)
    sync_once(heard)
    assert [c.id for c in conversations(heard, "telegram")] == [conv.id]
    assert len(fake_telegram.sent()) == 1
    with heard.sessions() as session:
        texts = session.scalars(select(Message.text).where(Message.direction == "in")).all()
    assert sorted(texts) == ["/start", "Order 1234 has not arrived"]
    agent_reply(heard, conv.id, "Found it: it ships today.")
    answer = fake_telegram.sent()[-1]
    assert answer.params["text"] == "Found it: it ships today."
    assert answer.params["reply_parameters"]["message_id"] == second["message"]["message_id"]


def test_telegram_edit_updates_the_stored_message_and_keeps_the_original(
    social: Callable[[str], Heard], fake_telegram: FakeTelegram, default_store: str
) -> None:
    heard = social(default_store)
    update = fake_telegram.add_message("my ordr 1243", user_id=52)
    sync_once(heard)
    fake_telegram.add_edit(update, "my order 1234")
    sync_once(heard)
    with heard.sessions() as session:
        (stored,) = session.scalars(select(Message).where(Message.direction == "in")).all()
        assert stored.text == "my order 1234" and stored.original_text == "my ordr 1243"


def test_blocked_bot_fails_the_send_visibly(
    social: Callable[[str], Heard], fake_telegram: FakeTelegram, default_store: str
) -> None:
    heard = social(default_store)
    fake_telegram.add_message("hello", user_id=53)
    sync_once(heard)
    (conv,) = conversations(heard, "telegram")
    fake_telegram.blocked.add(53)
    row = outbound(heard, agent_reply(heard, conv.id, "Are you still there?"))
    assert row.status == "failed" and "blocked" in (row.last_error or "")


def test_x_mention_thread_is_one_public_conversation_acknowledged_by_reply_tweet(
    social: Callable[[str], Heard], fake_x: FakeX, store_url: str
) -> None:
    heard = social(store_url)
    root = fake_x.add_mention(ADA, "@HeardSupport my order never came")
    follow = fake_x.add_mention(ADA, "@HeardSupport hello??", in_reply_to=root)
    sync_once(heard)
    (conv,) = conversations(heard, "x")
    assert conv.is_public and conv.sla_policy == "social" and "public" in conv.tags
    (ack,) = fake_x.tweets
    assert ack["reply"] == {"in_reply_to_tweet_id": follow["id"]}
    assert f"{owner_name(heard, conv)} will answer by" in ack["text"]
    assert conv.reference in ack["text"] and len(ack["text"]) <= 280
    agent_reply(heard, conv.id, "So sorry! It ships today, tracking follows in a DM.")
    answer = fake_x.tweets[-1]
    assert answer["text"].startswith("So sorry!")
    assert answer["reply"] == {"in_reply_to_tweet_id": follow["id"]}


def test_x_dm_is_a_private_conversation_per_participant_answered_by_dm(
    social: Callable[[str], Heard], fake_x: FakeX, default_store: str
) -> None:
    heard = social(default_store)
    fake_x.add_dm(GRACE, "Hi, can I change my address?")
    fake_x.add_dm(GRACE, "It is for order 77")
    sync_once(heard)
    (conv,) = conversations(heard, "x")
    assert not conv.is_public
    (ack,) = fake_x.dms_sent
    assert ack["participant_id"] == GRACE and "Ann Smith will reply by" in ack["text"]
    sync_once(heard)  # our own ack is in the DM list now; it is not read back as a customer's
    assert len(conversations(heard, "x")) == 1 and len(fake_x.dms_sent) == 1
    agent_reply(heard, conv.id, "Yes, done.")
    assert fake_x.dms_sent[-1] == {
        **fake_x.dms_sent[-1],
        "participant_id": GRACE,
        "text": "Yes, done.",
    }


def test_too_long_public_reply_fails_with_a_clear_reason(
    social: Callable[[str], Heard], fake_x: FakeX, default_store: str
) -> None:
    heard = social(default_store)
    fake_x.add_mention(ADA, "@HeardSupport help")
    sync_once(heard)
    (conv,) = conversations(heard, "x")
    row = outbound(heard, agent_reply(heard, conv.id, "word " * 80))
    assert row.status == "failed" and "X allows 280" in (row.last_error or "")
    assert len(fake_x.tweets) == 1  # only the acknowledgement went out


def test_heard_sync_command_pulls_both_channels_and_a_rerun_stores_nothing(
    social: Callable[[str], Heard],
    fake_telegram: FakeTelegram,
    fake_x: FakeX,
    default_store: str,
    run_cli: RunCli,
    tmp_path: Path,
) -> None:
    social(default_store)  # writes heard.toml and migrates the store
    fake_telegram.add_message("hi from telegram", user_id=54)
    fake_x.add_mention(ADA, "@HeardSupport hi from X")
    code, _, err = run_cli("sync", "--config", str(tmp_path / "heard.toml"), "--quiet")
    assert code == 0, err
    code, _, err = run_cli("sync", "--config", str(tmp_path / "heard.toml"), "--quiet")
    assert code == 0, err
    heard = social(default_store)
    with heard.sessions() as session:
        texts = session.scalars(select(Message.text).where(Message.direction == "in")).all()
    assert sorted(texts) == ["@HeardSupport hi from X", "hi from telegram"]
    assert len(fake_telegram.sent()) == 1 and len(fake_x.tweets) == 1  # one ack each
