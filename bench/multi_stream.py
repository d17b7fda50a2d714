#!/usr/bin/env python3
"""How many real-time streams one worker serves at once: the GPU benchmark's second half.

For each N of --streams, N streams run at the same time, each fed by its own
`trickle publish --realtime` of the same 1280x720 30 fps clip through one `trickle serve`, each
read back by `trickle subscribe`. Who serves them (--worker, a comma-separated list):

  cpp       one C++ worker process, `--streams N` on one port (plus --worker-args): a processor
            per stream slot, each stream named by its X-Stream-Id header as go-livepeer's
            orchestrator names it
  python    one process of this package's StreamServer(max_streams=N)
            (bench/python_passthrough_worker.py --max-streams N): one processor, one model, one port
  upstream  N processes of upstream PyTrickle (.venv-upstream), one stream, one port and one model
            load each: how upstream scales, since its server serves one stream

A step is real time when every stream lost fewer than 1 % of its frames and ended at most
--max-lag seconds behind its input; each worker steps up until one is not. Reported per step:
frames lost and final lag (worst stream), added latency p50 / p99 (median and worst stream, after
the first 2 s), CPU in cores and per stream, peak RSS and GPU memory (from nvidia-smi, where
there is one), each summed over the worker's processes.

Standard library only; reuses bench/worker_bench.py's helpers. Progress on stderr, the markdown
table on stdout. bench/run_multi_stream builds what it needs and runs this.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import worker_bench as wb

REPO = Path(__file__).resolve().parent.parent
PASSTHROUGH_SCRIPT = REPO / "bench" / "python_passthrough_worker.py"
WORKER_NAMES = {"cpp": "C++ passthrough_worker", "python": "pytrickle (this package)",
                "upstream": "upstream PyTrickle 0.1.6"}


@dataclass
class Endpoint:
    """Where one stream is started: a worker's REST API, and the X-Stream-Id naming the stream
    (sent to every kind of worker, as the orchestrator sends it; upstream ignores it)."""
    api: str
    stream_id: str


def gpu_memory_mib(pids: list[int]) -> float | None:
    """The worker processes' GPU memory now, or None without nvidia-smi (or a GPU)."""
    if shutil.which("nvidia-smi") is None:
        return None
    result = subprocess.run(["nvidia-smi", "--query-compute-apps=pid,used_memory", "--format=csv,noheader,nounits"],
                            capture_output=True, text=True)
    if result.returncode != 0:
        return None
    wanted = {str(pid) for pid in pids}
    total = 0.0
    for line in result.stdout.splitlines():
        fields = [field.strip() for field in line.split(",")]
        if len(fields) == 2 and fields[0] in wanted:
            total += float(fields[1])
    return total


def worker_commands(args: argparse.Namespace, worker: str, streams: int) -> tuple[list[list[str]], dict | None]:
    """The command line of each process serving `streams` streams (each also gets --host, --port 0
    and --port-file), and their environment."""
    if worker == "cpp":
        command = [str(args.cpp_worker), *args.worker_args.split(), "--streams", str(streams)]
        if args.gpu:
            command += ["--gpu", "--cuda-frames"]
        return [command], None
    if worker == "python":
        env = dict(os.environ, PYTHONPATH=str(REPO / "python"))
        if args.native_dir:
            env["TRICKLE_NATIVE_DIR"] = str(args.native_dir)
        if args.gpu:
            env.update(PYTRICKLE_GPU="1", PYTRICKLE_DEVICE="cuda")
        return [[str(args.python), str(PASSTHROUGH_SCRIPT), "--max-streams", str(streams)]], env
    # Upstream serves one stream per process: N processes, each its own port and model.
    command = [str(args.upstream_python), "-I", str(PASSTHROUGH_SCRIPT)]
    if args.gpu:
        command.append("--cuda-round-trip")
    return [command] * streams, None


def start_workers(args: argparse.Namespace, workdir: Path, worker: str, streams: int,
                  tag: str) -> tuple[list[subprocess.Popen], list[Endpoint]]:
    commands, env = worker_commands(args, worker, streams)
    processes: list[subprocess.Popen] = []
    apis: list[str] = []
    try:
        for index, command in enumerate(commands):
            port_file = workdir / f"worker-{tag}-{index}.port"
            processes.append(subprocess.Popen(
                [*command, "--host", "127.0.0.1", "--port", "0", "--port-file", str(port_file)],
                stdout=subprocess.DEVNULL, stderr=open(workdir / f"worker-{tag}-{index}.log", "wb"), env=env))
            wb.wait_for(lambda: port_file.exists() and port_file.read_text().strip(), 60, "the worker's port file")
            apis.append(f"http://127.0.0.1:{int(port_file.read_text().split()[0])}")
        for api in apis:
            wb.wait_for(lambda api=api: (wb.get_json(f"{api}/health") or {}).get("status") == "IDLE", 120,
                        "the worker to be IDLE")
    except BaseException:
        for process in processes:
            wb.stop_process(process)
        raise
    # One process serving every stream, or one process per stream.
    endpoints = [Endpoint(apis[index if len(apis) > 1 else 0], f"bench-{tag}-{index}") for index in range(streams)]
    return processes, endpoints


