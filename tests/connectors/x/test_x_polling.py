"""Polling X: mentions with since_id, DMs paged to the last seen id, rate-limit windows."""

from __future__ import annotations

import json
import time

import pytest

from connectors.x.connector import XConnector
from inbox.errors import AuthError, RateLimitError, TransientError
from tests.connectors.x.conftest import x_config
from tests.fakes.x_api import FakeX

ADA, GRACE = "2244994945", "783214"
MENTIONS = "GET /2/users/:id/mentions"
DMS = "GET /2/dm_events"


async def test_open_finds_our_user_id(x: XConnector, fake_x: FakeX) -> None:
    assert x.own_id == fake_x.me["id"]


async def test_a_mention_thread_becomes_one_public_conversation(
    x: XConnector, fake_x: FakeX
) -> None:
    root = fake_x.add_mention(ADA, "@HeardSupport my order 1234 never came")
    fake_x.add_mention(ADA, "@HeardSupport still waiting...", in_reply_to=root)
    batch = await x.fetch(None, 50)
    first, second = batch.messages
    assert first.is_public and second.is_public
    assert f"conv:{root['id']}" in first.thread_keys and f"conv:{root['id']}" in second.thread_keys
    assert first.sender.handle == ADA and first.sender.name == "Ada Lovelace"
    assert second.extras["thread"] == {
        "mode": "mention",
        "recipient": ADA,
        "tweet_id": second.external_id.removeprefix("tweet:"),
        "conversation_id": root["id"],
        "username": "ada_l",
    }
    (query,) = fake_x.calls(MENTIONS)
    assert "author_id" in query["expansions"] and "conversation_id" in query["tweet.fields"]


async def test_since_id_is_saved_so_a_restart_fetches_only_new_mentions(
    fake_x: FakeX,
) -> None:
    fake_x.add_mention(ADA, "@HeardSupport one")
    async with XConnector(x_config(fake_x)) as first_process:
        batch = await first_process.fetch(None, 50)
    assert json.loads(batch.next_cursor or "")["since_id"] == batch.messages[-1].external_id[6:]
    fake_x.add_mention(GRACE, "@HeardSupport two")
    async with XConnector(x_config(fake_x)) as after_crash:
        again = await after_crash.fetch(batch.next_cursor, 50)
    assert [m.text for m in again.messages if m.is_public] == ["@HeardSupport two"]
    assert fake_x.calls(MENTIONS)[-1]["since_id"] == batch.messages[-1].external_id[6:]


async def test_many_new_mentions_are_paged_until_since_id(x: XConnector, fake_x: FakeX) -> None:
    fake_x.add_mention(ADA, "@HeardSupport old")
    cursor = (await x.fetch(None, 5)).next_cursor
    for n in range(12):
        fake_x.add_mention(GRACE, f"@HeardSupport new {n}")
    batch = await x.fetch(cursor, 5)
    assert [m.text for m in batch.messages] == [f"@HeardSupport new {n}" for n in range(12)]
    assert len(fake_x.calls(MENTIONS)) == 1 + 3


async def test_dms_are_paged_until_the_last_seen_event_and_deduplicated(
    x: XConnector, fake_x: FakeX
) -> None:
    seen = fake_x.add_dm(ADA, "first, already stored")
    cursor = json.dumps({"since_id": None, "dm_last": seen["id"]})
    for n in range(5):
        fake_x.add_dm(GRACE, f"dm {n}")
    # A new DM lands between our page reads: every older event shifts one place down.
    fake_x.after_request[DMS] = lambda: fake_x.add_dm(ADA, "arrived mid-read")
    batch = await x.fetch(cursor, 2)
    texts = [m.text for m in batch.messages]
    # Page 2 repeats the event that the new DM pushed off page 1; it is stored once.
    assert texts == [f"dm {n}" for n in range(5)]
    assert len(fake_x.calls(DMS)) == 4  # pages of 2 until the stored event shows up
    first = batch.messages[0]
    assert first.thread_keys == [f"dm:{GRACE}"] and first.extras["thread"]["mode"] == "dm"
    state = json.loads(batch.next_cursor or "")
    assert state["dm_last"] == batch.messages[-1].external_id.removeprefix("dm:")
    later = await x.fetch(batch.next_cursor, 2)
    assert [m.text for m in later.messages] == ["arrived mid-read"]
    assert (await x.fetch(later.next_cursor, 2)).messages == []


