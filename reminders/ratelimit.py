"""Sends paced to Telegram's limits (~30 messages/s overall, ~1/s per private chat with
short bursts), most urgent first, and — on PostgreSQL — shared by every process.

The budget is a GCRA ("generic cell rate algorithm") bucket per key: "all" for the overall
rate and "chat:<id>" per chat. Reserving a slot is one atomic step that returns how long to
wait before sending; the state lives in a `SlotStore`:
- `MemorySlots` (one process: the bot on SQLite, tests),
- `storage.sendslots.PgSlots` (the `send_slots` table, so the bot and every
  `python -m reminders` worker draw on ONE budget; no new server).

Inside a process, messages wait for their turn in two small priority queues (per chat,
then overall), so an urgent alert goes ahead of every queued follow-up; a follow-up that
is only waiting for its chat's next slot hands that slot to an alert for the same chat.
A chat (or everything) told to wait by a 429 is held back for `retry_after`, in the store,
so the other processes wait too.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from collections.abc import Awaitable, Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any, Protocol

from telegram.error import RetryAfter
from telegram.ext import BaseRateLimiter

from storage import Database

#: priorities at or below this are urgent (crisis/high alerts, repeats, escalations)
URGENT = 1
#: priority of a reply to a counsellor (ahead of pushed follow-ups, behind alerts)
REPLY = 2
#: the calls that put a new message in a chat, the ones Telegram's per-chat pace counts;
#: edits and answers to button taps do not (charging them held a crisis alert back
#: behind the edits of a safety check, by a second per tap)
NEW_MESSAGE_METHODS = frozenset(
    {
        "sendMessage",
        "sendDocument",
        "sendPhoto",
        "sendMediaGroup",
        "sendAudio",
        "sendVideo",
        "sendVoice",
        "sendAnimation",
        "sendSticker",
        "sendLocation",
        "sendContact",
        "copyMessage",
        "forwardMessage",
    }
)


class SlotStore(Protocol):
    def reserve(self, key: str, interval: float, burst: int) -> float:
        """Take the next slot of `key` (one send every `interval` s, bursts of `burst`);
        seconds to wait before using it (0 = now)."""

    def hold(self, key: str, seconds: float, interval: float, burst: int) -> None:
        """No slot of `key` before `seconds` from now (Telegram said 429)."""


class MemorySlots:
    """GCRA buckets in this process's memory (monotonic clock)."""

    shared = False

    def __init__(self) -> None:
        self._tat: dict[str, float] = {}
        self._clock = time.monotonic  # real seconds for real sends, never the injected clock

    def reserve(self, key: str, interval: float, burst: int) -> float:
        now = self._clock()
        tat = self._tat.get(key, now)
        wait = max(0.0, tat - (burst - 1) * interval - now)
        self._tat[key] = max(tat, now) + interval
        if len(self._tat) > 20_000:  # forget idle chats
            self._tat = {k: v for k, v in self._tat.items() if v > now}
        return wait

    def hold(self, key: str, seconds: float, interval: float, burst: int) -> None:
        now = self._clock()
        self._tat[key] = max(self._tat.get(key, now), now + seconds + (burst - 1) * interval)


class _Gate:
    """One holder at a time; waiters are served by (priority, arrival). A waiting holder
    may be bumped by a more urgent waiter and hand it the slot it reserved."""

    _seq = itertools.count()

    def __init__(self) -> None:
        self.holder: int | None = None  # the holder's priority
        self._waiters: list[tuple[int, int, asyncio.Future[float | None]]] = []
        self.bump: asyncio.Event | None = None

    @property
    def idle(self) -> bool:
        return self.holder is None and not self._waiters

    async def acquire(self, priority: int) -> float | None:
        """Wait for the turn; returns a slot (monotonic deadline) handed over by a bumped
        holder, or None (reserve your own)."""
        if self.idle:
            self.holder = priority
            return None
        future: asyncio.Future[float | None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._waiters, (priority, next(self._seq), future))
        if self.bump is not None and self.holder is not None and priority <= URGENT < self.holder:
            self.bump.set()
        try:
            slot = await future
        except asyncio.CancelledError:
            if future.done() and not future.cancelled():
                self.release()  # the turn came together with the cancellation: pass it on
            raise
        self.holder = priority
        return slot

    def release(self, slot: float | None = None) -> None:
        self.bump = None
        while self._waiters:
            _, _, future = heapq.heappop(self._waiters)
            if not future.done():
                future.set_result(slot)
                return
        self.holder = None


