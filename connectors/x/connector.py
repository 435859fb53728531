"""The X connector: mentions and DMs polled with tweepy's v2 AsyncClient, replies and DMs out.

The cursor is JSON `{"since_id": newest mention id, "dm_last": newest DM event id}`, saved with
the messages. Mentions use `since_id`; the DM list has none, so it is paged (newest first)
until the last seen event id, deduplicating events that shift between pages. Every call goes
through the rate-limit book (see ratelimit.py): a used-up window skips that source this round,
and a send waits with `RateLimitError(retry_after)` rather than being refused by X.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import aiohttp
from tweepy.asynchronous import AsyncClient

from connectors.base import ChannelConfig, Connector
from connectors.sendlog import SendLog
from connectors.x import normalize
from connectors.x.config import XConfig
from connectors.x.errors import map_error
from connectors.x.ratelimit import RateLimits
from connectors.x.session import RoutedSession
from connectors.x.textlen import DM_LIMIT, TWEET_LIMIT, weighted_length
from connectors.x.webhook import crc_response, valid_signature
from inbox.errors import (
    ChannelError,
    MessageTooLong,
    PermanentError,
    RateLimitError,
    SignatureError,
    TransientError,
)
from inbox.types import Batch, Delivery, InboundMessage, OutboundMessage, WebhookReply

log = logging.getLogger(__name__)
T = TypeVar("T")
SIGNATURE_HEADER = "x-twitter-webhooks-signature"
MENTIONS_ROUTE = "GET /2/users/:id/mentions"
DM_ROUTE = "GET /2/dm_events"
TWEET_FIELDS = [
    "author_id",
    "conversation_id",
    "created_at",
    "in_reply_to_user_id",
    "referenced_tweets",
]
DM_FIELDS = [
    "id",
    "text",
    "event_type",
    "created_at",
    "sender_id",
    "dm_conversation_id",
    "attachments",
]
USER_FIELDS = ["name", "username"]


@dataclass(slots=True)
class Cursor:
    since_id: str | None = None
    dm_last: str | None = None

    @classmethod
    def load(cls, text: str | None) -> Cursor:
        try:
            data = json.loads(text) if text else {}
        except json.JSONDecodeError:
            log.warning("ignoring an X cursor that is not JSON: %r", text)
            data = {}
        data = data if isinstance(data, dict) else {}
        return cls(_id_or_none(data.get("since_id")), _id_or_none(data.get("dm_last")))

    def dump(self) -> str:
        return json.dumps({"since_id": self.since_id, "dm_last": self.dm_last}, sort_keys=True)


class XConnector(Connector):
    kind = "x"
    config_model = XConfig
    pulls = True
    pushes = True  # the optional Account Activity webhook

    def __init__(self, config: ChannelConfig, **options: Any) -> None:
        if not isinstance(config, XConfig):
            raise TypeError("XConnector needs an XConfig")
        super().__init__(config, **options)
        self.settings = config
        self.limits = RateLimits()
        self.own_id: str | None = None
        self._client: AsyncClient | None = None
        self._session: RoutedSession | None = None
        self._sent = SendLog()

    # Lifecycle ------------------------------------------------------------------------------
    async def _open(self) -> None:
        http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30))
        self._session = RoutedSession(self.settings.api_base_url, self.limits, http)
        s = self.settings
        client = AsyncClient(
            bearer_token=s.bearer_token,
            consumer_key=s.consumer_key,
            consumer_secret=s.consumer_secret,
            access_token=s.access_token,
            access_token_secret=s.access_token_secret,
            return_type=dict,
            wait_on_rate_limit=False,  # never: it would block the worker for the whole window
        )
        client.session = self._session
        self._client = client
        if s.user_context:
            me = await self._call(client.get_me(user_auth=True, user_fields=USER_FIELDS))
        else:
            me = await self._call(client.get_user(username=s.handle, user_fields=USER_FIELDS))
        self.own_id = str(me["data"]["id"])

    async def _close(self) -> None:
        session, self._session, self._client = self._session, None, None
        if session is not None:
            await session.close()

    async def wait_for_news(self, timeout: float) -> None:
        await asyncio.sleep(self.next_poll_in(timeout))

    def next_poll_in(self, interval: float) -> float:
        """The poll interval, stretched while every polled window is used up (per the headers)."""
        waits = [self.limits.wait_for(r) for r in self._routes()]
        return max(interval, min(waits, default=0.0))

    # Pull -----------------------------------------------------------------------------------
    async def fetch(self, cursor: str | None, limit: int) -> Batch:
        state = Cursor.load(cursor)
        messages: list[InboundMessage] = []
        waits: list[float] = []
        read = 0
        for enabled, reader in (
            (self.settings.mentions, self._read_mentions),
            (self.settings.direct_messages, self._read_dms),
        ):
            if not enabled:
                continue
            try:
                messages += await reader(state, limit)
                read += 1
            except RateLimitError as exc:
                waits.append(exc.retry_after)  # this source waits; the other may still read
        if not read and waits:
            raise RateLimitError("every X window this account polls is used up", min(waits))
        return Batch(messages, state.dump())

    async def _read_mentions(self, state: Cursor, limit: int) -> list[InboundMessage]:
        client, own = self._require()
        params: dict[str, Any] = {
            "max_results": max(5, min(100, limit)),
            "expansions": ["author_id", "referenced_tweets.id"],
            "tweet_fields": TWEET_FIELDS,
            "user_fields": USER_FIELDS,
            "user_auth": self.settings.user_context,
        }
        if state.since_id:
            params["since_id"] = state.since_id
        found: list[InboundMessage] = []
        newest, token = state.since_id, None
        while True:
            page = await self._call(
                client.get_users_mentions(own, pagination_token=token, **params)
            )
            found += normalize.mentions(page, self.name, own)
            meta = page.get("meta") if isinstance(page, dict) else None
            meta = meta if isinstance(meta, dict) else {}
            newest = _newer(newest, _id_or_none(meta.get("newest_id")))
            token = meta.get("next_token")
            if not state.since_id or not token:
                break  # first run reads the newest page only: no backfill of old mentions
        state.since_id = newest
        return normalize.oldest_first(found)

    async def _read_dms(self, state: Cursor, limit: int) -> list[InboundMessage]:
        client, own = self._require()
        params: dict[str, Any] = {
            "max_results": max(1, min(100, limit)),
            "event_types": "MessageCreate",
            "dm_event_fields": DM_FIELDS,
            "expansions": ["sender_id"],
            "user_fields": USER_FIELDS,
            "user_auth": True,
        }
        events: dict[str, Any] = {}
        users: dict[str, Mapping[str, Any]] = {}
        token = None
        while True:
            page = await self._call(
                client.get_direct_message_events(pagination_token=token, **params), dm=True
            )
            users.update(normalize.users_by_id(page))
            reached = False
            for event in normalize.items(page):
                event_id = _id_or_none(event.get("id")) if isinstance(event, dict) else None
                if event_id and state.dm_last and int(event_id) <= int(state.dm_last):
                    reached = True  # everything from here on was stored before
                    continue
                # New DMs push older ones onto the next page: the same event can come twice.
                events.setdefault(event_id or json.dumps(event, sort_keys=True, default=str), event)
            meta = page.get("meta") if isinstance(page, dict) else None
            token = meta.get("next_token") if isinstance(meta, dict) else None
            if reached or not token or not state.dm_last:
                break
        for key in events:
            state.dm_last = _newer(state.dm_last, _id_or_none(key))
        return normalize.dm_events(events.values(), users, self.name, own)

    # Push (Account Activity API) ------------------------------------------------------------
    def challenge(self, query: Mapping[str, str]) -> WebhookReply | None:
        secret = self.settings.consumer_secret
        token = query.get("crc_token")
        if not secret:
            return None
        if not token:
            return WebhookReply(400, b'{"error": "crc_token is required"}')
        return WebhookReply(200, json.dumps(crc_response(secret, token)).encode())

    def verify(self, headers: Mapping[str, str], body: bytes) -> None:
        secret = self.settings.consumer_secret
        given = next((v for k, v in headers.items() if k.lower() == SIGNATURE_HEADER), None)
        if not secret or not valid_signature(secret, body, given):
            raise SignatureError("missing or wrong x-twitter-webhooks-signature")

    def parse(self, headers: Mapping[str, str], body: bytes) -> Sequence[InboundMessage]:
        try:
            payload: Any = json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError):
            return [normalize.flagged(self.name, body, "webhook body is not JSON")]
        return normalize.activity(payload, self.name, self.own_id or "")

    # Send -----------------------------------------------------------------------------------
    async def send(self, outbound: OutboundMessage) -> Delivery:
        if not outbound.text.strip():
            raise PermanentError("nothing to send: X messages need text")
        if outbound.attachments:
            # Media needs X's separate v1.1 upload endpoint, not supported here: refuse
            # visibly rather than send the text and silently drop the files.
            raise PermanentError("X replies from Heard cannot carry attachments; send a link")
        async with self._sent.hold(outbound.idempotency_key) as record:
            if record.delivery is None:
                if outbound.thread.get("mode") == "dm":
                    record.delivery = await self._send_dm(outbound)
                else:
                    record.delivery = await self._reply(outbound)
            return record.delivery

    async def _reply(self, outbound: OutboundMessage) -> Delivery:
        client, _ = self._require()
        length = weighted_length(outbound.text)
        if length > TWEET_LIMIT:
            raise MessageTooLong(
                f"the reply is {length} characters and X allows {TWEET_LIMIT} in a public "
                "reply: shorten it, or invite the customer to DMs"
            )
        tweet_id = _reply_target(outbound)
        if tweet_id is None:
            raise PermanentError("no tweet to reply to: the conversation has no tweet id")
        answer = await self._call(
            client.create_tweet(text=outbound.text, in_reply_to_tweet_id=tweet_id, user_auth=True)
        )
        new_id = str(answer["data"]["id"])
        return Delivery(f"tweet:{new_id}", {"in_reply_to": tweet_id})

    async def _send_dm(self, outbound: OutboundMessage) -> Delivery:
        client, _ = self._require()
        if len(outbound.text) > DM_LIMIT:
            raise MessageTooLong(f"the DM is {len(outbound.text)} characters; X allows {DM_LIMIT}")
        participant = str(outbound.thread.get("participant_id") or outbound.recipient)
        if not participant.isdigit():
            raise PermanentError(f"not an X user id: {participant!r}")
        answer = await self._call(
            client.create_direct_message(
                participant_id=participant, text=outbound.text, user_auth=True
            ),
            dm=True,
        )
        event_id = str(answer["data"]["dm_event_id"])
        return Delivery(f"dm:{event_id}")

    # Helpers --------------------------------------------------------------------------------
    def _routes(self) -> list[str]:
        routes = [MENTIONS_ROUTE] if self.settings.mentions else []
        return routes + ([DM_ROUTE] if self.settings.direct_messages else [])

    def _require(self) -> tuple[AsyncClient, str]:
        if self._client is None or self.own_id is None:
            raise TransientError(f"x {self.name}: connector is not open")
        return self._client, self.own_id

    async def _call(self, pending: Awaitable[T], *, dm: bool = False) -> T:
        try:
            return await pending
        except ChannelError:
            raise  # our own rate-limit book refused before sending
        except Exception as exc:  # tweepy, aiohttp and JSON errors, mapped at the boundary
            raise map_error(exc, self.limits, dm=dm) from exc


def _reply_target(outbound: OutboundMessage) -> str | None:
    if outbound.in_reply_to and outbound.in_reply_to.startswith("tweet:"):
        return outbound.in_reply_to.removeprefix("tweet:")
    value = outbound.thread.get("tweet_id")
    return str(value) if value else None


def _id_or_none(value: Any) -> str | None:
    text = str(value) if isinstance(value, (str, int)) and not isinstance(value, bool) else ""
    return text if text.isdigit() else None


def _newer(current: str | None, candidate: str | None) -> str | None:
    if candidate is None:
        return current
    if current is None or int(candidate) > int(current):
        return candidate
    return current