async def test_our_own_dm_replies_are_not_read_back_as_customer_messages(
    x: XConnector, fake_x: FakeX
) -> None:
    fake_x.add_dm(ADA, "hello")
    cursor = (await x.fetch(None, 50)).next_cursor
    fake_x.dm_events.insert(
        0,
        {
            "id": fake_x.next_id(),
            "event_type": "MessageCreate",
            "text": "our answer",
            "sender_id": fake_x.me["id"],
        },
    )
    assert (await x.fetch(cursor, 50)).messages == []


async def test_a_used_up_window_is_not_called_again_until_it_resets(
    x: XConnector, fake_x: FakeX
) -> None:
    fake_x.add_dm(ADA, "hello")
    fake_x.set_window(MENTIONS, remaining=1, reset_in=600)
    await x.fetch(None, 50)  # uses the last mentions call; the header says 0 remain
    calls = len(fake_x.calls(MENTIONS))
    fake_x.add_dm(GRACE, "still reading DMs")
    batch = await x.fetch(None, 50)
    assert len(fake_x.calls(MENTIONS)) == calls  # not asked: we know the answer would be 429
    assert "still reading DMs" in [m.text for m in batch.messages]
    assert 590 < x.limits.wait_for(MENTIONS) <= 600


async def test_429_gives_the_delay_from_the_reset_header(fake_x: FakeX) -> None:
    async with XConnector(x_config(fake_x, direct_messages=False)) as x:
        reset = int(time.time()) + 120
        fake_x.fail_next(MENTIONS, 429, headers={"x-rate-limit-reset": str(reset)})
        with pytest.raises(RateLimitError) as raised:
            await x.fetch(None, 50)
    assert 110 < raised.value.retry_after <= 120


async def test_revoked_credentials_are_an_auth_error(x: XConnector, fake_x: FakeX) -> None:
    fake_x.revoked = True
    with pytest.raises(AuthError):
        await x.fetch(None, 50)


async def test_dropped_connection_is_transient_and_the_cursor_stays(
    x: XConnector, fake_x: FakeX
) -> None:
    fake_x.add_mention(ADA, "@HeardSupport hi")
    # aiohttp retries an idempotent GET once on a reused connection: drop both attempts.
    fake_x.drop_next(MENTIONS)
    fake_x.drop_next(MENTIONS)
    with pytest.raises(TransientError):
        await x.fetch(None, 50)
    fake_x.failures.clear()
    assert [m.text for m in (await x.fetch(None, 50)).messages] == ["@HeardSupport hi"]


async def test_bearer_only_account_reads_mentions_without_user_context(fake_x: FakeX) -> None:
    config = x_config(
        fake_x,
        consumer_key=None,
        consumer_secret=None,
        access_token=None,
        access_token_secret=None,
        direct_messages=False,
    )
    fake_x.add_mention(GRACE, "@HeardSupport public question")
    async with XConnector(config) as x:
        batch = await x.fetch(None, 50)
    assert [m.sender.handle for m in batch.messages] == [GRACE]


def test_dms_without_user_context_are_a_config_error(fake_x: FakeX) -> None:
    with pytest.raises(ValueError, match="user-context"):
        x_config(fake_x, access_token=None)


async def test_polling_slows_down_to_the_window_when_every_window_is_used_up(
    x: XConnector, fake_x: FakeX
) -> None:
    assert x.next_poll_in(60) == 60
    fake_x.set_window(MENTIONS, remaining=1, reset_in=300)
    fake_x.set_window(DMS, remaining=1, reset_in=500)
    await x.fetch(None, 50)
    assert x.next_poll_in(60) == pytest.approx(300, abs=5)  # DMs wait longer, mentions first
    with pytest.raises(RateLimitError) as raised:
        await x.fetch(None, 50)
    assert raised.value.retry_after == pytest.approx(300, abs=5)
