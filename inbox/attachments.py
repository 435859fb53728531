"""Where attachment bytes live: small ones in the row, large ones on disk by content hash.

Keeping big files out of the database keeps backups and the queue views fast; content
addressing means a file sent twice is stored once and a re-import never rewrites it.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from inbox.models import Attachment
from inbox.types import AttachmentIn


class AttachmentStore:
    def __init__(self, directory: Path | None, inline_max: int = 256 * 1024) -> None:
        self.directory = directory
        self.inline_max = inline_max

    def row(self, item: AttachmentIn) -> Attachment:
        row = Attachment(
            filename=item.filename or "attachment",
            content_type=item.content_type or "application/octet-stream",
            size=item.size,
            content_id=item.content_id,
            inline=item.inline,
        )
        if item.data is None:
            row.storage = "skipped"
            row.skipped_reason = item.skipped_reason or "not downloaded"
            return row
        row.sha256 = hashlib.sha256(item.data).hexdigest()
        row.size = len(item.data)
        if self.directory is None or len(item.data) <= self.inline_max:
            row.storage, row.data = "db", item.data
        else:
            row.storage, row.path = "disk", self._write(row.sha256, item.data)
        return row

    def _write(self, digest: str, data: bytes) -> str:
        assert self.directory is not None
        target = self.directory / digest[:2] / digest
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            partial = target.with_suffix(f".{os.getpid()}.part")
            partial.write_bytes(data)
            os.replace(partial, target)
        return str(target.relative_to(self.directory))

    def read(self, row: Attachment) -> bytes | None:
        if row.storage == "db":
            return row.data
        if row.storage == "disk" and row.path and self.directory is not None:
            return (self.directory / row.path).read_bytes()
        return None
