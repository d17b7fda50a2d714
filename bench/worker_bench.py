#!/usr/bin/env python3
"""The whole C++ worker (passthrough_worker) against the FFmpeg CLI, on the same clip, in one run.

Both sides do the same media work: decode 1280x720 H.264, cover-scale and centre-crop to 512x512,
encode libx264 superfast/zerolatency plus Opus. FFmpeg reads a file as fast as it can; the worker is
fed over a trickle relay by `trickle publish --realtime --speed X` and its output is read back by
`trickle subscribe`. The worker's sustained throughput is the fastest feed it keeps up with: fewer
than 1 % of the video frames lost, and its last frame out at most --max-lag seconds after the last
frame in. Then, at real time, its CPU per frame, peak RSS and latency (its own histograms and an
external frame-by-frame measure).

Standard library only. Progress goes to stderr, the markdown table to stdout.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
CLIP_FPS = 30
OUTPUT_SIZE = 512
DROP_LIMIT = 0.01
# Ceiling on how long a realtime feed may lag behind: anything slower is a failure, not a result.
DRAIN_GRACE_S = 30.0
# After the input ended, this long without a new output frame means the worker has finished.
OUTPUT_IDLE_END_S = 4.0


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------------
# Media helpers


def make_clip(directory: Path, seconds: float) -> Path:
    clip = directory / "clip.ts"
    subprocess.run(
        ["ffmpeg", "-hide_banner", "-loglevel", "error", "-y",
         "-f", "lavfi", "-i", f"testsrc2=size=1280x720:rate={CLIP_FPS}",
         "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
         "-t", str(seconds),
         "-c:v", "libx264", "-preset", "veryfast", "-g", "60", "-bf", "0", "-pix_fmt", "yuv420p",
         "-c:a", "libopus", "-b:a", "64k",
         "-f", "mpegts", str(clip)],
        check=True)
    return clip


def count_video_frames(path: Path) -> int:
    """Decoded video frames, as ffprobe counts them (0 for a missing or empty file)."""
    if not path.exists() or path.stat().st_size == 0:
        return 0
    result = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", "v:0", "-count_frames",
         "-show_entries", "stream=nb_read_frames", "-of", "csv=p=0", str(path)],
        capture_output=True, text=True)
    # MPEG-TS lists the stream once per program section too: take the first number.
    numbers = [line.strip(",") for line in result.stdout.split() if line.strip(",").isdigit()]
    return int(numbers[0]) if numbers else 0


def children_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def system_busy_seconds() -> float:
    """CPU time every core together has spent not idle since boot (the "cpu" line of /proc/stat)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def wait_for_quiet(seconds: float) -> None:
    """Up to `seconds`, wait for the rest of the machine to use less than half a core (1 s samples).

    A build or a test run beside the bench takes cores from whichever side runs at that moment.
    """
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        busy_before = system_busy_seconds()
        time.sleep(1)
        if system_busy_seconds() - busy_before < 0.5:
            return
    if seconds > 0:
        log(f"  (the machine did not go quiet within {seconds:g} s: measuring anyway)")


def ffmpeg_ceiling(clip: Path, threads: int, frames: int) -> dict:
    """FFmpeg decode -> scale -> encode to /dev/null: the same work as the worker, with no network."""
    cover = (f"scale={OUTPUT_SIZE}:{OUTPUT_SIZE}:force_original_aspect_ratio=increase,"
             f"crop={OUTPUT_SIZE}:{OUTPUT_SIZE}")
    command = ["ffmpeg", "-hide_banner", "-loglevel", "error", "-nostdin", "-y",
               "-threads", str(threads), "-i", str(clip),
               "-filter_threads", str(threads), "-vf", cover,
               "-c:v", "libx264", "-preset", "superfast", "-tune", "zerolatency", "-bf", "0", "-g", "60",
               "-threads", str(threads),
               "-c:a", "libopus", "-f", "mpegts", "/dev/null"]
    # No other child is reaped while it runs, so the RUSAGE_CHILDREN delta is FFmpeg's own CPU.
    cpu_before = children_cpu_seconds()
    busy_before = system_busy_seconds()
    started = time.monotonic()
    subprocess.run(command, check=True)
    wall = time.monotonic() - started
    cpu = children_cpu_seconds() - cpu_before
    others = system_busy_seconds() - busy_before - cpu
    return {"fps": frames / wall, "wall_s": wall, "cpu_ms_per_frame": 1000 * cpu / frames,
            "other_cores": max(0.0, others / wall)}


