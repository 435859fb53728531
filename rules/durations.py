"""Durations as admins write them: "12h", "5m", "1d 4h", "90s", "1h30m".

TOML has no duration type, and "43200" tells a reader nothing; a short unit string is what
every ops tool uses, so the config accepts that and nothing else.
"""

from __future__ import annotations

import re
from datetime import timedelta

_PART = re.compile(r"(\d+(?:\.\d+)?)\s*(w|d|h|m|s)")
_UNITS = {"w": 604800.0, "d": 86400.0, "h": 3600.0, "m": 60.0, "s": 1.0}
EXPECTED = "a duration like '12h', '30m', '1d 4h' or '1h30m'"


def parse_duration(text: str) -> timedelta:
    """Parse a unit string; raise ValueError naming the expected form otherwise."""
    compact = text.strip().lower()
    if not compact:
        raise ValueError(f"expected {EXPECTED}, got an empty string")
    seconds = 0.0
    position = 0
    for match in _PART.finditer(compact):
        if compact[position : match.start()].strip():
            break
        seconds += float(match.group(1)) * _UNITS[match.group(2)]
        position = match.end()
    if position == 0 or compact[position:].strip():
        raise ValueError(f"expected {EXPECTED}, got {text!r}")
    if seconds <= 0:
        raise ValueError(f"expected a positive duration, got {text!r}")
    return timedelta(seconds=seconds)


def format_duration(value: timedelta) -> str:
    """The inverse, for messages and `rules explain`: 1d 4h, 30m."""
    seconds = int(value.total_seconds())
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if seconds >= size:
            parts.append(f"{seconds // size}{unit}")
            seconds %= size
    return " ".join(parts) or "0s"
