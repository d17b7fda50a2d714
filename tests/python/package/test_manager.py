"""pytrickle.manager and pytrickle.stream_handler (spec section 19)."""

from __future__ import annotations

import asyncio
import logging

import pytest

from pytrickle.base import ComponentState
from pytrickle.manager import BaseStreamManager, StreamHandler, TrickleStreamManager
from pytrickle.state import StreamState
from pytrickle import stream_handler as stream_handler_module
from pytrickle.stream_handler import TrickleStreamHandler


class FakeHandler(StreamHandler):
    """Small concrete handler: start/stop outcomes are configurable."""

    def __init__(self, request_id="", start_ok=True, start_raises=None, stop_ok=True,
                 stop_raises=None, stop_delay=0.0, **kwargs):
        super().__init__(**kwargs)
        self.request_id = request_id
        self.start_ok = start_ok
        self.start_raises = start_raises
        self.stop_ok = stop_ok
        self.stop_raises = stop_raises
        self.stop_delay = stop_delay
        self._running = False
        self.stop_calls = []

    @property
    def running(self) -> bool:
        return self._running

    async def start(self) -> bool:
        if self.start_raises:
            raise self.start_raises
        self._running = self.start_ok
        return self.start_ok

    async def stop(self, *, called_by_manager: bool = False) -> bool:
        self.stop_calls.append(called_by_manager)
        if self.stop_delay:
            await asyncio.sleep(self.stop_delay)
        if self.stop_raises:
            raise self.stop_raises
        self._running = False
        return self.stop_ok


class FakeManager(BaseStreamManager):
    def __init__(self, stream_state=None, **handler_kwargs):
        super().__init__(stream_state)
        self.handler_kwargs = handler_kwargs
        self.created = []

    async def create_stream_handler(self, request_id, **kwargs):
        handler = FakeHandler(request_id, **{**self.handler_kwargs, **kwargs})
        self.created.append(handler)
        return handler


# ---- StreamHandler ----------------------------------------------------------------------

async def test_stream_handler_base_is_abstract_in_practice():
    h = StreamHandler()
    assert (h.width, h.height) == (512, 512)
    with pytest.raises(NotImplementedError):
        h.running
    with pytest.raises(NotImplementedError):
        await h.start()
    with pytest.raises(NotImplementedError):
        await h.stop(called_by_manager=True)


def test_update_resolution(caplog):
    h = StreamHandler(width=640, height=480)
    with caplog.at_level(logging.INFO, logger="pytrickle.manager"):
        assert h.update_resolution(640, 480) is False
        assert h.update_resolution(1280, 720) is True
    assert (h.width, h.height) == (1280, 720)
    assert "Resolution updated from 640x480 to 1280x720" in caplog.text


def test_stream_handler_is_cooperative():
    class Mixin:
        def __init__(self, extra=None, **kwargs):
            super().__init__(**kwargs)
            self.extra = extra

    class Combined(StreamHandler, Mixin):
        pass

    c = Combined(width=8, height=4, extra="x")
    assert (c.width, c.height, c.extra) == (8, 4, "x")


# ---- BaseStreamManager ------------------------------------------------------------------

def test_base_manager_is_abstract():
    with pytest.raises(TypeError):
        BaseStreamManager()


async def test_create_stop_list_and_state_counts():
    state = StreamState()
    m = FakeManager(state)
    assert m.handlers == {} and m.stream_state is state
    assert isinstance(m.lock, asyncio.Lock)

    assert await m.create_stream("a", width=320, height=240) is True
    assert await m.create_stream("b") is True
    assert state.active_streams == 2
    assert set(m.handlers) == {"a", "b"}

    assert await m.get_stream_status("a") == {"request_id": "a", "running": True,
                                             "width": 320, "height": 240}
    assert await m.get_stream_status("missing") is None
    assert await m.list_streams() == {
        "a": {"request_id": "a", "running": True, "width": 320, "height": 240},
        "b": {"request_id": "b", "running": True, "width": 512, "height": 512},
    }

    handler_a = m.handlers["a"]
    assert await m.stop_stream("a") is True
    assert handler_a.stop_calls == [True]
    assert "a" not in m.handlers and state.active_streams == 1
    assert await m.stop_stream("a") is False  # already gone