# ---------------------------------------------------------------------------------------------
# Processes and HTTP


def free_port() -> int:
    # Bind-and-close leaves a tiny race with other programs; the relay has no --port-file.
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(predicate, timeout_s: float, what: str, interval_s: float = 0.05):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval_s)
    raise TimeoutError(f"timed out waiting for {what}")


def http_request(method: str, url: str, body: dict | None = None, timeout_s: float = 5.0,
                 headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    data = b"" if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data if method != "GET" else None, method=method,
                                     headers=headers or {})
    if body is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def get_json(url: str) -> dict | None:
    try:
        status, body = http_request("GET", url, timeout_s=2.0)
    except OSError:
        return None
    return json.loads(body) if status == 200 else None


def stop_process(process: subprocess.Popen | None) -> None:
    """SIGTERM, then SIGKILL: every process the bench starts ends here, whatever went wrong."""
    if process is None or process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def own_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def process_cpu_seconds(pid: int) -> float:
    # utime and stime are fields 14 and 15; split after the ")" so a command name with spaces is safe.
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def process_peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


# ---------------------------------------------------------------------------------------------
# External latency: the arrival time of each video frame on a channel, seen by a plain HTTP client.


class VideoFrameClock:
    """Feeds on an MPEG-TS byte stream and stamps the arrival of every video PES start.

    The k-th stamp is when the k-th video frame's first TS packet arrived. Each trickle segment
    starts with its own PAT/PMT, so the video PID is learnt (and relearnt) from them.
    """

    def __init__(self) -> None:
        self.pending = b""
        self.pmt_pids: set[int] = set()
        self.video_pid: int | None = None
        self.frame_arrivals: list[float] = []
        self.frame_pts: list[int | None] = []  # each frame's PTS (90 kHz), where its PES header has one

    def feed(self, data: bytes, now: float) -> None:
        data = self.pending + data
        usable = len(data) - len(data) % 188
        # Only packets that start a unit matter: test that bit before anything else, so following
        # a 240 fps feed costs the bench little of the CPU the worker is measured on.
        for offset in range(0, usable, 188):
            if data[offset + 1] & 0x40 and data[offset] == 0x47:
                self._unit_start(data[offset:offset + 188], now)
        self.pending = data[usable:]

    def _unit_start(self, packet: bytes, now: float) -> None:
        pid = ((packet[1] & 0x1F) << 8) | packet[2]
        adaptation = (packet[3] >> 4) & 0x3
        payload = 4
        if adaptation in (2, 3):
            payload += 1 + packet[4]
        if adaptation == 2 or payload >= 188:
            return
        body = packet[payload:]
        if pid == self.video_pid:
            self.frame_arrivals.append(now)
            self.frame_pts.append(pes_pts(body))
        elif pid == 0:
            self._pat(body[1 + body[0]:])
        elif pid in self.pmt_pids:
            self._pmt(body[1 + body[0]:])

    def _pat(self, section: bytes) -> None:
        length = ((section[1] & 0x0F) << 8) | section[2]
        entries = section[8:3 + length - 4]
        for i in range(0, len(entries) - 3, 4):
            program = (entries[i] << 8) | entries[i + 1]
            if program != 0:
                self.pmt_pids.add(((entries[i + 2] & 0x1F) << 8) | entries[i + 3])

    def _pmt(self, section: bytes) -> None:
        length = ((section[1] & 0x0F) << 8) | section[2]
        info_length = ((section[10] & 0x0F) << 8) | section[11]
        position, end = 12 + info_length, 3 + length - 4
        while position + 5 <= end:
            stream_type = section[position]
            pid = ((section[position + 1] & 0x1F) << 8) | section[position + 2]
            if stream_type in (0x1B, 0x24):  # H.264, HEVC
                self.video_pid = pid
            position += 5 + (((section[position + 3] & 0x0F) << 8) | section[position + 4])


