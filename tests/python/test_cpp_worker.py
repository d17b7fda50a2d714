"""The C++ worker end to end, every part real: `trickle serve` (relay), an example worker binary
(passthrough or green tint), `trickle publish --realtime` feeding it, `trickle subscribe` reading
its output, and the REST calls a gateway makes (POST /stream/start, /stream/params,
/stream/stop), one stream at a time or several named by X-Stream-Id (docs/many_streams.md)."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import pytest

from conftest import REPO
from trickle_testutil import (CLIP_FPS, CLIP_SECONDS, count_video_frames, create_channel, frame_means, http_request,
                              make_colour_clip, run, stream_codecs)


def _examples_dir() -> Path:
    env = os.environ.get("TRICKLE_EXAMPLES_DIR")
    return Path(env) if env else REPO / "build" / "examples"


class Worker:
    def __init__(self, proc, port: int, log: Path):
        self.proc, self.port, self.log = proc, port, log
        self.base = f"http://127.0.0.1:{port}"

    def get(self, path: str, stream_id: str | None = None):
        headers = {} if stream_id is None else {"X-Stream-Id": stream_id}
        status, _, body = http_request("GET", self.base + path, headers=headers)
        return status, json.loads(body) if body.startswith(b"{") else body.decode()

    def post(self, path: str, body, content_type: str = "application/json", timeout: float = 10.0,
             stream_id: str | None = None):
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        headers = {"Content-Type": content_type}
        if stream_id is not None:
            headers["X-Stream-Id"] = stream_id
        status, _, answer = http_request("POST", self.base + path, headers=headers, data=data, timeout=timeout)
        return status, json.loads(answer) if answer.startswith(b"{") else answer.decode()

    def output(self) -> str:
        return self.log.read_text("utf-8", "replace")


@pytest.fixture
def worker_factory(tmp_path):
    workers: list[Worker] = []

    def start(name: str = "passthrough_worker", *args) -> Worker:
        exe = _examples_dir() / name
        if not exe.is_file():
            pytest.fail(f"{exe} is missing: build the examples (scripts/setup), or set TRICKLE_EXAMPLES_DIR")
        port_file = tmp_path / f"{name}.port"
        log = tmp_path / f"{name}.log"
        with open(log, "wb") as out:
            proc = subprocess.Popen([str(exe), "--host", "127.0.0.1", "--port", "0", "--port-file", str(port_file),
                                     *args], stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 20
        while not (port_file.exists() and port_file.read_text().strip()) and time.monotonic() < deadline:
            assert proc.poll() is None, f"{name} exited with {proc.returncode}:\n{log.read_text()}"
            time.sleep(0.02)
        ports = [int(line) for line in port_file.read_text().split()]
        worker = Worker(proc, ports[0], log)
        worker.ports = ports
        workers.append(worker)
        while worker.get("/health")[1] != {"status": "IDLE"}:
            assert time.monotonic() < deadline, f"{name} never became IDLE:\n{worker.output()}"
            time.sleep(0.05)
        return worker

    yield start
    for w in workers:
        if w.proc.poll() is None:
            w.proc.terminate()
            try:
                w.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                w.proc.kill()
        print(f"===== worker on port {w.port} (rc {w.proc.returncode}) =====\n{w.output()[-6000:]}")


def start_stream(worker: Worker, relay, request_id: str = "g1", **params):
    for channel in ("in", "out"):
        create_channel(relay.url(channel))
    body = {"subscribe_url": relay.url("in"), "publish_url": relay.url("out"),
            "gateway_request_id": request_id, "params": {"max_framerate": 60, **params}}
    status, answer = worker.post("/stream/start", body)
    assert status == 200, answer
    assert answer == {"status": "success", "message": "Stream started successfully",
                      "request_id": request_id, "current_state": "OK"}


def test_passthrough_worker_publishes_every_frame(relay, worker_factory, trickle_exe, background, ts_clip, tmp_path):
    worker = worker_factory("passthrough_worker")
    start_stream(worker, relay)
    out = tmp_path / "out.ts"
    subscriber = background([trickle_exe, "subscribe", relay.url("out"), "-o", out], "subscribe")
    run([trickle_exe, "publish", "--realtime", relay.url("in"), ts_clip], timeout=60)
    # The worker drains and closes its output once the input channel is gone.
    assert subscriber.wait(timeout=30) == 0, subscriber.report()
    frames_in, frames_out = count_video_frames(ts_clip), count_video_frames(out)
    assert frames_in == CLIP_SECONDS * CLIP_FPS
    assert frames_out == frames_in
    assert stream_codecs(out) == ["h264,video", "opus,audio"]
    decode = run(["ffmpeg", "-v", "error", "-i", out, "-f", "null", "-"], timeout=60)
    assert decode.stderr.decode().strip() == "", decode.stderr.decode()
    status, state = worker.get("/stream/status")
    assert status == 200
    # The stream ended by itself: IDLE again, the finished client still reported (upstream, docs/compatibility.md Q12).
    assert state["status"] == "IDLE" and state["client_active"] is True and state["client_running"] is False
    assert state["current_params"]["gateway_request_id"] == "g1"


def test_gpu_flag_runs_the_stream_on_any_machine(relay, worker_factory, trickle_exe, background, ts_clip, tmp_path):
    """--gpu asks for NVDEC and NVENC, --cuda-frames for CUDA tensors in the processor (handed back
    to the encoder as they are); where they cannot run the worker says why and uses the CPU."""
    worker = worker_factory("passthrough_worker", "--gpu", "--cuda-frames")
    start_stream(worker, relay)
    out = tmp_path / "out.ts"
    subscriber = background([trickle_exe, "subscribe", relay.url("out"), "-o", out], "subscribe")
    run([trickle_exe, "publish", "--realtime", relay.url("in"), ts_clip], timeout=60)
    assert subscriber.wait(timeout=30) == 0, subscriber.report()
    assert count_video_frames(out) == CLIP_SECONDS * CLIP_FPS
    assert stream_codecs(out) == ["h264,video", "opus,audio"]
    log = worker.output()
    assert ("on the GPU (NVDEC" in log) or ("GPU decoding unavailable" in log), log[-3000:]
    assert ("video encoder: h264_nvenc" in log) or ("NVENC unavailable" in log), log[-3000:]
    assert ("on the GPU (NVDEC" in log) or ("CUDA frames unavailable" in log), log[-3000:]


# Three streams told apart by their output: each clip has a colour and a length of its own, and
# each start asks for an output size of its own; a frame that went to the wrong stream would show
# in one of the three. Stream id -> (lavfi colour, seconds, RGB, output width x height).
THREE_STREAMS = {
    "cam-red": ("red", 5, (255, 0, 0), (256, 144)),
    "cam-green": ("lime", 3, (0, 255, 0), (320, 240)),
    "cam-blue": ("blue", 4, (0, 0, 255), (192, 192)),
}


@pytest.fixture(scope="module")
def colour_clips(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("colour-clips")
    return {stream_id: make_colour_clip(folder / f"{stream_id}.ts", colour, seconds)
            for stream_id, (colour, seconds, _, _) in THREE_STREAMS.items()}


def video_size(path: Path) -> tuple[int, int]:
    probe = run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries", "stream=width,height",
                 "-of", "csv=p=0", path], timeout=60)
    width, height = probe.stdout.decode().split()[0].split(",")[:2]
    return int(width), int(height)


def test_one_port_serves_three_streams_named_by_x_stream_id(relay, worker_factory, trickle_exe, background,
                                                             colour_clips, tmp_path):
    """--streams 3: one port, three streams started, steered and stopped by X-Stream-Id, each fed
    its own clip; a fourth is refused while three run; one stopped early, the others run on."""
    worker = worker_factory("passthrough_worker", "--streams", "3")
    assert len(worker.ports) == 1
    outputs, publishers, subscribers = {}, {}, {}
    for stream_id, (_, _, _, (width, height)) in THREE_STREAMS.items():
        for channel in (f"{stream_id}-in", f"{stream_id}-out"):
            create_channel(relay.url(channel))
        status, answer = worker.post("/stream/start", {
            "subscribe_url": relay.url(f"{stream_id}-in"), "publish_url": relay.url(f"{stream_id}-out"),
            "gateway_request_id": f"gw-{stream_id}",
            "params": {"max_framerate": 60, "width": width, "height": height}}, stream_id=stream_id)
        assert (status, answer["request_id"]) == (200, f"gw-{stream_id}"), answer
        outputs[stream_id] = tmp_path / f"{stream_id}.ts"
        subscribers[stream_id] = background(
            [trickle_exe, "subscribe", relay.url(f"{stream_id}-out"), "-o", outputs[stream_id]], f"sub-{stream_id}")

    status, answer = worker.post("/stream/start", {"gateway_request_id": "gw-fourth"}, stream_id="cam-fourth")
    assert (status, answer) == (503, {"status": "error", "message": "Worker at capacity: 3 of 3 streams running",
                                      "current_state": "OK"})
    status, answer = worker.post("/stream/start", {"gateway_request_id": "gw-again"}, stream_id="cam-green")
    assert (status, answer["message"]) == (409, "Stream cam-green is already running")
    status, overview = worker.get("/stream/status")
    assert status == 200 and overview["max_streams"] == 3 and overview["active_streams"] == 3
    assert overview["streams"] == {stream_id: {"running": True, "gateway_request_id": f"gw-{stream_id}"}
                                   for stream_id in THREE_STREAMS}
    assert worker.post("/stream/stop", b"") == (
        400, {"status": "error", "message": "X-Stream-Id is required: 3 streams are running"})
    assert worker.get("/stream/status", stream_id="cam-nobody") == (
        404, {"status": "error", "message": "No stream with X-Stream-Id cam-nobody"})

    for stream_id, clip in colour_clips.items():
        publishers[stream_id] = background([trickle_exe, "publish", "--realtime", relay.url(f"{stream_id}-in"), clip],
                                           f"pub-{stream_id}")
    time.sleep(1.5)
    status, answer = worker.post("/stream/stop", b"", stream_id="cam-red")
    assert (status, answer) == (200, {"status": "success", "message": "Stream stopped successfully"})
    assert worker.get("/stream/status", stream_id="cam-red")[0] == 404
    status, overview = worker.get("/stream/status")
    assert overview["active_streams"] == 2 and sorted(overview["streams"]) == ["cam-blue", "cam-green"]
    assert all(stream["running"] for stream in overview["streams"].values()), overview
    status, green = worker.get("/stream/status", stream_id="cam-green")
    assert green["client_running"] is True and green["current_params"]["gateway_request_id"] == "gw-cam-green"
    status, stats = worker.get("/stream/stats", stream_id="cam-blue")
    assert status == 200 and stats["stream"]["queues"]["video_dropped_full"] == 0, stats

    for stream_id in ("cam-green", "cam-blue"):
        assert publishers[stream_id].wait(timeout=60) == 0, publishers[stream_id].report()
        assert subscribers[stream_id].wait(timeout=30) == 0, subscribers[stream_id].report()
    publishers["cam-red"].wait(timeout=60)
    subscribers["cam-red"].kill()  # a stop leaves the output channel open: its reader never ends by itself
    # The two that ran to the end of their input ended by themselves: their slots are free, and
    # they are remembered as ended (the stopped one is gone).
    deadline = time.monotonic() + 10
    while worker.get("/health")[1] != {"status": "IDLE"}:
        assert time.monotonic() < deadline, worker.output()
        time.sleep(0.05)
    assert worker.get("/stream/status")[1]["streams"] == {
        stream_id: {"running": False, "gateway_request_id": f"gw-{stream_id}"}
        for stream_id in ("cam-green", "cam-blue")}

    for stream_id, (_, seconds, colour, size) in THREE_STREAMS.items():
        frames = count_video_frames(outputs[stream_id]) if outputs[stream_id].stat().st_size else 0
        if stream_id == "cam-red":
            assert 10 <= frames < seconds * CLIP_FPS, f"{stream_id} was stopped early: {frames} frames"
        else:
            assert frames == seconds * CLIP_FPS, f"{stream_id}: {frames} frames, its clip has {seconds * CLIP_FPS}"
        assert video_size(outputs[stream_id]) == size, stream_id
        for index in (0, frames // 2, frames - 1):
            means = frame_means(outputs[stream_id], index)
            assert all(abs(m - c) <= 40 for m, c in zip(means, colour)), (stream_id, index, means)


def test_params_change_the_processor_mid_stream(relay, worker_factory, trickle_exe, background, ts_clip, tmp_path):
    worker = worker_factory("green_tint_worker")
    start_stream(worker, relay)
    out = tmp_path / "out.ts"
    subscriber = background([trickle_exe, "subscribe", relay.url("out"), "-o", out], "subscribe")
    publisher = background([trickle_exe, "publish", "--realtime", relay.url("in"), ts_clip], "publish")
    time.sleep(CLIP_SECONDS / 2)
    status, answer = worker.post("/stream/params", {"strength": 0.0, "prompt": "none"})
    assert (status, answer) == (200, {"status": "success", "message": "Parameters updated successfully"})
    assert publisher.wait(timeout=60) == 0, publisher.report()
    assert subscriber.wait(timeout=30) == 0, subscriber.report()
    assert 'green tint: params {"strength": 0.0, "prompt": "none"}' in worker.output()
    frames = count_video_frames(out)
    assert frames == CLIP_SECONDS * CLIP_FPS
    # Before the update the output is tinted (green up, red down); after it, it is the input.
    def green_minus_red(path, index):
        r, g, _ = frame_means(path, index)
        return g - r
    early_in, early_out = green_minus_red(ts_clip, 10), green_minus_red(out, 10)
    late_in, late_out = green_minus_red(ts_clip, frames - 5), green_minus_red(out, frames - 5)
    assert early_out > early_in + 30, (early_in, early_out)
    assert abs(late_out - late_in) < 12, (late_in, late_out)


def test_start_twice_stop_fast_and_bad_requests(relay, worker_factory, trickle_exe, background, ts_clip):
    worker = worker_factory("passthrough_worker")
    start_stream(worker, relay)
    publisher = background([trickle_exe, "publish", "--realtime", relay.url("in"), ts_clip], "publish")
    time.sleep(1.0)
    status, answer = worker.post("/stream/start", {"gateway_request_id": "again"})
    assert (status, answer) == (503, {"status": "error", "message": "Pipeline is still in use", "current_state": "OK"})
    status, answer = worker.post("/stream/start", b"{not json", "application/json")
    assert status == 400
    assert answer == {"status": "error", "current_state": "OK",
                      "message": "Error starting stream: Expecting property name enclosed in double quotes: "
                                 "line 1 column 2 (char 1)"}
    # A bad start leaves the running stream alone (upstream tears it down, docs/compatibility.md Q11).
    assert worker.get("/stream/status")[1]["client_running"] is True
    started = time.monotonic()
    status, answer = worker.post("/stream/stop", b"", "text/plain")
    took = time.monotonic() - started
    assert (status, answer) == (200, {"status": "success", "message": "Stream stopped successfully"})
    assert took < 2.0, f"/stream/stop took {took:.2f} s"
    assert worker.get("/health") == (200, {"status": "IDLE"})
    assert worker.get("/stream/status")[1]["client_active"] is False
    publisher.wait(timeout=60)


# What the worker answers to bad requests on an idle server: tests/rest_answers.json, held by
# test_rest_answers.py to this worker, our Python server and upstream's alike.


def test_libtorch_worker_runs_its_model_on_every_frame(relay, worker_factory, trickle_exe, background, ts_clip,
                                                       tmp_path):
    if not (_examples_dir() / "torch_sepia_worker").is_file():
        pytest.skip("LibTorch was not found when the examples were built (scripts/setup points CMake at "
                    "the torch wheel of .venv-upstream; without that venv there is no LibTorch here)")
    worker = worker_factory("torch_sepia_worker")
    start_stream(worker, relay)
    out = tmp_path / "out.ts"
    subscriber = background([trickle_exe, "subscribe", relay.url("out"), "-o", out], "subscribe")
    run([trickle_exe, "publish", "--realtime", relay.url("in"), ts_clip], timeout=60)
    assert subscriber.wait(timeout=30) == 0, subscriber.report()
    stats = worker.get("/stream/stats")[1]["stream"]
    # A loaded machine can stall the model long enough for the frame skipper to trim a backlog
    # (upstream's live behaviour): every frame not counted as dropped must be out.
    dropped = stats["queues"]["video_trimmed"] + stats["queues"]["video_dropped_full"]
    frames_in = count_video_frames(ts_clip)
    assert count_video_frames(out) == frames_in - dropped, stats
    assert dropped <= frames_in // 10, stats
    # Sepia: every output pixel is a warm grey, red >= green >= blue, whatever the input colours.
    r_in, g_in, b_in = frame_means(ts_clip, 30)
    r, g, b = frame_means(out, 30)
    assert r > g > b, (r, g, b)
    assert not (r_in > g_in > b_in), "the input frame should not already look sepia"
