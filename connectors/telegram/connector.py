"""The Telegram connector: polling or webhook in, sendMessage/sendPhoto/sendDocument out.

Polling reads raw getUpdates JSON with the saved offset as the cursor (Bot API: asking with
offset N confirms every update below N, so the offset is saved with the messages and a crash
re-reads, never skips). Webhook mode checks X-Telegram-Bot-Api-Secret-Token and answers 403
when it is wrong. Sends split long text and record each accepted piece against the
idempotency key, so a retry after flood control continues instead of repeating.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any, TypeVar

from telegram import Bot, InputFile, Message, ReplyParameters
from telegram import error as tg
from telegram.request import HTTPXRequest

from connectors.base import ChannelConfig, Connector
from connectors.sendlog import SendLog
from connectors.telegram.config import BOT_API_DOWNLOAD_LIMIT, TelegramConfig
from connectors.telegram.errors import WrongSecret, map_error
from connectors.telegram.files import download_all
from connectors.telegram.normalize import (
    BotIdentity,
    FileRef,
    Normalized,
    normalize_update,
    update_id,
)
from connectors.telegram.split import split_text
from inbox.errors import PermanentError, TransientError
from inbox.types import AttachmentOut, Batch, Delivery, InboundMessage, OutboundMessage

log = logging.getLogger(__name__)
T = TypeVar("T")
SECRET_HEADER = "x-telegram-bot-api-secret-token"
ALLOWED_UPDATES = ["message", "edited_message"]
PHOTO_TYPES = ("image/jpeg", "image/png", "image/webp")
PHOTO_MAX = 10 * 1024 * 1024  # Bot API: sendPhoto takes photos up to 10 MB


class _Bot(Bot):
    """PTB's Bot with getUpdates as raw JSON, so one unreadable update cannot fail the batch."""

    async def raw_updates(self, offset: int | None, limit: int, wait: int = 0) -> list[Any]:
        """getUpdates as JSON; `wait` > 0 long-polls (Bot API `timeout`) until something comes."""
        data: dict[str, Any] = {"limit": limit, "timeout": wait, "allowed_updates": ALLOWED_UPDATES}
        if offset is not None:
            data["offset"] = offset
        # The answer may take `wait` seconds by design; allow for that on top of the network.
        result = await self._post("getUpdates", data, read_timeout=float(wait + 20))
        return result if isinstance(result, list) else []