class SendLimiter:
    def __init__(
        self,
        overall_per_second: float = 25.0,
        per_chat_rate: float = 0.9,
        per_chat_burst: int = 3,
        overall_burst: int = 1,
        store: SlotStore | None = None,
        run: Callable[[Callable[[], float]], Awaitable[float]] | None = None,
    ) -> None:
        self.rate = float(overall_per_second)
        self._all = (1.0 / overall_per_second, max(1, int(overall_burst)))
        self._chat = (1.0 / per_chat_rate, max(1, int(per_chat_burst)))
        self.store: SlotStore = store or MemorySlots()
        # a shared store talks to the database: off the event loop, on threads of its own
        # (never queued behind the composing of messages in the default executor)
        if run is not None:
            self._run = run
        elif getattr(self.store, "shared", False):
            self._threads = ThreadPoolExecutor(max_workers=4, thread_name_prefix="caremap-slots")
            self._run = self._in_threads
        else:
            self._run = _inline
        self._overall = _Gate()
        self._chats: dict[int, _Gate] = {}
        self.reserved = 0  # slots taken (for tests and benchmarks)

    async def _in_threads(self, fn: Callable[[], float]) -> float:
        return await asyncio.get_running_loop().run_in_executor(self._threads, fn)

    @property
    def shared(self) -> bool:
        return bool(getattr(self.store, "shared", False))

    async def _reserve(self, key: str, spec: tuple[float, int]) -> float:
        self.reserved += key == "all"
        return await self._run(lambda: self.store.reserve(key, *spec))

    async def hold(self, chat_id: int | None, seconds: float) -> None:
        """Telegram said 429 retry_after: hold this chat (or everything, for None) back,
        in the store (every process sharing it waits too)."""
        key, spec = ("all", self._all) if chat_id is None else (f"chat:{chat_id}", self._chat)

        def hold() -> float:
            self.store.hold(key, seconds, *spec)
            return 0.0

        await self._run(hold)

    async def charge(self, chat_id: int) -> None:
        """Count a message already sent to this chat (a reply) against its budget, without
        waiting: the pushes that follow keep their distance."""
        await self._reserve(f"chat:{chat_id}", self._chat)

    async def acquire_overall(self, priority: int = REPLY) -> None:
        """Wait for a slot of the overall budget only (a reply to the counsellor's own
        message: never held back by the chat's pace, never ahead of an alert)."""
        await self._acquire_overall(priority)

    async def acquire(self, chat_id: int, priority: int = 5) -> None:
        """Wait for a slot of this chat and of the overall budget, most urgent first."""
        gate = self._chats.get(chat_id)
        if gate is None:
            gate = self._chats[chat_id] = _Gate()
        try:
            while True:
                inherited = await gate.acquire(priority)
                try:
                    if inherited is not None:
                        deadline = inherited
                    else:
                        deadline = time.monotonic() + await self._reserve(
                            f"chat:{chat_id}", self._chat
                        )
                    bumped = False
                    remaining = deadline - time.monotonic()
                    if remaining > 0:
                        bump = gate.bump = asyncio.Event() if priority > URGENT else None
                        if bump is None:
                            await asyncio.sleep(remaining)
                        else:
                            try:
                                await asyncio.wait_for(bump.wait(), remaining)
                                bumped = True
                            except TimeoutError:
                                pass
                    gate.bump = None
                    if bumped:  # an alert for this chat takes our slot; we queue again
                        gate.release(deadline)
                        continue
                    await self._acquire_overall(priority)
                except BaseException:
                    gate.release()
                    raise
                gate.release()
                return
        finally:
            if gate.idle and self._chats.get(chat_id) is gate:
                del self._chats[chat_id]

    async def _acquire_overall(self, priority: int) -> None:
        await self._overall.acquire(priority)
        try:
            wait = await self._reserve("all", self._all)
            if wait > 0:
                await asyncio.sleep(wait)
        finally:
            self._overall.release()


async def _inline(fn: Callable[[], float]) -> float:
    return fn()


def limiter_for(db: Database) -> SendLimiter:
    """The limiter every process builds: on PostgreSQL its budget lives in the database
    (shared by the bot and every worker); on SQLite (one process) in memory."""
    if getattr(db, "dialect", None) == "postgresql":
        from storage.sendslots import PgSlots

        return SendLimiter(store=PgSlots(db))
    return SendLimiter()


class ReplyRateLimiter(BaseRateLimiter[int]):
    """python-telegram-bot's rate limiter for the bot's replies, drawing on the SAME budget
    as the pushed reminders and alerts (and, on PostgreSQL, as every worker): a reply waits
    for an overall slot at REPLY priority (behind alerts, ahead of follow-ups), is then
    counted against its chat, and a 429 holds the chat back for everyone."""

    def __init__(self, limiter: SendLimiter, max_retries: int = 5) -> None:
        self.limiter = limiter
        self.max_retries = max_retries

    async def initialize(self) -> None:
        return None

    async def shutdown(self) -> None:
        return None

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, Any]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: int | None,
    ) -> Any:
        chat_id: Any = data.get("chat_id")
        try:
            chat_id = int(chat_id) if chat_id is not None else None
        except (TypeError, ValueError):
            chat_id = None
        retries = self.max_retries if rate_limit_args is None else rate_limit_args
        for attempt in range(retries + 1):
            if chat_id is not None:
                await self.limiter.acquire_overall(REPLY)
            try:
                result = await callback(*args, **kwargs)
            except RetryAfter as exc:
                if attempt >= retries:
                    raise
                value = exc.retry_after
                seconds = value.total_seconds() if isinstance(value, timedelta) else float(value)
                if chat_id is not None:
                    await self.limiter.hold(chat_id, seconds)
                await asyncio.sleep(seconds + 0.1)
                continue
            if chat_id is not None and endpoint in NEW_MESSAGE_METHODS:
                await self.limiter.charge(chat_id)
            return result
        raise AssertionError("unreachable")