async def test_duplicate_request_id_is_refused():
    m = FakeManager(StreamState())
    assert await m.create_stream("dup") is True
    first = m.handlers["dup"]
    assert await m.create_stream("dup") is False
    assert m.handlers["dup"] is first
    assert len(m.created) == 1  # the factory was not even called


async def test_start_failure_is_not_registered():
    state = StreamState()
    m = FakeManager(state, start_ok=False)
    assert await m.create_stream("x") is False
    assert m.handlers == {}
    assert state.is_error() is False


async def test_missing_handler_returns_false():
    class NoHandler(BaseStreamManager):
        async def create_stream_handler(self, request_id, **kwargs):
            return None

    assert await NoHandler().create_stream("x") is False


async def test_exception_sets_state_error():
    state = StreamState()
    m = FakeManager(state, start_raises=RuntimeError("boom"))
    assert await m.create_stream("x") is False
    assert m.handlers == {}
    assert state.is_error()


async def test_exception_set_error_message(mocker):
    state = StreamState()
    spy = mocker.spy(state, "set_error")
    m = FakeManager(state, start_raises=ValueError("bad size"))
    await m.create_stream("x")
    spy.assert_called_once_with("Error creating stream: bad size")


async def test_error_cleared_when_first_stream_created():
    state = StreamState()
    state.set_error("old failure")
    m = FakeManager(state)
    assert await m.create_stream("x") is True
    assert state.is_error() is False
    assert state.active_streams == 1


async def test_error_kept_while_other_streams_exist():
    state = StreamState()
    m = FakeManager(state)
    await m.create_stream("a")
    state.set_error("failure")
    assert await m.create_stream("b") is True
    assert state.is_error() is True
    # Dropping to zero streams clears it.
    await m.stop_stream("a")
    assert state.is_error() is True
    await m.stop_stream("b")
    assert state.is_error() is False and state.active_streams == 0


async def test_stop_failure_still_removes():
    state = StreamState()
    m = FakeManager(state, stop_raises=RuntimeError("stuck"))
    await m.create_stream("a")
    assert await m.stop_stream("a") is False
    assert m.handlers == {} and state.active_streams == 0


async def test_stop_returns_handler_result():
    m = FakeManager(stop_ok=False)
    await m.create_stream("a")
    assert await m.stop_stream("a") is False
    assert m.handlers == {}


async def test_status_errors_are_hidden():
    class Broken(FakeHandler):
        @property
        def running(self):
            raise RuntimeError("inconsistent")

    class M(BaseStreamManager):
        async def create_stream_handler(self, request_id, **kwargs):
            return (Broken if request_id == "bad" else FakeHandler)(request_id)

    m = M()
    await m.create_stream("bad")
    await m.create_stream("good")
    assert await m.get_stream_status("bad") is None
    assert list(await m.list_streams()) == ["good"]


async def test_build_stream_status_can_be_extended():
    class M(FakeManager):
        def build_stream_status(self, request_id, handler):
            status = super().build_stream_status(request_id, handler)
            status["extra"] = request_id.upper()
            return status

    m = M()
    await m.create_stream("q")
    assert (await m.get_stream_status("q"))["extra"] == "Q"


async def test_cleanup_all_stops_everything():
    state = StreamState()
    m = FakeManager(state)
    for rid in ("a", "b", "c"):
        await m.create_stream(rid)
    handlers = list(m.handlers.values())
    await m.cleanup_all()
    assert m.handlers == {} and state.active_streams == 0
    assert all(h.stop_calls == [True] for h in handlers)
    await m.cleanup_all()  # nothing left: no-op


async def test_cleanup_all_tolerates_failures_and_timeouts(monkeypatch):
    from pytrickle import manager as manager_module
    monkeypatch.setattr(manager_module, "_HANDLER_STOP_TIMEOUT", 0.05)

    class M(BaseStreamManager):
        async def create_stream_handler(self, request_id, **kwargs):
            if request_id == "slow":
                return FakeHandler(request_id, stop_delay=5)
            if request_id == "bad":
                return FakeHandler(request_id, stop_raises=RuntimeError("x"))
            return FakeHandler(request_id)

    m = M(StreamState())
    for rid in ("slow", "bad", "ok"):
        await m.create_stream(rid)
    assert await m._stop_stream_with_timeout("slow") is False
    assert await m._stop_stream_with_timeout("bad") is False
    assert await m._stop_stream_with_timeout("ok") is True
    assert await m._stop_stream_with_timeout("missing") is False
    await asyncio.wait_for(m.cleanup_all(), 2)
    assert m.handlers == {} and m.stream_state.active_streams == 0


