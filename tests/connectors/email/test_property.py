"""Property: whatever bytes arrive, normalizing returns a message and keeps the raw bytes."""

from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connectors.email.mime import MailContext, normalize
from tests.connectors.email.mails import mail

CTX = MailContext(
    account="support", own_addresses=frozenset({"support@example.com"}), max_attachment_size=2000
)
SEEDS = [
    p.read_bytes()[:6000] for p in sorted((Path(__file__).parent / "corpus").glob("*/*.eml"))[::7]
]
SEEDS.append(
    mail(html="<p>x</p>", attachments=[("a.bin", "application/octet-stream", b"\x00" * 3000)])
)

header_names = st.sampled_from(
    [
        "From",
        "To",
        "Subject",
        "Content-Type",
        "Content-Transfer-Encoding",
        "Content-Disposition",
        "Message-ID",
        "In-Reply-To",
        "References",
        "Reply-To",
        "Return-Path",
        "Auto-Submitted",
        "Date",
        "MIME-Version",
        "X-Auto-Response-Suppress",
        "List-Id",
    ]
)
charsets = st.sampled_from(
    ["utf-8", "koi8-r", "x-unknown", "iso-2022-jp", "ks_c_5601-1987", "", "\x00"]
)
header_values = st.one_of(
    st.text(max_size=80),
    st.binary(max_size=80).map(lambda b: b.decode("latin-1")),
    st.builds(
        lambda c, t: f"=?{c}?B?{t}?=", charsets, st.text(alphabet="ABCabc+/=01", max_size=30)
    ),
    st.builds(
        lambda c, b: f'multipart/{c}; boundary="{b}"',
        st.sampled_from(["mixed", "alternative", "report", "related"]),
        st.text(max_size=10),
    ),
    st.builds(lambda c: f"text/plain; charset={c}", charsets),
    st.sampled_from(["base64", "quoted-printable", "x-uuencode", "8bit", "bogus"]),
)


@st.composite
def generated_mail(draw: st.DrawFn) -> bytes:
    lines = [
        f"{draw(header_names)}: {draw(header_values)}".encode("utf-8", "surrogateescape")
        for _ in range(draw(st.integers(0, 12)))
    ]
    body = draw(st.binary(max_size=600))
    parts = draw(st.lists(st.binary(max_size=200), max_size=4))
    boundary = b"\r\n--" + draw(st.binary(min_size=0, max_size=8))
    eol = draw(st.sampled_from([b"\r\n", b"\n", b"\r"]))
    return eol.join(lines) + eol + eol + body + boundary.join(parts)


@st.composite
def mangled(draw: st.DrawFn) -> bytes:
    """A valid or real mail with random bytes flipped, cut, or duplicated."""
    base = draw(st.sampled_from(SEEDS))
    data = bytearray(base)
    for _ in range(draw(st.integers(1, 8))):
        if not data:
            break
        pos = draw(st.integers(0, len(data) - 1))
        action = draw(st.sampled_from(["flip", "cut", "dup", "insert"]))
        if action == "flip":
            data[pos] = draw(st.integers(0, 255))
        elif action == "cut":
            del data[pos : pos + draw(st.integers(1, 200))]
        elif action == "dup":
            data[pos:pos] = data[pos : pos + draw(st.integers(1, 200))]
        else:
            data[pos:pos] = draw(
                st.sampled_from(
                    [
                        b"\r\n--",
                        b"=?utf-8?q?",
                        b"\r\n\r\n",
                        b"Content-Type: multipart/mixed; boundary=x\r\n",
                        b"\xff\xfe",
                    ]
                )
            )
    return bytes(data)


def check(raw: bytes) -> None:
    msg = normalize(raw, CTX)
    assert msg.raw == raw
    assert isinstance(msg.text, str) and isinstance(msg.subject, str)
    assert msg.external_id and msg.thread_keys and msg.thread_keys[0] == msg.external_id
    assert msg.received_at.tzinfo is not None
    assert all(
        a.size >= 0 and (a.data is None) == (a.skipped_reason is not None) for a in msg.attachments
    )
    assert normalize(raw, CTX).external_id == msg.external_id  # stable: a re-sync dedupes


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(generated_mail())
def test_generated_mime_never_raises_and_keeps_raw(raw: bytes) -> None:
    check(raw)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mangled())
def test_mangled_real_mail_never_raises_and_keeps_raw(raw: bytes) -> None:
    check(raw)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=2000))
def test_arbitrary_bytes_never_raise(raw: bytes) -> None:
    check(raw)