def run_step(args: argparse.Namespace, workdir: Path, clip: Path, relay_port: int, worker: str, streams: int,
             input_frames: int) -> dict:
    relay = f"http://127.0.0.1:{relay_port}"
    tag = f"{worker}-n{streams}"
    workers: list[subprocess.Popen] = []
    publishers: list[subprocess.Popen] = []
    subscribers: list[subprocess.Popen] = []
    stop_probes = threading.Event()
    probes: list[threading.Thread] = []
    clocks = [(wb.VideoFrameClock(), wb.VideoFrameClock()) for _ in range(streams)]
    gpu_peak = None
    try:
        workers, endpoints = start_workers(args, workdir, worker, streams, tag)
        pids = [process.pid for process in workers]
        for index, endpoint in enumerate(endpoints):
            source, sink = f"in-{tag}-{index}", f"out-{tag}-{index}"
            for channel in (source, sink):
                wb.http_request("POST", f"{relay}/{channel}")
            status, body = wb.http_request("POST", f"{endpoint.api}/stream/start", {
                "subscribe_url": f"{relay}/{source}", "publish_url": f"{relay}/{sink}",
                "gateway_request_id": endpoint.stream_id, "params": {"max_framerate": 60}},
                headers={"X-Stream-Id": endpoint.stream_id})
            if status >= 300:
                raise RuntimeError(f"/stream/start of {endpoint.stream_id} on {endpoint.api}: {status} {body!r}")
            subscribers.append(subprocess.Popen(
                [str(args.trickle), "subscribe", f"{relay}/{sink}", "-o", str(workdir / f"{sink}.ts"),
                 "--start-seq", "0"],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
            for channel, clock in ((source, clocks[index][0]), (sink, clocks[index][1])):
                probe = threading.Thread(target=wb.probe_channel,
                                         args=("127.0.0.1", relay_port, channel, clock, stop_probes), daemon=True)
                probe.start()
                probes.append(probe)
        time.sleep(0.5)  # every stream's first GET is waiting before anything is published
        cpu_before = sum(wb.process_cpu_seconds(pid) for pid in pids)
        started = time.monotonic()
        for index in range(streams):
            publishers.append(subprocess.Popen(
                [str(args.trickle), "publish", "--realtime", f"{relay}/in-{tag}-{index}", str(clip)],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        deadline = started + args.clip_seconds + wb.DRAIN_GRACE_S
        # A stream is over when its output closed, or (a worker that never closes its output:
        # upstream, docs/compatibility.md Q21) once its input is over and nothing new came out for a while.
        published_at: list[float | None] = [None] * streams
        last_out: list[tuple[int, float]] = [(0, started)] * streams

        def stream_over(index: int) -> bool:
            if subscribers[index].poll() is not None:
                return True
            now = time.monotonic()
            if published_at[index] is None and publishers[index].poll() is not None:
                published_at[index] = now
            seen = len(clocks[index][1].frame_arrivals)
            if seen != last_out[index][0]:
                last_out[index] = (seen, now)
            return (published_at[index] is not None and seen > 0
                    and now - max(last_out[index][1], published_at[index]) > wb.OUTPUT_IDLE_END_S)

        # A list, not a generator: every stream's progress is looked at in every round.
        while time.monotonic() < deadline and not all([stream_over(index) for index in range(streams)]):
            memory = gpu_memory_mib(pids)
            if memory is not None:
                gpu_peak = max(gpu_peak or 0.0, memory)
            time.sleep(0.5)
        finished = time.monotonic()
        cpu_seconds = sum(wb.process_cpu_seconds(pid) for pid in pids) - cpu_before
        rss_total = sum(wb.process_peak_rss_mib(pid) for pid in pids)
    finally:
        stop_probes.set()
        for process in publishers + subscribers + workers:
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
        "worker": worker,
        "streams": streams,
        "processes": len(pids),
        "kept_up": kept_up,
        "worst_lost": max(s["lost"] for s in per_stream),
        "worst_lag_s": max(s["lag_s"] for s in per_stream),
        "p50_ms": statistics.median(one["steady_p50_ms"] for one in latencies) if latencies else None,
        "p99_ms": max(one["steady_p99_ms"] for one in latencies) if latencies else None,
        "cpu_cores": cpu_seconds / (finished - started),
        "rss_total_mib": rss_total,
        "gpu_mib": gpu_peak,
    }


def print_table(args: argparse.Namespace, rows: list[dict]) -> None:
    def fmt(value, spec=".1f"):
        return "n/a" if value is None else format(value, spec)

    gpu = " with --gpu (C++: --gpu --cuda-frames; ours: CUDA frames; upstream: a CUDA round trip)" if args.gpu else ""
    cpp_command = " ".join([args.cpp_worker.name, *args.worker_args.split()]) if args.cpp_worker else ""
    cpp = f" C++ worker: `{cpp_command}`." if "cpp" in args.worker else ""
    print(f"Clip 1280x720 30 fps, {args.clip_seconds:g} s, every stream fed in real time at once; passthrough "
          f"processors{gpu}. {os.cpu_count()} cores.{cpp}\n")
    print("| worker | streams | processes | real time | worst lost | worst final lag (s) "
          "| latency p50 (median) / p99 (worst), ms | CPU, cores (per stream) | RSS total MiB (per stream) "
          "| GPU memory MiB (per stream) |")
    print("|---|---:|---:|---|---:|---:|---|---|---|---|")
    for row in rows:
        n = row["streams"]
        per_stream_gpu = row["gpu_mib"] / n if row["gpu_mib"] else None
        print(f"| {WORKER_NAMES[row['worker']]} | {n} | {row['processes']} | {'yes' if row['kept_up'] else 'no'} "
              f"| {100 * row['worst_lost']:.1f} % | {row['worst_lag_s']:.2f} "
              f"| {fmt(row['p50_ms'])} / {fmt(row['p99_ms'])} "
              f"| {row['cpu_cores']:.2f} ({row['cpu_cores'] / n:.2f}) "
              f"| {row['rss_total_mib']:.0f} ({row['rss_total_mib'] / n:.0f}) "
              f"| {fmt(row['gpu_mib'], '.0f')} ({fmt(per_stream_gpu, '.0f')}) |")
    print()
    for worker in args.worker:
        best = max((row["streams"] for row in rows if row["worker"] == worker and row["kept_up"]), default=0)
        print(f"- {WORKER_NAMES[worker]}: at most {best} concurrent real-time streams in this run.")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trickle", type=Path, required=True)
    parser.add_argument("--worker", type=lambda s: s.split(","), default=["cpp"],
                        help="who serves the streams, a comma-separated list of cpp, python, upstream (default: cpp)")
    parser.add_argument("--cpp-worker", type=Path, help="a C++ worker taking --streams (for --worker cpp)")
    parser.add_argument("--worker-args", default="", help='more arguments for the C++ worker, e.g. "--uint8"')
    parser.add_argument("--python", type=Path, default=REPO / ".venv" / "bin" / "python",
                        help="the Python that runs this package (for --worker python)")
    parser.add_argument("--native-dir", type=Path, help="where pytrickle._native was built (for --worker python)")
    parser.add_argument("--upstream-python", type=Path, default=REPO / ".venv-upstream" / "bin" / "python",
                        help="the Python with upstream PyTrickle installed (for --worker upstream)")
    parser.add_argument("--gpu", action="store_true",
                        help="the GPU on every side: the C++ worker with --gpu --cuda-frames, ours with CUDA frames "
                             "(PYTRICKLE_GPU=1, PYTRICKLE_DEVICE=cuda), upstream moving each frame to CUDA and back")
    parser.add_argument("--streams", type=lambda s: [int(x) for x in s.split(",")], default=[1, 2, 4, 8, 16, 24, 32])
    parser.add_argument("--clip-seconds", type=float, default=20)
    parser.add_argument("--max-lag", type=float, default=0.5)
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (clip, outputs, logs)")
    args = parser.parse_args()
    unknown = [worker for worker in args.worker if worker not in WORKER_NAMES]
    if unknown:
        parser.error(f"--worker: unknown {', '.join(unknown)} (choose from {', '.join(WORKER_NAMES)})")
    if "cpp" in args.worker and not args.cpp_worker:
        parser.error("--worker cpp needs --cpp-worker (bench/run_multi_stream passes it)")
    for worker, python in (("python", args.python), ("upstream", args.upstream_python)):
        if worker in args.worker and not python.exists():
            parser.error(f"--worker {worker}: {python} does not exist (scripts/setup makes it)")

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
        for worker in args.worker:
            for streams in args.streams:
                row = run_step(args, workdir, clip, relay_port, worker, streams, input_frames)
                wb.log(f"{WORKER_NAMES[worker]}, {streams} streams: "
                       f"{'real time' if row['kept_up'] else 'NOT real time'}, worst lost "
                       f"{100 * row['worst_lost']:.1f} %, worst lag {row['worst_lag_s']:.2f} s, "
                       f"{row['cpu_cores']:.2f} cores, RSS {row['rss_total_mib']:.0f} MiB, GPU {row['gpu_mib']} MiB")
                rows.append(row)
                if not row["kept_up"]:
                    break
    finally:
        wb.stop_process(relay)
        if args.keep:
            wb.log(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)

    print_table(args, rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
