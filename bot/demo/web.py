"""The demo's chat page: static files, a WebSocket that pushes every chat event, downloads.

The page never receives the bot's HTML: each message goes out as its plain text plus
Telegram's entities (what the fake parsed from the bot's HTML), and the page builds DOM
nodes from them with textContent, so nothing the bot sends is ever injected as markup.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from aiohttp import WSMsgType, web

from bot.demo import seed
from bot.demo.runtime import PEOPLE, STEPS, DemoRuntime
from bot.fakeapi import MessageView, ServerEvent

log = logging.getLogger("caremap.demo")

STATIC = Path(__file__).parent / "static"
STATIC_FILES = {
    "chat.css": "text/css",
    "chat.js": "application/javascript",
}
MAX_TEXT = 4096
ZONE = ZoneInfo(seed.TIMEZONE)


def local_time(at: datetime) -> str:
    return at.astimezone(ZONE).strftime("%Y-%m-%d %H:%M")


def _buttons(view: MessageView) -> list[list[dict[str, Any]]]:
    rows = (view.reply_markup or {}).get("inline_keyboard", [])
    return [
        [{"text": b["text"], "data": b.get("callback_data"), "url": b.get("url")} for b in row]
        for row in rows
    ]


class DemoWeb:
    def __init__(self, workdir: Path, host: str = "127.0.0.1", port: int = 8080) -> None:
        self.host = host
        self.port = port
        self.runtime = DemoRuntime(workdir, on_event=self._on_event)
        self._clients: set[asyncio.Queue[dict[str, Any] | None]] = set()
        self._times: dict[tuple[int, int], str] = {}
        self._languages = {p.id: p.language_code for p in PEOPLE}
        self._runner: web.AppRunner | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    # --- lifecycle -------------------------------------------------------------------------
    async def start(self) -> None:
        await self.runtime.start()
        self._apply_languages()
        app = web.Application()
        app.router.add_get("/", self._index)
        app.router.add_get("/static/{name}", self._static)
        app.router.add_get("/ws", self._ws)
        app.router.add_get("/file/{chat_id}/{message_id}", self._file)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        self.port = self._runner.addresses[0][1]

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for queue in list(self._clients):
            queue.put_nowait(None)
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()
        await self.runtime.stop()

    def _apply_languages(self) -> None:
        for person in PEOPLE:
            self.runtime.user(person.id).language_code = self._languages[person.id]

    # --- pushing ---------------------------------------------------------------------------
    def _broadcast(self, payload: dict[str, Any]) -> None:
        for queue in list(self._clients):
            queue.put_nowait(payload)

    def _message(self, view: MessageView) -> dict[str, Any]:
        key = (view.chat_id, view.message_id)
        if key not in self._times:
            self._times[key] = local_time(self.runtime.clock())
        document = None
        if view.document is not None:
            document = {
                "name": view.document.get("file_name") or "file",
                "size": view.document.get("file_size", 0),
                "url": f"/file/{view.chat_id}/{view.message_id}",
            }
        photo = None
        if view.photo is not None:  # the /overview and /map … chart pictures
            photo = {
                "url": f"/file/{view.chat_id}/{view.message_id}",
                "width": view.photo.get("width", 0),
                "height": view.photo.get("height", 0),
            }
        return {
            "id": view.message_id,
            "chat_id": view.chat_id,
            "from_bot": bool(view.raw.get("from", {}).get("is_bot")),
            "text": view.text or "",
            "entities": list(view.entities),
            "buttons": _buttons(view),
            "document": document,
            "photo": photo,
            "edited": view.version > 0,
            "time": self._times[key],
        }

    def _on_event(self, event: ServerEvent) -> None:
        if event.kind in ("message", "edit") and event.message is not None:
            self._broadcast({"type": event.kind, "message": self._message(event.message)})
        elif event.kind == "delete" and event.message is not None:
            self._broadcast(
                {"type": "delete", "chat_id": event.chat_id, "id": event.message.message_id}
            )
        elif event.kind == "callback_answer" and event.answer is not None:
            self._broadcast(
                {
                    "type": "answer",
                    "chat_id": event.chat_id,
                    "text": event.answer.text or "",
                    "alert": event.answer.show_alert,
                }
            )
        elif event.kind == "commands":
            self._broadcast({"type": "menus", "menus": self._menus()})

    def _menus(self) -> dict[str, dict[str, list[list[str]]]]:
        server = self.runtime.server
        if server is None:
            return {}
        return {
            str(p.id): {
                lang: [list(c) for c in server.menu_commands(p.id, lang)] for lang in ("zh", "en")
            }
            for p in PEOPLE
        }

    def _clock(self) -> dict[str, Any]:
        offset = self.runtime.clock.offset
        return {
            "now": local_time(self.runtime.clock()),
            "offset_hours": round(offset.total_seconds() / 3600, 2),
        }

    def _state(self) -> dict[str, Any]:
        chats: dict[str, list[dict[str, Any]]] = {}
        for person in PEOPLE:
            chats[str(person.id)] = [self._message(v) for v in self.runtime.user(person.id).history]
        return {
            "type": "state",
            "people": [
                {"id": p.id, "name": p.name, "role": p.role, "lang": self._languages[p.id]}
                for p in PEOPLE
            ],
            "chats": chats,
            "menus": self._menus(),
            "clock": self._clock(),
        }

    # --- HTTP ------------------------------------------------------------------------------
    async def _index(self, request: web.Request) -> web.Response:
        return web.Response(
            text=(STATIC / "index.html").read_text(encoding="utf-8"),
            content_type="text/html",
            headers={"Cache-Control": "no-store"},
        )

    async def _static(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        if name not in STATIC_FILES:
            raise web.HTTPNotFound()
        return web.Response(
            text=(STATIC / name).read_text(encoding="utf-8"),
            content_type=STATIC_FILES[name],
            headers={"Cache-Control": "no-store"},
        )

    async def _file(self, request: web.Request) -> web.Response:
        try:
            chat_id, message_id = (
                int(request.match_info["chat_id"]),
                int(request.match_info["message_id"]),
            )
            person = next(p for p in PEOPLE if p.id == chat_id)
            view = self.runtime.user(person.id).current(message_id)
        except (ValueError, StopIteration, KeyError, RuntimeError):
            raise web.HTTPNotFound() from None
        if view.file_bytes is None or (view.document is None and view.photo is None):
            raise web.HTTPNotFound()
        if view.document is None:  # a picture, shown in the chat
            png = view.file_bytes[:8] == b"\x89PNG\r\n\x1a\n"
            return web.Response(
                body=view.file_bytes, content_type="image/png" if png else "image/jpeg"
            )
        name = view.document.get("file_name") or "file"
        return web.Response(
            body=view.file_bytes,
            content_type=view.document.get("mime_type") or "application/octet-stream",
            headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quote(name)}"},
        )

    def _origin_ok(self, request: web.Request) -> bool:
        origin = request.headers.get("Origin")
        if origin is None:
            return True
        return origin in (f"http://127.0.0.1:{self.port}", f"http://localhost:{self.port}")

    async def _ws(self, request: web.Request) -> web.StreamResponse:
        if not self._origin_ok(request):
            raise web.HTTPForbidden(text="the demo page only talks to itself")
        ws = web.WebSocketResponse(heartbeat=20)
        await ws.prepare(request)
        queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()
        queue.put_nowait(self._state())
        self._clients.add(queue)
        writer = asyncio.create_task(self._write(ws, queue))
        try:
            async for msg in ws:
                if msg.type != WSMsgType.TEXT:
                    continue
                try:
                    await self._act(msg.json(), queue)
                except Exception as exc:  # noqa: BLE001 - tell the page, keep the socket
                    log.exception("demo action failed")
                    queue.put_nowait(
                        {"type": "toast", "text": f"{type(exc).__name__}: {exc}"[:200]}
                    )
        finally:
            self._clients.discard(queue)
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await writer
        return ws

    async def _write(
        self, ws: web.WebSocketResponse, queue: asyncio.Queue[dict[str, Any] | None]
    ) -> None:
        while True:
            payload = await queue.get()
            if payload is None:
                await ws.close()
                return
            await ws.send_json(payload)

    async def _act(
        self, action: dict[str, Any], queue: asyncio.Queue[dict[str, Any] | None]
    ) -> None:
        kind = action.get("type")
        if kind == "send":
            text = str(action.get("text", "")).strip()
            if text:
                await self.runtime.user(int(action["user"])).send(text[:MAX_TEXT])
        elif kind == "tap":
            user = self.runtime.user(int(action["user"]))
            try:
                await user.tap(int(action["message"]), str(action["data"]))
            except (LookupError, ValueError):
                queue.put_nowait(
                    {"type": "toast", "chat_id": user.id, "text": "This button is gone."}
                )
        elif kind == "lang":
            lang = "zh" if action.get("lang") == "zh" else "en"
            user_id = int(action["user"])
            self.runtime.user(user_id).language_code = lang
            self._languages[user_id] = lang
            self._broadcast({"type": "lang", "user": user_id, "lang": lang})
        elif kind == "advance" and action.get("step") in STEPS:
            self._background(self._advance(action["step"]))
        elif kind == "reset":
            self._background(self._reset())

    def _background(self, work: Any) -> None:
        """Long actions (a reminders tick paces its sends; a reset re-seeds) run beside the
        socket, so the page keeps sending while they work."""
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _advance(self, step: str) -> None:
        def moved() -> None:
            self._broadcast({"type": "clock", "clock": self._clock(), "step": step})

        try:
            _now, delivered, error = await self.runtime.advance(step, on_moved=moved)
        except Exception as exc:  # noqa: BLE001
            log.exception("moving the demo clock failed")
            delivered, error = {}, f"{type(exc).__name__}: {exc}"[:200]
        self._broadcast(
            {
                "type": "tick",
                "clock": self._clock(),
                "step": step,
                "delivered": delivered,
                "error": error,
            }
        )

    async def _reset(self) -> None:
        self._broadcast({"type": "resetting"})
        try:
            await self.runtime.reset()
        finally:
            self._times.clear()
            if self.runtime.server is not None:
                self._apply_languages()
                self._broadcast(self._state())