def pes_pts(pes: bytes) -> int | None:
    """The PTS of a PES packet that starts in `pes` (90 kHz units), or None."""
    if len(pes) < 14 or pes[:3] != b"\x00\x00\x01" or not pes[7] & 0x80:
        return None
    p = pes[9:14]
    return ((p[0] >> 1) & 0x07) << 30 | p[1] << 22 | (p[2] >> 1) << 15 | p[3] << 7 | p[4] >> 1


def probe_channel(host: str, port: int, channel: str, clock: VideoFrameClock, stop: threading.Event) -> None:
    """A minimal trickle subscriber: GET /channel/0, /1, ... until the channel is closed.

    The next GET goes out as soon as a segment ends, before the publisher has usually begun the
    next one, so stamps are taken as bytes arrive, not replayed from the relay's buffer.
    """
    seq = 0
    while not stop.is_set():
        connection = http.client.HTTPConnection(host, port, timeout=DRAIN_GRACE_S)
        try:
            connection.request("GET", f"/{channel}/{seq}")
            response = connection.getresponse()
            if response.status == 470:  # not available: jump to where the relay is
                seq = int(response.getheader("Lp-Trickle-Latest", seq + 1))
                continue
            if response.status != 200 or response.getheader("Lp-Trickle-Closed"):
                return
            while chunk := response.read1(65536):
                clock.feed(chunk, time.monotonic())
            seq = int(response.getheader("Lp-Trickle-Seq", seq)) + 1
        except OSError:
            return
        finally:
            connection.close()


# ---------------------------------------------------------------------------------------------
# The worker, fed at a multiple of real time


