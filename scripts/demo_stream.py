#!/usr/bin/env python3
"""The main job on one machine: the engine's relay embedded in this process, a 10 s 1280x720 clip
published to it in real time, a StreamServer running the green-tint example processor (Python,
pytrickle.examples.process_video_example), the stream started over REST, the output read back.
Half way through, a params update on the stream's control channel (as a Livepeer gateway sends
one) turns the tint off. Prints frames in/out, fps, the latency the worker adds (p50/p99, each
frame's arrival on the output channel minus its arrival on the input channel), how far output
frames are from their input before and after the update, and where the output went.

Run by scripts/demo (which sets everything up first).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "python"))
sys.path.insert(0, str(REPO / "bench"))

from worker_bench import VideoFrameClock, count_video_frames, percentile, probe_channel  # noqa: E402

from pytrickle import StreamProcessor, TricklePublisher  # noqa: E402
from pytrickle.examples.process_video_example import GreenProcessorHandlers  # noqa: E402
from pytrickle.relay import TrickleRelay  # noqa: E402

FPS = 30


def step(message: str) -> None:
    print(f"demo: {message}", flush=True)


def rest(method: str, url: str, body: dict | None = None) -> dict:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def make_clip(path: Path, seconds: int) -> None:
    subprocess.run(
        ["ffmpeg", "-hide_banner", "-loglevel", "error", "-y",
         "-f", "lavfi", "-i", f"testsrc2=size=1280x720:rate={FPS}",
         "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
         "-t", str(seconds), "-c:v", "libx264", "-preset", "veryfast", "-g", str(2 * FPS), "-bf", "0",
         "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "64k", "-f", "mpegts", str(path)], check=True)


def frame_pixels(path: Path, index: int, crop_from_720p: bool) -> bytes:
    """One frame as 64x64 RGB; an input frame framed as the worker frames its 512x512 output
    (scaled to 512 high, centre-cropped) and mirrored, as the example processor mirrors it."""
    fit = "scale=-2:512,crop=512:512,hflip," if crop_from_720p else ""
    return subprocess.run(["ffmpeg", "-v", "error", "-i", str(path),
                           "-vf", f"select=eq(n\\,{index}),{fit}scale=64:64", "-frames:v", "1",
                           "-pix_fmt", "rgb24", "-f", "rawvideo", "-"], check=True, capture_output=True).stdout


def distance_from_input(clip: Path, output: Path, index: int) -> float:
    """Mean absolute difference (0-255) between an output frame and its input frame."""
    a, b = frame_pixels(clip, index, True), frame_pixels(output, index, False)
    return sum(abs(x - y) for x, y in zip(a, b)) / max(1, len(a))


async def send_control(url: str, params: dict) -> None:
    """One JSON message on the control channel, as a gateway sends a params update."""
    publisher = TricklePublisher(url, "application/json")
    try:
        async with await publisher.next() as segment:
            await segment.write(json.dumps(params).encode())
    finally:
        await publisher.close()


class RecordingClock(VideoFrameClock):
    """Stamps each video frame as it arrives and writes the bytes to a file."""

    def __init__(self, sink) -> None:
        super().__init__()
        self.sink = sink

    def feed(self, data: bytes, now: float) -> None:
        self.sink.write(data)
        super().feed(data, now)


async def run(args) -> int:
    out_dir = args.out_dir.resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    clip, output, png = out_dir / "input.ts", out_dir / "output.ts", out_dir / "output-frame.png"
    step(f"making a {args.seconds} s 1280x720 {FPS} fps test clip with audio ({clip})")
    make_clip(clip, args.seconds)
    frames_in_clip = count_video_frames(clip)

    relay = TrickleRelay()
    step(f"embedded trickle relay on {relay.base_url}")
    for channel in ("in", "out"):
        relay.create_channel(channel, "video/mp2t")
    relay.create_channel("control", "application/json")

    handlers = GreenProcessorHandlers()
    app = StreamProcessor.from_handlers(handlers, name="green-processor", port=0, host="127.0.0.1")
    handlers.processor = app
    server = app.server
    await server.start_server()
    api = f"http://127.0.0.1:{server.bound_port()}"
    step(f"StreamServer (green-tint Python processor) on {api}")
    while (await asyncio.to_thread(rest, "GET", api + "/health"))["status"] != "IDLE":
        await asyncio.sleep(0.1)

    answer = await asyncio.to_thread(rest, "POST", api + "/stream/start", {
        "subscribe_url": relay.url("in"), "publish_url": relay.url("out"), "control_url": relay.url("control"),
        "gateway_request_id": "demo", "params": {"max_framerate": 60, "intensity": 0.6}})
    step(f"POST /stream/start -> {answer['status']}: {answer['message']}")

    stop = threading.Event()
    sink = open(output, "wb")
    input_clock, output_clock = VideoFrameClock(), RecordingClock(sink)
    readers = [threading.Thread(target=probe_channel, args=("127.0.0.1", relay.port, "in", input_clock, stop),
                                daemon=True),
               threading.Thread(target=probe_channel, args=("127.0.0.1", relay.port, "out", output_clock, stop),
                                daemon=True)]
    for reader in readers:
        reader.start()
    await asyncio.sleep(0.5)  # the worker's GET for the first segment is waiting

    trickle = next((p for p in (REPO / "build" / "src" / "trickle", REPO / ".local" / "bin" / "trickle") if p.exists()))
    step(f"publishing the clip in real time ({args.seconds} s)")
    publisher = subprocess.Popen([str(trickle), "publish", "--realtime", relay.url("in"), str(clip)],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    started = time.monotonic()
    update_at, frames_before_update = args.seconds / 2, None
    while publisher.poll() is None:
        await asyncio.sleep(1.0)
        if frames_before_update is None and time.monotonic() - started >= update_at:
            frames_before_update = len(output_clock.frame_arrivals)
            await send_control(relay.url("control"), {"intensity": 0.0})
            step(f"  control channel: params update {{\"intensity\": 0.0}} (tint off) after output frame"
                 f" {frames_before_update}")
        status = await asyncio.to_thread(rest, "GET", api + "/stream/status")
        fps = status.get("fps", {})
        step(f"  {time.monotonic() - started:4.1f} s: frames in {len(input_clock.frame_arrivals):4d},"
             f" out {len(output_clock.frame_arrivals):4d}; fps in {fps.get('ingress_video_fps', 0):.1f},"
             f" out {fps.get('egress_video_fps', 0):.1f}")
    step("input published; waiting for the worker to drain and end its output")
    for reader in readers[1:]:
        await asyncio.to_thread(reader.join, 30)
    stop.set()
    sink.close()
    status = await asyncio.to_thread(rest, "GET", api + "/stream/status")
    await server.stop()
    if server._runner is not None:
        await server._runner.cleanup()
    relay.stop()

    frames_out = count_video_frames(output)
    arrivals_in, arrivals_out = input_clock.frame_arrivals, output_clock.frame_arrivals
    pairs = list(zip(arrivals_in, arrivals_out))[2 * FPS:]  # after the first two seconds (start-up)
    latencies = [1000 * (o - i) for i, o in pairs]
    subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", "-i", str(output),
                    "-vf", f"select=eq(n\\,{frames_out // 2})", "-frames:v", "1", str(png)], check=True)
    fps = status.get("fps", {})
    print()
    print(f"frames in:   {frames_in_clip} (clip), {len(arrivals_in)} seen on the input channel")
    print(f"frames out:  {frames_out}")
    print(f"fps:         in {fps.get('ingress_video_fps', 0):.1f}, out {fps.get('egress_video_fps', 0):.1f}"
          f" (last 10 s, as /stream/status reports)")
    if latencies and len(arrivals_in) == len(arrivals_out):
        print(f"added latency: p50 {percentile(latencies, 0.5):.0f} ms, p99 {percentile(latencies, 0.99):.0f} ms"
              f" (frame arrival out minus in, {len(latencies)} frames after the first 2 s)")
    else:
        print(f"added latency: not measured ({len(arrivals_in)} frames in, {len(arrivals_out)} out)")
    if frames_before_update is not None and frames_out > frames_before_update + 2 * FPS:
        before = distance_from_input(clip, output, max(0, frames_before_update - FPS))
        after = distance_from_input(clip, output, min(frames_out - 1, frames_before_update + 2 * FPS))
        print(f"params update: output frame vs its input frame, mean |difference| {before:.1f} before"
              f" (tint 0.6), {after:.1f} after (tint off: what encoding alone changes)")
    print(f"output:      {output}")
    print(f"one frame:   {png}")
    return 0 if frames_out == frames_in_clip else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--out-dir", type=Path, default=REPO / "demo-output")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(name)s %(levelname)s %(message)s")
    logging.getLogger().setLevel(logging.WARNING)  # the example module asks for INFO
    return asyncio.run(run(args))


if __name__ == "__main__":
    sys.exit(main())
