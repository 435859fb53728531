"""The Telegram and X channels as config.example.toml shows them load as written."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from connectors.telegram.config import TelegramConfig
from connectors.x.config import XConfig
from inbox.config import settings_from_text

EXAMPLE = Path(__file__).parents[2] / "config.example.toml"


def test_documented_channels_load_disabled(monkeypatch: pytest.MonkeyPatch) -> None:
    (snippet,) = re.findall(
        r"# --- Telegram and X \(begin\).*?\n(.*?)# --- Telegram and X \(end\)",
        EXAMPLE.read_text(encoding="utf-8"),
        re.S,
    )
    names = re.findall(r'env = "(\w+)"', snippet)
    assert len(names) >= 6
    for name in names:
        monkeypatch.setenv(name, f"value-of-{name}")
    telegram, x = settings_from_text(snippet).channels
    assert isinstance(telegram, TelegramConfig) and isinstance(x, XConfig)
    assert not telegram.enabled and not x.enabled
    assert telegram.token == "value-of-HEARD_TELEGRAM_TOKEN" and x.user_context
    assert "value-of" not in repr(telegram) + repr(x)  # secrets stay out of logs
