#!/usr/bin/env python3
"""How many real-time streams one worker process serves at once: the GPU benchmark's second half.

One C++ worker process started with `--streams N` (plus --worker-args, e.g. "--gpu --cuda-frames"
on the GPU machine) serves N streams at the same time, each fed by its own
`trickle publish --realtime` of the same 1280x720 30 fps clip through one `trickle serve`, each
read back by `trickle subscribe`. N steps through --streams; a step is real time when every stream
lost fewer than 1 % of its frames and ended at most --max-lag seconds behind its input. Reported
per step: frames lost and final lag (worst stream), added latency p50 / p99 (median and worst
stream, after the first 2 s), worker CPU in cores and per stream, peak RSS, and GPU memory (the
worker's, from nvidia-smi, where there is one).

Standard library only; reuses bench/worker_bench.py's helpers. Progress on stderr, the markdown
table on stdout. bench/run_multi_stream builds what it needs and runs this.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import worker_bench as wb


def gpu_memory_mib(pid: int) -> float | None:
    """The worker's GPU memory now, or None without nvidia-smi (or a GPU)."""
    if shutil.which("nvidia-smi") is None:
        return None
    result = subprocess.run(["nvidia-smi", "--query-compute-apps=pid,used_memory", "--format=csv,noheader,nounits"],
                            capture_output=True, text=True)
    if result.returncode != 0:
        return None
    total = 0.0
    for line in result.stdout.splitlines():
        fields = [field.strip() for field in line.split(",")]
        if len(fields) == 2 and fields[0] == str(pid):
            total += float(fields[1])
    return total


