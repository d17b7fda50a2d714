"""User code that changes ``server.app`` after constructing a StreamServer (ComfyStream's worker
appends startup hooks and adds routes this way) gets upstream's behaviour: the server is then
served by aiohttp, so every kind of change takes effect — each signal's hooks run, routes answer,
middlewares wrap the default routes, state is there for handlers. A server nobody touched stays on
the engine's HTTP server."""

from __future__ import annotations

import asyncio
import contextlib
import warnings

import pytest

from python_worker import PythonWorker, make_server
from test_python_stream import RecordingProcessor
from trickle_testutil import http_request

web = pytest.importorskip("aiohttp.web", reason="server.app exists only with aiohttp installed")


def change_signal(signal_name: str):
    def change(app, seen):
        async def hook(*args):
            seen.append(signal_name)
        getattr(app, signal_name).append(hook)
    return change


def add_cleanup_context(app, seen):
    async def context(app):
        seen.append("cleanup_ctx: up")
        yield
        seen.append("cleanup_ctx: down")
    app.cleanup_ctx.append(context)


def add_middleware(app, seen):
    @web.middleware
    async def tag(request, handler):
        seen.append(f"middleware {request.path}")
        return await handler(request)
    app.middlewares.append(tag)


def add_route(app, seen):
    async def hello(request):
        seen.append("route")
        return web.json_response({"hello": request.app.get("who", "nobody")})
    app.router.add_get("/hello", hello)


def store_state(app, seen):
    with warnings.catch_warnings():  # aiohttp prefers AppKey keys; user code written for upstream uses strings
        warnings.simplefilter("ignore")
        app["who"] = "world"


def add_route_using_state(app, seen):
    store_state(app, seen)
    add_route(app, seen)


CHANGES = {
    "on_startup": (change_signal("on_startup"), ["on_startup"], ["on_startup"]),
    "on_shutdown": (change_signal("on_shutdown"), [], ["on_shutdown"]),
    "on_cleanup": (change_signal("on_cleanup"), [], ["on_cleanup"]),
    "on_response_prepare": (change_signal("on_response_prepare"), ["on_response_prepare"], None),
    "cleanup_ctx": (add_cleanup_context, ["cleanup_ctx: up"], ["cleanup_ctx: up", "cleanup_ctx: down"]),
    "middlewares": (add_middleware, ["middleware /health"], None),
    "router": (add_route, ["route"], None),
    "state": (add_route_using_state, ["route"], None),
}


@pytest.mark.parametrize("kind", sorted(CHANGES))
async def test_each_change_to_server_app_takes_effect(kind):
    change, while_serving, after_close = CHANGES[kind]
    seen: list[str] = []
    server = make_server(RecordingProcessor())
    change(server.app, seen)
    worker = await PythonWorker(server).start()
    closed = False
    try:
        assert isinstance(server._runner, web.AppRunner), "a changed server.app is served by aiohttp"
        await worker.wait_health("IDLE")
        if kind in ("router", "state"):
            status, _, body = await asyncio.to_thread(http_request, "GET", worker.base + "/hello")
            expected = b'{"hello": "world"}' if kind == "state" else b'{"hello": "nobody"}'
            assert (status, body) == (200, expected)
        for item in while_serving:
            assert any(entry.startswith(item) for entry in seen), (item, seen)
        await worker.close()
        closed = True
        if after_close is not None:
            assert [entry for entry in seen if entry in after_close] == after_close, seen
    finally:
        if not closed:
            with contextlib.suppress(Exception):
                await worker.close()


async def test_an_untouched_app_keeps_the_engines_http_server():
    from pytrickle._native_http import NativeTransport

    server = make_server(RecordingProcessor())
    server.app.get("anything")  # reading is not changing
    worker = await PythonWorker(server).start()
    try:
        assert isinstance(server._runner, NativeTransport)
    finally:
        await worker.close()
