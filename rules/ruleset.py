"""A validated, compiled set of rules and everything they refer to; immutable once built.

The route actor holds one RuleSet for a whole routing decision, so a reload in the middle can
never mix old teams with new rules.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from rules.facts import Facts
from rules.hours import AlwaysOpen, Calendar, Clock, parse_ranges, weekday_numbers
from rules.matcher import Decision, Explanation, Matcher
from rules.schema import AgentDef, BusinessHours, Defaults, Routing, Rule, Sla, Team


@dataclass(frozen=True)
class RuleSet:
    rules: tuple[Rule, ...] = ()
    business_hours: Mapping[str, BusinessHours] = field(default_factory=dict)
    slas: Mapping[str, Sla] = field(default_factory=dict)
    agents: Mapping[str, AgentDef] = field(default_factory=dict)
    teams: Mapping[str, Team] = field(default_factory=dict)
    templates: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    defaults: Defaults = field(default_factory=Defaults)
    routing: Routing = field(default_factory=Routing)
    default_language: str = "en"
    # "rules.toml:41" per rule, for `rules explain` and events.
    origins: tuple[str, ...] = ()
    fingerprint: str = ""
    calendars: Mapping[str, Calendar] = field(init=False, repr=False, compare=False)
    matcher: Matcher = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        calendars = {name: calendar(hours) for name, hours in self.business_hours.items()}
        object.__setattr__(self, "calendars", calendars)
        object.__setattr__(self, "matcher", Matcher(self.rules, calendars, self.default_hours))

    @property
    def default_hours(self) -> str | None:
        if self.defaults.business_hours:
            return self.defaults.business_hours
        return next(iter(self.business_hours), None)

    @property
    def configured(self) -> bool:
        """False for a Heard with no rules sections at all: it routes and acknowledges nothing."""
        return bool(
            self.rules
            or self.teams
            or self.agents
            or self.templates
            or self.slas
            or self.defaults.model_fields_set
        )

    def match(self, facts: Facts) -> Decision:
        return self.matcher.match(facts, self.defaults)

    def explain(self, facts: Facts) -> Explanation:
        return self.matcher.explain(facts, self.defaults)

    def clock_for(self, sla_name: str | None) -> Clock:
        """The calendar SLA times are counted in: the policy's business hours, else wall time."""
        sla = self.slas.get(sla_name or "")
        hours = sla.business_hours if sla else None
        if hours and hours in self.calendars:
            return self.calendars[hours]
        return AlwaysOpen()

    def timezone_for(self, sla_name: str | None) -> str:
        clock = self.clock_for(sla_name)
        if isinstance(clock, Calendar):
            return clock.timezone
        hours = self.default_hours
        return self.calendars[hours].timezone if hours and hours in self.calendars else "UTC"

    def is_open(self, instant: datetime, hours: str | None = None) -> bool:
        name = hours or self.default_hours
        return name is None or self.calendars[name].is_open(instant)


def calendar(hours: BusinessHours) -> Calendar:
    return Calendar(
        timezone=hours.timezone,
        weekdays=weekday_numbers(hours.days),
        ranges=parse_ranges(hours.hours),
        holidays=frozenset(hours.holidays),
    )
