"""Our pytrickle package end to end: a StreamServer in this process, the real relay (`trickle
serve`), real clients publishing the clip and reading the output, real codecs, real HTTP."""

from __future__ import annotations

import asyncio
import logging
import json
import time

import pytest
import torch

from python_worker import PythonWorker, make_server
from trickle_testutil import (CLIP_FPS, CLIP_SECONDS, count_video_frames, create_channel, frame_means,
                              http_request, stream_codecs)

from pytrickle import FrameProcessor, StreamProcessor, VideoFrame
from pytrickle.decorators import param_updater, video_handler
from pytrickle.frame_overlay import OverlayConfig
from pytrickle.subscriber import TrickleSubscriber

FRAMES = CLIP_SECONDS * CLIP_FPS


class RecordingProcessor(FrameProcessor):
    """Passthrough that remembers what the engine handed it."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.video = 0
        self.audio = 0
        self.shapes = set()
        self.params = []
        self.started_with = None
        self.stopped = 0

    async def load_model(self, **kwargs):
        pass

    async def process_video_async(self, frame):
        self.video += 1
        self.shapes.add((tuple(frame.tensor.shape), frame.tensor.dtype, str(frame.time_base)))
        return frame

    async def process_audio_async(self, frame):
        self.audio += 1
        return [frame]

    async def update_params(self, params):
        self.params.append(params)

    async def on_stream_start(self, params):
        self.started_with = params

    async def on_stream_stop(self):
        self.stopped += 1


async def start_stream(worker: PythonWorker, relay, request_id="g1", channels=("in", "out"), **extra):
    for channel in channels:
        await asyncio.to_thread(create_channel, relay.url(channel))
    body = {"subscribe_url": relay.url("in"), "publish_url": relay.url("out"), "gateway_request_id": request_id,
            "params": {"max_framerate": 60}}
    body.update(extra)
    return await worker.post("/stream/start", body)


async def publish_and_collect(trickle_exe, background, relay, ts_clip, out, realtime=True):
    subscriber = background([trickle_exe, "subscribe", relay.url("out"), "-o", out], "subscribe")
    cmd = [trickle_exe, "publish"] + (["--realtime"] if realtime else []) + [relay.url("in"), ts_clip]
    publisher = background(cmd, "publish")
    assert await asyncio.to_thread(publisher.wait, 60) == 0, publisher.report()
    assert await asyncio.to_thread(subscriber.wait, 30) == 0, subscriber.report()


async def run_clip_through(processor, relay, trickle_exe, background, ts_clip, out):
    """A fresh server for `processor`, one stream of the clip through it, its output in `out`."""
    worker = await PythonWorker(make_server(processor)).start()
    try:
        await worker.wait_health("IDLE")
        status, answer = await start_stream(worker, relay)
        assert status == 200, answer
        await publish_and_collect(trickle_exe, background, relay, ts_clip, out)
    finally:
        await worker.close()


async def test_every_frame_goes_through_a_python_processor(relay, trickle_exe, background, ts_clip, tmp_path):
    processor = RecordingProcessor()
    worker = await PythonWorker(make_server(processor)).start()
    try:
        await worker.wait_health("IDLE")
        status, answer = await start_stream(worker, relay)
        assert status == 200, answer
        assert answer["status"] == "success" and answer["request_id"] == "g1"
        assert answer["current_state"] == "OK"
        out = tmp_path / "out.ts"
        await publish_and_collect(trickle_exe, background, relay, ts_clip, out)
        # Upstream's frames: [1, 512, 512, 3] float32 RGB, MPEG-TS time base.
        assert processor.shapes == {((1, 512, 512, 3), torch.float32, "1/90000")}
        assert processor.video == FRAMES
        assert processor.audio > 0
        assert processor.started_with == {"max_framerate": 60}
        assert count_video_frames(out) == FRAMES
        assert stream_codecs(out) == ["h264,video", "opus,audio"]
        # The stream ended by itself: IDLE, the finished client still reported (upstream, docs/compatibility.md Q12).
        for _ in range(100):
            status, state = await worker.get("/stream/status")
            if state.get("client_running") is False:
                break
            await asyncio.sleep(0.05)
        assert state["status"] == "IDLE" and state["client_active"] is True and state["client_running"] is False
        assert state["current_params"] == {"subscribe_url": relay.url("in"), "publish_url": relay.url("out"),
                                           "gateway_request_id": "g1"}
        assert processor.stopped == 1
    finally:
        await worker.close()


async def test_gpu_switch_runs_the_stream_on_any_machine(relay, trickle_exe, background, ts_clip, tmp_path,
                                                      monkeypatch, caplog):
    """PYTRICKLE_GPU=1 asks for NVDEC and NVENC; without a GPU each falls back to the CPU and says so."""
    monkeypatch.setenv("PYTRICKLE_GPU", "1")
    caplog.set_level(logging.INFO, logger="pytrickle.engine")
    processor = RecordingProcessor()
    out = tmp_path / "out.ts"
    await run_clip_through(processor, relay, trickle_exe, background, ts_clip, out)
    assert processor.shapes == {((1, 512, 512, 3), torch.float32, "1/90000")}
    assert processor.video == FRAMES
    assert count_video_frames(out) == FRAMES
    assert stream_codecs(out) == ["h264,video", "opus,audio"]
    engine = [r.getMessage() for r in caplog.records if r.name == "pytrickle.engine"]
    decoder_lines = [m for m in engine if "video decoder:" in m]
    encoder_lines = [m for m in engine if "video encoder:" in m]
    assert decoder_lines and encoder_lines, engine
    # Either the GPU ran, or the fallback named its reason.
    assert "on the GPU" in decoder_lines[0] or "GPU decoding unavailable" in decoder_lines[0]
    assert "h264_nvenc" in encoder_lines[0]


@pytest.mark.parametrize("device", ["tpu", "cuda:", "cuda:x", "cuda:-1", "CUDA"])
def test_bad_device_names_are_refused(device):
    from pytrickle._native_loader import load_native
    with pytest.raises(ValueError, match="device must be 'cpu', 'cuda' or 'cuda:N'"):
        load_native().EngineSettings(device=device)


async def test_handlers_params_and_control_channel_change_the_output(relay, trickle_exe, background, ts_clip,
                                                                     tmp_path):
    class GreenTint:
        def __init__(self):
            self.strength = 1.0
            self.seen = []

        @video_handler
        async def tint(self, frame: VideoFrame):
            if self.strength == 0:
                return frame
            tensor = frame.tensor.clone()
            tensor[..., 1] = (tensor[..., 1] + 0.4 * self.strength).clamp(0, 1)
            tensor[..., 0] = tensor[..., 0] * (1 - 0.5 * self.strength)
            return tensor  # a bare tensor: the decorator wraps it into the input's frame

        @param_updater
        async def update(self, params):
            self.seen.append(params)
            if "strength" in params:
                self.strength = float(params["strength"])

    handlers = GreenTint()
    app = StreamProcessor.from_handlers(handlers, port=0, host="127.0.0.1")
    app.server.state.set_startup_complete()
    worker = await PythonWorker(app.server).start()
    try:
        await asyncio.to_thread(create_channel, relay.url("ctl"), "application/json")
        status, answer = await start_stream(worker, relay, control_url=relay.url("ctl"),
                                            events_url=relay.url("events"))
        assert status == 200, answer
        out = tmp_path / "out.ts"
        subscriber = background([trickle_exe, "subscribe", relay.url("out"), "-o", out], "subscribe")
        publisher = background([trickle_exe, "publish", "--realtime", relay.url("in"), ts_clip], "publish")
        await asyncio.sleep(CLIP_SECONDS / 3)
        # A control-channel message reaches the param updater like a REST update does.
        status, _, _ = await asyncio.to_thread(http_request, "POST", relay.url("ctl") + "/0",
                                               {"Content-Type": "application/json"},
                                               json.dumps({"prompt": "via control"}).encode())
        assert status == 200
        await asyncio.sleep(CLIP_SECONDS / 6)
        status, answer = await worker.post("/stream/params", {"strength": 0, "prompt": "none"})
        assert (status, answer) == (200, {"status": "success", "message": "Parameters updated successfully"})
        assert await asyncio.to_thread(publisher.wait, 60) == 0, publisher.report()
        assert await asyncio.to_thread(subscriber.wait, 30) == 0, subscriber.report()
        assert {"prompt": "via control"} in handlers.seen
        assert {"strength": 0, "prompt": "none"} in handlers.seen
        frames = count_video_frames(out)
        # A busy machine may make the tint fall behind: upstream's skipper then trims the backlog
        # (the passthrough tests check exact counts; this one checks what the updates did).
        assert 0.75 * FRAMES <= frames <= FRAMES

        def green_minus_red(path, index):
            r, g, _ = frame_means(path, index)
            return g - r

        early_in, early_out = green_minus_red(ts_clip, 10), green_minus_red(out, 10)
        late_in, late_out = green_minus_red(ts_clip, frames - 5), green_minus_red(out, frames - 5)
        assert early_out > early_in + 30, (early_in, early_out)
        assert abs(late_out - late_in) < 12, (late_in, late_out)
    finally:
        await worker.close()


async def test_events_channel_reports_the_stream(relay, trickle_exe, background, ts_clip, tmp_path):
    processor = RecordingProcessor()
    worker = await PythonWorker(make_server(processor)).start()
    events = []

    async def read_events():
        async with TrickleSubscriber(relay.url("events"), start_seq=0) as subscriber:
            while True:
                segment = await subscriber.next()
                if segment is None:
                    return
                body = b""
                while chunk := await segment.read():
                    body += chunk
                if not body:  # the empty segment a closing publisher ends its pre-connected POST with
                    continue
                event = json.loads(body)
                events.append(event)
                if event["event"]["type"] == "stream_stopped":
                    return

    try:
        await worker.wait_health("IDLE")
        await asyncio.to_thread(create_channel, relay.url("events"), "application/json")
        reader = asyncio.create_task(read_events())
        status, answer = await start_stream(worker, relay, events_url=relay.url("events"))
        assert status == 200, answer
        publisher = background([trickle_exe, "publish", "--realtime", relay.url("in"), ts_clip], "publish")
        subscriber = background([trickle_exe, "subscribe", relay.url("out"), "-o", tmp_path / "o.ts"], "sub")
        await asyncio.sleep(2.5)
        status, answer = await worker.post("/stream/params", {"prompt": "x"})
        assert status == 200, answer
        status, answer = await worker.post("/stream/stop")
        assert (status, answer) == (200, {"status": "success", "message": "Stream stopped successfully"})
        await asyncio.wait_for(reader, 20)
        publisher.kill()
        subscriber.kill()
    finally:
        await worker.close()
    types = [(e["queue_event_type"], e["event"]["type"]) for e in events]
    assert ("stream_heartbeat", "heartbeat") in types
    assert ("ai_stream_events", "receive_first_ingest_segment") in types
    assert ("ai_stream_events", "send_first_processed_segment") in types
    # Once per update (upstream emits it twice, docs/compatibility.md Q15).
    assert types.count(("ai_stream_events", "params_updated")) == 1
    assert types[-1] == ("ai_stream_events", "stream_stopped")
    heartbeat = next(e["event"] for e in events if e["event"]["type"] == "heartbeat")
    assert heartbeat["urls"]["subscribe"] == relay.url("in")
    assert heartbeat["dimensions"] == {"width": 512, "height": 512}
    assert set(heartbeat["fps"]) == {"ingress_video_fps", "ingress_audio_fps", "egress_video_fps",
                                     "egress_audio_fps"}


class MisbehavingProcessor(FrameProcessor):
    """Raises, returns None, the wrong shape, a tensor the encoder cannot read, and blocks the
    event loop for two seconds, one after the other; in between it passes frames through."""

    def __init__(self):
        super().__init__()
        self.calls = 0

    async def load_model(self, **kwargs):
        pass

    async def process_video_async(self, frame):
        self.calls += 1
        kind = self.calls % 6
        if kind == 1:
            raise RuntimeError("model exploded")
        if kind == 2:
            return None
        if kind == 3:
            return frame.replace_tensor(torch.zeros(3, 64, 64))  # CHW: dropped by the encoder
        if kind == 4:
            return frame.replace_tensor(torch.zeros(1, 64, 64, 3, device="meta"))  # no data at all
        if self.calls == 35:
            time.sleep(2.0)  # a model that blocks the loop
        return frame

    async def process_audio_async(self, frame):
        raise ValueError("no audio for you")

    async def update_params(self, params):
        raise RuntimeError("bad params")


async def test_a_misbehaving_processor_loses_only_its_frames(relay, trickle_exe, background, ts_clip, tmp_path):
    processor = MisbehavingProcessor()
    worker = await PythonWorker(make_server(processor, overlay_config=OverlayConfig(enabled=False))).start()
    try:
        await worker.wait_health("IDLE")
        status, answer = await start_stream(worker, relay)
        assert status == 200, answer
        out = tmp_path / "out.ts"
        await publish_and_collect(trickle_exe, background, relay, ts_clip, out)
        assert processor.calls >= FRAMES - 60  # the blocked loop may cost a trimmed backlog
        produced = count_video_frames(out)
        # Good frames are those with kind 0 or 5: a third of them.
        assert processor.calls // 3 - 5 <= produced <= processor.calls // 3 + 5, (produced, processor.calls)
        status, health = await worker.get("/health")
        assert (status, health) == (200, {"status": "IDLE"})
        # A failing update_params is accepted over HTTP but marks the server ERROR for good
        # (docs/compatibility.md Q10, Q15).
        status, answer = await worker.post("/stream/params", {"prompt": "x"})
        assert status == 200, answer
        assert await worker.get("/health") == (200, {"status": "ERROR"})
        status, answer = await start_stream(worker, relay, request_id="again")
        assert status == 503 and answer["message"] == "Pipeline is still initializing. Please wait for IDLE status."
    finally:
        await worker.close()


async def test_start_twice_stop_fast_and_bad_starts_keep_the_stream(relay, trickle_exe, background, ts_clip):
    processor = RecordingProcessor()
    worker = await PythonWorker(make_server(processor)).start()
    try:
        await worker.wait_health("IDLE")
        status, answer = await start_stream(worker, relay)
        assert status == 200, answer
        publisher = background([trickle_exe, "publish", "--realtime", relay.url("in"), ts_clip], "publish")
        await asyncio.sleep(1.5)
        status, answer = await start_stream(worker, relay, request_id="second")
        assert status == 503 and answer["message"] == "Pipeline is still in use"
        # A malformed start does not tear the running stream down (fixed: docs/compatibility.md Q11).
        status, answer = await worker.post("/stream/start", b"{nope", "application/json")
        assert status == 400 and answer["message"].startswith("Error starting stream: Expecting property name")
        status, answer = await worker.post("/stream/start", {"subscribe_url": "x"}, "text/plain")
        assert (status, answer["message"]) == (400, "Error starting stream: Unknown content type: text/plain")
        frames_before = processor.video
        await asyncio.sleep(0.5)
        assert processor.video > frames_before  # still running
        began = time.monotonic()
        status, answer = await worker.post("/stream/stop")
        assert (status, answer) == (200, {"status": "success", "message": "Stream stopped successfully"})
        assert time.monotonic() - began < 5
        assert await worker.get("/health") == (200, {"status": "IDLE"})
        assert processor.stopped == 1
        status, answer = await worker.post("/stream/stop")
        assert (status, answer) == (400, {"status": "error", "message": "No active stream to stop"})
        publisher.kill()
    finally:
        await worker.close()


async def test_stop_and_start_during_model_load():
    class SlowLoader(RecordingProcessor):
        async def load_model(self, **kwargs):
            await asyncio.sleep(1.5)

    worker = await PythonWorker(make_server(SlowLoader())).start()
    try:
        assert await worker.get("/health") == (200, {"status": "LOADING"})
        status, answer = await worker.post("/stream/stop")
        assert (status, answer) == (400, {"status": "error", "message": "No active stream to stop"})
        # A start during LOADING waits for the model, then starts (no URLs: nothing to stream).
        began = time.monotonic()
        status, answer = await worker.post("/stream/start", {"gateway_request_id": "early"})
        assert status == 200, answer
        assert time.monotonic() - began > 0.5
        assert answer["current_state"] == "OK"
        status, answer = await worker.post("/stream/stop")
        assert status == 200, answer
    finally:
        await worker.close()


async def test_client_disconnecting_mid_request_leaves_the_server_serving():
    worker = await PythonWorker(make_server(RecordingProcessor())).start()
    try:
        await worker.wait_health("IDLE")
        port = int(worker.base.rsplit(":", 1)[1])
        # Half a request, then the connection goes away.
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"POST /stream/start HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Content-Length: 500\r\n\r\n{\"gateway_request_id\":")
        await writer.drain()
        writer.close()
        await writer.wait_closed()
        await asyncio.sleep(0.2)
        assert await worker.get("/health") == (200, {"status": "IDLE"})
        status, answer = await worker.get("/stream/status")
        assert status == 200 and answer["client_active"] is False
    finally:
        await worker.close()


# What the server answers to bad requests on an idle server: tests/rest_answers.json, held by
# test_rest_answers.py to this server, the C++ worker and upstream's alike.


async def test_aiohttp_features_switch_to_aiohttp_and_keep_the_builtin_routes():
    from aiohttp import web

    seen = []

    @web.middleware
    async def tag(request, handler):
        seen.append(request.path)
        response = await handler(request)
        response.headers["X-Tagged"] = "yes"
        return response

    async def hello(request):
        return web.json_response({"hello": request.app["who"]})

    server = make_server(RecordingProcessor(), custom_routes=[{"method": "GET", "path": "/hello", "handler": hello}],
                         middleware=[tag], app_context={"who": "world"})
    worker = await PythonWorker(server).start()
    try:
        assert isinstance(server._runner, web.AppRunner)
        await worker.wait_health("IDLE")
        status, headers, body = await asyncio.to_thread(http_request, "GET", worker.base + "/hello")
        assert (status, json.loads(body)) == (200, {"hello": "world"})
        assert headers.get("X-Tagged") == "yes" or headers.get("x-tagged") == "yes"
        status, answer = await worker.post("/stream/stop")
        assert (status, answer) == (400, {"status": "error", "message": "No active stream to stop"})
        assert "/hello" in seen and "/stream/stop" in seen
    finally:
        await worker.close()


async def test_the_default_transport_is_the_engines_http_server():
    from pytrickle._native_http import NativeTransport

    server = make_server(RecordingProcessor())
    worker = await PythonWorker(server).start()
    try:
        assert isinstance(server._runner, NativeTransport)
        assert server._runner.addresses == [("127.0.0.1", server.bound_port())]
        await worker.wait_health("IDLE")
        status, headers, body = await asyncio.to_thread(http_request, "HEAD", worker.base + "/health")
        assert status == 200 and body == b""
        status, headers, body = await asyncio.to_thread(http_request, "POST", worker.base + "/health")
        assert (status, body) == (405, b"405: Method Not Allowed")
        status, answer = await worker.get("/version")
        assert status == 200 and answer["version"].startswith("0.1.") and answer["pipeline"] == "byoc"
        status, answer = await worker.get("/stream/stats")
        assert (status, answer) == (200, {"stream": None})
    finally:
        await worker.close()


async def test_frame_skip_config_halves_the_output_rate(relay, trickle_exe, background, ts_clip, tmp_path):
    from pytrickle import FrameSkipConfig

    processor = RecordingProcessor()
    worker = await PythonWorker(make_server(processor, frame_skip_config=FrameSkipConfig(target_fps=15))).start()
    try:
        await worker.wait_health("IDLE")
        status, answer = await start_stream(worker, relay)
        assert status == 200, answer
        out = tmp_path / "out.ts"
        await publish_and_collect(trickle_exe, background, relay, ts_clip, out)
        produced = count_video_frames(out)
        # 30 fps in, target 15: every other frame once the ingress rate is known (upstream's rule).
        assert FRAMES // 2 - 5 <= produced <= FRAMES // 2 + 10, produced
        assert processor.video == produced
    finally:
        await worker.close()
