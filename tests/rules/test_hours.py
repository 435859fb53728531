"""Business-time arithmetic: nights, weekends, holidays and DST in the business timezone."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from rules.durations import format_duration, parse_duration
from rules.hours import AlwaysOpen, Calendar, parse_ranges

BERLIN = ZoneInfo("Europe/Berlin")
OFFICE = Calendar(
    timezone="Europe/Berlin",
    weekdays=frozenset(range(5)),
    ranges=((time(9), time(18)),),
    holidays=frozenset({date(2026, 12, 25)}),
)


def berlin(year: int, month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=BERLIN).astimezone(UTC)


def test_within_the_same_day() -> None:
    assert OFFICE.add(berlin(2026, 11, 24, 10), timedelta(hours=3)) == berlin(2026, 11, 24, 13)


def test_overnight_carries_into_next_morning() -> None:
    # Tuesday 16:00 + 4h = 2h Tuesday + 2h Wednesday.
    assert OFFICE.add(berlin(2026, 11, 24, 16), timedelta(hours=4)) == berlin(2026, 11, 25, 11)


def test_message_at_night_starts_counting_at_opening() -> None:
    assert OFFICE.add(berlin(2026, 11, 24, 23), timedelta(minutes=30)) == berlin(
        2026, 11, 25, 9, 30
    )


def test_weekend_is_skipped() -> None:
    # Friday 17:00 + 12h = 1h Fri + 9h Mon + 2h Tue.
    assert OFFICE.add(berlin(2026, 11, 27, 17), timedelta(hours=12)) == berlin(2026, 12, 1, 11)


def test_holiday_is_skipped() -> None:
    # Thursday 24 Dec 17:00 + 2h: Christmas Friday is a holiday, so Monday 28th 10:00.
    assert OFFICE.add(berlin(2026, 12, 24, 17), timedelta(hours=2)) == berlin(2026, 12, 28, 10)


def test_dst_spring_forward_keeps_local_opening_time() -> None:
    # 27 March 2026 (Fri) 17:00 CET + 2h -> Monday 30 March 10:00 CEST (UTC+2).
    due = OFFICE.add(berlin(2026, 3, 27, 17), timedelta(hours=2))
    assert due.astimezone(BERLIN).replace(tzinfo=None) == datetime(2026, 3, 30, 10)
    assert due == datetime(2026, 3, 30, 8, tzinfo=UTC)


def test_dst_fall_back_keeps_local_opening_time() -> None:
    # 23 Oct 2026 (Fri) 17:00 CEST + 2h -> Monday 26 Oct 10:00 CET (UTC+1).
    due = OFFICE.add(berlin(2026, 10, 23, 17), timedelta(hours=2))
    assert due == datetime(2026, 10, 26, 9, tzinfo=UTC)


def test_between_counts_only_open_time() -> None:
    assert OFFICE.between(berlin(2026, 11, 27, 17), berlin(2026, 11, 30, 10)) == timedelta(hours=2)
    assert OFFICE.between(berlin(2026, 11, 30, 10), berlin(2026, 11, 27, 17)) == timedelta()


def test_is_open() -> None:
    assert OFFICE.is_open(berlin(2026, 11, 24, 9))
    assert not OFFICE.is_open(berlin(2026, 11, 24, 18))
    assert not OFFICE.is_open(berlin(2026, 11, 28, 12))  # Saturday
    assert not OFFICE.is_open(berlin(2026, 12, 25, 12))  # holiday


def test_split_and_overnight_ranges() -> None:
    split = Calendar("UTC", frozenset(range(7)), parse_ranges("09:00-12:00, 13:00-17:00"))
    start = datetime(2026, 1, 5, 11, tzinfo=UTC)
    assert split.add(start, timedelta(hours=2)) == datetime(2026, 1, 5, 14, tzinfo=UTC)
    night = Calendar("UTC", frozenset({0}), parse_ranges("22:00-06:00"))
    assert night.is_open(datetime(2026, 1, 6, 2, tzinfo=UTC))  # Tuesday 02:00, opened Monday
    assert not night.is_open(datetime(2026, 1, 6, 23, tzinfo=UTC))
    all_day = Calendar("UTC", frozenset(range(7)), parse_ranges("00:00-24:00"))
    assert all_day.add(start, timedelta(hours=30)) == start + timedelta(hours=30)


def test_always_open_is_wall_time() -> None:
    start = datetime(2026, 1, 3, 23, tzinfo=UTC)
    assert AlwaysOpen().add(start, timedelta(minutes=5)) == start + timedelta(minutes=5)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("12h", 43200), ("5m", 300), ("1d 4h", 100800), ("1h30m", 5400), ("90s", 90), ("1w", 604800)],
)
def test_durations(text: str, seconds: int) -> None:
    assert parse_duration(text).total_seconds() == seconds


@pytest.mark.parametrize("text", ["", "12", "12x", "h", "-1h", "0m", "1h banana"])
def test_bad_durations_say_what_is_expected(text: str) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(text)


def test_format_duration() -> None:
    assert format_duration(timedelta(hours=28, minutes=5)) == "1d 4h 5m"


@pytest.mark.parametrize("text", ["9-18", "09:00", "25:00-26:00", "09:00-09:00"])
def test_bad_ranges(text: str) -> None:
    with pytest.raises(ValueError):
        parse_ranges(text)
