"""Account Activity webhook: the CRC answer and the signature on every event."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

import pytest

from connectors.x.connector import XConnector
from inbox.errors import SignatureError
from tests.connectors.x.conftest import CONSUMER_SECRET, x_config
from tests.fakes.x_api import FakeX

EVENT = {
    "for_user_id": "1072250532645998596",
    "tweet_create_events": [
        {
            "created_at": "Wed Oct 10 20:19:24 +0000 2018",
            "id_str": "1050118621198921728",
            "text": "@HeardSupport my refund?",
            "in_reply_to_status_id_str": None,
            "user": {"id_str": "2244994945", "name": "Ada Lovelace", "screen_name": "ada_l"},
        }
    ],
    "direct_message_events": [
        {
            "type": "message_create",
            "id": "954491830116155396",
            "created_timestamp": "1516403560557",
            "message_create": {
                "target": {"recipient_id": "1072250532645998596"},
                "sender_id": "783214",
                "message_data": {"text": "Hi, DM here", "entities": {}},
            },
        }
    ],
    "users": {"783214": {"id": "783214", "name": "Grace Hopper", "screen_name": "grace_h"}},
}


@pytest.fixture
def hooked(fake_x: FakeX) -> XConnector:
    return XConnector(x_config(fake_x))


def test_crc_answer_is_the_base64_hmac_of_the_token(hooked: XConnector) -> None:
    reply = hooked.challenge({"crc_token": "challenge-123"})
    assert reply is not None and reply.status == 200
    digest = hmac.new(CONSUMER_SECRET.encode(), b"challenge-123", hashlib.sha256).digest()
    expected = "sha256=" + base64.b64encode(digest).decode()
    assert json.loads(reply.body) == {"response_token": expected}
    missing = hooked.challenge({})
    assert missing is not None and missing.status == 400


def test_every_event_must_carry_our_signature(hooked: XConnector) -> None:
    body = json.dumps(EVENT).encode()
    digest = hmac.new(CONSUMER_SECRET.encode(), body, hashlib.sha256).digest()
    good = "sha256=" + base64.b64encode(digest).decode()
    hooked.verify({"X-Twitter-Webhooks-Signature": good}, body)
    for headers in ({}, {"x-twitter-webhooks-signature": good[:-4] + "AAA="}):
        with pytest.raises(SignatureError):
            hooked.verify(headers, body)
    with pytest.raises(SignatureError):
        hooked.verify({"x-twitter-webhooks-signature": good}, body + b" ")


def test_events_become_a_public_mention_and_a_dm(hooked: XConnector) -> None:
    tweet, direct = sorted(hooked.parse({}, json.dumps(EVENT).encode()), key=lambda m: m.is_public)[
        ::-1
    ]
    assert tweet.is_public and tweet.external_id == "tweet:1050118621198921728"
    assert (
        tweet.sender.handle == "2244994945"
        and tweet.extras["thread"]["tweet_id"] == "1050118621198921728"
    )
    assert not direct.is_public and direct.external_id == "dm:954491830116155396"
    assert direct.thread_keys == ["dm:783214"] and direct.sender.name == "Grace Hopper"


def test_own_events_and_garbage(hooked: XConnector) -> None:
    own = {
        "for_user_id": "1",
        "tweet_create_events": [{"id_str": "5", "text": "our reply", "user": {"id_str": "1"}}],
    }
    assert hooked.parse({}, json.dumps(own).encode()) == []
    (bad,) = hooked.parse({}, b"<html>")
    assert bad.flags == ("malformed",) and bad.raw == b"<html>"
