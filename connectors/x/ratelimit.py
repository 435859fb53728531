"""X's rate-limit windows, read from every response, so we stop before the peer says 429.

Each endpoint (per app or per user) answers with `x-rate-limit-remaining` and
`x-rate-limit-reset` (epoch seconds); posting also carries `x-user-limit-24hour-*` and
`x-app-limit-24hour-*`. A call is refused locally with `RateLimitError(retry_after)` while a
window it needs is used up, which the outbox turns into a delayed retry ("waiting for the X
window" for agents) and the poller into a later poll. Never tweepy's `wait_on_rate_limit`, which
would block the worker for up to 15 minutes.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from inbox.errors import RateLimitError

FAMILIES = ("x-rate-limit", "x-user-limit-24hour", "x-app-limit-24hour")
ID_SEGMENT = re.compile(r"^[0-9][0-9-]*$")
DEFAULT_WAIT = 60.0  # a 429 without a reset header: X's windows are 15 minutes, try in one


@dataclass(slots=True)
class Window:
    remaining: int
    reset: float


def route_of(method: str, path: str) -> str:
    """`GET /2/users/:id/mentions` for `GET /2/users/783214/mentions?...`."""
    segments = path.split("?", 1)[0].split("/")
    # Keep the version segment ("2"); ids come after it.
    named = [":id" if i > 1 and ID_SEGMENT.match(s) else s for i, s in enumerate(segments)]
    return f"{method.upper()} " + "/".join(named)


class RateLimits:
    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._windows: dict[tuple[str, str], Window] = {}

    def wait_for(self, route: str) -> float:
        """Seconds until `route` may be called again; 0 when it may be called now."""
        now = self._clock()
        waits = [
            w.reset - now
            for (r, _), w in self._windows.items()
            if r == route and w.remaining <= 0 and w.reset > now
        ]
        return max(waits, default=0.0)

    def check(self, route: str) -> None:
        wait = self.wait_for(route)
        if wait > 0:
            raise RateLimitError(
                f"X rate limit for {route}: waiting {wait:.0f}s for the window", wait
            )
        for (r, _), window in self._windows.items():
            if r == route:
                window.remaining -= 1  # count our own call until the answer brings the truth

    def update(self, route: str, headers: Mapping[str, str]) -> None:
        for family in FAMILIES:
            remaining = _number(headers.get(f"{family}-remaining"))
            reset = _number(headers.get(f"{family}-reset"))
            if remaining is not None and reset is not None:
                self._windows[(route, family)] = Window(int(remaining), reset)

    def retry_after(self, route: str, headers: Mapping[str, str]) -> float:
        """The delay a 429 asks for: until its window resets (at least one second)."""
        self.update(route, headers)
        reset = _number(headers.get("x-rate-limit-reset"))
        if reset is None:
            return DEFAULT_WAIT
        self._windows[(route, "x-rate-limit")] = Window(0, reset)
        return max(1.0, reset - self._clock())


def _number(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None
