"""The HTTP side: ``/bot<token>/<method>`` dispatched to a method by name (case-insensitive,
as Telegram does), ``/file/bot<token>/<path>`` for downloads; every call is logged in
``state.calls`` and answered in Telegram's JSON envelope."""

from __future__ import annotations

import time
from typing import Any

from aiohttp import web

from .flood import FloodPolicy
from .methods import Method
from .records import CallRecord
from .state import State
from .validation import ApiError, bad

__all__ = ["Router"]

Files = dict[str, tuple[str | None, bytes, str]]


class Router:
    def __init__(self, token: str, state: State, flood: FloodPolicy, methods: dict[str, Method]):
        self.token = token
        self.state = state
        self.flood = flood
        self.methods = {name.lower(): handler for name, handler in methods.items()}

    def application(self) -> web.Application:
        app = web.Application(client_max_size=60 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self.handle)
        app.router.add_get("/file/bot{token}/{path:.+}", self.handle_file)
        return app

    async def handle(self, request: web.Request) -> web.Response:
        state = self.state
        method = request.match_info["method"]
        t = time.monotonic()
        if request.match_info["token"] != self.token:
            return self.respond(method, {}, ApiError(401, "Unauthorized"), t)
        handler = self.methods.get(method.lower())
        if handler is None:
            return self.respond(method, {}, ApiError(404, "Not Found"), t)
        is_poll = method.lower() == "getupdates"
        if not is_poll:
            state.inflight += 1
            state.last_activity = t
            state.notify()
        params: dict[str, Any] = {}
        files: Files = {}
        try:
            params, files = await read_params(request)
            self.flood.check(method, params, t)
            result = await handler(params, files)
            outcome: Any = result
        except ApiError as exc:
            outcome = exc
        except Exception as exc:  # a bug in the fake itself: make it visible in .errors
            outcome = ApiError(500, f"Internal Server Error (fake API bug: {exc!r})")
        finally:
            if not is_poll:
                state.inflight -= 1
                state.last_activity = time.monotonic()
        if is_poll and (request.transport is None or request.transport.is_closing()):
            # PTB cancelled this long poll (e.g. on shutdown); nothing reaches the bot
            outcome = ApiError(499, "client closed the request (long poll abandoned)")
        elif is_poll and isinstance(outcome, list) and outcome:
            state.delivered(outcome[-1]["update_id"])
            state.last_activity = time.monotonic()
        response = self.respond(method, params, outcome, t, files)
        state.notify()
        return response

    def respond(
        self,
        method: str,
        params: dict[str, Any],
        outcome: Any,
        t: float,
        files: Files | None = None,
    ) -> web.Response:
        logged = dict(params)
        for key, (name, data, mime) in (files or {}).items():
            logged[key] = {"filename": name, "size": len(data), "mime_type": mime}
        if isinstance(outcome, ApiError):
            retry = (outcome.parameters or {}).get("retry_after")
            self.state.calls.append(
                CallRecord(method, logged, outcome.code, t, outcome.description, retry)
            )
            return web.json_response(outcome.payload(), status=outcome.code)
        self.state.calls.append(CallRecord(method, logged, 200, t))
        return web.json_response({"ok": True, "result": outcome})

    async def handle_file(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return web.json_response(
                {"ok": False, "error_code": 401, "description": "Unauthorized"}, status=401
            )
        path = request.match_info["path"]
        for data, _name, mime, file_path in self.state.files.values():
            if file_path == path:
                return web.Response(body=data, content_type=mime)
        return web.json_response(
            {"ok": False, "error_code": 404, "description": "Not Found"}, status=404
        )


async def read_params(request: web.Request) -> tuple[dict[str, Any], Files]:
    """The call's parameters from the query string and a JSON, urlencoded or multipart body."""
    params: dict[str, Any] = dict(request.query)
    files: Files = {}
    if request.can_read_body:
        ctype = request.content_type
        if ctype == "application/json":
            try:
                body = await request.json()
            except ValueError:
                raise bad("can't parse JSON body") from None
            if not isinstance(body, dict):
                raise bad("JSON body must be an object")
            params.update(body)
        elif ctype in ("application/x-www-form-urlencoded", "multipart/form-data"):
            form = await request.post()
            for key, value in form.items():
                if isinstance(value, web.FileField):
                    files[key] = (value.filename, value.file.read(), value.content_type)
                else:
                    params[key] = value
        else:
            await request.read()
    return params, files