async def test_no_stream_state_is_fine():
    m = FakeManager()
    assert await m.create_stream("a") is True
    assert await m.stop_stream("a") is True
    m2 = FakeManager(start_raises=RuntimeError("x"))
    assert await m2.create_stream("a") is False


# ---- TrickleStreamManager ---------------------------------------------------------------

async def test_trickle_manager_takes_state_from_app_context():
    state = StreamState()
    m = TrickleStreamManager(app_context={"stream_state": state})
    assert m.stream_state is state
    other = StreamState()
    assert TrickleStreamManager(app_context={"stream_state": state}, stream_state=other).stream_state is other
    bare = TrickleStreamManager()
    assert bare.app_context == {} and bare.stream_state is None and bare.stream_handler_factory is None


async def test_trickle_manager_factory():
    context = {"stream_state": StreamState(), "name": "ctx"}
    m = TrickleStreamManager(app_context=context)
    calls = []

    async def factory(request_id, **kwargs):
        calls.append((request_id, kwargs))
        return FakeHandler(request_id, width=kwargs.get("width", 512))

    assert await m.create_stream_handler("x") is None  # no factory yet
    assert await m.create_stream("x") is False

    m.set_stream_handler_factory(factory)
    assert await m.create_stream("x", width=640) is True
    assert calls == [("x", {"width": 640, "app_context": context})]
    assert context["stream_state"].active_streams == 1
    assert (await m.get_stream_status("x"))["width"] == 640


async def test_trickle_manager_factory_errors_give_none():
    m = TrickleStreamManager()

    async def factory(request_id, **kwargs):
        raise RuntimeError("nope")

    m.set_stream_handler_factory(factory)
    assert await m.create_stream_handler("x") is None
    assert await m.create_stream("x") is False


# ---- TrickleStreamHandler (with a fake protocol and client) -----------------------------

class FakeProtocol:
    instances = []

    def __init__(self, **kwargs):
        self.kwargs = kwargs
        self.error_callback = kwargs.get("error_callback")
        self.component_state = ComponentState.INIT
        self.events = []
        FakeProtocol.instances.append(self)

    async def emit_monitoring_event(self, event, queue_event_type="ai_stream_events"):
        if self.component_state is ComponentState.RUNNING:
            self.events.append((queue_event_type, event))


class FakeClient:
    instances = []

    def __init__(self, protocol, frame_processor, control_handler=None, error_callback=None, **kw):
        self.protocol = protocol
        self.frame_processor = frame_processor
        self.control_handler = control_handler
        self.error_callback = error_callback
        self.stop_event = asyncio.Event()
        self.data = []
        FakeClient.instances.append(self)

    async def start(self, request_id="default", params=None):
        self.protocol.component_state = ComponentState.RUNNING
        try:
            await self.stop_event.wait()
        finally:
            self.protocol.component_state = ComponentState.STOPPED

    async def stop(self):
        self.stop_event.set()

    async def publish_data(self, data):
        self.data.append(data)


class MyStreamHandler(TrickleStreamHandler):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.controls = []

    async def create_frame_processor(self):
        return object()

    async def handle_control_message(self, params):
        if params.get("fail"):
            raise RuntimeError("handler failed")
        self.controls.append(params)


@pytest.fixture
def fakes(monkeypatch):
    FakeProtocol.instances.clear()
    FakeClient.instances.clear()
    monkeypatch.setattr(stream_handler_module, "TrickleProtocol", FakeProtocol)
    monkeypatch.setattr(stream_handler_module, "TrickleClient", FakeClient)


async def _until(predicate, timeout=2.0):
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        assert asyncio.get_running_loop().time() < deadline, "condition not reached"
        await asyncio.sleep(0.01)