class Bench:
    def __init__(self, args: argparse.Namespace, workdir: Path, clip: Path, input_frames: int) -> None:
        self.args = args
        self.workdir = workdir
        self.clip = clip
        self.input_frames = input_frames
        self.attempt = 0
        self.relay: subprocess.Popen | None = None
        self.relay_port = 0
        # The worker under test: a program taking --host, --port 0 and --port-file.
        self.worker_cmd: list[str] = [str(args.worker)] if getattr(args, "worker", None) else []
        self.worker_env: dict | None = None

    def start_relay(self) -> None:
        self.relay_port = free_port()
        self.relay = subprocess.Popen(
            [str(self.args.trickle), "serve", "--host", "127.0.0.1", "--port", str(self.relay_port), "--autocreate"],
            stdout=subprocess.DEVNULL, stderr=open(self.workdir / "relay.log", "wb"))

        def relay_accepts() -> bool:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.relay_port), timeout=1):
                return True
            return False

        wait_for(relay_accepts, 10, "the relay to listen")

    def stop_relay(self) -> None:
        stop_process(self.relay)

    def run_stream(self, speed: float) -> dict:
        """One fresh worker process and fresh channels; publish the clip at `speed` x real time."""
        self.attempt += 1
        tag = f"{self.attempt}"
        relay = f"http://127.0.0.1:{self.relay_port}"
        in_channel, out_channel = f"in-{tag}", f"out-{tag}"
        out_file = self.workdir / f"out-{tag}.ts"
        port_file = self.workdir / f"worker-{tag}.port"
        worker = subscriber = publisher = None
        probes: list[threading.Thread] = []
        stop_probes = threading.Event()
        input_clock, output_clock = VideoFrameClock(), VideoFrameClock()
        # A stale port file would point at a worker long gone.
        port_file.unlink(missing_ok=True)
        out_file.unlink(missing_ok=True)
        try:
            worker = subprocess.Popen(
                self.worker_cmd + ["--host", "127.0.0.1", "--port", "0", "--port-file", str(port_file)],
                stdout=subprocess.DEVNULL, stderr=open(self.workdir / f"worker-{tag}.log", "wb"), env=self.worker_env)
            wait_for(lambda: port_file.exists() and port_file.read_text().strip(), 30, "the worker's port file")
            api = f"http://127.0.0.1:{int(port_file.read_text())}"
            wait_for(lambda: (get_json(f"{api}/health") or {}).get("status") == "IDLE", 30, "the worker to be IDLE")

            for channel in (in_channel, out_channel):
                status, body = http_request("POST", f"{relay}/{channel}")
                if status >= 300:
                    raise RuntimeError(f"creating {channel}: {status} {body!r}")
            status, body = http_request("POST", f"{api}/stream/start", {
                "subscribe_url": f"{relay}/{in_channel}", "publish_url": f"{relay}/{out_channel}",
                "gateway_request_id": "bench", "params": {"max_framerate": 60}})
            if status >= 300:
                raise RuntimeError(f"/stream/start: {status} {body!r}")

            subscriber = subprocess.Popen(
                [str(self.args.trickle), "subscribe", f"{relay}/{out_channel}", "-o", str(out_file),
                 "--start-seq", "0"],
                stdout=subprocess.DEVNULL, stderr=open(self.workdir / f"subscribe-{tag}.log", "wb"))
            # Two more readers, on the worker's input and output channels, stamp every video frame as
            # it passes: the worker's latency and how far behind it ended, seen from outside.
            for channel, clock in ((in_channel, input_clock), (out_channel, output_clock)):
                probe = threading.Thread(target=probe_channel,
                                         args=("127.0.0.1", self.relay_port, channel, clock, stop_probes),
                                         daemon=True)
                probe.start()
                probes.append(probe)
            # The worker's GET for the first input segment must be waiting before it is published,
            # or it starts one GOP late (it asks for the next segment, not for seq 0).
            time.sleep(0.5)

            # Stats are polled while the stream runs: once the worker has drained a closed input,
            # the stream may be gone from /stream/stats.
            last_stats: dict = {}
            wait_for_quiet(self.args.quiet_wait)
            cpu_before = process_cpu_seconds(worker.pid)
            busy_before = system_busy_seconds()
            bench_cpu_before = own_cpu_seconds()
            started = time.monotonic()
            publisher = subprocess.Popen(
                [str(self.args.trickle), "publish", "--realtime", "--speed", str(speed),
                 f"{relay}/{in_channel}", str(self.clip)],
                stdout=subprocess.DEVNULL, stderr=open(self.workdir / f"publish-{tag}.log", "wb"))
            feed_seconds = self.args.clip_seconds / speed
            deadline = started + feed_seconds + DRAIN_GRACE_S
            published_at = None
            timed_out = True
            seen_out, last_out_change = 0, time.monotonic()
            while time.monotonic() < deadline:
                stats = (get_json(f"{api}/stream/stats") or {}).get("stream")
                if stats:
                    last_stats = stats
                if published_at is None and publisher.poll() is not None:
                    published_at = time.monotonic()
                if subscriber.poll() is not None:
                    timed_out = False
                    break
                # A worker that never closes its output (upstream, docs/compatibility.md Q21) has finished once
                # the input
                # is over and nothing new came out for a while.
                if len(output_clock.frame_arrivals) != seen_out:
                    seen_out, last_out_change = len(output_clock.frame_arrivals), time.monotonic()
                if (published_at is not None and seen_out > 0
                        and time.monotonic() - max(last_out_change, published_at) > OUTPUT_IDLE_END_S):
                    timed_out = False
                    break
                time.sleep(0.2)
            finished = time.monotonic()
            cpu_seconds = process_cpu_seconds(worker.pid) - cpu_before
            bench_cpu_seconds = own_cpu_seconds() - bench_cpu_before
            busy_seconds = system_busy_seconds() - busy_before
            peak_rss = process_peak_rss_mib(worker.pid)
            stats = (get_json(f"{api}/stream/stats") or {}).get("stream")
            if stats:
                last_stats = stats
            http_request("POST", f"{api}/stream/stop")
            stop_probes.set()
            for probe in probes:
                probe.join(timeout=5)
        finally:
            stop_probes.set()
            for process in (publisher, subscriber, worker):
                stop_process(process)

        output_frames = count_video_frames(out_file)
        result = {
            "speed": speed,
            "input_fps": CLIP_FPS * speed,
            "output_frames": output_frames,
            "dropped": 1 - output_frames / self.input_frames,
            "timed_out": timed_out,
            "publish_s": (published_at or finished) - started,
            "drain_s": finished - (published_at or finished),
            "cpu_ms_per_frame": 1000 * cpu_seconds / self.input_frames,
            "cpu_percent": 100 * cpu_seconds / (finished - started),
            # The probes and the stats polling share the two cores with the worker: say how much.
            "bench_cpu_percent": 100 * bench_cpu_seconds / (finished - started),
            # Everything but the worker: relay, publisher, subscribers, the bench, and whatever else
            # runs on the machine. Far above ~0.2 cores, something else took CPU from the worker.
            "other_cores": max(0.0, (busy_seconds - cpu_seconds) / (finished - started)),
            "peak_rss_mib": peak_rss,
            "stats": last_stats,
        }
        arrivals_in, arrivals_out = input_clock.frame_arrivals, output_clock.frame_arrivals
        # How far behind the worker was when the feed ended: its last frame out after the last frame in.
        result["final_lag_s"] = arrivals_out[-1] - arrivals_in[-1] if arrivals_in and arrivals_out else None
        # Once the worker falls behind, it works through a backlog: its output rate is then its capacity.
        result["output_fps"] = ((len(arrivals_out) - 1) / (arrivals_out[-1] - arrivals_out[0])
                                if len(arrivals_out) > 1 and arrivals_out[-1] > arrivals_out[0] else None)
        result["external_latency"] = frame_latencies(input_clock, output_clock, round(CLIP_FPS * speed * 2))
        if self.args.keep:
            # Frame-by-frame arrivals, for finding which frames make the tail.
            (self.workdir / f"arrivals-{self.attempt}.json").write_text(
                json.dumps({"speed": speed, "in": arrivals_in, "out": arrivals_out}))
        return result


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, int(round(fraction * len(ordered) + 0.5)) - 1))
    return ordered[rank]


