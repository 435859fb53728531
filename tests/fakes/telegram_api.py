"""A local Telegram Bot API: the documented JSON shapes, statuses and `getUpdates` semantics.

Speaks what python-telegram-bot sends: `POST /bot<token>/<method>` with parameters
form-encoded (JSON-encoded values for objects and lists) or multipart for uploads, and
`GET /file/bot<token>/<path>` for downloads. Answers `{"ok": true, "result": ...}` or
`{"ok": false, "error_code", "description", "parameters": {"retry_after"}}`. getUpdates
confirms every update below `offset`, as the real one does. Tests queue customer messages,
failures (429 with retry_after, 403 blocked, 401), dropped connections, and read back calls.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.fakes.threaded import ThreadedServer

JSON_PARAMS = frozenset({"reply_parameters", "allowed_updates", "entities", "reply_markup"})
INT_PARAMS = frozenset({"chat_id", "offset", "limit", "timeout", "message_thread_id"})
FILE_PARAMS = ("photo", "document")


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    files: dict[str, tuple[str, bytes]] = field(default_factory=dict)


@dataclass
class Failure:
    status: int
    description: str
    retry_after: int | None = None
    drop: bool = False
    after: int = 0  # calls to let through first


class FakeTelegram(ThreadedServer):
    def __init__(
        self,
        token: str = "123456:TEST-token",
        bot_id: int = 777000,
        username: str = "heard_test_bot",
    ) -> None:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._method)
        app.router.add_get("/file/bot{token}/{path:.+}", self._file)
        super().__init__(app)
        self.token = token
        self.bot = {"id": bot_id, "is_bot": True, "first_name": "Heard", "username": username}
        self.updates: list[dict[str, Any]] = []
        self.calls: list[Call] = []
        self.files: dict[str, tuple[str, bytes]] = {}
        self.blocked: set[int] = set()
        self.failures: dict[str, deque[Failure]] = {}
        self.webhook: dict[str, Any] = {}
        self.revoked = False
        self._update_ids = itertools.count(1000)
        self._message_ids = itertools.count(1)

    # Test-side controls ---------------------------------------------------------------------
    def add_update(self, update: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            update.setdefault("update_id", next(self._update_ids))
            self.updates.append(update)
            return update

    def message(
        self,
        text: str = "Hello, my order has not arrived",
        *,
        user_id: int = 4242,
        first_name: str = "Ada",
        chat_id: int | None = None,
        chat_type: str = "private",
        **extra: Any,
    ) -> dict[str, Any]:
        """The JSON of a new customer message (not queued; see `add_message`)."""
        chat: dict[str, Any] = {"id": chat_id or user_id, "type": chat_type}
        if chat_type == "private":
            chat["first_name"] = first_name
        else:
            chat["title"] = "Customers"
        message = {
            "message_id": next(self._message_ids),
            "date": int(time.time()),
            "chat": chat,
            "from": {
                "id": user_id,
                "is_bot": False,
                "first_name": first_name,
                "language_code": "en",
            },
            **extra,
        }
        if text and "caption" not in extra:
            message["text"] = text
        return message

    def add_message(
        self, text: str = "Hello, my order has not arrived", **kwargs: Any
    ) -> dict[str, Any]:
        return self.add_update({"message": self.message(text, **kwargs)})

    def add_edit(self, original: dict[str, Any], text: str) -> dict[str, Any]:
        edited = {**original["message"], "text": text, "edit_date": int(time.time()) + 1}
        return self.add_update({"edited_message": edited})

    def add_file(self, file_id: str, data: bytes, path: str) -> None:
        with self.lock:
            self.files[file_id] = (path, data)

    def fail_next(
        self,
        method: str,
        status: int,
        description: str,
        retry_after: int | None = None,
        *,
        after: int = 0,
    ) -> None:
        """Answer the next `method` call (after letting `after` calls through) with an error."""
        with self.lock:
            self.failures.setdefault(method, deque()).append(
                Failure(status, description, retry_after, after=after)
            )

    def drop_next(self, method: str) -> None:
        """Close the connection without an answer (after the request arrived)."""
        with self.lock:
            self.failures.setdefault(method, deque()).append(Failure(0, "", drop=True))

    def sent(self, *methods: str) -> list[Call]:
        wanted = set(methods or ("sendMessage", "sendPhoto", "sendDocument"))
        with self.lock:
            return [c for c in self.calls if c.method in wanted]

    def _take_failure(self, method: str) -> Failure | None:
        queued = self.failures.get(method)
        if not queued:
            return None
        if queued[0].after > 0:
            queued[0].after -= 1
            return None
        return queued.popleft()

    # Bot API --------------------------------------------------------------------------------
    async def _method(self, request: web.Request) -> web.StreamResponse:
        method = request.match_info["method"]
        params, files = await _params(request)
        with self.lock:
            self.calls.append(Call(method, params, files))
            if request.match_info["token"] != self.token or self.revoked:
                return _error(401, "Unauthorized")
            failure = self._take_failure(method)
        if failure and failure.drop:
            if request.transport is not None:
                request.transport.abort()
            return web.Response(status=500)
        if failure:
            return _error(failure.status, failure.description, failure.retry_after)
        if method == "getUpdates" and int(params.get("timeout", 0)) > 0:
            await self._long_poll(params)
        handler = getattr(self, f"_api_{method}", None)
        if handler is None:
            return _error(404, "Not Found")
        with self.lock:
            result: Any = handler(params, files)
        if isinstance(result, web.Response):
            return result
        return web.json_response({"ok": True, "result": result})

    async def _long_poll(self, params: dict[str, Any]) -> None:
        """Bot API long polling: hold the request until an update at or after offset exists."""
        deadline = time.monotonic() + int(params["timeout"])
        offset = int(params.get("offset") or 0)
        while time.monotonic() < deadline:
            with self.lock:
                if any(u.get("update_id", offset) >= offset for u in self.updates):
                    return
            await asyncio.sleep(0.02)

    def _api_getMe(self, params: dict[str, Any], files: Any) -> Any:
        return {
            **self.bot,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }

    def _api_getUpdates(self, params: dict[str, Any], files: Any) -> Any:
        offset = params.get("offset")
        if offset is not None:
            # Bot API: "An update is considered confirmed as soon as getUpdates is called with
            # an offset higher than its update_id."
            self.updates = [u for u in self.updates if u.get("update_id", offset) >= offset]
        limit = int(params.get("limit", 100))
        return self.updates[:limit]

    def _api_setWebhook(self, params: dict[str, Any], files: Any) -> Any:
        self.webhook = dict(params)
        return True

    def _api_deleteWebhook(self, params: dict[str, Any], files: Any) -> Any:
        self.webhook = {}
        return True

    def _api_getFile(self, params: dict[str, Any], files: Any) -> Any:
        file_id = str(params.get("file_id"))
        if file_id not in self.files:
            return _error(400, "Bad Request: invalid file_id")
        path, data = self.files[file_id]
        if len(data) > 20 * 1024 * 1024:
            return _error(400, "Bad Request: file is too big")
        return {
            "file_id": file_id,
            "file_unique_id": f"u{file_id}",
            "file_size": len(data),
            "file_path": path,
        }

    def _api_sendMessage(self, params: dict[str, Any], files: Any) -> Any:
        text = str(params.get("text", ""))
        if not text:
            return _error(400, "Bad Request: message text is empty")
        if len(text.encode("utf-16-le")) // 2 > 4096:
            return _error(400, "Bad Request: message is too long")
        return self._sent_message(params, text=text)

    def _api_sendPhoto(self, params: dict[str, Any], files: dict[str, tuple[str, bytes]]) -> Any:
        _name, data = files.get("photo", ("", b""))
        photo = [
            {
                "file_id": "sent-photo",
                "file_unique_id": "sp",
                "width": 1,
                "height": 1,
                "file_size": len(data),
            }
        ]
        return self._sent_message(params, photo=photo)

    def _api_sendDocument(self, params: dict[str, Any], files: dict[str, tuple[str, bytes]]) -> Any:
        name, data = files.get("document", ("", b""))
        document = {
            "file_id": "sent-doc",
            "file_unique_id": "sd",
            "file_name": name,
            "file_size": len(data),
        }
        return self._sent_message(params, document=document)

    def _sent_message(self, params: dict[str, Any], **content: Any) -> Any:
        chat_id = int(params["chat_id"])
        if chat_id in self.blocked:
            return _error(403, "Forbidden: bot was blocked by the user")
        chat_type = "private" if chat_id > 0 else "supergroup"
        return {
            "message_id": next(self._message_ids),
            "date": int(time.time()),
            "chat": {"id": chat_id, "type": chat_type},
            "from": self.bot,
            **content,
        }

    async def _file(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return web.Response(status=401)
        path = request.match_info["path"]
        with self.lock:
            for stored_path, data in self.files.values():
                if stored_path == path:
                    return web.Response(body=data, content_type="application/octet-stream")
        return web.Response(status=404)


async def _params(request: web.Request) -> tuple[dict[str, Any], dict[str, tuple[str, bytes]]]:
    params: dict[str, Any] = {}
    files: dict[str, tuple[str, bytes]] = {}
    if request.content_type == "application/json":
        params = dict(await request.json())
    elif request.can_read_body:
        for key, value in (await request.post()).items():
            if isinstance(value, web.FileField):
                files[key] = (value.filename, value.file.read())
            else:
                params[key] = _decode(key, str(value))
    else:
        params = dict(request.query)
    for key in files:
        params.setdefault(key, f"attach://{key}")
    return params, files


def _decode(key: str, value: str) -> Any:
    """PTB sends str values as they are and everything else JSON-encoded."""
    if key in JSON_PARAMS:
        return json.loads(value)
    if key in INT_PARAMS:
        return int(value)
    return value


def _error(status: int, description: str, retry_after: int | None = None) -> web.Response:
    body: dict[str, Any] = {"ok": False, "error_code": status, "description": description}
    if retry_after is not None:
        body["parameters"] = {"retry_after": retry_after}
    return web.json_response(body, status=status)
