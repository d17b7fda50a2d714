"""pytrickle.base (spec 14.3-14.4) and pytrickle.version (spec 0.2)."""

from __future__ import annotations

import asyncio
import logging
import time
from types import SimpleNamespace

import pytest

from pytrickle import base
from pytrickle.base import ComponentState, ErrorCallback, TrickleComponent, setup_asyncio_exception_handler


def test_component_state_values():
    assert [s.value for s in ComponentState] == [
        "INIT", "STARTING", "RUNNING", "STOPPING", "STOPPED", "ERROR", "SHUTDOWN"]
    assert all(s.name == s.value for s in ComponentState)


def test_error_callback_alias():
    assert ErrorCallback is not None
    assert "Coroutine" in repr(ErrorCallback)


async def test_initial_attributes():
    before = time.time()
    c = TrickleComponent()
    assert c.component_name == "unknown" and c.error_callback is None
    assert c.component_state is ComponentState.INIT
    assert c.last_error is None and before <= c.last_activity <= time.time()
    assert isinstance(c.error_event, asyncio.Event) and isinstance(c.shutdown_event, asyncio.Event)
    assert c._background_tasks == []
    assert c._should_stop() is False
    assert c.get_component_health() == {
        "component": "unknown", "state": "INIT", "error": False, "last_error": None,
        "last_activity": c.last_activity, "should_stop": False}


async def test_update_state_and_shutdown():
    c = TrickleComponent(component_name="pub")
    c._update_state(ComponentState.RUNNING)
    assert c.component_state is ComponentState.RUNNING
    await c.shutdown()
    assert c.component_state is ComponentState.SHUTDOWN
    assert c.shutdown_event.is_set() and c._should_stop()
    assert c.get_component_health()["state"] == "SHUTDOWN"


async def test_notify_error_calls_callback(caplog):
    seen = []

    async def cb(kind, exc):
        seen.append((kind, exc))

    c = TrickleComponent(error_callback=cb, component_name="sub")
    err = RuntimeError("socket closed")
    with caplog.at_level(logging.ERROR, logger="pytrickle.base"):
        await c._notify_error("post_failed", err)
    assert seen == [("post_failed", err)]
    assert c.error_event.is_set() and c._should_stop()
    assert c.component_state is ComponentState.ERROR
    assert c.last_error == "post_failed: socket closed"
    assert "Component sub error: post_failed: socket closed" in caplog.text
    health = c.get_component_health()
    assert health["error"] is True and health["state"] == "ERROR" and health["should_stop"] is True

    await c._notify_error("stream_not_found")
    assert c.last_error == "stream_not_found: Unknown error"
    assert seen[-1] == ("stream_not_found", None)


async def test_notify_error_callback_failure_is_logged(caplog):
    async def cb(kind, exc):
        raise ValueError("cb broke")

    c = TrickleComponent(error_callback=cb)
    with caplog.at_level(logging.ERROR, logger="pytrickle.base"):
        await c._notify_error("x", None)
    assert "Error in error callback: cb broke" in caplog.text


async def test_track_background_task():
    c = TrickleComponent()

    async def fail():
        raise RuntimeError("ignored")

    gate = asyncio.Event()

    async def wait():
        await gate.wait()
        return 5

    t1 = asyncio.create_task(fail())
    t2 = asyncio.create_task(wait())
    c._track_background_task(t1)
    c._track_background_task(t2)
    assert c._background_tasks == [t1, t2]
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert t1 not in c._background_tasks  # done, exception consumed
    gate.set()
    await t2
    await asyncio.sleep(0)
    assert c._background_tasks == []

    t3 = asyncio.create_task(wait())
    await t3
    c._track_background_task(t3)  # already done: removed immediately
    assert c._background_tasks == []

    t4 = asyncio.create_task(asyncio.sleep(10))
    c._track_background_task(t4)
    t4.cancel()
    with pytest.raises(asyncio.CancelledError):
        await t4
    await asyncio.sleep(0)
    assert c._background_tasks == []


def test_setup_exception_handler_without_loop(caplog):
    with caplog.at_level(logging.DEBUG, logger="pytrickle.base"):
        setup_asyncio_exception_handler()
    assert "No running asyncio loop, exception handler will be set later" in caplog.text


async def test_setup_exception_handler_filters_connection_reset(monkeypatch):
    class FakeReset(Exception):
        pass

    monkeypatch.setattr(base, "aiohttp", SimpleNamespace(ClientConnectionResetError=FakeReset))
    loop = asyncio.get_running_loop()
    previous = loop.get_exception_handler()
    forwarded = []
    monkeypatch.setattr(loop, "default_exception_handler", lambda ctx: forwarded.append(ctx))
    try:
        setup_asyncio_exception_handler()
        handler = loop.get_exception_handler()
        assert handler is not None
        handler(loop, {"exception": FakeReset("reset"), "message": "m"})
        assert forwarded == []
        ctx = {"exception": ValueError("other"), "message": "m"}
        handler(loop, ctx)
        assert forwarded == [ctx]

        # Without aiohttp (or an aiohttp lacking the class) nothing is filtered.
        monkeypatch.setattr(base, "aiohttp", None)
        handler(loop, {"exception": FakeReset("reset")})
        monkeypatch.setattr(base, "aiohttp", SimpleNamespace())
        handler(loop, {"exception": FakeReset("reset")})
        assert len(forwarded) == 3
    finally:
        loop.set_exception_handler(previous)


def test_version():
    from pytrickle import _version, version

    assert version.__version__.startswith("0.1.")
    assert version.VERSION == version.__version__
    assert _version.version == "0.1.6" and _version.__version__ == "0.1.6"


def test_version_fallback(monkeypatch):
    import importlib.metadata as md

    from pytrickle import version

    monkeypatch.setattr(md, "version", lambda name: "2.0.0")
    assert version._detect_version() == "0.1.6"

    def missing(name):
        raise md.PackageNotFoundError(name)

    monkeypatch.setattr(md, "version", missing)
    assert version._detect_version() == "0.1.6"
    monkeypatch.setattr(md, "version", lambda name: "0.1.9")
    assert version._detect_version() == "0.1.9"
