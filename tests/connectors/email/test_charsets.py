"""Text from mail that lies about its encoding: the plausible reading, never an exception."""

from __future__ import annotations

from email import message_from_bytes
from email.policy import compat32

import pytest

from connectors.email import headers
from connectors.email.charsets import codec_for, decode

RUSSIAN = "Здравствуйте, у меня не работает заказ номер 42. Помогите, пожалуйста!"
JAPANESE = "こんにちは、注文の件です。よろしくお願いします。"
KOREAN = "대부분의 마찬가지로, 우리는 하나님을 믿습니다."


@pytest.mark.parametrize(
    ("data", "label", "expected"),
    [
        (RUSSIAN.encode("cp1251"), "koi8-r", RUSSIAN),  # the classic mislabel
        (RUSSIAN.encode("koi8-r"), "windows-1251", RUSSIAN),  # and the other way round
        (RUSSIAN.encode("koi8-r"), "koi8-r", RUSSIAN),
        (RUSSIAN.encode("cp1251"), "windows-1251", RUSSIAN),
        (RUSSIAN.encode("cp866"), "cp866", RUSSIAN),
        (RUSSIAN.encode("utf-8"), "us-ascii", RUSSIAN),  # 8-bit UTF-8 labelled ASCII
        ("Café “quoted” – dash".encode("cp1252"), "iso-8859-1", "Café “quoted” – dash"),
        ("Café".encode("cp1252"), "us-ascii", "Café"),
        (KOREAN.encode("cp949"), "ks_c_5601-1987", KOREAN),
        (JAPANESE.encode("shift_jis"), "shift_jis", JAPANESE),
        (JAPANESE.encode("iso-2022-jp"), "ISO-2022-JP", JAPANESE),
        (JAPANESE.encode("euc-jp"), "euc-jp", JAPANESE),
        ("中文邮件测试内容".encode("gb18030"), "gb2312", "中文邮件测试内容"),
        (RUSSIAN.encode("cp1251"), "x-no-such-charset", RUSSIAN),  # unknown label: guessed
        (RUSSIAN.encode("utf-8"), None, RUSSIAN),
        ("Grüße".encode(), '"UTF-8"', "Grüße"),
    ],
)
def test_decode_reads_what_the_sender_meant(data: bytes, label: str | None, expected: str) -> None:
    assert decode(data, label) == expected


@pytest.mark.parametrize("label", ["x-unknown", "foo\x00bar", "", "utf-99", "../../etc"])
def test_unknown_or_absurd_labels_still_give_text(label: str) -> None:
    assert isinstance(decode(b"\xff\xfe\x80abc", label), str)
    assert codec_for(label) is None or codec_for(label) == "utf-8"


def test_truncated_utf8_stays_utf8() -> None:
    cut = "Картинка с очень длинным именем".encode()[:-1]
    assert decode(cut, None).startswith("Картинка с очень длинным имене")


def parse(raw: bytes):  # type: ignore[no-untyped-def]
    return message_from_bytes(raw, policy=compat32)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (b"=?UTF-8?B?0J/RgNC40LLQtdGC?=", "Привет"),
        (b"=?iso-8859-1?Q?Caf=E9?= au lait", "Café au lait"),
        (b"=?utf-8?q?a?= =?utf-8?q?b?=", "ab"),  # RFC 2047 §6.2: space between words dropped
        (b"=?koi8-r?B?7sXUIMTP09TB18vJ?=", "Нет доставки"),
        ("Größe".encode(), "Größe"),  # RFC 6532 raw UTF-8
        ("Caf\xe9".encode("latin-1"), "Café"),  # raw 8-bit legacy
        (b"=?x-bogus?Q?abc?=", "abc"),
        (b"=?utf-8?B?broken base64?=", "=?utf-8?B?broken base64?="),
        (b"folded\r\n  over lines", "folded over lines"),
    ],
)
def test_header_text_decodes_every_way_subjects_arrive(header: bytes, expected: str) -> None:
    msg = parse(b"Subject: " + header + b"\r\n\r\nbody")
    assert headers.get(msg, "Subject") == expected


def test_address_splits_before_decoding_so_commas_in_names_survive() -> None:
    msg = parse(b"From: =?utf-8?q?Doe=2C_Jane?= <Jane@Example.COM>\r\n\r\n")
    assert headers.address(msg, "From") == ("Doe, Jane", "jane@example.com")


def test_address_tolerates_garbage() -> None:
    msg = parse(b'From: <<<@@@>>> "unterminated\r\n\r\n')
    assert headers.address(msg, "From") == ("", "")
    assert headers.address(parse(b"To: x@y.z\r\n\r\n"), "From") == ("", "")
