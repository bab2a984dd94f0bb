"""Injected failures: error statuses, rate limits and slow answers, so retries get exercised."""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from typing import Any

SECONDARY_RATE_LIMIT = "secondary_rate_limit"
PRIMARY_RATE_LIMIT = "rate_limit"


@dataclass
class Fault:
    """A failure applied to the next `times` requests matching `method` and `path`."""

    method: str | None
    path: re.Pattern[str]
    status: int | str | None
    times: int
    retry_after: int = 1
    delay: float = 0.0
    body: dict[str, Any] | None = None
    hits: int = 0

    def matches(self, method: str, path: str) -> bool:
        """Whether this fault still applies to a request."""
        if self.hits >= self.times:
            return False
        if self.method is not None and self.method.upper() != method.upper():
            return False
        return self.path.search(path) is not None


@dataclass
class Faults:
    """The registry the server consults before answering each request."""

    _items: list[Fault] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(
        self,
        method: str | None = None,
        path: str = r".*",
        status: int | str | None = None,
        times: int = 1,
        retry_after: int = 1,
        delay: float = 0.0,
        body: dict[str, Any] | None = None,
    ) -> Fault:
        """Fail (or slow down) the next `times` requests whose path matches the regex `path`.

        `status` is an HTTP status (e.g. 502), `"secondary_rate_limit"` (403 with
        Retry-After), `"rate_limit"` (403 with x-ratelimit-remaining 0), or None to
        answer normally after `delay` seconds.
        """
        fault = Fault(method, re.compile(path), status, times, retry_after, delay, body)
        with self._lock:
            self._items.append(fault)
        return fault

    def take(self, method: str, path: str) -> Fault | None:
        """The first fault matching a request, counting the hit."""
        with self._lock:
            for fault in self._items:
                if fault.matches(method, path):
                    fault.hits += 1
                    return fault
        return None

    def clear(self) -> None:
        """Remove every fault."""
        with self._lock:
            self._items.clear()

    @property
    def pending(self) -> list[Fault]:
        """Faults that have not been used up."""
        with self._lock:
            return [f for f in self._items if f.hits < f.times]
