"""A blocking IMAP session (imapclient) for one mailbox; the connector runs it in a thread.

Only this module knows imapclient: its exceptions become Heard's here (LoginError → AuthError,
every socket or protocol failure → TransientError), so a dropped connection is just "try again".
Facts that shaped it: `UID N:*` always returns the newest message even when N is past the end
(RFC 3501 §6.4.8), so results are filtered; fetch takes explicit UID lists; INTERNALDATE is
asked for aware datetimes so nothing depends on the server's time zone.
"""

from __future__ import annotations

import imaplib
import logging
import socket
import ssl
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError, LoginError

from connectors.email.config import ImapSettings
from inbox.errors import AuthError, ChannelError, PermanentError, TransientError

log = logging.getLogger(__name__)

BODY = b"BODY[]"
LOGOUT_TIMEOUT = 3.0  # seconds
INTERNALDATE = b"INTERNALDATE"
_NETWORK_ERRORS = (OSError, socket.timeout, ssl.SSLError, imaplib.IMAP4.abort, EOFError)


@dataclass(frozen=True, slots=True)
class Fetched:
    uid: int
    raw: bytes
    internal_date: datetime | None


@contextmanager
def mapped_errors(what: str) -> Iterator[None]:
    """imapclient and socket errors become Heard's, once, at this boundary."""
    try:
        yield
    except ChannelError:
        raise
    except LoginError as exc:
        raise AuthError(f"IMAP login refused during {what}: {exc}") from exc
    except _NETWORK_ERRORS as exc:
        raise TransientError(f"IMAP connection failed during {what}: {exc!r}") from exc
    except IMAPClientError as exc:
        raise TransientError(f"IMAP server refused {what}: {exc}") from exc
    except imaplib.IMAP4.error as exc:
        raise TransientError(f"IMAP protocol error during {what}: {exc}") from exc


class ImapSession:
    """One logged-in connection with one selected folder."""

    def __init__(self, settings: ImapSettings, folder: str | None = None) -> None:
        self.settings = settings
        self.folder = folder or settings.folder
        self.client: IMAPClient | None = None
        self.uidvalidity: int | None = None

    def connect(self) -> IMAPClient:
        if self.client is not None:
            return self.client
        s = self.settings
        with mapped_errors("connect"):
            context = s.ssl_context()
            client = IMAPClient(
                s.host, port=s.effective_port, ssl=s.ssl, ssl_context=context, timeout=s.timeout
            )
            try:
                client.normalise_times = False
                if s.starttls:
                    client.starttls(context)
                if s.username is not None:
                    client.login(s.username, s.password or "")
            except BaseException:
                _quiet_logout(client)
                raise
        self.client = client
        return client

    def select(self) -> int:
        """Select the folder; returns its UIDVALIDITY (RFC 3501 §2.3.1.1)."""
        client = self.connect()
        with mapped_errors(f"SELECT {self.folder}"):
            info = client.select_folder(self.folder)
        value = info.get(b"UIDVALIDITY")
        if value is None:
            raise PermanentError(f"IMAP server gave no UIDVALIDITY for {self.folder}")
        self.uidvalidity = int(value)
        return self.uidvalidity

    def uids_after(self, last_uid: int, since: date | None = None) -> list[int]:
        client = self._client()
        criteria: list[Any] = ["UID", f"{last_uid + 1}:*"]
        if since is not None:
            criteria += ["SINCE", since]
        with mapped_errors("SEARCH"):
            found = client.search(criteria)
        return sorted(uid for uid in found if uid > last_uid)

    def fetch(self, uids: Sequence[int]) -> list[Fetched]:
        if not uids:
            return []
        client = self._client()
        with mapped_errors("FETCH"):
            data = client.fetch(list(uids), ["BODY.PEEK[]", "INTERNALDATE"])
        out = []
        for uid in uids:
            item = data.get(uid)
            if item is None or BODY not in item:
                continue  # expunged between SEARCH and FETCH
            when = item.get(INTERNALDATE)
            out.append(
                Fetched(uid, bytes(item[BODY]), when if isinstance(when, datetime) else None)
            )
        return out

    def sizes(self, uids: Sequence[int]) -> dict[int, int]:
        """RFC822.SIZE of each message, so a batch can be cut to a memory budget first."""
        if not uids:
            return {}
        with mapped_errors("FETCH RFC822.SIZE"):
            data = self._client().fetch(list(uids), ["RFC822.SIZE"])
        return {uid: int(item.get(b"RFC822.SIZE", 0)) for uid, item in data.items()}

    def mark_seen(self, uids: Sequence[int]) -> None:
        if uids:
            with mapped_errors("STORE \\Seen"):
                self._client().add_flags(list(uids), [b"\\Seen"], silent=True)

    def append(self, raw: bytes, folder: str) -> None:
        client = self.connect()
        with mapped_errors(f"APPEND {folder}"):
            client.append(folder, raw, flags=(b"\\Seen",))

    def supports_idle(self) -> bool:
        with mapped_errors("CAPABILITY"):
            return bool(self._client().has_capability("IDLE"))

    def idle(self, timeout: float, stop: Callable[[], bool]) -> bool:
        """IDLE until the server reports a change, `timeout` passes or `stop()` is true."""
        client = self._client()
        deadline = time.monotonic() + timeout
        with mapped_errors("IDLE"):
            client.idle()
            try:
                while not stop():
                    left = deadline - time.monotonic()
                    if left <= 0:
                        return False
                    # Short checks so a shutdown never waits for a whole IDLE period.
                    if client.idle_check(timeout=min(left, 1.0)):
                        return True
                return False
            finally:
                client.idle_done()

    def close(self) -> None:
        client, self.client = self.client, None
        self.uidvalidity = None
        if client is not None:
            _quiet_logout(client)

    def _client(self) -> IMAPClient:
        if self.client is None or self.uidvalidity is None:
            self.select()
        assert self.client is not None
        return self.client


def _quiet_logout(client: IMAPClient) -> None:
    """LOGOUT politely, but never wait long: a server that vanished without a reset would
    otherwise hold a shutdown for the whole IMAP timeout, once per connection."""
    with suppress(Exception):
        client.socket().settimeout(LOGOUT_TIMEOUT)
    try:
        client.logout()
    except Exception:  # the connection may already be gone; closing must not raise
        with suppress(Exception):
            client.shutdown()
