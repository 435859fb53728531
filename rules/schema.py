"""The shape of the rules sections, as pydantic models: what an admin may write, and nothing else.

Models are frozen and forbid unknown keys so a typo ("text_ayn") is an error with a line number,
not a rule that silently never matches. Cross-references (a rule naming a team) are checked by
`rules.load`, which knows every section.
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator

from rules.durations import parse_duration
from rules.hours import DAY_NAMES, parse_ranges

PRIORITY_NAMES = ("low", "normal", "high", "urgent")
SENDER_KINDS = ("human", "auto_reply", "bounce", "list", "own")
TEMPLATE_VARIABLES = (
    "customer_name",
    "owner_name",
    "team_name",
    "reference",
    "due",
    "due_at",
    "channel",
)


def _duration(value: Any) -> Any:
    if isinstance(value, str):
        return parse_duration(value)
    if isinstance(value, int | float) and not isinstance(value, bool):
        raise ValueError("write durations with a unit, e.g. '12h' or '30m'")
    return value


def _listify(value: Any) -> Any:
    """Let a single value stand for a one-item list: channel = "email"."""
    return [value] if isinstance(value, str) else value


Duration = Annotated[timedelta, BeforeValidator(_duration)]
StrList = Annotated[list[str], BeforeValidator(_listify)]


class Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class BusinessHours(Model):
    timezone: str = "UTC"
    days: StrList = ["mon", "tue", "wed", "thu", "fri"]
    hours: str = "09:00-18:00"
    holidays: list[date] = []

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown timezone {value!r}; use an IANA name like 'Europe/Berlin'"
            ) from None
        return value

    @field_validator("days")
    @classmethod
    def _day_names(cls, value: list[str]) -> list[str]:
        for name in value:
            if name[:3].lower() not in DAY_NAMES:
                raise ValueError(f"unknown day {name!r}; expected {', '.join(DAY_NAMES)}")
        if not value:
            raise ValueError("at least one open day is needed")
        return value

    @field_validator("hours")
    @classmethod
    def _ranges(cls, value: str) -> str:
        parse_ranges(value)
        return value


class Sla(Model):
    first_response: Duration
    resolution: Duration | None = None
    business_hours: str | None = None
    warn_before: Duration | None = None
    # How much later than the missed promise the update names as the new expected time.
    update_extends: Duration | None = None


class AgentDef(Model):
    name: str = ""
    email: str | None = None
    capacity: int = Field(20, ge=0)
    languages: StrList = []
    skills: StrList = []
    # Admins may see rules and everyone's load; unset leaves a role given by `heard agents`.
    role: Literal["agent", "admin"] | None = None


class Team(Model):
    name: str = ""
    agents: StrList = []
    strategy: Literal["round_robin", "least_loaded", "manual"] = "round_robin"
    escalate_to: str | None = None
    email: str | None = None
    sla: str | None = None


class When(Model):
    """Conditions; all given ones must hold. Lists mean "any of"; *_all means "every one of"."""

    channel: StrList = []
    account: StrList = []
    sender: StrList = []
    sender_domain: StrList = []
    contact_tags: StrList = []
    subject_any: StrList = []
    subject_all: StrList = []
    subject_regex: str | None = None
    text_any: StrList = []
    text_all: StrList = []
    text_none: StrList = []
    text_regex: str | None = None
    language: StrList = []
    business_hours: str | None = None
    in_business_hours: bool | None = None
    first_message: bool | None = None
    sender_kind: StrList = []
    public: bool | None = None

    @field_validator("subject_regex", "text_regex")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"invalid regular expression: {exc}") from None
        return value

    @field_validator("sender_kind")
    @classmethod
    def _kinds(cls, value: list[str]) -> list[str]:
        for kind in value:
            if kind not in SENDER_KINDS:
                raise ValueError(
                    f"unknown sender kind {kind!r}; expected {', '.join(SENDER_KINDS)}"
                )
        return value


class Then(Model):
    """Actions. Later matching rules override single values; tags accumulate."""

    team: str | None = None
    agent: str | None = None
    strategy: Literal["round_robin", "least_loaded", "manual"] | None = None
    priority: Literal["low", "normal", "high", "urgent"] | None = None
    tags: StrList = []
    sla: str | None = None
    ack: str | bool | None = None
    skills: StrList = []
    escalate_to: str | None = None
    over_capacity: bool | None = None
    resolve: bool | None = None
    spam: bool | None = None


class Rule(Model):
    name: str
    when: When = When()
    then: Then = Then()
    stop: bool = False
    enabled: bool = True


class Defaults(Then):
    """`[defaults]`: actions for what no matching rule decided, plus global choices."""

    business_hours: str | None = None
    language: str | None = None


class Routing(Model):
    sticky: bool = True
    sticky_days: int = Field(90, ge=0)
    prefer_language: bool = True