def frame_latencies(input_clock: VideoFrameClock, output_clock: VideoFrameClock, warmup_frames: int) -> dict:
    """Frame k out minus frame k in. Only meaningful when no frame was lost in between.

    "steady" leaves out the first two seconds of media: the worker probes its input stream and opens
    its decoder and encoders before the first frame, and those frames then wait for that once.
    """
    arrivals_in, arrivals_out = input_clock.frame_arrivals, output_clock.frame_arrivals
    # A few frames missing at the very end (a worker that cuts its last segment short) still
    # leaves frame k out matching frame k in; anything more is not a latency measurement.
    missing = len(arrivals_in) - len(arrivals_out)
    if not arrivals_in or not arrivals_out or missing < 0 or missing > 2 * CLIP_FPS:
        return {"matched": False, "in": len(arrivals_in), "out": len(arrivals_out)}
    deltas = [1000 * (o - i) for i, o in zip(arrivals_in, arrivals_out)]
    steady = deltas[warmup_frames:] or deltas
    return {"matched": True, "frames": len(deltas), "first_ms": deltas[0],
            "p50_ms": percentile(deltas, 0.5), "p99_ms": percentile(deltas, 0.99),
            "steady_p50_ms": percentile(steady, 0.5), "steady_p99_ms": percentile(steady, 0.99)}


