"""Heard's configuration: one TOML file, validated into frozen pydantic models.

Any string may be written as `{ env = "NAME" }` or `{ file = "/run/secrets/x" }` so secrets
never have to sit in the file. Every problem is reported at once with file, key path and line,
because an admin fixing a config wants the whole list, not one traceback at a time.
Sections owned by the rules engine (business hours, SLAs, agents, teams, templates, rules) are
kept as parsed TOML here and validated by `rules`.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from connectors.base import ChannelConfig
from connectors.registry import KINDS, connector_class
from inbox.errors import ConfigError, Problem
from rules.tomlsource import TomlSource, load_toml, parse_toml

DEFAULT_PATH = "heard.toml"
RULES_SECTIONS = ("business_hours", "sla", "agents", "teams", "templates", "defaults", "routing")


class Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class StoreConfig(Section):
    url: str = "sqlite:///heard.db"
    attachments_dir: str = "data/attachments"
    inline_attachment_max: int = Field(256 * 1024, ge=0)
    max_attachment_size: int = Field(25 * 1024 * 1024, ge=0)


class QueueConfig(Section):
    broker: str = "memory://"
    worker_threads: int = Field(4, ge=1, le=64)
    namespace: str = "heard"
    sweep_interval: float = Field(15.0, gt=0)
    sla_interval: float = Field(30.0, gt=0)
    retry_base_seconds: float = Field(2.0, gt=0)

    @field_validator("broker")
    @classmethod
    def _known_scheme(cls, value: str) -> str:
        if not value.startswith(("memory://", "redis://", "rediss://", "amqp://")):
            raise ValueError("must start with memory://, redis://, rediss:// or amqp://")
        return value

    @property
    def in_process(self) -> bool:
        return self.broker.startswith("memory://")


class WebConfig(Section):
    host: str = "127.0.0.1"
    port: int = Field(8025, ge=0, le=65535)
    public_url: str | None = None
    secret_key: str | None = None
    max_body_bytes: int = Field(10 * 1024 * 1024, ge=1024)


class RulesFiles(Section):
    model_config = ConfigDict(frozen=True, extra="allow")

    files: list[str] = []
    default_language: str = "en"


class Settings(Section):
    """The validated config. `source` keeps the TOML for the rules engine and error lines."""

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    store: StoreConfig = StoreConfig()
    queue: QueueConfig = QueueConfig()
    web: WebConfig = WebConfig()
    rules: RulesFiles = RulesFiles()
    channels: tuple[ChannelConfig, ...] = ()
    path: str = "<defaults>"
    source: TomlSource | None = None

    @property
    def base_dir(self) -> Path:
        return Path(self.path).resolve().parent if self.source else Path.cwd()

    def channel(self, name: str) -> ChannelConfig:
        for channel in self.channels:
            if channel.name == name:
                return channel
        raise KeyError(f"no channel named {name!r}")

    def rule_files(self) -> list[Path]:
        return [self.base_dir / f for f in self.rules.files]


def resolve_secrets(
    value: Any, key: tuple[str | int, ...], src: TomlSource, *, missing_ok: bool = False
) -> Any:
    """Replace `{ env = "NAME" }` / `{ file = "PATH" }` with the secret, collecting problems.

    With `missing_ok` (a disabled channel) an unset variable reads as a placeholder naming it,
    so an example config can show every channel before its credentials exist; a disabled
    channel is never opened, so the placeholder is never sent anywhere.
    """
    if isinstance(value, dict):
        if set(value) == {"env"} and isinstance(value["env"], str):
            if value["env"] not in os.environ and missing_ok:
                return f"unset-{value['env']}"
            if value["env"] not in os.environ:
                raise ConfigError(
                    [src.problem(key, f"environment variable {value['env']} is not set")]
                )
            return os.environ[value["env"]]
        if set(value) == {"file"} and isinstance(value["file"], str):
            try:
                return (src_dir(src) / value["file"]).read_text(encoding="utf-8").strip()
            except OSError as exc:
                raise ConfigError([src.problem(key, f"cannot read secret file: {exc}")]) from None
        out: dict[str, Any] = {}
        problems: list[Problem] = []
        for k, v in value.items():
            try:
                out[k] = resolve_secrets(v, (*key, k), src, missing_ok=missing_ok)
            except ConfigError as exc:
                problems.extend(exc.problems)
        if problems:
            raise ConfigError(problems)
        return out
    if isinstance(value, list):
        items, problems = [], []
        for i, v in enumerate(value):
            try:
                items.append(resolve_secrets(v, (*key, i), src, missing_ok=missing_ok))
            except ConfigError as exc:
                problems.extend(exc.problems)
        if problems:
            raise ConfigError(problems)
        return items
    return value


def src_dir(src: TomlSource) -> Path:
    return Path(src.path).resolve().parent


def pydantic_problems(
    exc: ValidationError, src: TomlSource, prefix: tuple[str | int, ...] = ()
) -> list[Problem]:
    problems = []
    for error in exc.errors():
        key = (*prefix, *error["loc"])
        message = error["msg"]
        if error["type"] == "extra_forbidden":
            message = "unknown key"
        elif error["type"] == "missing":
            message = "required key is missing"
        problems.append(src.problem(key, message))
    return problems


def _channel(raw: Any, index: int, src: TomlSource) -> ChannelConfig:
    key: tuple[str | int, ...] = ("channels", index)
    if not isinstance(raw, dict):
        raise ConfigError([src.problem(key, "each [[channels]] entry must be a table")])
    kind = raw.get("type")
    if kind not in KINDS:
        raise ConfigError(
            [
                src.problem(
                    (*key, "type"), f"unknown channel type {kind!r}; known: {', '.join(KINDS)}"
                )
            ]
        )
    try:
        model = connector_class(kind).config_model
        return model.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(pydantic_problems(exc, src, key)) from None


def settings_from_source(src: TomlSource) -> Settings:
    problems: list[Problem] = []
    data = dict(src.data)
    raw_channels = data.pop("channels", []) or []
    try:
        data = resolve_secrets(data, (), src)
    except ConfigError as exc:
        problems.extend(exc.problems)
        data = {}
    channels: list[ChannelConfig] = []
    for index, raw in enumerate(raw_channels if isinstance(raw_channels, list) else []):
        disabled = isinstance(raw, dict) and raw.get("enabled") is False
        try:
            raw = resolve_secrets(raw, ("channels", index), src, missing_ok=disabled)
            channels.append(_channel(raw, index, src))
        except ConfigError as exc:
            problems.extend(exc.problems)
    names = [c.name for c in channels]
    for index, name in enumerate(names):
        if names.index(name) != index:
            problems.append(
                src.problem(("channels", index, "name"), f"channel name {name!r} is used twice")
            )
    rules_section = data.get("rules")
    if isinstance(rules_section, list):
        data.pop("rules")  # [[rules]] inline in the main file: the rules engine reads them
    for section in RULES_SECTIONS:
        data.pop(section, None)
    try:
        settings = Settings.model_validate(
            {**data, "channels": channels, "path": src.path, "source": src}
        )
    except ValidationError as exc:
        problems.extend(pydantic_problems(exc, src))
        settings = Settings()
    if problems:
        raise ConfigError(problems)
    return settings


def load_settings(path: str | os.PathLike[str]) -> Settings:
    return settings_from_source(load_toml(Path(path)))


def settings_from_text(text: str, path: str = "<string>") -> Settings:
    return settings_from_source(parse_toml(text, path))


def config_path(given: str | None) -> str:
    return given or os.environ.get("HEARD_CONFIG") or DEFAULT_PATH


def problems_text(problems: Sequence[Problem]) -> str:
    count = len(problems)
    head = f"{count} problem{'s' if count != 1 else ''} in the configuration:"
    return "\n".join([head, *(f"  - {p}" for p in problems)])
