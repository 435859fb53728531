"""The headers of what we send, parsed back with the stdlib; config validation."""

from __future__ import annotations

from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default

import pytest

from connectors.email.compose import compose
from connectors.email.config import EmailConfig
from connectors.email.thread_keys import reply_subject
from inbox.config import settings_from_text
from inbox.errors import ConfigError, RecipientError
from inbox.types import AttachmentOut, MessageKind, OutboundMessage


def outbound(**overrides: object) -> OutboundMessage:
    values: dict[str, object] = {
        "account": "support",
        "conversation_id": 7,
        "reference": "R-1042",
        "recipient": "ada@customer.example",
        "recipient_name": "Ada Lovelace, Countess",
        "text": "Thanks — we’ve got it.",
        "kind": MessageKind.ACK,
        "idempotency_key": "key-1",
        "subject": "Where is my order?",
        "in_reply_to": "<c2@customer.example>",
        "references": ("<c1@customer.example>", "<c2@customer.example>"),
    }
    values.update(overrides)
    return OutboundMessage(**values)  # type: ignore[arg-type]


def parsed(out: OutboundMessage) -> tuple[EmailMessage, str]:
    msg, message_id = compose(out, address="support@example.com", display_name="Example Support")
    back = message_from_bytes(msg.as_bytes(), policy=default)
    assert isinstance(back, EmailMessage)
    return back, message_id


def test_headers_parse_back_as_a_client_reads_them() -> None:
    msg, message_id = parsed(outbound())
    assert msg["From"] == "Example Support <support@example.com>"
    assert msg["To"] == '"Ada Lovelace, Countess" <ada@customer.example>'
    assert msg["Subject"] == "Re: Where is my order? [#R-1042]"
    assert msg["Message-ID"] == message_id and message_id.endswith("@example.com>")
    assert msg["In-Reply-To"] == "<c2@customer.example>"
    assert msg["References"].split() == ["<c1@customer.example>", "<c2@customer.example>"]
    assert msg["Auto-Submitted"] == "auto-replied" and msg["Date"] is not None
    plain = msg.get_body(("plain",))
    html = msg.get_body(("html",))
    assert plain is not None and plain.get_content().strip() == "Thanks — we’ve got it."
    assert html is not None and "Thanks — we’ve got it." in html.get_content()


@pytest.mark.parametrize(
    ("kind", "header"),
    [
        (MessageKind.ACK, "auto-replied"),
        (MessageKind.UPDATE, "auto-generated"),
        (MessageKind.SURVEY, "auto-generated"),
        (MessageKind.MESSAGE, None),
    ],
)
def test_auto_submitted_only_on_automatic_mail(kind: MessageKind, header: str | None) -> None:
    msg, _ = parsed(outbound(kind=kind))
    assert msg["Auto-Submitted"] == header


def test_the_message_id_is_stable_across_retries_of_one_send() -> None:
    assert parsed(outbound())[1] == parsed(outbound())[1]
    assert parsed(outbound(idempotency_key="key-2"))[1] != parsed(outbound())[1]
    assert parsed(outbound(message_id="<given@example.com>"))[1] == "<given@example.com>"


@pytest.mark.parametrize(
    ("subject", "expected"),
    [
        ("Where is my order?", "Re: Where is my order? [#R-1042]"),
        ("RE: AW: Where is my order?", "Re: Where is my order? [#R-1042]"),
        ("Re: Where is my order? [#R-1042]", "Re: Where is my order? [#R-1042]"),
        ("", "Re: [#R-1042]"),
    ],
)
def test_reply_subject_adds_re_and_the_tag_once(subject: str, expected: str) -> None:
    assert reply_subject(subject, "R-1042") == expected


def test_attachments_and_threading_from_the_conversation_thread() -> None:
    out = outbound(
        in_reply_to=None,
        references=(),
        subject="",
        thread={"subject": "Kettle", "last_message_id": "<p@c>", "references": ["<r@c>", "<p@c>"]},
        attachments=(AttachmentOut("invoice.pdf", "application/pdf", b"%PDF"),),
    )
    msg, _ = parsed(out)
    assert msg["Subject"] == "Re: Kettle [#R-1042]"
    assert msg["In-Reply-To"] == "<p@c>" and msg["References"].split() == ["<r@c>", "<p@c>"]
    [att] = list(msg.iter_attachments())
    assert att.get_filename() == "invoice.pdf" and att.get_content() == b"%PDF"


def test_a_bad_recipient_address_is_a_recipient_error() -> None:
    with pytest.raises(RecipientError):
        compose(outbound(recipient="not an address <<"), address="support@example.com")


def test_config_errors_name_the_key() -> None:
    text = """
[[channels]]
type = "email"
name = "support"
address = "support"
imap = { host = "mail", ssl = true, starttls = true }
smtp = { host = "mail", bogus = 1 }
"""
    with pytest.raises(ConfigError) as caught:
        settings_from_text(text, "heard.toml")
    problems = str(caught.value)
    assert "heard.toml:5: channels[0].address" in problems
    assert "heard.toml:6: channels[0].imap" in problems and "either ssl" in problems
    assert "heard.toml:7: channels[0].smtp.bogus: unknown key" in problems


def test_config_defaults() -> None:
    config = EmailConfig.model_validate(
        {
            "type": "email",
            "name": "s",
            "address": "Support@Example.com",
            "aliases": ["Help@x.com"],
            "imap": {"host": "mail"},
            "smtp": {"host": "mail", "starttls": True},
        }
    )
    assert config.imap is not None and config.imap.effective_port == 993
    assert config.smtp is not None and config.smtp.effective_port == 587
    assert config.own_addresses == {"support@example.com", "help@x.com"}
    assert config.mark_seen and config.sent_folder is None


def test_the_documented_example_config_is_valid(monkeypatch: pytest.MonkeyPatch) -> None:
    from pathlib import Path

    monkeypatch.setenv("HEARD_IMAP_PASSWORD", "imap-secret")
    monkeypatch.setenv("HEARD_SMTP_PASSWORD", "smtp-secret")
    text = (Path(__file__).parents[3] / "config.example.toml").read_text(encoding="utf-8")
    block = text.split("# --- email (begin)")[1].split("# --- email (end)")[0]
    lines = [line[2:] if line.startswith("# ") else "" for line in block.splitlines()]
    settings = settings_from_text("\n".join(lines[lines.index("[[channels]]") :]), "example")
    [channel] = settings.channels
    assert isinstance(channel, EmailConfig)
    assert channel.imap is not None and channel.imap.password == "imap-secret"
    assert channel.smtp is not None and channel.smtp.effective_port == 587
    assert channel.since is not None and channel.aliases == ("help@example.com",)


@pytest.mark.parametrize(
    ("code", "text", "wait"),
    [
        (451, "4.7.1 Too many messages, try again in 30 seconds", 30.0),
        (421, "4.7.0 Temporary System Problem. Try again later", 60.0),
        (450, "4.2.1 The user you are trying to contact is receiving mail at a rate that", 60.0),
        (452, "Rate limit exceeded, retry in 2 minutes", 120.0),
        (451, "4.3.0 Mail server temporarily rejected message", None),
        (550, "5.7.1 rate limited forever", None),  # 5xx is permanent, never a wait
    ],
)
def test_smtp_sending_limits_become_waits(code: int, text: str, wait: float | None) -> None:
    from connectors.email.smtp import rate_limit_delay

    assert rate_limit_delay(code, text) == wait