def describe_stats(stats: dict) -> str:
    """Where frames went: the counters that explain a loss."""
    if not stats:
        return "no stats"
    decoder, processor, queues, encoder = (stats.get(k, {}) for k in ("decoder", "processor", "queues", "encoder"))
    parts = [
        f"decoded {decoder.get('video_frames_decoded')}",
        f"delivered {decoder.get('video_frames_delivered')}",
        f"fps-limited {decoder.get('video_dropped_by_fps_limit')}",
        f"processed {processor.get('video_processed')}",
        f"skipped {processor.get('video_skipped')}",
        f"trimmed {queues.get('video_trimmed')}",
        f"dropped_full {queues.get('video_dropped_full')}",
        f"output_dropped_full {queues.get('output_dropped_full')}",
        f"encoded {encoder.get('video_frames_encoded')}",
        f"av_sync {encoder.get('video_dropped_av_sync')}",
    ]
    return ", ".join(parts)


def fmt_s(seconds: float | None) -> str:
    return "n/a" if seconds is None else f"{seconds:.2f} s"


def fmt_fps(fps: float | None) -> str:
    return "n/a" if fps is None else f"{fps:.0f} fps"


def summarize(result: dict, input_frames: int) -> str:
    return (f"speed {result['speed']:g} ({result['input_fps']:.0f} fps in): "
            f"out {result['output_frames']}/{input_frames}"
            f" frames, dropped {100 * result['dropped']:.1f} %, worker CPU {result['cpu_percent']:.0f} %"
            f" (bench's own {result['bench_cpu_percent']:.0f} %, all others {result['other_cores']:.2f} cores),"
            f" drain {result['drain_s']:.2f} s, final lag {fmt_s(result['final_lag_s'])},"
            f" output {fmt_fps(result['output_fps'])}"
            f"{' TIMED OUT' if result['timed_out'] else ''}"
            f" [{describe_stats(result['stats'])}]")


def find_sustained(bench: Bench, input_frames: int) -> tuple[dict | None, dict | None, list[dict]]:
    """Step up through speeds until one fails, then bisect between the last pass and the first fail."""
    passed: dict | None = None
    failed: dict | None = None
    attempts: list[dict] = []

    def attempt(speed: float) -> dict:
        result = bench.run_stream(speed)
        lag = result["final_lag_s"]
        result["ok"] = (not result["timed_out"] and result["dropped"] < DROP_LIMIT
                        and lag is not None and lag <= bench.args.max_lag)
        log("  " + summarize(result, input_frames) + ("" if result["ok"] else "  -> FAIL"))
        attempts.append(result)
        return result

    for speed in bench.args.speeds:
        result = attempt(speed)
        if result["ok"]:
            passed = result
        else:
            failed = result
            break
    if passed and failed:
        low, high = passed["speed"], failed["speed"]
        for _ in range(bench.args.bisect_steps):
            middle = round((low + high) / 2, 2)
            if middle in (low, high):
                break
            result = attempt(middle)
            if result["ok"]:
                passed, low = result, middle
            else:
                failed, high = result, middle
    return passed, failed, attempts


