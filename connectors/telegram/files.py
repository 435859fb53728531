"""Download a message's files through the Bot API file endpoint, within the size limit.

getFile turns a file_id into a path under `{api_base_url}/file/bot<token>/`; PTB downloads from
there. Files over the limit (ours, and the Bot API's 20 MB for bots) are kept as skipped
attachments with the reason, so agents see that something was sent.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from telegram import Bot
from telegram import error as tg

from connectors.telegram.errors import map_error
from connectors.telegram.normalize import FileRef
from inbox.errors import PermanentError
from inbox.types import AttachmentIn

log = logging.getLogger(__name__)


async def download_all(bot: Bot, files: Sequence[FileRef], limit: int) -> list[AttachmentIn]:
    return [await download(bot, ref, limit) for ref in files]


async def download(bot: Bot, ref: FileRef, limit: int) -> AttachmentIn:
    if ref.size > limit:
        return _skipped(ref, _too_big(limit))
    try:
        remote = await bot.get_file(ref.file_id)
        if remote.file_size and remote.file_size > limit:
            return _skipped(ref, _too_big(limit))
        data = bytes(await remote.download_as_bytearray())
    except tg.TelegramError as exc:
        error = map_error(exc)
        if not isinstance(error, PermanentError):
            raise error from exc  # a network blip: fetch again, the store dedupes
        log.warning("telegram file %s not downloadable: %s", ref.file_id, exc)
        return _skipped(ref, f"Telegram would not hand out the file: {exc.message}")
    if len(data) > limit:
        return _skipped(ref, _too_big(limit))
    return AttachmentIn(ref.filename, ref.content_type, len(data), data=data)


def _skipped(ref: FileRef, reason: str) -> AttachmentIn:
    return AttachmentIn(ref.filename, ref.content_type, ref.size, skipped_reason=reason)


def _too_big(limit: int) -> str:
    size = f"{limit // (1024 * 1024)} MB" if limit >= 1024 * 1024 else f"{limit} bytes"
    return f"larger than the {size} limit"
