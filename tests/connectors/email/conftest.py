"""Fixtures for the email channel's own tests: a Heard configured with an email channel.

Dovecot, aiosmtpd and the per-test mailbox come from tests/connectors/email/fixtures.py through
tests/connectors/conftest.py.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from inbox.app import Heard
from tests.conftest import MakeHeard
from tests.connectors.email.fixtures import Mailbox, email_toml
from tests.servers.smtp import SmtpCapture

EmailHeard = Callable[..., Heard]


@pytest.fixture
def email_heard(make_heard: MakeHeard, mailbox: Mailbox, smtp: SmtpCapture) -> EmailHeard:
    """A migrated Heard with a running queue and the email channel on this test's folder."""

    def make(store_url: str | None = None, **options: object) -> Heard:
        return make_heard(email_toml(mailbox, smtp, **options), store_url)  # type: ignore[arg-type]

    return make
