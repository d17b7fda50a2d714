"""Our example programs (examples/python, installed as pytrickle.examples), each run as its own
process exactly as a user starts it (`python -m pytrickle.examples.<name>`), driven over REST
with a real clip through the real relay."""

from __future__ import annotations

import os
import socket
import time

import pytest

from conftest import REPO
from trickle_testutil import (CLIP_FPS, CLIP_SECONDS, count_video_frames, create_channel, frame_means, run,
                             stream_codecs)
from python_worker import _request

import numpy as np

FRAMES = CLIP_SECONDS * CLIP_FPS
EXAMPLE_PORT = 8000  # what the examples listen on, as upstream's do
API = f"http://127.0.0.1:{EXAMPLE_PORT}"


@pytest.fixture
def example(background):
    """example(name) -> the running example process, once its /health answers `ready_status`."""

    def start(name: str, ready_status: str = "IDLE", timeout: float = 40):
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", EXAMPLE_PORT)) == 0:
                pytest.fail(f"port {EXAMPLE_PORT} is taken by another program: the examples listen there")
        env = dict(os.environ, PYTHONPATH=str(REPO / "python"), PYTHONUNBUFFERED="1")
        process = background([str(REPO / ".venv" / "bin" / "python"), "-m", f"pytrickle.examples.{name}"], name,
                             env=env)
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            assert process.proc.poll() is None, process.report()
            try:
                last = _request("GET", API + "/health", timeout=2)
            except OSError:
                last = None
            if last and last[1] == {"status": ready_status}:
                return process
            time.sleep(0.2)
        pytest.fail(f"{name}: /health never said {ready_status} (last {last})\n{process.report()}")

    return start


def frame_pixels(path, index: int, size: int = 128, mirror: bool = False) -> np.ndarray:
    """One decoded frame as a (size, size, 3) float array, optionally mirrored left-right."""
    mirror_filter = ",hflip" if mirror else ""
    cp = run(["ffmpeg", "-v", "error", "-i", path, "-vf",
              f"select=eq(n\\,{index}),scale=512:512:force_original_aspect_ratio=increase,crop=512:512,"
              f"scale={size}:{size}{mirror_filter}",
              "-frames:v", "1", "-pix_fmt", "rgb24", "-f", "rawvideo", "-"], timeout=60)
    return np.frombuffer(cp.stdout, np.uint8).reshape(size, size, 3).astype(np.float32)


def saturation(pixels: np.ndarray) -> float:
    return float((pixels.max(axis=2) - pixels.min(axis=2)).mean())


def stream_through(relay, trickle_exe, background, ts_clip, out, params=None, mid_stream=None):
    for channel in ("in", "out"):
        create_channel(relay.url(channel))
    status, answer = _request("POST", API + "/stream/start", {
        "subscribe_url": relay.url("in"), "publish_url": relay.url("out"), "gateway_request_id": "example",
        "params": {"max_framerate": 60, **(params or {})}})
    assert status == 200, answer
    subscriber = background([trickle_exe, "subscribe", relay.url("out"), "-o", out], "subscribe")
    publisher = background([trickle_exe, "publish", "--realtime", relay.url("in"), ts_clip], "publish")
    if mid_stream:
        time.sleep(CLIP_SECONDS / 2)
        mid_stream()
    assert publisher.wait(60) == 0, publisher.report()
    assert subscriber.wait(40) == 0, subscriber.report()


def test_passthrough_example(example, relay, trickle_exe, background, ts_clip, tmp_path):
    example("passthrough_example")
    out = tmp_path / "out.ts"
    stream_through(relay, trickle_exe, background, ts_clip, out)
    assert count_video_frames(out) == FRAMES
    assert stream_codecs(out) == ["h264,video", "opus,audio"]
    # Passthrough: the picture is the input's (cover-scaled to 512x512 by both sides here).
    for index in (10, FRAMES - 10):
        got, want = frame_means(out, index), frame_means(ts_clip, index)
        assert all(abs(g - w) < 12 for g, w in zip(got, want)), (index, got, want)


def test_process_video_example_tints_green_until_told_otherwise(example, relay, trickle_exe, background, ts_clip,
                                                                tmp_path):
    example("process_video_example")
    out = tmp_path / "out.ts"

    def turn_off():
        status, answer = _request("POST", API + "/stream/params", {"intensity": 0.0})
        assert status == 200, answer

    stream_through(relay, trickle_exe, background, ts_clip, out, params={"intensity": 0.8}, mid_stream=turn_off)
    assert count_video_frames(out) == FRAMES
    # Always mirrored; tinted (hue moved) before the update, only mirrored after.
    early_out, early_mirrored = frame_pixels(out, 10), frame_pixels(ts_clip, 10, mirror=True)
    late_out, late_mirrored = frame_pixels(out, FRAMES - 10), frame_pixels(ts_clip, FRAMES - 10, mirror=True)
    late_plain = frame_pixels(ts_clip, FRAMES - 10)
    assert np.abs(late_out - late_mirrored).mean() < 8
    assert np.abs(late_out - late_plain).mean() > 3 * np.abs(late_out - late_mirrored).mean()
    assert np.abs(early_out - early_mirrored).mean() > 20  # the hue moved


def test_grayscale_chipmunk_example(example, relay, trickle_exe, background, ts_clip, tmp_path):
    example("grayscale_chipmunk_example")
    out = tmp_path / "out.ts"
    stream_through(relay, trickle_exe, background, ts_clip, out)
    assert count_video_frames(out) == FRAMES
    assert stream_codecs(out) == ["h264,video", "opus,audio"]
    assert saturation(frame_pixels(out, 30)) < 4  # gray
    assert saturation(frame_pixels(ts_clip, 30)) > 40  # the input is colourful
    # The audio went through the handler and is still there, at least as long as the video.
    probe = run(["ffprobe", "-v", "error", "-select_streams", "a:0", "-show_entries", "stream=duration",
                 "-of", "csv=p=0", out], timeout=60)
    assert float(probe.stdout.decode().split()[0]) > CLIP_SECONDS - 1


def test_overlay_example_loads_then_streams_and_shows_the_overlay(example, relay, trickle_exe, background, ts_clip,
                                                                 tmp_path):
    # The example pretends its model takes 10 s to load: LOADING first, then IDLE.
    example("overlay_example", timeout=40)
    out = tmp_path / "out.ts"

    def hold():
        status, answer = _request("POST", API + "/stream/params", {"processing_delay": 30})
        assert status == 200, answer

    stream_through(relay, trickle_exe, background, ts_clip, out, mid_stream=hold)
    frames = count_video_frames(out)
    assert frames == FRAMES
    # The first half is the input; once held, the overlay (dark background (30, 30, 30)) replaces it.
    early, late = frame_means(out, 20), frame_means(out, FRAMES - 10)
    assert max(early) > 60, early
    assert all(abs(c - 30) < 12 for c in late), late