class TelegramConnector(Connector):
    kind = "telegram"
    config_model = TelegramConfig
    pulls = True
    pushes = True

    def __init__(self, config: ChannelConfig, **options: Any) -> None:
        if not isinstance(config, TelegramConfig):
            raise TypeError("TelegramConnector needs a TelegramConfig")
        super().__init__(config, **options)
        self.settings = config
        store_limit = int(options.get("max_attachment_size") or BOT_API_DOWNLOAD_LIMIT)
        self.attachment_limit = min(config.max_attachment_size, store_limit, BOT_API_DOWNLOAD_LIMIT)
        self._bot: _Bot | None = None
        self._me: BotIdentity | None = None
        self._sent = SendLog()
        self._offset: int | None = None  # the offset after the last fetch, for long polls

    # Lifecycle ------------------------------------------------------------------------------
    async def _open(self) -> None:
        timeout = self.settings.request_timeout
        bot = _Bot(
            self.settings.token,
            base_url=self.settings.method_base,
            base_file_url=self.settings.file_base,
            request=HTTPXRequest(connect_timeout=timeout, read_timeout=timeout),
            get_updates_request=HTTPXRequest(connect_timeout=timeout, read_timeout=timeout),
        )
        self._bot = bot
        await self._call(bot.initialize())  # getMe: checks the token, tells us our username
        self._me = BotIdentity(bot.bot.id, bot.bot.username or "")

    async def _close(self) -> None:
        bot, self._bot = self._bot, None
        if bot is not None:
            try:
                await bot.shutdown()
            except tg.TelegramError as exc:
                log.warning("telegram %s: shutdown failed: %s", self.name, exc)

    async def on_start(self, public_url: str | None) -> None:
        bot = self._require_bot()
        if self.settings.mode == "polling":
            # getUpdates answers 409 while a webhook is set; polling mode owns the bot.
            await self._call(bot.delete_webhook(drop_pending_updates=False))
            return
        url = public_url or self.options.get("public_url")
        if not url:
            log.warning(
                "telegram %s: webhook mode without web.public_url; not registered", self.name
            )
            return
        hook = f"{str(url).rstrip('/')}/hooks/telegram/{self.name}"
        await self._call(
            bot.set_webhook(
                hook, secret_token=self.settings.webhook_secret, allowed_updates=ALLOWED_UPDATES
            )
        )
        log.info("telegram %s: webhook set to %s", self.name, hook)

    # Pull -----------------------------------------------------------------------------------
    async def fetch(self, cursor: str | None, limit: int) -> Batch:
        if self.settings.mode != "polling":
            return Batch([], cursor)
        offset = _offset(cursor)
        limit = max(1, min(limit, 100))  # Bot API: getUpdates returns at most 100
        updates = await self._call(self._require_bot().raw_updates(offset, limit))
        messages: list[InboundMessage] = []
        next_offset = offset
        for update in updates:
            uid = update_id(update)
            if uid is not None:
                next_offset = max(next_offset or 0, uid + 1)
            normalized = normalize_update(update, self.name, self._me)
            if normalized is not None:
                messages.append(await self._with_files(normalized))
        self._offset = next_offset
        next_cursor = str(next_offset) if next_offset is not None else cursor
        return Batch(messages, next_cursor, more=len(updates) >= limit)

    async def wait_for_news(self, timeout: float) -> None:
        """Long-poll with the last offset, so a customer's message is fetched within a second.

        The same offset confirms nothing new: the following `fetch` reads what arrived.
        """
        if self.settings.mode != "polling" or self._bot is None:
            await asyncio.sleep(timeout)
            return
        try:
            await self._bot.raw_updates(self._offset, 1, wait=int(max(1, min(timeout, 50))))
        except tg.TelegramError as exc:
            log.debug("telegram %s: long poll ended: %s", self.name, exc)  # fetch will tell

    # Push -----------------------------------------------------------------------------------
    def verify(self, headers: Mapping[str, str], body: bytes) -> None:
        expected = self.settings.webhook_secret
        given = _header(headers, SECRET_HEADER)
        if not expected or given is None or not hmac.compare_digest(given, expected):
            raise WrongSecret("missing or wrong X-Telegram-Bot-Api-Secret-Token")

    def parse(self, headers: Mapping[str, str], body: bytes) -> Sequence[InboundMessage]:
        """One update per webhook request; unreadable JSON is kept as a flagged message."""
        try:
            update: Any = json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError):
            update = {"unparsable_body": body.decode("utf-8", errors="replace")}
        normalized = normalize_update(update, self.name, self._me)
        if normalized is None:
            return []
        return [_pending_files(normalized)]

    async def complete(self, messages: Sequence[InboundMessage]) -> Sequence[InboundMessage]:
        """Download the files of webhook messages (parse must not do I/O)."""
        done = []
        for message in messages:
            refs = message.extras.get("telegram_files")
            if refs and self._bot is not None:
                files = [FileRef(**ref) for ref in refs]
                extras = {k: v for k, v in message.extras.items() if k != "telegram_files"}
                message = replace(
                    message,
                    attachments=await download_all(self._bot, files, self.attachment_limit),
                    extras=extras,
                )
            done.append(message)
        return done

    # Send -----------------------------------------------------------------------------------
    async def send(self, outbound: OutboundMessage) -> Delivery:
        bot = self._require_bot()
        chat_id = _chat_id(outbound)
        reply_to = _reply_target(outbound, chat_id)
        topic = outbound.thread.get("message_thread_id")
        steps: list[Callable[[ReplyParameters | None], Awaitable[Message]]] = []
        for piece in split_text(outbound.text) if outbound.text.strip() else []:
            steps.append(_text_step(bot, chat_id, piece, topic))
        steps.extend(_file_step(bot, chat_id, item, topic) for item in outbound.attachments)
        if not steps:
            raise PermanentError("nothing to send: the reply has no text and no attachments")
        async with self._sent.hold(outbound.idempotency_key) as record:
            if record.delivery is not None:
                return record.delivery
            for index, step in enumerate(steps):
                if index < len(record.parts):
                    continue  # accepted by an earlier attempt with this idempotency key
                reply = None
                if index == 0 and reply_to is not None:
                    reply = ReplyParameters(reply_to, allow_sending_without_reply=True)
                sent = await self._call(step(reply))
                record.parts.append(f"{chat_id}:{sent.message_id}")
            record.delivery = Delivery(record.parts[0], {"message_ids": list(record.parts)})
            return record.delivery

    # Helpers --------------------------------------------------------------------------------
    async def _with_files(self, normalized: Normalized) -> InboundMessage:
        if not normalized.files:
            return normalized.message
        attachments = await download_all(
            self._require_bot(), normalized.files, self.attachment_limit
        )
        return replace(normalized.message, attachments=attachments)

    def _require_bot(self) -> _Bot:
        if self._bot is None:
            raise TransientError(f"telegram {self.name}: connector is not open")
        return self._bot

    async def _call(self, pending: Awaitable[T]) -> T:
        try:
            return await pending
        except tg.TelegramError as exc:
            raise map_error(exc) from exc


