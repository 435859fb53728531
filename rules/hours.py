"""Business-time arithmetic: when is the office open, and what is "12 business hours from now".

Intervals are built per local calendar day in the business timezone and converted to UTC, so a
DST change moves the UTC edges but never the local opening times (09:00 stays 09:00). All
functions take the instant to work from; nothing here reads the clock.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# Enough to cross any realistic run of closed days (a year of holidays) without looping forever.
_MAX_DAYS = 400


@dataclass(frozen=True, slots=True)
class Calendar:
    """Opening hours: weekdays (0 = Monday), local time ranges, holiday dates, a timezone."""

    timezone: str
    weekdays: frozenset[int]
    ranges: tuple[tuple[time, time], ...]
    holidays: frozenset[date] = frozenset()

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def is_open(self, instant: datetime) -> bool:
        return any(start <= instant < end for start, end in self._day_intervals(instant))

    def add(self, start: datetime, duration: timedelta) -> datetime:
        """The instant `duration` of open time after `start` (an answer due time)."""
        remaining = duration
        for open_at, close_at in self.intervals_from(start):
            begin = max(open_at, start)
            available = close_at - begin
            if remaining <= available:
                return begin + remaining
            remaining -= available
        raise ValueError(f"no opening hours within {_MAX_DAYS} days of {start.isoformat()}")

    def between(self, start: datetime, end: datetime) -> timedelta:
        """Open time between two instants (zero when end is not after start)."""
        total = timedelta()
        if end <= start:
            return total
        for open_at, close_at in self.intervals_from(start):
            if open_at >= end:
                break
            total += min(close_at, end) - max(open_at, start)
        return total

    def intervals_from(self, start: datetime) -> Iterator[tuple[datetime, datetime]]:
        """Open intervals (UTC) that end after `start`, in order."""
        local_day = start.astimezone(self.zone).date() - timedelta(days=1)
        for offset in range(_MAX_DAYS):
            for interval in self._intervals_on(local_day + timedelta(days=offset)):
                if interval[1] > start:
                    yield interval

    def _day_intervals(self, instant: datetime) -> list[tuple[datetime, datetime]]:
        # The previous day too: an overnight range (22:00-06:00) belongs to the day it opens.
        day = instant.astimezone(self.zone).date()
        return self._intervals_on(day - timedelta(days=1)) + self._intervals_on(day)

    def _intervals_on(self, day: date) -> list[tuple[datetime, datetime]]:
        if day.weekday() not in self.weekdays or day in self.holidays:
            return []
        zone = self.zone
        out = []
        for open_time, close_time in self.ranges:
            open_at = datetime.combine(day, open_time, zone).astimezone(UTC)
            close_day = day if close_time > open_time else day + timedelta(days=1)
            close_at = datetime.combine(close_day, close_time, zone).astimezone(UTC)
            out.append((open_at, close_at))
        return out


class AlwaysOpen:
    """The calendar of an SLA without business hours: wall-clock time."""

    timezone = "UTC"

    def is_open(self, instant: datetime) -> bool:
        return True

    def add(self, start: datetime, duration: timedelta) -> datetime:
        return start + duration

    def between(self, start: datetime, end: datetime) -> timedelta:
        return max(timedelta(), end - start)


Clock = Calendar | AlwaysOpen


def parse_ranges(text: str) -> tuple[tuple[time, time], ...]:
    """ "09:00-12:00, 13:00-18:00" -> ((09:00, 12:00), (13:00, 18:00)); "00:00-24:00" = all day."""
    ranges = []
    for part in text.split(","):
        if "-" not in part:
            raise ValueError(f"expected ranges like '09:00-18:00', got {text!r}")
        first, _, second = part.strip().partition("-")
        start, end = _clock_time(first), _clock_time(second)
        if start == end and second.strip() != "24:00":
            raise ValueError(f"empty range {part.strip()!r}")
        ranges.append((start, end))
    return tuple(sorted(ranges))


def _clock_time(text: str) -> time:
    text = text.strip()
    if text == "24:00":
        return time(0, 0)
    try:
        return time.fromisoformat(text)
    except ValueError:
        raise ValueError(f"expected a time like '09:00', got {text!r}") from None


def weekday_numbers(names: Sequence[str]) -> frozenset[int]:
    return frozenset(DAY_NAMES.index(name[:3].lower()) for name in names)
