"""The email channel's cursor: which folder state we read up to, as a small JSON string.

A UID means nothing without its UIDVALIDITY (RFC 3501 §2.3.1.1): when the server changes it,
every UID is new, so we read the folder again from the start and the store drops what it
already has by Message-ID.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ImapCursor:
    uidvalidity: int | None = None
    last_uid: int = 0

    def dump(self) -> str:
        return json.dumps({"uidvalidity": self.uidvalidity, "last_uid": self.last_uid})

    def for_folder(self, uidvalidity: int) -> ImapCursor:
        """This cursor if it is about the folder as it is now, else a fresh start."""
        if self.uidvalidity == uidvalidity:
            return self
        if self.uidvalidity is not None:
            log.warning(
                "UIDVALIDITY changed from %s to %s: reading the folder again",
                self.uidvalidity,
                uidvalidity,
            )
        return ImapCursor(uidvalidity, 0)


def parse(value: str | None) -> ImapCursor:
    if not value:
        return ImapCursor()
    try:
        data = json.loads(value)
        return ImapCursor(
            int(data["uidvalidity"]) if data.get("uidvalidity") is not None else None,
            int(data.get("last_uid", 0)),
        )
    except (ValueError, TypeError, KeyError, AttributeError):
        log.warning("unreadable email cursor %r: starting from the beginning", value[:100])
        return ImapCursor()
