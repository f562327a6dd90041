"""Nothing fetched is lost: our own getUpdates loop, with the inbox table in between.

python-telegram-bot's Updater confirms an update (the next getUpdates' offset) as soon as
it has fetched it, so a crash loses whatever was fetched and not yet handled. Here:

1. **fetch** — `getUpdates(offset)`; the batch is written to the inbox table in one small
   transaction (encrypted: updates carry notes); only then does the next `getUpdates`
   confirm it (offset = last id + 1). An update already in the inbox is not queued again;
   an id Telegram has reused for another update (`fingerprint`) is.
2. **handle** — one worker feeds each new update to `Application.process_update` (PTB's
   handlers, filters and conversation machinery unchanged), in order, then marks the row
   handled (its payload cleared).
3. **restart** — rows a previous life left unhandled are fed again first, oldest first.
   The update id makes a second handling harmless: every write claims it in the same
   transaction as its effects (`Turn.write` → `Database.once`), with its fingerprint.
4. **prune** — at start and every hour, handled rows older than two days and claims older
   than a week are forgotten.

Webhook mode (`CAREMAP_WEBHOOK_URL`): instead of step 1, Telegram POSTs each update to a
small aiohttp endpoint that answers 200 only after the row is committed (anything else and
Telegram sends it again); steps 2 and 3 are the same. Several bot processes may share one
PostgreSQL behind a load balancer: the update id keeps a second handling harmless.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from telegram import Update
from telegram.error import Conflict, InvalidToken, NetworkError, RetryAfter, TelegramError, TimedOut
from telegram.ext import Application

from storage.db import Database
from storage.once import INBOX_TURN, InboxTurn

log = logging.getLogger("caremap.inbox")

# edited messages only to say that an edit changes nothing saved (bot.handlers.edited)
ALLOWED_UPDATES = ["message", "edited_message", "callback_query"]
KEEP_HANDLED = timedelta(days=2)  # Telegram keeps an unconfirmed update for 24 h
KEEP_CLAIMS = timedelta(days=7)  # processed update ids: far past any redelivery
PRUNE_EVERY = 3600.0  # seconds
Clock = Callable[[], datetime]


def fingerprint(update: Update) -> str:
    """What an update was, apart from its id: its callback query (id, data, message), or
    its message (chat, message id, date). Telegram delivers the same update again with the
    same fingerprint; an id it has reused (at random after a week without updates, or on
    another bot token) comes with another one, so the inbox and `UpdateRepo.claim` take it
    as the new update it is instead of skipping it as handled."""
    query = update.callback_query
    if query is not None:
        msg = query.message
        where = (msg.chat.id, msg.message_id) if msg is not None else (query.inline_message_id,)
        parts: tuple[object, ...] = ("q", query.id, query.data, *where)
    elif update.effective_message is not None:
        m = update.effective_message
        stamps = (int(t.timestamp()) if t else None for t in (m.date, m.edit_date))
        parts = ("m", m.chat.id, m.message_id, *stamps)
    else:
        parts = ("u", update.update_id)
    key = "\x1f".join(str(p) for p in parts).encode()
    return hashlib.blake2b(key, digest_size=16).hexdigest()


class Inbox:
    def __init__(
        self,
        application: Application,
        db: Database,
        clock: Clock,
        *,
        poll_timeout: float = 25.0,
        allowed_updates: list[str] | None = None,
    ) -> None:
        self.application = application
        self.db = db
        self.clock = clock
        self.poll_timeout = poll_timeout
        self.allowed_updates = list(allowed_updates or ALLOWED_UPDATES)
        self._queue: asyncio.Queue[Update] = asyncio.Queue()
        self._offset: int | None = None
        # observable progress (tests, logs): fetched per update id, handled ids
        self.fetched: dict[int, int] = {}
        self.handled: set[int] = set()
        self.changed = asyncio.Event()
        self.pruned = asyncio.Event()  # set once the first pruning has finished
        self._busy = False
        self._stopping = False
        self._fetcher: asyncio.Task | None = None

    # -- the database side (worker threads: one unit of work each) ----------------------

    def _store(self, batch: list[tuple[int, str, str]]) -> list[int]:
        with self.db.uow(write=True) as uow:
            return uow.inbox.store(batch, self.clock())

    def _mark(self, update_id: int) -> None:
        with self.db.uow(write=True) as uow:
            uow.inbox.mark_handled([update_id], self.clock())

    def _unhandled(self) -> list[tuple[int, str]]:
        with self.db.uow(write=False) as uow:
            return uow.inbox.unhandled(limit=100_000)

    def _prune(self) -> int:
        """Forget handled inbox rows and old claims of update ids (both would grow for
        ever); what is kept covers every redelivery Telegram makes."""
        now = self.clock()
        with self.db.uow(write=True) as uow:
            return uow.inbox.prune(now - KEEP_HANDLED) + uow.updates.prune(now - KEEP_CLAIMS)

    def _notify(self) -> None:
        event, self.changed = self.changed, asyncio.Event()
        event.set()

    # -- steps ------------------------------------------------------------------------

    async def refeed(self) -> int:
        """Queue what a previous life stored and did not finish, oldest first."""
        rows = await asyncio.to_thread(self._unhandled)
        for _update_id, payload in rows:
            self._queue.put_nowait(Update.de_json(json.loads(payload), self.application.bot))
        if rows:
            log.info(
                "inbox: %d update(s) left from before the restart are handled first", len(rows)
            )
        return len(rows)

    async def fetch_once(self) -> int:
        """One getUpdates; store the batch, then queue what was new. Returns the count."""
        updates = await self.application.bot.get_updates(
            offset=self._offset,
            timeout=self.poll_timeout,
            read_timeout=self.poll_timeout + 10,
            allowed_updates=self.allowed_updates,
        )
        if not updates:
            return 0
        await self.accept([(u, u.to_json()) for u in updates])
        # stored (committed): the next getUpdates may confirm them
        self._offset = max(u.update_id for u in updates) + 1
        return len(updates)

    async def accept(self, updates: list[tuple[Update, str]]) -> None:
        """Store `(update, json)` pairs in one transaction, then queue the new ones.
        Raises if the insert fails: the caller must not confirm them then."""
        batch = [(u.update_id, raw, fingerprint(u)) for u, raw in updates]
        fresh = set(await asyncio.to_thread(self._store, batch))
        for u, _raw in updates:
            self.fetched[u.update_id] = self.fetched.get(u.update_id, 0) + 1
            if u.update_id in fresh:
                self._queue.put_nowait(u)
        self._notify()

    async def handle_next(self) -> int:
        update = await self._queue.get()
        self._busy = True
        try:
            return await self._handle(update)
        finally:
            self._busy = False
            self._notify()

    async def _handle(self, update: Update) -> int:
        turn = InboxTurn(update.update_id)
        token = INBOX_TURN.set(turn)
        try:
            await self.application.process_update(update)
        except Exception:  # noqa: BLE001 - one bad update must not stop the others
            # (never log the update: it may carry notes)
            log.exception("inbox: update %s could not be handled", update.update_id)
        finally:
            INBOX_TURN.reset(token)
        if not turn.marked:  # a write marks its row with its claim (storage/db.py)
            await asyncio.to_thread(self._mark, update.update_id)
        self.handled.add(update.update_id)
        return update.update_id

    # -- the loops --------------------------------------------------------------------

    async def _fetch_forever(self) -> None:
        delay = 1.0
        while True:
            try:
                await self.fetch_once()
                delay = 1.0
            except InvalidToken:
                raise
            except RetryAfter as exc:
                await asyncio.sleep(_seconds(exc.retry_after))
            except (TimedOut, NetworkError, Conflict) as exc:
                log.warning(
                    "inbox: getUpdates failed (%s); retrying in %.0f s", type(exc).__name__, delay
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)
            except TelegramError as exc:
                log.warning("inbox: getUpdates refused (%s); retrying in %.0f s", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)

    async def _prune_forever(self) -> None:
        """At start and every hour, polling or webhook."""
        while True:
            try:
                pruned = await asyncio.to_thread(self._prune)
                if pruned:
                    log.info("inbox: forgot %d handled update(s)", pruned)
            except Exception:  # noqa: BLE001 - pruning again next hour is fine
                log.exception("inbox: pruning failed")
            self.pruned.set()
            await asyncio.sleep(PRUNE_EVERY)

    async def _handle_forever(self) -> None:
        while not self._stopping:
            await self.handle_next()

    async def until(self, stop: asyncio.Event) -> None:
        """Inside `running()`: wait until `stop` is set or fetching failed for good (a
        revoked token, raised when `running()` exits)."""
        assert self._fetcher is not None, "use inside `async with inbox.running()`"
        stopped = asyncio.create_task(stop.wait())
        try:
            await asyncio.wait({stopped, self._fetcher}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopped.cancel()

    async def _finish_current(self, timeout: float = 10.0) -> None:
        deadline = asyncio.get_running_loop().time() + timeout
        while self._busy:
            event = self.changed
            left = deadline - asyncio.get_running_loop().time()
            if left <= 0:
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), left)

    @contextlib.asynccontextmanager
    async def running(self, webhook: Webhook | None = None) -> AsyncIterator[Inbox]:
        await self.refeed()
        worker = asyncio.create_task(self._handle_forever(), name="caremap-inbox-handle")
        pruner = asyncio.create_task(self._prune_forever(), name="caremap-inbox-prune")
        if webhook is None:
            with contextlib.suppress(TelegramError):
                # a bot that ran in webhook mode before would get 409 from getUpdates
                await self.application.bot.delete_webhook(drop_pending_updates=False)
            fetcher = asyncio.create_task(self._fetch_forever(), name="caremap-inbox-fetch")
        else:
            fetcher = asyncio.create_task(webhook.serve(self), name="caremap-inbox-webhook")
            ready = asyncio.create_task(webhook.ready.wait())
            # listening and registered with Telegram (or failed) before we go on
            await asyncio.wait({ready, fetcher}, return_when=asyncio.FIRST_COMPLETED)
            ready.cancel()
        self._fetcher = fetcher
        failed: list[BaseException] = []

        def _died(task: asyncio.Task) -> None:
            if not task.cancelled() and task.exception() is not None:
                failed.append(task.exception())
                log.error("inbox: %s stopped: %r", task.get_name(), task.exception())

        fetcher.add_done_callback(_died)
        try:
            yield self
        finally:
            fetcher.cancel()
            pruner.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await fetcher
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await pruner
            # let the update in hand finish (its row is marked); the rest stays queued in
            # the database for the next start
            self._stopping = True
            await self._finish_current()
            worker.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await worker
        if failed:  # a revoked token, a refused webhook: the caller reports it
            raise failed[0]


class Webhook:
    """Telegram POSTs updates here; 200 only once the update is in the inbox."""

    def __init__(self, url: str, listen: tuple[str, int], secret: str) -> None:
        self.url = url
        self.listen = listen
        self.secret = secret
        self.path = urlsplit(url).path or "/"
        self.port: int | None = None  # the port actually bound (listen port 0: any free one)
        self.ready = asyncio.Event()

    async def serve(self, inbox: Inbox) -> None:
        from aiohttp import web

        async def receive(request: web.Request) -> web.Response:
            if request.headers.get("X-Telegram-Bot-Api-Secret-Token") != self.secret:
                return web.Response(status=403)
            try:
                data = await request.json()
                update = Update.de_json(data, inbox.application.bot)
            except Exception:  # noqa: BLE001 - not an update: refuse it, log nothing of it
                return web.Response(status=400)
            if update is None or not isinstance(data, dict):
                return web.Response(status=400)
            try:
                await inbox.accept([(update, json.dumps(data, ensure_ascii=False))])
            except Exception:  # noqa: BLE001 - not stored: Telegram must send it again
                log.exception("inbox: could not store update %s; answering 500", update.update_id)
                return web.Response(status=500)
            return web.Response(status=200)

        app = web.Application(client_max_size=4 * 1024 * 1024)
        app.router.add_post(self.path, receive)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        try:
            site = web.TCPSite(runner, self.listen[0], self.listen[1])
            await site.start()
            self.port = runner.addresses[0][1]
            await inbox.application.bot.set_webhook(
                self.url,
                secret_token=self.secret,
                allowed_updates=inbox.allowed_updates,
                drop_pending_updates=False,
            )
            log.info("webhook mode: listening on %s:%s%s", self.listen[0], self.port, self.path)
            self.ready.set()
            await asyncio.Event().wait()  # until cancelled
        finally:
            await runner.cleanup()


def webhook_secret(settings_secret: str | None, token: str) -> str:
    """CAREMAP_WEBHOOK_SECRET, or one derived from the bot token (never the token itself)."""
    if settings_secret:
        return settings_secret
    return hashlib.sha256(("caremap-webhook:" + token).encode()).hexdigest()


def _seconds(value: Any) -> float:
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


@contextlib.asynccontextmanager
async def serving(
    application: Application,
    db: Database,
    clock: Clock,
    *,
    poll_timeout: float = 25.0,
    webhook: Webhook | None = None,
) -> AsyncIterator[Inbox]:
    """The whole bot: initialize (getMe: a bad token raises InvalidToken here), post_init
    (the command menu), start (handlers, JobQueue), the inbox loops; and back down again."""
    await application.initialize()
    try:
        if application.post_init is not None:
            await application.post_init(application)
        await application.start()
        try:
            inbox = Inbox(application, db, clock, poll_timeout=poll_timeout)
            async with inbox.running(webhook):
                yield inbox
        finally:
            if application.running:
                await application.stop()
    finally:
        await application.shutdown()
