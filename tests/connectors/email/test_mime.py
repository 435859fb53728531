"""Normalizing real-world mail: encodings, HTML, attachments, machines, and broken input."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from pathlib import Path

import pytest

from connectors.email.mime import UNREADABLE_TEXT, MailContext, normalize
from inbox.types import SenderKind
from tests.connectors.email.mails import mail

CORPUS = Path(__file__).parent / "corpus"
CTX = MailContext(
    account="support",
    own_addresses=frozenset({"support@example.com", "help@example.com"}),
    max_attachment_size=100_000,
)


def corpus(folder: str) -> list[Path]:
    return sorted((CORPUS / folder).glob("*.eml"))


def ids(paths: list[Path]) -> list[str]:
    return [p.stem for p in paths]


@pytest.mark.parametrize("path", corpus("human"), ids=ids(corpus("human")))
def test_every_human_mail_is_read_as_a_person_with_its_raw_bytes(path: Path) -> None:
    raw = path.read_bytes()
    msg = normalize(raw, CTX)
    assert msg.raw == raw and "unparseable" not in msg.flags
    assert msg.external_id.startswith("<") and msg.thread_keys[0] == msg.external_id
    # Two fixtures really are machine mail (a bulk list mail, a noreply sender).
    if path.stem not in ("flanker-from-encoding", "mikel-plain_emails-raw_email_trailing_dot"):
        assert msg.sender_kind is SenderKind.HUMAN, msg.no_auto_reply_reason
        assert msg.wants_auto_reply


@pytest.mark.parametrize("path", corpus("bounces"), ids=ids(corpus("bounces")))
def test_no_bounce_is_taken_for_a_person(path: Path) -> None:
    msg = normalize(path.read_bytes(), CTX)
    assert msg.sender_kind is not SenderKind.HUMAN and msg.no_auto_reply_reason
    assert not msg.wants_auto_reply


@pytest.mark.parametrize("path", corpus("autoreplies"), ids=ids(corpus("autoreplies")))
def test_automatic_replies_are_recognised(path: Path) -> None:
    msg = normalize(path.read_bytes(), CTX)
    assert msg.sender_kind is SenderKind.AUTO_REPLY and msg.no_auto_reply_reason


@pytest.mark.parametrize("path", corpus("malformed"), ids=ids(corpus("malformed")))
def test_malformed_mail_never_raises_and_keeps_its_raw_bytes(path: Path) -> None:
    raw = path.read_bytes()
    msg = normalize(raw, CTX)
    assert msg.raw == raw and isinstance(msg.text, str)
    assert msg.received_at.tzinfo is not None


def by_name(folder: str, name: str):  # type: ignore[no-untyped-def]
    return normalize((CORPUS / folder / f"{name}.eml").read_bytes(), CTX)


@pytest.mark.parametrize(
    ("name", "subject", "text_start"),
    [
        ("mikel-multi_charset-japanese_iso_2022", "まみむめも", "すみません。"),
        ("mikel-multi_charset-japanese_shift_jis", "test", "あいうえお"),
        ("mikel-multi_charset-ks_c_5601-1987", "test", "스티해"),
        ("mikel-plain_emails-raw_email", "NOTE: 한국말로 하는 것", "대부분의 마찬가지로"),
        (
            "flanker-bilingual-simple",
            "Simple text. How are you? Как ты поживаешь?",
            "This line is in English\nА эта линия по-русски.",
        ),
        (
            "mikel-attachment_emails-attachment_pdf",
            "Another PDF with 🎉 Unicode chars in it 🍿",
            "Just attaching another PDF",
        ),
    ],
)
def test_real_charsets_decode_to_the_intended_text(
    name: str, subject: str, text_start: str
) -> None:
    msg = by_name("human", name)
    assert msg.subject == subject
    assert msg.text.startswith(text_start)


def test_rfc6532_utf8_headers() -> None:
    msg = by_name("human", "mikel-rfc6532-utf8_headers")
    assert "\ufffd" not in msg.subject + msg.sender.handle


@pytest.mark.parametrize(
    ("name", "filename"),
    [
        ("mikel-multi_charset-japanese_attachment", "てすと.txt"),  # RFC 2047 in a filename
        ("mikel-attachment_emails-attachment_with_quoted_filename", "Eelanalüüsi päring.jpg"),
        ("mikel-attachment_emails-attachment_with_base64_encoded_name", "This is a test.pdf"),
        ("mikel-attachment_emails-attachment_nonascii_filename", "ciële.txt"),  # raw 8-bit,
    ],
)
def test_attachment_filenames_in_every_encoding(name: str, filename: str) -> None:
    names = [a.filename for a in by_name("human", name).attachments]
    assert filename in names


def test_rfc2231_filename_continuations() -> None:
    raw = (
        b"From: a@b.example\r\nSubject: x\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n'
        b"--b\r\nContent-Type: text/plain\r\n\r\nsee file\r\n"
        b"--b\r\nContent-Type: application/pdf\r\nContent-Transfer-Encoding: base64\r\n"
        b"Content-Disposition: attachment;\r\n filename*0*=utf-8''Rechnung%20M%C3%A4rz;\r\n"
        b" filename*1*=%202026.pdf\r\n\r\n" + base64.b64encode(b"%PDF-1.4") + b"\r\n--b--\r\n"
    )
    [att] = normalize(raw, CTX).attachments
    assert (att.filename, att.content_type, att.data) == (
        "Rechnung März 2026.pdf",
        "application/pdf",
        b"%PDF-1.4",
    )


def test_quoted_printable_and_base64_bodies() -> None:
    qp = (
        b"From: a@b.example\r\nSubject: qp\r\nMIME-Version: 1.0\r\n"
        b"Content-Type: text/plain; charset=iso-8859-15\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
        b"Pr=E9sent =A4 10, soft=\r\nbreak\r\n"
    )
    assert normalize(qp, CTX).text == "Présent € 10, softbreak"
    b64 = (
        b"From: a@b.example\r\nSubject: b64\r\nMIME-Version: 1.0\r\n"
        b"Content-Type: text/plain; charset=koi8-r\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        + base64.b64encode("Привет, мир".encode("cp1251"))  # mislabelled on top
        + b"\r\n"
    )
    assert normalize(b64, CTX).text == "Привет, мир"


def test_multipart_alternative_keeps_text_and_sanitized_html() -> None:
    raw = mail(
        text="Plain words.", html='<p onclick="steal()">Rich <b>words</b>.</p><script>x()</script>'
    )
    msg = normalize(raw, CTX)
    assert msg.text == "Plain words."
    assert msg.html == "<p>Rich <b>words</b>.</p>"


MALICIOUS = """<html><head><style>body{}</style><script>alert(1)</script></head>
<body onload="evil()"><p>Dear support,</p>
<img src="https://tracker.example/open.gif?u=42" width=1 height=1>
<img src="cid:logo@x" alt="logo">
<a href="javascript:alert(2)">click</a> <a href="https://shop.example/order/1">order</a>
<iframe src="https://evil.example"></iframe><form action="https://evil.example"><input name=p></form>
<svg onload="alert(3)"></svg><a href="data:text/html;base64,PHNjcmlwdD4=">data</a>
<div style="background:url(https://tracker.example/bg)">styled</div>
<p>Thanks, Ada</p></body></html>"""


def test_html_only_mail_gets_readable_text_and_safe_html() -> None:
    msg = normalize(mail(text=None, html=MALICIOUS), CTX)
    assert msg.text.startswith("Dear support,") and "Thanks, Ada" in msg.text
    assert "alert" not in msg.text and "body{}" not in msg.text
    html = msg.html or ""
    for bad in (
        "script",
        "onload",
        "onclick",
        "javascript:",
        "iframe",
        "form",
        "tracker.example",
        "data:text/html",
        "style=",
        "svg",
    ):
        assert bad not in html, bad
    assert 'src="cid:logo@x"' in html and 'href="https://shop.example/order/1"' in html
    assert "remote_images_blocked" in msg.flags


def test_inline_images_and_attachments_with_the_size_limit() -> None:
    small = MailContext(account="support", max_attachment_size=1000)
    raw = (
        b"From: a@b.example\r\nSubject: pics\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/related; boundary="r"\r\n\r\n'
        b'--r\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>see <img src="cid:pic1"></p>\r\n'
        b"--r\r\nContent-Type: image/png\r\nContent-ID: <pic1>\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        + base64.b64encode(b"\x89PNG" + b"\x00" * 100)
        + b"\r\n--r\r\nContent-Type: application/zip; name=big.zip\r\nContent-Disposition: attachment\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\n"
        + base64.b64encode(b"Z" * 5000)
        + b"\r\n--r--\r\n"
    )
    msg = normalize(raw, small)
    pic, big = msg.attachments
    assert (pic.content_id, pic.inline, pic.size, pic.data[:4] if pic.data else None) == (
        "pic1",
        True,
        104,
        b"\x89PNG",
    )
    assert (big.filename, big.size, big.data, big.inline) == ("big.zip", 5000, None, False)
    assert big.skipped_reason == "larger than the 1000 byte limit"
    assert msg.text == "see" and "attachment_skipped" in msg.flags


def test_quoted_history_is_stripped_from_text_but_kept_in_full_text() -> None:
    body = "Yes, that fixed it.\n\nOn Mon, 3 Nov 2026 at 10:00, Support <support@example.com> wrote:\n> Try turning it off and on.\n"
    msg = normalize(mail(text=body), CTX)
    assert msg.text == "Yes, that fixed it."
    assert msg.full_text is not None and "> Try turning it off and on." in msg.full_text


def test_thread_keys_own_id_first_then_parent_then_references_then_reference_tag() -> None:
    raw = mail(
        message_id="<me@x>",
        in_reply_to="<parent@x>",
        references="<root@x> <parent@x>",
        subject="Re: Help [#R-1042]",
    )
    msg = normalize(raw, CTX)
    assert msg.thread_keys == ("<me@x>", "<parent@x>", "<root@x>", "ref:R-1042")
    assert msg.reference == "R-1042"


def test_missing_message_id_gets_a_synthetic_id_stable_across_transport_headers() -> None:
    raw = mail(message_id=None)
    again = b"Received: from relay2 by mx\r\nDelivered-To: help@example.com\r\n" + raw
    first, second = normalize(raw, CTX), normalize(again, CTX)
    assert first.external_id == second.external_id
    assert first.external_id.endswith("@synthetic.heard.invalid>")
    assert normalize(mail(message_id=None, text="other"), CTX).external_id != first.external_id


def test_received_at_prefers_the_imap_internal_date() -> None:
    when = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert normalize(mail(), CTX, received_at=when).received_at == when
    assert normalize(mail(), CTX).received_at == datetime(2026, 11, 20, 9, 30, tzinfo=UTC)


def test_thread_extras_only_for_people() -> None:
    person = normalize(mail(headers={"Reply-To": "Desk <desk@customer.example>"}), CTX)
    assert person.extras["thread"]["recipient"] == "desk@customer.example"
    assert person.extras["thread"]["recipient_name"] == "Desk"
    robot = normalize(mail(headers={"Auto-Submitted": "auto-generated"}), CTX)
    assert "thread" not in robot.extras


def test_bounce_with_pasted_headers_names_the_original() -> None:
    raw = (
        b"From: MAILER-DAEMON@mx.example\r\nSubject: failure notice\r\nMessage-ID: <b@mx>\r\n\r\n"
        b"Sorry, I couldn't deliver.\r\n\r\n--- Below this line is a copy of the message.\r\n\r\n"
        b"From: support@example.com\r\nMessage-ID: <heard.abc@example.com>\r\n"
    )
    msg = normalize(raw, CTX)
    assert msg.sender_kind is SenderKind.BOUNCE
    assert msg.extras["bounce_of"] == "<heard.abc@example.com>"
    assert "<heard.abc@example.com>" in msg.thread_keys


@pytest.mark.parametrize(
    "raw",
    [b"", b"\xff\xfe\x00\x01garbage without any header", b"\r\n\r\n\r\n", b"::::\r\n"],
)
def test_unreadable_input_becomes_a_flagged_message(raw: bytes) -> None:
    msg = normalize(raw, CTX)
    assert msg.flags == ("unparseable", "malformed") and msg.raw == raw
    assert msg.text == UNREADABLE_TEXT and not msg.wants_auto_reply
    assert normalize(raw, CTX).external_id == msg.external_id
