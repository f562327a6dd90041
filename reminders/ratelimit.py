"""Sends paced to Telegram's limits: ~30 messages/s overall, ~1/s per private chat.

Built on aiolimiter's leaky buckets: an overall bucket and one bucket per chat (a short
burst of `per_chat_burst` messages, then one every `1 / per_chat_rate` seconds). A chat
that was told to wait by a 429 is held back until its `retry_after` has passed.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict

from aiolimiter import AsyncLimiter


class SendLimiter:
    def __init__(
        self,
        overall_per_second: float = 25.0,
        per_chat_rate: float = 0.9,
        per_chat_burst: int = 3,
        max_chats: int = 10_000,
    ) -> None:
        self.overall = AsyncLimiter(overall_per_second, 1.0)
        self.per_chat_rate = per_chat_rate
        self.per_chat_burst = per_chat_burst
        self._chats: OrderedDict[int, AsyncLimiter] = OrderedDict()
        self._held_until: dict[int, float] = {}
        self._max_chats = max_chats

    def _chat(self, chat_id: int) -> AsyncLimiter:
        limiter = self._chats.get(chat_id)
        if limiter is None:
            limiter = AsyncLimiter(self.per_chat_burst, self.per_chat_burst / self.per_chat_rate)
            self._chats[chat_id] = limiter
            if len(self._chats) > self._max_chats:
                self._chats.popitem(last=False)
        else:
            self._chats.move_to_end(chat_id)
        return limiter

    def hold(self, chat_id: int | None, seconds: float) -> None:
        """Telegram said 429 retry_after: hold this chat (or everything, for None) back."""
        key = chat_id if chat_id is not None else 0
        self._held_until[key] = max(self._held_until.get(key, 0.0), time.monotonic() + seconds)

    async def acquire(self, chat_id: int) -> None:
        for key in (0, chat_id):
            wait = self._held_until.get(key, 0.0) - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
        # Overall first, the chat's bucket last: the per-chat spacing is then measured at the
        # moment of sending (a chat token taken early and then queued behind the overall
        # limit would let a chat's messages bunch up and meet a 429).
        await self.overall.acquire()
        await self._chat(chat_id).acquire()