# ---------------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    build = REPO_ROOT / "build-bench"
    parser.add_argument("--clip-seconds", type=float, default=20, help="length of the 1280x720 30 fps test clip")
    parser.add_argument("--runs", type=int, default=3, help="FFmpeg runs and realtime worker runs (median)")
    parser.add_argument("--speeds", type=lambda s: [float(x) for x in s.split(",")],
                        default=[1, 2, 3, 4, 6, 8, 12, 16], help="feed speeds to step through, x real time")
    parser.add_argument("--max-lag", type=float, default=0.5,
                        help="seconds the worker's last frame out may trail the last frame in and still count "
                             "as kept up")
    parser.add_argument("--quiet-wait", type=float, default=0,
                        help="before each measurement, wait up to this long for the machine to go quiet")
    parser.add_argument("--bisect-steps", type=int, default=2, help="bisection steps after the first failure")
    parser.add_argument("--trickle", type=Path, default=build / "src" / "trickle",
                        help="the trickle tool (relay, publisher, subscriber)")
    parser.add_argument("--worker", type=Path, default=build / "examples" / "passthrough_worker",
                        help="the worker under test (takes --host, --port 0, --port-file)")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (clip, outputs, logs)")
    args = parser.parse_args()
    for tool in ("ffmpeg", "ffprobe"):
        if not shutil.which(tool):
            log(f"{tool} not found")
            return 2
    for binary in (args.trickle, args.worker):
        if not binary.exists():
            log(f"{binary} not built (bench/run_worker_bench builds it)")
            return 2

    # Everything here shares the cores with whatever else runs: the load average goes in the report.
    load_before = Path("/proc/loadavg").read_text().split()[0]
    workdir = Path(tempfile.mkdtemp(prefix="worker-bench-"))
    bench = None
    try:
        log(f"clip: 1280x720 {CLIP_FPS} fps, {args.clip_seconds:g} s, testsrc2 + 440 Hz sine ({workdir})")
        clip = make_clip(workdir, args.clip_seconds)
        input_frames = count_video_frames(clip)
        log(f"clip: {input_frames} video frames")

        # FFmpeg runs before and again after the worker, so a machine that got busier (or quieter)
        # halfway through shows up as a spread between the two rounds instead of favouring one side.
        ffmpeg_runs: dict[int, list[dict]] = {1: [], 2: []}

        def ffmpeg_round(when: str) -> None:
            for threads in (1, 2):
                runs = []
                for _ in range(args.runs):
                    wait_for_quiet(args.quiet_wait)
                    runs.append(ffmpeg_ceiling(clip, threads, input_frames))
                ffmpeg_runs[threads] += runs
                log(f"ffmpeg -threads {threads}, {when}: " + ", ".join(
                    f"{r['fps']:.0f} fps (others {r['other_cores']:.2f} cores)" for r in runs))

        ffmpeg_round("before the worker")

        bench = Bench(args, workdir, clip, input_frames)
        bench.start_relay()
        log("worker: stepping up the feed speed")
        passed, failed, _ = find_sustained(bench, input_frames)

        log(f"worker at real time, {args.runs} fresh processes")
        realtime = []
        for _ in range(args.runs):
            result = bench.run_stream(1.0)
            log("  " + summarize(result, input_frames) + f"; external latency {result['external_latency']}")
            realtime.append(result)
        ffmpeg_round("after the worker")
    finally:
        if bench:
            bench.stop_relay()
        if args.keep:
            log(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)

    load_after = Path("/proc/loadavg").read_text().split()[0]
    ffmpeg_rows = {threads: {key: statistics.median(r[key] for r in runs)
                             for key in ("fps", "cpu_ms_per_frame", "other_cores")}
                   for threads, runs in ffmpeg_runs.items()}
    print_table(args, input_frames, ffmpeg_rows, passed, failed, realtime, f"{load_before} / {load_after}")
    return 0


