"""The contract every connector passes (style.md): the same tests over every channel.

Exactly-once send per idempotency key, no lost or duplicated fetch across a dropped
connection, 429 → RateLimitError with the peer's delay, 401 → AuthError, malformed input
flagged (never raised, never dropped), close twice safe. Channels join through one harness
fixture (tests/connectors/conftest.py).
"""

from __future__ import annotations

import pytest

from inbox.errors import AuthError, RateLimitError, TransientError
from tests.connectors.conftest import CONTRACT_CHANNELS, Harness


@pytest.fixture(params=CONTRACT_CHANNELS)
def channel(request: pytest.FixtureRequest) -> Harness:
    harness: Harness = request.getfixturevalue(f"{request.param}_harness")
    return harness


async def test_same_idempotency_key_is_sent_exactly_once(channel: Harness) -> None:
    first = await channel.connector.send(channel.outbound("Thanks, we are on it.", "key-1"))
    retried = await channel.connector.send(channel.outbound("Thanks, we are on it.", "key-1"))
    assert retried == first and channel.sends_seen() == 1
    other = await channel.connector.send(channel.outbound("A second answer.", "key-2"))
    assert other.external_id != first.external_id and channel.sends_seen() == 2


async def test_dropped_connection_neither_loses_nor_duplicates_messages(channel: Harness) -> None:
    if channel.add_inbound is None or channel.drop_next_fetch is None:
        pytest.skip("push-only channel: the peer retries deliveries itself")
    start = await channel.connector.fetch(None, 50)
    channel.add_inbound("first")
    channel.add_inbound("second")
    channel.drop_next_fetch()
    with pytest.raises(TransientError):
        await channel.connector.fetch(start.next_cursor, 50)
    batch = await channel.connector.fetch(start.next_cursor, 50)
    assert [m.text for m in batch.messages] == ["first", "second"]
    again = await channel.connector.fetch(batch.next_cursor, 50)
    assert again.messages == []


async def test_429_is_a_rate_limit_with_the_delay_the_peer_asked_for(channel: Harness) -> None:
    channel.refuse_next_send(429, 30)
    with pytest.raises(RateLimitError) as raised:
        await channel.connector.send(channel.outbound("hello", "key-429"))
    assert 28 <= raised.value.retry_after <= 30
    assert not isinstance(raised.value, AuthError)


async def test_401_is_an_auth_error(channel: Harness) -> None:
    channel.revoke()
    with pytest.raises(AuthError):
        await channel.connector.send(channel.outbound("hello", "key-401"))


async def test_malformed_input_is_flagged_not_raised(channel: Harness) -> None:
    if channel.add_malformed is not None:
        channel.add_malformed()
        messages = list((await channel.connector.fetch(None, 50)).messages)
    else:
        assert channel.malformed_push is not None
        headers, body = channel.malformed_push
        messages = list(channel.connector.parse(headers, body))
    flagged = [m for m in messages if "malformed" in m.flags]
    assert len(flagged) == 1
    assert flagged[0].raw and not flagged[0].wants_auto_reply


async def test_close_twice_is_safe(channel: Harness) -> None:
    await channel.connector.close()
    await channel.connector.close()
    await channel.connector.open()
    await channel.connector.close()
