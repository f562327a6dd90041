"""The 429 side of validation: "Too Many Requests: retry after N" with ``retry_after``.

Off by default. A test switches on what it needs: refuse the next calls (``fail_next``,
``fail_next_with``), a seeded random fraction of them (``flood_fraction``), or Telegram-like
token buckets per chat and overall (``enable``).
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Iterable
from typing import Any

from .validation import ApiError, int_value, too_many_requests

__all__ = ["SEND_METHODS", "Bucket", "FloodPolicy"]

#: methods that the 429 policies apply to by default
SEND_METHODS = frozenset({"sendMessage", "sendDocument"})


class Bucket:
    def __init__(self, capacity: float, per_second: float):
        self.capacity = capacity
        self.rate = per_second
        self.tokens = capacity
        self.last = time.monotonic()

    def take(self, now: float) -> int | None:
        """Consume one token; return None if allowed, else seconds to wait (>=1)."""
        self.tokens = min(self.capacity, self.tokens + (now - self.last) * self.rate)
        self.last = now
        if self.tokens >= 1:
            self.tokens -= 1
            return None
        return max(1, math.ceil((1 - self.tokens) / self.rate))


def _methods(methods: Iterable[str] | None) -> frozenset[str]:
    return frozenset(methods) if methods is not None else SEND_METHODS


class FloodPolicy:
    """Which calls are refused before they are looked at (see :meth:`check`)."""

    def __init__(self) -> None:
        self._fail_queue: list[tuple[int, frozenset[str]]] = []
        self._error_queue: list[tuple[ApiError, frozenset[str]]] = []
        self._fraction: tuple[float, int, frozenset[str], random.Random] | None = None
        self._limits: dict[str, Any] | None = None
        self._global_bucket: Bucket | None = None
        self._chat_buckets: dict[int, Bucket] = {}

    def fail_next(self, n: int, retry_after: int, methods: Iterable[str] | None) -> None:
        self._fail_queue.extend([(retry_after, _methods(methods))] * n)

    def fail_next_with(
        self, code: int, description: str, n: int, methods: Iterable[str] | None
    ) -> None:
        self._error_queue.extend([(ApiError(code, description), _methods(methods))] * n)

    def flood_fraction(
        self, fraction: float, retry_after: int, seed: int, methods: Iterable[str] | None
    ) -> None:
        ms = _methods(methods)
        self._fraction = (fraction, retry_after, ms, random.Random(seed)) if fraction else None

    def enable(
        self,
        global_per_second: float,
        global_burst: float,
        private_per_second: float,
        private_burst: float,
        group_per_minute: float,
        methods: Iterable[str] | None,
    ) -> None:
        self._limits = {
            "private": (private_burst, private_per_second),
            "group": (group_per_minute, group_per_minute / 60.0),
            "methods": _methods(methods),
        }
        self._global_bucket = Bucket(global_burst, global_per_second)
        self._chat_buckets.clear()

    def disable(self) -> None:
        self._limits = None
        self._global_bucket = None
        self._fail_queue.clear()
        self._error_queue.clear()
        self._fraction = None

    def check(self, method: str, params: dict[str, Any], now: float) -> None:
        """Raise the error queued for ``method``, else a 429 if a policy refuses it."""
        for index, (error, methods) in enumerate(self._error_queue):
            if method in methods:
                del self._error_queue[index]
                raise error
        for index, (retry_after, methods) in enumerate(self._fail_queue):
            if method in methods:
                del self._fail_queue[index]
                raise too_many_requests(retry_after)
        if self._fraction is not None:
            fraction, retry_after, methods, rng = self._fraction
            if method in methods and rng.random() < fraction:
                raise too_many_requests(retry_after)
        if self._limits is not None and method in self._limits["methods"]:
            try:
                chat_id = int_value(params, "chat_id")
            except ApiError:
                chat_id = None
            chat_wait = None
            if chat_id is not None:
                bucket = self._chat_buckets.get(chat_id)
                if bucket is None:
                    kind = "private" if chat_id > 0 else "group"
                    bucket = self._chat_buckets[chat_id] = Bucket(*self._limits[kind])
                chat_wait = bucket.take(now)
            if chat_wait is not None:
                raise too_many_requests(chat_wait)
            assert self._global_bucket is not None
            global_wait = self._global_bucket.take(now)
            if global_wait is not None:
                raise too_many_requests(global_wait)