def print_table(args, input_frames: int, ffmpeg_rows: dict, passed: dict | None, failed: dict | None,
                realtime: list[dict], load: str) -> None:
    def median_of(getter) -> float | None:
        values = [v for v in (getter(r) for r in realtime) if v is not None]
        return statistics.median(values) if values else None

    def fmt(value: float | None, spec: str = ".1f") -> str:
        return "n/a" if value is None else format(value, spec)

    def latency(stage: str, key: str):
        return median_of(lambda r: (r["stats"].get("latency_ms", {}).get(stage) or {}).get(key))

    def external(key: str):
        return median_of(lambda r: r["external_latency"].get(key) if r["external_latency"].get("matched") else None)

    sustained = passed["input_fps"] if passed else None
    print(f"Clip: 1280x720 {CLIP_FPS} fps, {args.clip_seconds:g} s ({input_frames} video frames), "
          f"testsrc2 + Opus; output 512x512 libx264 superfast/zerolatency + Opus. "
          f"{os.cpu_count()} cores, 1-min load average before / after: {load}.\n")
    print("| | fps | CPU ms/frame | other load, cores | note |")
    print("|---|---:|---:|---:|---|")
    for threads in (1, 2):
        row = ffmpeg_rows[threads]
        print(f"| FFmpeg CLI, -threads {threads} | {row['fps']:.0f} | {row['cpu_ms_per_frame']:.2f} |"
              f" {row['other_cores']:.2f} | file to /dev/null, median of {2 * args.runs} "
              "(before and after the worker) |")
    if passed:
        note = (f"fed at {passed['speed']:g}x: {100 * passed['dropped']:.1f} % lost,"
                f" last frame {fmt_s(passed['final_lag_s'])} behind")
        if failed:
            note += (f"; at {failed['speed']:g}x ({failed['input_fps']:.0f} fps): {100 * failed['dropped']:.1f} % lost,"
                     f" {fmt_s(failed['final_lag_s'])} behind, output {fmt_fps(failed['output_fps'])}")
        print(f"| worker, sustained | {sustained:.0f} | {passed['cpu_ms_per_frame']:.2f} |"
              f" {passed['other_cores']:.2f} | {note} |")
        for threads in (1, 2):
            ffmpeg = ffmpeg_rows[threads]
            print(f"| worker / FFmpeg -threads {threads} | {100 * sustained / ffmpeg['fps']:.0f} % |"
                  f" {100 * passed['cpu_ms_per_frame'] / ffmpeg['cpu_ms_per_frame']:.0f} % | | |")
    else:
        print("| worker, sustained | n/a | | | not even real time kept up |")
    print()
    print(f"Worker at real time ({CLIP_FPS} fps), median of {len(realtime)} fresh processes:\n")
    print("| measure | value |")
    print("|---|---:|")
    print(f"| frames lost | {fmt(median_of(lambda r: 100 * r['dropped']))} % |")
    print(f"| CPU ms/frame (worker process, utime+stime) | {fmt(median_of(lambda r: r['cpu_ms_per_frame']), '.2f')} |")
    print(f"| CPU % of one core | {fmt(median_of(lambda r: r['cpu_percent']), '.0f')} |")
    print(f"| other load meanwhile, cores | {fmt(median_of(lambda r: r['other_cores']), '.2f')} |")
    print(f"| peak RSS (VmHWM) MiB | {fmt(median_of(lambda r: r['peak_rss_mib']))} |")
    print(f"| internal demux_to_encoded p50 / p99 ms | {fmt(latency('demux_to_encoded', 'p50_ms'))} / "
          f"{fmt(latency('demux_to_encoded', 'p99_ms'))} |")
    for stage in ("decode", "process", "encode"):
        print(f"| internal {stage} p50 / p99 ms | {fmt(latency(stage, 'p50_ms'))} / {fmt(latency(stage, 'p99_ms'))} |")
    print(f"| external, frame on input channel -> on output channel, p50 / p99 ms, all frames |"
          f" {fmt(external('p50_ms'))} / {fmt(external('p99_ms'))} |")
    print(f"| external, same, after the first 2 s, p50 / p99 ms |"
          f" {fmt(external('steady_p50_ms'))} / {fmt(external('steady_p99_ms'))} |")
    print(f"| external, first frame ms | {fmt(external('first_ms'))} |")


if __name__ == "__main__":
    sys.exit(main())
