"""StreamServer's default transport: the engine's HTTP server (pytrickle._native.NativeHttpServer).

The engine reads each request (body included, 1 MiB at most, as aiohttp's default) on its io
thread; the event loop is woken through an eventfd and runs the same route handlers the aiohttp
transport runs, with a request object that offers what they use (content_type, text(), json(),
read(), headers, method, path, query). Unknown paths and methods get aiohttp's plain-text 404/405.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any, Awaitable, Callable, Dict, List, Optional, Tuple
from urllib.parse import parse_qsl, urlsplit

from ._native_loader import load_native

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 1024 * 1024  # aiohttp's client_max_size default
Handler = Callable[[Any], Awaitable[Any]]


class RequestEntityTooLarge(Exception):
    """Raised by text()/read()/json() when the body was over the limit (aiohttp's message)."""

    def __init__(self) -> None:
        super().__init__("Request Entity Too Large")


class _Headers(dict):
    """Case-insensitive header lookup (the last value of a repeated header wins)."""

    def __init__(self, pairs: List[Tuple[str, str]]):
        super().__init__((name.lower(), value) for name, value in pairs)

    def get(self, key: str, default: Any = None) -> Any:
        return super().get(key.lower(), default)

    def __getitem__(self, key: str) -> str:
        return super().__getitem__(key.lower())

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and super().__contains__(key.lower())


class NativeRequest:
    def __init__(self, method: str, target: str, headers: List[Tuple[str, str]], body: bytes, too_large: bool):
        self.method = method
        parts = urlsplit(target)
        self.path = parts.path
        self.path_qs = target
        self.query = dict(parse_qsl(parts.query))
        self.headers = _Headers(headers)
        self.match_info: Dict[str, str] = {}
        self._body = body
        self._too_large = too_large
        raw_type = self.headers.get("content-type", "")
        media_type, _, parameters = raw_type.partition(";")
        self.content_type = media_type.strip().lower() or "application/octet-stream"
        self.charset: Optional[str] = None
        for parameter in parameters.split(";"):
            name, _, value = parameter.partition("=")
            if name.strip().lower() == "charset" and value.strip():
                self.charset = value.strip().strip('"')

    @property
    def can_read_body(self) -> bool:
        return bool(self._body)

    async def read(self) -> bytes:
        if self._too_large:
            raise RequestEntityTooLarge()
        return self._body

    async def text(self) -> str:
        return (await self.read()).decode(self.charset or "utf-8")

    async def json(self, *, loads=json.loads) -> Any:
        return loads(await self.text())


def _serialize(response: Any) -> Tuple[int, List[Tuple[str, str]], bytes]:
    """An aiohttp web.Response, or our PlainResponse, as (status, headers, body)."""
    status = int(getattr(response, "status", 200))
    body = getattr(response, "body", None)
    if body is None:
        text = getattr(response, "text", "") or ""
        body = text.encode("utf-8")
    elif isinstance(body, str):
        body = body.encode("utf-8")
    content_type = getattr(response, "content_type", None) or "application/octet-stream"
    charset = getattr(response, "charset", None)
    header_value = f"{content_type}; charset={charset}" if charset else content_type
    headers = [("Content-Type", header_value)]
    for name, value in getattr(response, "headers", {}).items():
        if name.lower() not in ("content-type", "content-length", "transfer-encoding", "connection"):
            headers.append((name, value))
    return status, headers, bytes(body)


class NativeTransport:
    """Serves `routes` ({path: {method: handler}}) on the engine's HTTP server."""

    def __init__(self, routes: Dict[str, Dict[str, Handler]]):
        self.routes = routes
        self._native = None
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._tasks: set = set()
        self.host = ""

    async def start(self, host: str, port: int) -> None:
        self._loop = asyncio.get_running_loop()
        self._native = load_native().NativeHttpServer(host, port, MAX_BODY_BYTES)
        self.host = host
        self._loop.add_reader(self._native.fileno(), self._on_requests)

    @property
    def port(self) -> Optional[int]:
        return None if self._native is None else self._native.port

    @property
    def addresses(self) -> List[Tuple[str, int]]:
        """As aiohttp's AppRunner.addresses: what code that reads the bound port looks at."""
        return [] if self._native is None else [(self.host, self._native.port)]

    def _on_requests(self) -> None:
        native = self._native
        if native is None:
            return
        for request in native.pop_requests():
            task = self._loop.create_task(self._serve(*request))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _serve(self, request_id: int, method: str, target: str, headers, body: bytes, too_large: bool) -> None:
        request = NativeRequest(method, target, headers, body, too_large)
        try:
            answer = await self._dispatch(request)
        except Exception as error:  # noqa: BLE001 - a handler bug answers 500, as aiohttp does
            logger.exception("handler for %s %s failed", method, request.path)
            answer = (500, [("Content-Type", "text/plain; charset=utf-8")], b"500 Internal Server Error\n\n"
                      b"Server got itself in trouble")
            del error
        native = self._native
        if native is not None:
            status, response_headers, response_body = answer
            native.respond(request_id, status, response_headers, response_body)

    async def _dispatch(self, request: NativeRequest) -> Tuple[int, List[Tuple[str, str]], bytes]:
        methods = self.routes.get(request.path)
        if methods is None:
            return 404, [("Content-Type", "text/plain; charset=utf-8")], b"404: Not Found"
        method = "GET" if request.method == "HEAD" and "GET" in methods else request.method
        handler = methods.get(method)
        if handler is None:
            allow = ",".join(sorted(set(methods) | ({"HEAD"} if "GET" in methods else set())))
            return 405, [("Content-Type", "text/plain; charset=utf-8"), ("Allow", allow)], b"405: Method Not Allowed"
        return _serialize(await handler(request))

    async def cleanup(self) -> None:
        native, self._native = self._native, None
        if native is None:
            return
        try:
            self._loop.remove_reader(native.fileno())
        except (ValueError, OSError):
            pass
        native.stop()
        for task in list(self._tasks):
            task.cancel()