async def test_trickle_stream_handler_lifecycle(fakes):
    state = StreamState()
    state.set_error("stale")
    h = MyStreamHandler("http://in", "http://out", control_url="http://ctl",
                        events_url="http://ev", data_url="http://data", width=320, height=240,
                        app_context={"stream_state": state})
    assert h.running is False and h.control_subscriber is None
    assert await h.start() is True
    assert h.running is True
    assert await h.start() is False  # already running

    protocol = FakeProtocol.instances[0]
    assert protocol.kwargs["control_url"] == "http://ctl"
    assert (protocol.kwargs["width"], protocol.kwargs["height"]) == (320, 240)
    assert protocol.kwargs["error_callback"] == h._on_error
    client = FakeClient.instances[0]
    assert client.error_callback == h._on_error
    # No second control reader: messages come through the client's control_handler.
    assert h.control_subscriber is None and h._control_task is None

    await _until(lambda: len(protocol.events) >= 2)
    assert protocol.events[0] == ("stream_trace", {"type": "stream_started"})
    kind, stats = protocol.events[1]
    assert kind == "stream_stats" and stats["type"] == "stream_stats"
    assert stats["stream"] == {"running": True, "width": 320, "height": 240}

    await client.control_handler({"keep": "alive"})
    await client.control_handler({"prompt": "x"})
    await client.control_handler({"fail": True})  # logged, not raised
    assert h.controls == [{"prompt": "x"}]

    await h._publish_data("hello")
    assert client.data == ["hello"]

    assert await h.stop() is True
    assert h.running is False
    assert h.shutdown_event.is_set() and h.error_event.is_set()
    assert not h.running_event.is_set()
    assert h._task.done()
    assert ("stream_trace", "stream_stopped") in [(k, e["type"]) for k, e in protocol.events]
    assert state.is_error() is False  # cleared (not called by the manager)


async def test_trickle_stream_handler_error_stops_and_forwards(fakes):
    received = []

    async def external(kind, exc):
        received.append((kind, exc))

    h = MyStreamHandler("http://in", "http://out", error_callback=external)
    assert await h.start() is True
    boom = RuntimeError("boom")
    await h._on_error("publish_task_error", boom)
    assert received == [("publish_task_error", boom)]
    assert h._critical_error_occurred is True
    await _until(lambda: h._task.done() and not h.running_event.is_set())
    # After shutdown further errors are ignored.
    await h._on_error("other", None)
    assert len(received) == 1


async def test_trickle_stream_handler_client_end_triggers_stop(fakes):
    h = MyStreamHandler("http://in", "http://out")
    assert await h.start() is True
    await asyncio.sleep(0)
    FakeClient.instances[0].stop_event.set()  # the stream ends by itself
    await _until(lambda: not h.running_event.is_set())
    assert h.shutdown_event.is_set()


async def test_trickle_stream_handler_cancelled_client_task(fakes):
    h = MyStreamHandler("http://in", "http://out")
    assert await h.start() is True
    h._task.cancel()  # upstream's done-callback raised here (docs/compatibility.md Q37); ours cleans up
    await _until(lambda: not h.running_event.is_set())


async def test_trickle_stream_handler_start_failure(fakes):
    class Failing(MyStreamHandler):
        async def create_frame_processor(self):
            raise RuntimeError("no model")

    h = Failing("http://in", "http://out")
    assert await h.start() is False
    assert h.running is False

    class NoProcessor(MyStreamHandler):
        async def create_frame_processor(self):
            return None

    assert await NoProcessor("http://in", "http://out").start() is False


async def test_trickle_stream_handler_under_manager(fakes):
    state = StreamState()
    m = TrickleStreamManager(app_context={"stream_state": state})

    async def factory(request_id, app_context=None, **kwargs):
        return MyStreamHandler("http://in", "http://out", app_context=app_context, **kwargs)

    m.set_stream_handler_factory(factory)
    assert await m.create_stream("s1", width=256, height=128) is True
    assert await m.list_streams() == {
        "s1": {"request_id": "s1", "running": True, "width": 256, "height": 128}}
    assert await m.stop_stream("s1") is True
    assert state.active_streams == 0