def _text_step(
    bot: Bot, chat_id: int, text: str, topic: Any
) -> Callable[[ReplyParameters | None], Awaitable[Message]]:
    def step(reply: ReplyParameters | None) -> Awaitable[Message]:
        return bot.send_message(chat_id, text, reply_parameters=reply, message_thread_id=topic)

    return step


def _file_step(
    bot: Bot, chat_id: int, item: AttachmentOut, topic: Any
) -> Callable[[ReplyParameters | None], Awaitable[Message]]:
    def step(reply: ReplyParameters | None) -> Awaitable[Message]:
        upload = InputFile(item.data, filename=item.filename)
        if item.content_type in PHOTO_TYPES and len(item.data) <= PHOTO_MAX:
            return bot.send_photo(chat_id, upload, reply_parameters=reply, message_thread_id=topic)
        return bot.send_document(chat_id, upload, reply_parameters=reply, message_thread_id=topic)

    return step


def _pending_files(normalized: Normalized) -> InboundMessage:
    if not normalized.files:
        return normalized.message
    refs = [
        {
            "file_id": f.file_id,
            "filename": f.filename,
            "content_type": f.content_type,
            "size": f.size,
        }
        for f in normalized.files
    ]
    return replace(normalized.message, extras={**normalized.message.extras, "telegram_files": refs})


def _chat_id(outbound: OutboundMessage) -> int:
    value = outbound.thread.get("chat_id") or outbound.recipient
    try:
        return int(value)
    except (TypeError, ValueError):
        raise PermanentError(f"not a Telegram chat id: {value!r}") from None


def _reply_target(outbound: OutboundMessage, chat_id: int) -> int | None:
    """The customer's message to reply to: the last inbound one (external id `chat:msg[...]`)."""
    if outbound.in_reply_to:
        chat, _, rest = outbound.in_reply_to.partition(":")
        message_id = rest.split(":")[0]
        if chat == str(chat_id) and message_id.isdigit():
            return int(message_id)
    value = outbound.thread.get("reply_to_message_id")
    return int(value) if isinstance(value, int) else None


def _offset(cursor: str | None) -> int | None:
    if not cursor:
        return None
    try:
        return int(cursor)
    except ValueError:
        log.warning("ignoring a Telegram cursor that is not an offset: %r", cursor)
        return None


def _header(headers: Mapping[str, str], name: str) -> str | None:
    for key, value in headers.items():
        if key.lower() == name:
            return value
    return None
