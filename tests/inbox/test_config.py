"""Config errors are precise (file, key, line), all reported at once, never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from inbox.config import load_settings, settings_from_text
from inbox.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]


def problems(text: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        settings_from_text(text, "heard.toml")
    return [str(p) for p in info.value.problems]


def test_example_config_loads_as_shipped() -> None:
    settings = load_settings(ROOT / "config.example.toml")
    assert settings.store.url == "sqlite:///heard.db"
    assert settings.queue.broker == "memory://"
    assert any(c.type == "webhook" for c in settings.channels)


def test_defaults_apply_to_an_empty_file() -> None:
    settings = settings_from_text("", "heard.toml")
    assert settings.store.url == "sqlite:///heard.db"
    assert settings.web.port == 8025
    assert settings.channels == ()


def test_every_problem_is_listed_with_file_key_and_line() -> None:
    found = problems(
        """
[store]
url = 5
colour = "blue"

[queue]
broker = "kafka://x"

[[channels]]
type = "pigeon"
name = "coop"
"""
    )
    assert "heard.toml:3: store.url: Input should be a valid string" in found
    assert "heard.toml:4: store.colour: unknown key" in found
    assert any(p.startswith("heard.toml:7: queue.broker:") and "redis://" in p for p in found)
    assert any(
        p.startswith("heard.toml:10: channels[0].type: unknown channel type 'pigeon'")
        for p in found
    )


def test_invalid_toml_names_the_line() -> None:
    found = problems('[store]\nurl = "unterminated\n')
    assert len(found) == 1
    assert found[0].startswith("heard.toml:2: invalid TOML")


def test_channel_keys_are_checked_by_the_channel() -> None:
    found = problems(
        """
[[channels]]
type = "webhook"
name = "forms"
secrett = "typo"
"""
    )
    assert "heard.toml:5: channels[0].secrett: unknown key" in found
    assert "heard.toml:2: channels[0].secret: required key is missing" in found


def test_channel_names_must_be_unique() -> None:
    found = problems(
        """
[[channels]]
type = "webhook"
name = "forms"
secret = "a"

[[channels]]
type = "webhook"
name = "forms"
secret = "b"
"""
    )
    assert any("channels[1].name: channel name 'forms' is used twice" in p for p in found)


def test_secrets_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FORMS_SECRET", "s3cret")
    settings = settings_from_text(
        '[[channels]]\ntype = "webhook"\nname = "forms"\nsecret = { env = "FORMS_SECRET" }\n',
        "heard.toml",
    )
    channel = settings.channel("forms")
    assert channel.secret.get_secret_value() == "s3cret"  # type: ignore[attr-defined]
    assert "s3cret" not in repr(channel)


def test_missing_secret_variable_is_a_clear_problem(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOPE_SECRET", raising=False)
    found = problems(
        '[[channels]]\ntype = "webhook"\nname = "forms"\nsecret = { env = "NOPE_SECRET" }\n'
    )
    assert found == [
        "heard.toml:4: channels[0].secret: environment variable NOPE_SECRET is not set"
    ]


def test_secrets_come_from_files(tmp_path: Path) -> None:
    (tmp_path / "forms.secret").write_text("from-file\n")
    path = tmp_path / "heard.toml"
    path.write_text(
        '[[channels]]\ntype = "webhook"\nname = "forms"\nsecret = { file = "forms.secret" }\n'
    )
    channel = load_settings(path).channel("forms")
    assert channel.secret.get_secret_value() == "from-file"  # type: ignore[attr-defined]


def test_cli_prints_problems_without_traceback(tmp_path: Path, run_cli) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "bad.toml"
    path.write_text("[web]\nport = 99999\n")
    code, _out, err = run_cli("db", "upgrade", "--config", str(path))
    assert code == 2
    assert "1 problem in the configuration" in err
    assert f"{path}:2: web.port" in err
    assert "Traceback" not in err


def test_cli_reports_a_missing_config_file(tmp_path: Path, run_cli) -> None:  # type: ignore[no-untyped-def]
    code, _, err = run_cli("conversations", "list", "--config", str(tmp_path / "nope.toml"))
    assert code == 2
    assert "file not found" in err


def test_a_disabled_channel_may_name_secrets_not_yet_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LATER_SECRET", raising=False)
    channel = '[[channels]]\ntype = "webhook"\nname = "forms"\nsecret = { env = "LATER_SECRET" }\n'
    settings = settings_from_text(channel + "enabled = false\n", "heard.toml")
    assert settings.channel("forms").enabled is False
    assert problems(channel) == [
        "heard.toml:4: channels[0].secret: environment variable LATER_SECRET is not set"
    ]
