"""Many streams in one Python worker (docs/many_streams.md): streams named by X-Stream-Id, started,
steered and stopped through the fake orchestrator, each fed its own clip through the real relay,
served by one FrameProcessor whose model is loaded once."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from fake_orchestrator import TOKEN
from pytrickle import FrameProcessor, StreamServer
from pytrickle._stream_identity import StreamIdError, accepts_stream_id, stream_id_from
from python_worker import PythonWorker, make_server
from trickle_testutil import count_video_frames, frame_means, http_request, make_colour_clip

# Each stream's clip: a solid colour and a length of its own, so that any frame that crossed
# streams would show in the colour or the count of another stream's output.
CLIPS = {"s-red": ("red", 2, (255, 0, 0)), "s-green": ("lime", 3, (0, 255, 0)), "s-blue": ("blue", 4, (0, 0, 255))}
FPS = 30


@pytest.fixture(scope="module")
def colour_clips(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("colours")
    return {stream_id: make_colour_clip(folder / f"{stream_id}.ts", colour, seconds, FPS)
            for stream_id, (colour, seconds, _) in CLIPS.items()}


class PerStreamProcessor(FrameProcessor):
    """Passthrough that counts what each stream handed it, and takes stream_id in its callbacks."""

    def __init__(self):
        super().__init__()
        self.loads = 0
        self.video: dict[str, int] = {}
        self.audio: dict[str, int] = {}
        self.started: dict[str, dict] = {}
        self.stopped: list[str] = []
        self.params: list[tuple[str, dict]] = []

    async def load_model(self, **kwargs):
        self.loads += 1

    async def process_video_async(self, frame):
        self.video[frame.stream_id] = self.video.get(frame.stream_id, 0) + 1
        return frame

    async def process_audio_async(self, frame):
        self.audio[frame.stream_id] = self.audio.get(frame.stream_id, 0) + 1
        return [frame]

    async def update_params(self, params, stream_id=None):
        self.params.append((stream_id, params))

    async def on_stream_start(self, params, stream_id=None):
        self.started[stream_id] = params

    async def on_stream_stop(self, stream_id=None):
        self.stopped.append(stream_id)


def close_to(means, colour, tolerance=40.0) -> bool:
    return all(abs(m - c) <= tolerance for m, c in zip(means, colour))


async def wait_until(condition, what: str, timeout: float = 20.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


async def test_three_streams_in_one_worker_through_the_orchestrator(orchestrator, capability_env, monkeypatch, relay,
                                                                   trickle_exe, background, colour_clips, tmp_path):
    monkeypatch.setenv("CAPABILITY_CAPACITY", "3")  # keep_registered: the registered capacity is the limit
    processor = PerStreamProcessor()
    server = make_server(processor, keep_registered=True)
    server.port = capability_env
    worker = await PythonWorker(server).start()
    call = orchestrator.call_worker
    try:
        await wait_until(lambda: "video-fx" in orchestrator.capabilities, "the registration")
        assert orchestrator.capabilities["video-fx"]["capacity"] == 3 and server.max_streams == 3

        outputs, publishers, subscribers = {}, {}, {}
        for stream_id in CLIPS:
            status, answer = await asyncio.to_thread(orchestrator.start_stream, "video-fx", stream_id, relay,
                                                     {"max_framerate": 60, "name": stream_id})
            assert status == 200 and answer["request_id"] == stream_id, answer
        for stream_id, clip in colour_clips.items():
            outputs[stream_id] = tmp_path / f"{stream_id}-out.ts"
            subscribers[stream_id] = background(
                [trickle_exe, "subscribe", relay.url(f"{stream_id}-out"), "-o", outputs[stream_id]], f"sub-{stream_id}")
            publishers[stream_id] = background(
                [trickle_exe, "publish", "--realtime", relay.url(f"{stream_id}-in"), clip], f"pub-{stream_id}")

        # Past capacity, an id already running, malformed and unknown ids: refused, nothing touched.
        status, answer = await asyncio.to_thread(orchestrator.start_stream, "video-fx", "s-fourth", relay)
        assert status == 503 and answer["message"] == "Worker at capacity: 3 of 3 streams running", answer
        status, answer = await asyncio.to_thread(orchestrator.start_stream, "video-fx", "s-red", relay)
        assert status == 409 and answer["message"] == "Stream s-red is already running", answer
        for bad in ("x" * 129, "with space"):
            status, answer = await asyncio.to_thread(call, "video-fx", "/stream/params", bad, {"a": 1})
            assert status == 400 and answer["message"].startswith("Invalid X-Stream-Id"), (bad, answer)
        # A control character never reaches the route: the HTTP parser refuses the request.
        status, answer = await asyncio.to_thread(call, "video-fx", "/stream/params", "a\x01b", {"a": 1})
        assert status == 400 and "Invalid header value char" in str(answer), answer
        status, answer = await asyncio.to_thread(call, "video-fx", "/stream/stop", "s-nobody", None)
        assert (status, answer) == (404, {"status": "error", "message": "No stream with X-Stream-Id s-nobody"})
        status, _, body = await asyncio.to_thread(
            http_request, "POST", f"{worker.base}/stream/stop", {"Authorization": f"Bearer {TOKEN}"}, b"")
        assert status == 400 and b"X-Stream-Id is required: 3 streams are running" in body

        # Params reach only their stream.
        status, answer = await asyncio.to_thread(call, "video-fx", "/stream/params", "s-green", {"strength": 0.7})
        assert status == 200, answer
        assert [(sid, p.get("strength")) for sid, p in processor.params if "strength" in p] == [("s-green", 0.7)]

        status, _, body = await asyncio.to_thread(
            http_request, "GET", f"{worker.base}/stream/status", {"Authorization": f"Bearer {TOKEN}"})
        assert status == 200
        overview = json.loads(body)
        assert overview["max_streams"] == 3 and sorted(overview["streams"]) == sorted(CLIPS)
        assert overview["active_streams"] == 3 and overview["state"] == "OK"

        # One stream stopped early; the others run on to the end of their clips.
        await wait_until(lambda: processor.video.get("s-red", 0) >= 10, "s-red's first frames")
        status, answer = await asyncio.to_thread(call, "video-fx", "/stream/stop", "s-red", None)
        assert (status, answer) == (200, {"status": "success", "message": "Stream stopped successfully"})
        assert "s-red" in processor.stopped and sorted(server.streams()) == ["s-blue", "s-green"]
        # Its slot is free again: a new stream may start while the two others run.
        status, answer = await asyncio.to_thread(orchestrator.start_stream, "video-fx", "s-late", relay)
        assert status == 200, answer

        for stream_id in ("s-green", "s-blue"):
            assert await asyncio.to_thread(publishers[stream_id].wait, 60) == 0, publishers[stream_id].report()
            assert await asyncio.to_thread(subscribers[stream_id].wait, 30) == 0, subscribers[stream_id].report()
        await asyncio.to_thread(publishers["s-red"].wait, 60)
        for stream_id in ("s-green", "s-blue"):
            await wait_until(lambda sid=stream_id: sid in processor.stopped, f"{stream_id} to end by itself")
        # Ended by themselves: their slots are free, and the orchestrator's stop still succeeds.
        assert server.streams()["s-green"].running is False and server._sessions.live_count() == 1
        status, answer = await asyncio.to_thread(call, "video-fx", "/stream/stop", "s-green", None)
        assert (status, answer) == (200, {"status": "success", "message": "Stream stopped successfully"})
        status, answer = await asyncio.to_thread(call, "video-fx", "/stream/stop", "s-late", None)
        assert status == 200, answer

        for stream_id, (_, seconds, colour) in CLIPS.items():
            frames = count_video_frames(outputs[stream_id]) if outputs[stream_id].stat().st_size else 0
            if stream_id == "s-red":
                assert 10 <= frames < seconds * FPS, f"s-red was stopped early: {frames} frames"
            else:
                assert abs(frames - seconds * FPS) <= 3, f"{stream_id}: {frames} frames of {seconds * FPS}"
                assert processor.video[stream_id] >= frames and processor.audio[stream_id] > 0
            for index in (0, frames // 2, frames - 1):
                means = await asyncio.to_thread(frame_means, outputs[stream_id], index)
                assert close_to(means, colour), f"{stream_id} frame {index}: {means}, expected {colour}"
            assert processor.started[stream_id]["name"] == stream_id
        assert processor.loads == 1  # one model for every stream
    finally:
        await worker.close()


async def test_one_stream_ignores_the_header_as_upstream():
    worker = await PythonWorker(make_server(PerStreamProcessor())).start()
    try:
        await worker.wait_health("IDLE")
        assert worker.server.max_streams == 1
        status, _, body = await asyncio.to_thread(
            http_request, "POST", f"{worker.base}/stream/stop", {"X-Stream-Id": "with space"}, b"")
        assert (status, body) == (400, b'{"status": "error", "message": "No active stream to stop"}')
        status, answer = await worker.get("/stream/status")
        assert status == 200 and "streams" not in answer and "max_streams" not in answer
    finally:
        await worker.close()


async def test_without_streams_the_many_stream_routes_answer_as_upstream():
    worker = await PythonWorker(make_server(PerStreamProcessor(), max_streams=4)).start()
    try:
        await worker.wait_health("IDLE")
        assert await worker.post("/stream/stop") == (400, {"status": "error", "message": "No active stream to stop"})
        assert await worker.post("/stream/params", {"a": 1}) == (
            400, {"status": "error", "message": "No active stream to update"})
        status, answer = await worker.get("/stream/status")
        assert status == 200 and answer["streams"] == {} and answer["max_streams"] == 4
        assert answer["client_active"] is False
    finally:
        await worker.close()


@pytest.mark.parametrize("value", [0, 257, 2.0, True, "3"])
def test_max_streams_must_be_a_sensible_count(value):
    with pytest.raises(ValueError, match="max_streams"):
        StreamServer(PerStreamProcessor(), max_streams=value)


def test_stream_ids_are_checked():
    assert stream_id_from({}) is None
    assert stream_id_from({"X-Stream-Id": "gw-1:abc_DEF.9"}) == "gw-1:abc_DEF.9"
    assert stream_id_from({"X-Stream-Id": "x" * 128}) == "x" * 128
    for bad in ("", "x" * 129, "tab\there", "new\nline", "caf\u00e9", "del\x7f"):
        with pytest.raises(StreamIdError, match="Invalid X-Stream-Id"):
            stream_id_from({"X-Stream-Id": bad})


def test_callbacks_get_the_stream_id_only_when_they_ask_for_it():
    class Upstreams:
        async def update_params(self, params): ...

        async def on_stream_stop(self, **kwargs): ...

    assert accepts_stream_id(PerStreamProcessor().update_params)
    assert not accepts_stream_id(Upstreams().update_params)
    assert not accepts_stream_id(Upstreams().on_stream_stop)  # a catch-all gets nothing new


async def test_the_decorator_apis_handlers_get_the_stream_id_when_they_declare_it():
    from pytrickle.stream_processor import _InternalFrameProcessor

    seen = []

    async def wants_it(params, stream_id=None):
        seen.append(("wants", params, stream_id))

    async def upstreams(params):
        seen.append(("upstream", params))

    async def stopped(stream_id=None):
        seen.append(("stopped", stream_id))

    await _InternalFrameProcessor(param_updater=wants_it, on_stream_stop=stopped).update_params({"a": 1}, "s-1")
    await _InternalFrameProcessor(param_updater=upstreams).update_params({"b": 2}, stream_id="s-2")
    await _InternalFrameProcessor(on_stream_stop=stopped).on_stream_stop(stream_id="s-3")
    assert seen == [("wants", {"a": 1}, "s-1"), ("upstream", {"b": 2}), ("stopped", "s-3")]
