"""Getting updates to the bot: getUpdates (long polling, 409 to an older poll, offsets
confirm) or a webhook (setWebhook: each update POSTed until the bot answers 200)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from . import validation as v
from .methods import Method
from .records import ServerEvent
from .state import State

__all__ = ["Delivery"]


class Delivery:
    NAMES = ("getUpdates", "deleteWebhook", "getWebhookInfo", "setWebhook")

    def __init__(self, state: State):
        self.state = state
        self._pusher: asyncio.Task[None] | None = None

    def table(self) -> dict[str, Method]:
        return {name: getattr(self, name) for name in self.NAMES}

    def stop(self) -> None:
        if self._pusher is not None:
            self._pusher.cancel()
            self._pusher = None

    async def getUpdates(self, params: dict[str, Any], files: Any) -> Any:
        state = self.state
        offset = v.int_value(params, "offset")
        limit = v.int_value(params, "limit")
        limit = 100 if limit is None else max(1, min(100, limit))
        timeout = v.int_value(params, "timeout") or 0
        if state.webhook is not None:
            raise v.ApiError(409, v.WEBHOOK_ACTIVE)
        state.emit(ServerEvent("poll", offset=offset))
        if not v.is_empty(params, "allowed_updates"):
            state.allowed_updates = v.allowed_updates(params, strict=True)
        if offset is not None:
            if offset > 0:
                state.updates = [u for u in state.updates if u["update_id"] >= offset]
            elif offset < 0:
                state.updates = state.updates[offset:]
        state.poll_generation += 1
        generation = state.poll_generation
        state.notify()  # an older pending long poll gets 409 Conflict, like Telegram
        deadline = time.monotonic() + max(0, timeout)
        while True:
            event = state.changed
            state.drop_unallowed()
            if generation != state.poll_generation:
                raise v.ApiError(409, v.CONFLICT)
            if state.updates or state.replays or state.closed:
                break
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            try:
                await asyncio.wait_for(event.wait(), remaining)
            except TimeoutError:
                pass
        if state.replays:
            replays, state.replays = state.replays[:limit], state.replays[limit:]
            return replays
        return state.updates[:limit]

    async def deleteWebhook(self, params: dict[str, Any], files: Any) -> Any:
        if v.bool_value(params, "drop_pending_updates"):
            self.state.updates.clear()
        self.state.webhook = None
        self.stop()
        return True

    async def getWebhookInfo(self, params: dict[str, Any], files: Any) -> Any:
        return {
            "url": (self.state.webhook or {}).get("url", ""),
            "has_custom_certificate": False,
            "pending_update_count": len(self.state.updates),
        }

    async def setWebhook(self, params: dict[str, Any], files: Any) -> Any:
        url = v.str_value(params, "url") or ""
        if not url:
            return await self.deleteWebhook(params, files)
        secret = v.webhook(params, url)
        if not v.is_empty(params, "allowed_updates"):
            self.state.allowed_updates = v.allowed_updates(params, strict=False)
        if v.bool_value(params, "drop_pending_updates"):
            self.state.updates.clear()
        self.state.webhook = {"url": url, "secret": secret}
        if self._pusher is None or self._pusher.done():
            self._pusher = asyncio.get_running_loop().create_task(self._push_forever())
        return True

    async def _push_forever(self) -> None:
        """Webhook mode: POST each pending update, in order, until the bot answers 200
        (anything else, or no answer, is retried shortly, as Telegram does)."""
        import aiohttp

        state = self.state
        async with aiohttp.ClientSession() as session:
            while state.webhook is not None and not state.closed:
                event = state.changed
                state.drop_unallowed()
                if not state.updates:
                    await event.wait()
                    continue
                update = state.updates[0]
                hook = state.webhook
                headers = (
                    {"X-Telegram-Bot-Api-Secret-Token": hook["secret"]} if hook["secret"] else {}
                )
                state.inflight += 1
                try:
                    async with session.post(
                        hook["url"],
                        json=update,
                        headers=headers,
                        timeout=aiohttp.ClientTimeout(total=30),
                    ) as response:
                        status = response.status
                except (aiohttp.ClientError, TimeoutError):
                    status = 0
                finally:
                    state.inflight -= 1
                    state.last_activity = time.monotonic()
                state.webhook_posts.append((update["update_id"], status))
                if status == 200:
                    if state.updates and state.updates[0] is update:
                        state.updates.pop(0)
                    state.delivered(update["update_id"])
                    state.notify()
                else:
                    state.notify()
                    await asyncio.sleep(0.2)
