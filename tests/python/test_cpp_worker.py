"""The C++ worker end to end, every part real: `trickle serve` (relay), an example worker binary
(passthrough or green tint), `trickle publish --realtime` feeding it, `trickle subscribe` reading
its output, and the REST calls a gateway makes (POST /stream/start, /stream/params,
/stream/stop)."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import pytest

from conftest import REPO
from trickle_testutil import (CLIP_FPS, CLIP_SECONDS, count_video_frames, create_channel, frame_means, http_request,
                             run, stream_codecs)


def _examples_dir() -> Path:
    env = os.environ.get("TRICKLE_EXAMPLES_DIR")
    return Path(env) if env else REPO / "build" / "examples"


class Worker:
    def __init__(self, proc, port: int, log: Path):
        self.proc, self.port, self.log = proc, port, log
        self.base = f"http://127.0.0.1:{port}"

    def get(self, path: str):
        status, _, body = http_request("GET", self.base + path)
        return status, json.loads(body) if body.startswith(b"{") else body.decode()

    def post(self, path: str, body, content_type: str = "application/json", timeout: float = 10.0):
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        status, _, answer = http_request("POST", self.base + path, headers={"Content-Type": content_type},
                                         data=data, timeout=timeout)
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


def test_one_process_serves_several_streams_at_once(relay, worker_factory, trickle_exe, background, ts_clip,
                                                    tmp_path):
    """--streams 2: two REST servers in one process, two streams running at the same time."""
    first = worker_factory("passthrough_worker", "--streams", "2")
    assert len(first.ports) == 2 and first.ports[0] != first.ports[1]
    second = Worker(first.proc, first.ports[1], first.log)
    deadline = time.monotonic() + 20
    while second.get("/health")[1] != {"status": "IDLE"}:
        assert time.monotonic() < deadline, first.output()
        time.sleep(0.05)
    publishers, subscribers, outputs = [], [], []
    for index, worker in enumerate((first, second)):
        source, sink = f"in{index}", f"out{index}"
        create_channel(relay.url(source))
        create_channel(relay.url(sink))
        status, answer = worker.post("/stream/start", {
            "subscribe_url": relay.url(source), "publish_url": relay.url(sink),
            "gateway_request_id": f"s{index}", "params": {"max_framerate": 60}})
        assert status == 200, answer
        out = tmp_path / f"out{index}.ts"
        outputs.append(out)
        subscribers.append(background([trickle_exe, "subscribe", relay.url(sink), "-o", out], f"subscribe{index}"))
    # Both servers run a stream at the same time.
    for worker in (first, second):
        assert worker.get("/health")[1] == {"status": "OK"}
    for index in range(2):
        publishers.append(background([trickle_exe, "publish", "--realtime", relay.url(f"in{index}"), ts_clip],
                                     f"publish{index}"))
    for process in publishers + subscribers:
        assert process.wait(timeout=60) == 0, process.report()
    assert [count_video_frames(out) for out in outputs] == [CLIP_SECONDS * CLIP_FPS] * 2
    assert [worker.get("/stream/status")[1]["current_params"]["gateway_request_id"]
            for worker in (first, second)] == ["s0", "s1"]


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
