"""What the matcher may look at: one message plus what the store knows about its sender.

Kept apart from the store's rows so matching stays pure (no I/O) and `rules explain` can build
facts from an .eml file or JSON just as the route actor builds them from the store.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from inbox.types import InboundMessage


@dataclass(frozen=True, slots=True)
class Facts:
    channel: str
    account: str
    text: str
    now: datetime
    subject: str = ""
    sender: str = ""
    sender_email: str | None = None
    sender_kind: str = "human"
    contact_tags: frozenset[str] = frozenset()
    language: str | None = None
    first_message: bool = True
    public: bool = False

    @classmethod
    def from_message(
        cls,
        msg: InboundMessage,
        *,
        now: datetime,
        first_message: bool = True,
        contact_tags: Iterable[str] = (),
        language: str | None = None,
    ) -> Facts:
        return cls(
            channel=msg.channel,
            account=msg.account,
            text=msg.text,
            now=now,
            subject=msg.subject,
            sender=msg.sender.handle,
            sender_email=msg.sender.email,
            sender_kind=str(msg.sender_kind),
            contact_tags=frozenset(contact_tags),
            language=language,
            first_message=first_message,
            public=msg.is_public,
        )

    @property
    def sender_domain(self) -> str:
        address = self.sender_email or (self.sender if "@" in self.sender else "")
        return address.rpartition("@")[2].lower().rstrip(">")
