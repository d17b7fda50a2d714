#!/usr/bin/env python3
"""Upstream PyTrickle against this package (and the C++ worker), same clip, same relay, same
passthrough worker program (bench/python_passthrough_worker.py, unchanged on both packages).

For each: sustained throughput (the fastest feed, in multiples of real time, at which fewer than
1 % of the frames are lost and the last frame comes out at most --max-lag behind the last one in),
then at real time (30 fps) CPU per frame, added latency p50/p99 measured from outside (each frame's
arrival on the worker's output channel minus its arrival on the input channel) and peak RSS;
the median of --runs fresh processes. Progress on stderr, the markdown table on stdout.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import worker_bench as wb  # noqa: E402

REPO = Path(__file__).resolve().parent.parent


def measure(bench: wb.Bench, name: str, input_frames: int, runs: int) -> dict:
    wb.log(f"{name}: stepping up the feed speed")
    passed, failed, _ = wb.find_sustained(bench, input_frames)
    wb.log(f"{name}: at real time, {runs} fresh processes")
    realtime = []
    for _ in range(runs):
        result = bench.run_stream(1.0)
        wb.log("  " + wb.summarize(result, input_frames) + f"; external latency {result['external_latency']}")
        realtime.append(result)

    def median(getter):
        values = [v for v in (getter(r) for r in realtime) if v is not None]
        return statistics.median(values) if values else None

    def latency(key):
        return median(lambda r: r["external_latency"].get(key) if r["external_latency"].get("matched") else None)

    return {
        "name": name,
        "sustained_fps": passed["input_fps"] if passed else None,
        "passed": passed,
        "failed": failed,
        "cpu_ms_per_frame": median(lambda r: r["cpu_ms_per_frame"]),
        "lost_realtime": median(lambda r: r["dropped"]),
        "p50_ms": latency("steady_p50_ms"),
        "p99_ms": latency("steady_p99_ms"),
        "peak_rss_mib": median(lambda r: r["peak_rss_mib"]),
        "other_cores": median(lambda r: r["other_cores"]),
    }


def fmt(value, spec=".0f", suffix=""):
    return "n/a" if value is None else f"{format(value, spec)}{suffix}"


def ratio(a, b, spec=".2f", suffix="x"):
    return "n/a" if a is None or b in (None, 0) else f"{format(a / b, spec)}{suffix}"


def print_table(args, input_frames: int, rows: list[dict], load: str) -> None:
    print(f"Clip: 1280x720 {wb.CLIP_FPS} fps, {args.clip_seconds:g} s ({input_frames} video frames) + Opus, "
          f"through `trickle serve` on loopback; output 512x512 libx264 + Opus; passthrough processor. "
          f"{os.cpu_count()} cores; 1-min load average before / after: {load}.\n")
    print("| worker | sustained fps | CPU ms/frame at 30 fps | added latency p50 / p99 (ms) | peak RSS (MiB) "
          "| lost at 30 fps |")
    print("|---|---:|---:|---:|---:|---:|")
    for row in rows:
        print(f"| {row['name']} | {fmt(row['sustained_fps'])} | {fmt(row['cpu_ms_per_frame'], '.2f')} |"
              f" {fmt(row['p50_ms'])} / {fmt(row['p99_ms'])} | {fmt(row['peak_rss_mib'])} |"
              f" {fmt(None if row['lost_realtime'] is None else 100 * row['lost_realtime'], '.1f', ' %')} |")
    by_name = {row["name"]: row for row in rows}
    ours, upstream, cpp = by_name.get("pytrickle (this package)"), by_name.get("upstream PyTrickle 0.1.6"), \
        by_name.get("C++ passthrough_worker")
    if ours and upstream:
        print(f"| **this package / upstream** | **{ratio(ours['sustained_fps'], upstream['sustained_fps'])}** |"
              f" {ratio(ours['cpu_ms_per_frame'], upstream['cpu_ms_per_frame'])} |"
              f" {ratio(ours['p50_ms'], upstream['p50_ms'])} / **{ratio(ours['p99_ms'], upstream['p99_ms'])}** |"
              f" {ratio(ours['peak_rss_mib'], upstream['peak_rss_mib'])} | |")
    if ours and cpp:
        print(f"| **this package / C++ worker** | **{ratio(ours['sustained_fps'], cpp['sustained_fps'], '.0%', '')}** |"
              f" {ratio(ours['cpu_ms_per_frame'], cpp['cpu_ms_per_frame'])} | | | |")
    print()
    for row in rows:
        note = "not even real time kept up"
        if row["passed"]:
            p = row["passed"]
            note = f"kept up at {p['speed']:g}x ({100 * p['dropped']:.1f} % lost)"
        if row["failed"]:
            f = row["failed"]
            note += f"; at {f['speed']:g}x: {100 * f['dropped']:.1f} % lost, output {wb.fmt_fps(f['output_fps'])}"
        print(f"- {row['name']}: {note}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clip-seconds", type=float, default=20)
    parser.add_argument("--runs", type=int, default=3, help="real-time runs per worker (median)")
    parser.add_argument("--speeds", type=lambda s: [float(x) for x in s.split(",")], default=[1, 2, 3, 4, 5, 6, 8])
    parser.add_argument("--max-lag", type=float, default=0.5)
    parser.add_argument("--bisect-steps", type=int, default=2)
    parser.add_argument("--quiet-wait", type=float, default=0)
    parser.add_argument("--trickle", type=Path, required=True)
    parser.add_argument("--native-dir", type=Path, required=True, help="where pytrickle._native was built")
    parser.add_argument("--cpp-worker", type=Path, help="the C++ passthrough_worker, for the third row")
    parser.add_argument("--only", choices=["upstream", "ours", "cpp"], action="append")
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--gpu", action="store_true",
                        help="the GPU comparison: upstream's worker moves every frame to CUDA and back; "
                             "ours gets CUDA frames (PYTRICKLE_GPU=1, PYTRICKLE_DEVICE=cuda); the C++ "
                             "worker runs with --gpu --cuda-frames")
    args = parser.parse_args()

    worker_script = REPO / "bench" / "python_passthrough_worker.py"
    upstream_python = REPO / ".venv-upstream" / "bin" / "python"
    our_python = REPO / ".venv" / "bin" / "python"
    our_env = dict(os.environ, PYTHONPATH=str(REPO / "python"), TRICKLE_NATIVE_DIR=str(args.native_dir))
    upstream_args, cpp_args = [], []
    if args.gpu:
        upstream_args = ["--cuda-round-trip"]
        our_env.update(PYTRICKLE_GPU="1", PYTRICKLE_DEVICE="cuda")
        cpp_args = ["--gpu", "--cuda-frames"]
    candidates = [
        ("upstream", "upstream PyTrickle 0.1.6", [str(upstream_python), "-I", str(worker_script), *upstream_args],
         None),
        ("ours", "pytrickle (this package)", [str(our_python), str(worker_script)], our_env),
    ]
    if args.cpp_worker:
        candidates.append(("cpp", "C++ passthrough_worker", [str(args.cpp_worker), *cpp_args], None))
    candidates = [c for c in candidates if not args.only or c[0] in args.only]

    load_before = Path("/proc/loadavg").read_text().split()[0]
    workdir = Path(tempfile.mkdtemp(prefix="compare-bench-"))
    bench = None
    rows = []
    try:
        clip = wb.make_clip(workdir, args.clip_seconds)
        input_frames = wb.count_video_frames(clip)
        wb.log(f"clip: {input_frames} video frames ({workdir})")
        bench = wb.Bench(args, workdir, clip, input_frames)
        bench.start_relay()
        for _, name, command, env in candidates:
            bench.worker_cmd, bench.worker_env = command, env
            rows.append(measure(bench, name, input_frames, args.runs))
    finally:
        if bench:
            bench.stop_relay()
        if args.keep:
            wb.log(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    load_after = Path("/proc/loadavg").read_text().split()[0]
    print_table(args, input_frames, rows, f"{load_before} / {load_after}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