def run_step(args: argparse.Namespace, workdir: Path, clip: Path, relay_port: int, streams: int,
             input_frames: int) -> dict:
    relay = f"http://127.0.0.1:{relay_port}"
    tag = f"n{streams}"
    port_file = workdir / f"worker-{tag}.port"
    worker = None
    publishers: list[subprocess.Popen] = []
    subscribers: list[subprocess.Popen] = []
    stop_probes = threading.Event()
    probes: list[threading.Thread] = []
    clocks = [(wb.VideoFrameClock(), wb.VideoFrameClock()) for _ in range(streams)]
    gpu_peak = None
    try:
        worker = subprocess.Popen(
            [str(args.worker), *args.worker_args.split(), "--streams", str(streams), "--host", "127.0.0.1",
             "--port", "0", "--port-file", str(port_file)],
            stdout=subprocess.DEVNULL, stderr=open(workdir / f"worker-{tag}.log", "wb"))
        wb.wait_for(lambda: port_file.exists() and len(port_file.read_text().split()) == streams, 30,
                    "the worker's port file")
        apis = [f"http://127.0.0.1:{int(port)}" for port in port_file.read_text().split()]
        for api in apis:
            wb.wait_for(lambda api=api: (wb.get_json(f"{api}/health") or {}).get("status") == "IDLE", 60,
                        "the worker to be IDLE")
        for index, api in enumerate(apis):
            source, sink = f"in-{tag}-{index}", f"out-{tag}-{index}"
            for channel in (source, sink):
                wb.http_request("POST", f"{relay}/{channel}")
            status, body = wb.http_request("POST", f"{api}/stream/start", {
                "subscribe_url": f"{relay}/{source}", "publish_url": f"{relay}/{sink}",
                "gateway_request_id": f"bench-{index}", "params": {"max_framerate": 60}})
            if status >= 300:
                raise RuntimeError(f"/stream/start on {api}: {status} {body!r}")
            subscribers.append(subprocess.Popen(
                [str(args.trickle), "subscribe", f"{relay}/{sink}", "-o", str(workdir / f"{sink}.ts"),
                 "--start-seq", "0"],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
            for channel, clock in ((source, clocks[index][0]), (sink, clocks[index][1])):
                probe = threading.Thread(target=wb.probe_channel,
                                         args=("127.0.0.1", relay_port, channel, clock, stop_probes), daemon=True)
                probe.start()
                probes.append(probe)
        time.sleep(0.5)  # every worker's first GET is waiting before anything is published
        cpu_before = wb.process_cpu_seconds(worker.pid)
        started = time.monotonic()
        for index in range(streams):
            publishers.append(subprocess.Popen(
                [str(args.trickle), "publish", "--realtime", f"{relay}/in-{tag}-{index}", str(clip)],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        deadline = started + args.clip_seconds + wb.DRAIN_GRACE_S
        while time.monotonic() < deadline and any(s.poll() is None for s in subscribers):
            memory = gpu_memory_mib(worker.pid)
            if memory is not None:
                gpu_peak = max(gpu_peak or 0.0, memory)
            time.sleep(0.5)
        finished = time.monotonic()
        cpu_seconds = wb.process_cpu_seconds(worker.pid) - cpu_before
        peak_rss = wb.process_peak_rss_mib(worker.pid)
    finally:
        stop_probes.set()
        for process in publishers + subscribers + ([worker] if worker else []):
            wb.stop_process(process)
        for probe in probes:
            probe.join(timeout=5)

    per_stream = []
    for index, (clock_in, clock_out) in enumerate(clocks):
        frames_out = wb.count_video_frames(workdir / f"out-{tag}-{index}.ts")
        arrivals_in, arrivals_out = clock_in.frame_arrivals, clock_out.frame_arrivals
        per_stream.append({
            "lost": 1 - frames_out / input_frames,
            "lag_s": arrivals_out[-1] - arrivals_in[-1] if arrivals_in and arrivals_out else float("inf"),
            "latency": wb.frame_latencies(clock_in, clock_out, 2 * wb.CLIP_FPS),
        })
    latencies = [s["latency"] for s in per_stream if s["latency"].get("matched")]
    kept_up = all(s["lost"] < 0.01 and s["lag_s"] <= args.max_lag for s in per_stream)
    return {
        "streams": streams,
        "kept_up": kept_up,
        "worst_lost": max(s["lost"] for s in per_stream),
        "worst_lag_s": max(s["lag_s"] for s in per_stream),
        "p50_ms": statistics.median(one["steady_p50_ms"] for one in latencies) if latencies else None,
        "p99_ms": max(one["steady_p99_ms"] for one in latencies) if latencies else None,
        "cpu_cores": cpu_seconds / (finished - started),
        "peak_rss_mib": peak_rss,
        "gpu_mib": gpu_peak,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trickle", type=Path, required=True)
    parser.add_argument("--worker", type=Path, required=True, help="a C++ worker taking --streams")
    parser.add_argument("--worker-args", default="", help='e.g. "--gpu --cuda-frames"')
    parser.add_argument("--streams", type=lambda s: [int(x) for x in s.split(",")], default=[1, 2, 4, 8, 16, 24, 32])
    parser.add_argument("--clip-seconds", type=float, default=20)
    parser.add_argument("--max-lag", type=float, default=0.5)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="multi-stream-bench-"))
    relay = None
    rows = []
    try:
        clip = wb.make_clip(workdir, args.clip_seconds)
        input_frames = wb.count_video_frames(clip)
        relay_port = wb.free_port()
        relay = subprocess.Popen([str(args.trickle), "serve", "--host", "127.0.0.1", "--port", str(relay_port)],
                                 stdout=subprocess.DEVNULL, stderr=open(workdir / "relay.log", "wb"))
        time.sleep(0.5)
        for streams in args.streams:
            row = run_step(args, workdir, clip, relay_port, streams, input_frames)
            wb.log(f"{streams} streams: {'real time' if row['kept_up'] else 'NOT real time'}, worst lost "
                   f"{100 * row['worst_lost']:.1f} %, worst lag {row['worst_lag_s']:.2f} s, worker "
                   f"{row['cpu_cores']:.2f} cores, GPU {row['gpu_mib']} MiB")
            rows.append(row)
            if not row["kept_up"]:
                break
    finally:
        wb.stop_process(relay)
        if args.keep:
            wb.log(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)

    def fmt(value, spec=".1f"):
        return "n/a" if value is None else format(value, spec)

    print(f"Worker: `{args.worker.name} {args.worker_args}`, clip 1280x720 30 fps, {args.clip_seconds:g} s, "
          f"every stream fed in real time at once.\n")
    print("| streams | real time | worst lost | worst final lag (s) | latency p50 (median) / p99 (worst), ms "
          "| worker CPU, cores (per stream) | peak RSS MiB | GPU memory MiB (per stream) |")
    print("|---:|---|---:|---:|---|---|---:|---|")
    for row in rows:
        per_stream_gpu = row["gpu_mib"] / row["streams"] if row["gpu_mib"] else None
        print(f"| {row['streams']} | {'yes' if row['kept_up'] else 'no'} | {100 * row['worst_lost']:.1f} % "
              f"| {row['worst_lag_s']:.2f} | {fmt(row['p50_ms'])} / {fmt(row['p99_ms'])} "
              f"| {row['cpu_cores']:.2f} ({row['cpu_cores'] / row['streams']:.2f}) | {row['peak_rss_mib']:.0f} "
              f"| {fmt(row['gpu_mib'], '.0f')} ({fmt(per_stream_gpu, '.0f')}) |")
    best = max((row["streams"] for row in rows if row["kept_up"]), default=0)
    print(f"\nMost concurrent real-time streams in this run: {best}.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
