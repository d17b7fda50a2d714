#!/usr/bin/env python3
"""A soak with faults: N real-time streams through one worker for a long while, and things break.

One `trickle serve --autocreate` relay; one worker (--worker cpp: bench/soak_worker, a C++
passthrough; python: bench/python_passthrough_worker.py on this package) serving N streams at once,
each with its input, output, control and events channels; each input fed by
`trickle publish --realtime` of a 1280x720 30 fps clip. During the run, at fixed fractions of it
(at 3, 5, 7 and 8 minutes of the full 10):

  relay_restart     the relay is killed (SIGKILL) and started again on the same port
  publisher_kill    stream 0's publisher is killed mid-segment; a new one goes on from that point
                    of the clip (its timestamps kept), starting again at seq 0 as a new one does
  processor_raise   every stream's processor raises on every frame for 10 s ({"soak_raise": ...}
                    through /stream/params)
  control_flood     200 control messages posted on each stream's control channel at once

Every 10 s: the worker's RSS and open descriptors, whether /health answers (within 5 s) and each
stream's /stream/status. At the end, per worker: frames lost (input frames whose PTS never came
out), added latency p99 per minute (output arrival minus input arrival of the same PTS), RSS and
descriptor growth after the first minute, and per fault: how long until output frames flowed
again, and what the worker reported (events channel, /stream/status). "Never hangs": every health
check answered and every stream stopped on request.

    bench/run_soak [--worker cpp,python] [--streams 2] [--seconds 600] [--json FILE]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import worker_bench as wb

REPO = Path(__file__).resolve().parent.parent
FAULTS = (("relay_restart", 0.3), ("publisher_kill", 0.5), ("processor_raise", 0.7), ("control_flood", 0.8))
RAISE_SECONDS = 10.0
FLOOD_MESSAGES = 200
WORKER_NAMES = {"cpp": "C++ worker (bench/soak_worker)", "python": "pytrickle (this package)"}


def rss_mib(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def open_fds(pid: int) -> int:
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return -1


class Relay:
    """`trickle serve` on a fixed port, so it can be killed and started again where clients look."""

    def __init__(self, trickle: Path, port: int, channels: list[str], log: Path):
        self.trickle, self.port, self.channels, self.log = trickle, port, channels, log
        self.process: subprocess.Popen | None = None
        self.start()

    def start(self) -> None:
        # The streams' channels exist from the start, as an orchestrator's relay has them (made
        # when the stream was set up, and again when it comes back); publishers may also create.
        created = [arg for channel in self.channels for arg in ("--channel", channel)]
        self.process = subprocess.Popen(
            [str(self.trickle), "serve", "--host", "127.0.0.1", "--port", str(self.port), "--autocreate", *created],
            stdout=subprocess.PIPE, stderr=open(self.log, "ab"))
        self.process.stdout.readline()  # "trickle relay listening on ..."

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        wb.stop_process(self.process)


class Reader(threading.Thread):
    """A trickle subscriber that outlives relay restarts and channels that come and go: GET seq
    after seq, re-joining at the edge on 470 and retrying on errors until stopped or closed."""

    def __init__(self, port: int, channel: str, on_bytes, stop: threading.Event):
        super().__init__(daemon=True)
        self.port, self.channel, self.on_bytes, self.stop_event = port, channel, on_bytes, stop

    def run(self) -> None:
        seq = 0
        while not self.stop_event.is_set():
            connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
            try:
                connection.request("GET", f"/{self.channel}/{seq}")
                response = connection.getresponse()
                if response.status == 470:
                    seq = int(response.getheader("Lp-Trickle-Latest", seq + 1))
                    continue
                if response.status != 200:
                    time.sleep(0.2)  # not created yet (a relay just restarted): ask again
                    continue
                if response.getheader("Lp-Trickle-Closed"):
                    return
                got = int(response.getheader("Lp-Trickle-Seq", seq))
                while chunk := response.read1(65536):
                    self.on_bytes(got, chunk, time.monotonic())
                self.on_bytes(got, b"", time.monotonic())  # the segment's end
                seq = got + 1
            except (OSError, http.client.HTTPException, ValueError):
                time.sleep(0.2)  # a GET that waited with nothing (timeout) or a relay that went away
            finally:
                connection.close()


class Stream:
    def __init__(self, index: int, tag: str):
        self.id = f"soak-{tag}-{index}"
        self.channels = {kind: f"{kind}-{tag}-{index}" for kind in ("in", "out", "ctl", "ev")}
        self.clock_in, self.clock_out = wb.VideoFrameClock(), wb.VideoFrameClock()
        self.events: list[tuple[float, dict]] = []
        self._event_bytes: dict[int, bytes] = {}
        self.lock = threading.Lock()
        self.publisher: subprocess.Popen | None = None
        self.start_body: dict = {}

    def on_events(self, seq: int, chunk: bytes, now: float) -> None:
        if chunk:
            self._event_bytes[seq] = self._event_bytes.get(seq, b"") + chunk
            return
        text = self._event_bytes.pop(seq, b"").decode(errors="replace").strip()
        for line in filter(None, text.splitlines()):
            try:
                event = json.loads(line)
            except ValueError:
                continue
            with self.lock:
                self.events.append((now, event))


def http_call(method: str, url: str, body: dict | None = None, headers: dict | None = None,
              timeout: float = 5.0) -> tuple[int, str]:
    try:
        return wb.http_request(method, url, body, timeout_s=timeout, headers=headers)
    except OSError as error:
        return 0, str(error)


def worker_command(args: argparse.Namespace, worker: str, streams: int) -> tuple[list[str], dict | None]:
    if worker == "cpp":
        return [str(args.cpp_worker), "--streams", str(streams)], None
    env = dict(os.environ, PYTHONPATH=str(REPO / "python"))
    return [str(args.python), str(REPO / "bench" / "python_passthrough_worker.py"), "--max-streams",
            str(streams)], env


def publish(args: argparse.Namespace, port: int, stream: Stream, clip: Path, log: Path) -> subprocess.Popen:
    return subprocess.Popen([str(args.trickle), "publish", "--realtime", f"http://127.0.0.1:{port}/"
                             f"{stream.channels['in']}", str(clip)],
                            stdout=subprocess.DEVNULL, stderr=open(log, "ab"))


def cut_clip(clip: Path, at_s: float, out: Path) -> Path:
    """The clip from `at_s` on, its timestamps kept: what a restarted publisher goes on with."""
    subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", "-ss", f"{at_s:.2f}", "-i", str(clip),
                    "-c", "copy", "-copyts", "-muxdelay", "0", "-f", "mpegts", str(out)], check=True)
    return out


def run_worker(args: argparse.Namespace, workdir: Path, clip: Path, worker: str) -> dict:
    port = wb.free_port()
    relay_url = f"http://127.0.0.1:{port}"
    stop = threading.Event()
    streams = [Stream(i, worker) for i in range(args.streams)]
    relay = Relay(args.trickle, port, [name for stream in streams for name in stream.channels.values()],
                  workdir / f"relay-{worker}.log")
    command, env = worker_command(args, worker, args.streams)
    port_file = workdir / f"worker-{worker}.port"
    process = subprocess.Popen([*command, "--host", "127.0.0.1", "--port", "0", "--port-file", str(port_file)],
                               stdout=open(workdir / f"worker-{worker}.out", "wb"),
                               stderr=open(workdir / f"worker-{worker}.log", "wb"), env=env)
    fault_log: list[dict] = []
    samples: list[dict] = []
    restarts: list[dict] = []
    stopped_ok: list[bool] = []
    try:
        wb.wait_for(lambda: port_file.exists() and port_file.read_text().strip(), 60, "the worker's port file")
        api = f"http://127.0.0.1:{int(port_file.read_text().split()[0])}"
        wb.wait_for(lambda: (wb.get_json(f"{api}/health") or {}).get("status") == "IDLE", 120, "an IDLE worker")
        readers = []
        for stream in streams:
            c = stream.channels
            for name, feed in ((c["in"], stream.clock_in.feed), (c["out"], stream.clock_out.feed),
                               (c["ev"], stream.on_events)):
                on_bytes = (lambda seq, chunk, now, feed=feed: feed(chunk, now)) if feed != stream.on_events else feed
                readers.append(Reader(port, name, on_bytes, stop))
            stream.start_body = {
                "subscribe_url": f"{relay_url}/{c['in']}", "publish_url": f"{relay_url}/{c['out']}",
                "control_url": f"{relay_url}/{c['ctl']}", "events_url": f"{relay_url}/{c['ev']}",
                "gateway_request_id": stream.id, "params": {"max_framerate": 30}}
            status, body = http_call("POST", f"{api}/stream/start", stream.start_body,
                                     headers={"X-Stream-Id": stream.id})
            if status >= 300:
                raise RuntimeError(f"/stream/start of {stream.id}: {status} {body}")
        for reader in readers:
            reader.start()
        time.sleep(0.5)
        started = time.monotonic()
        for stream in streams:
            stream.publisher = publish(args, port, stream, clip, workdir / f"publish-{worker}.log")
        kill_at = dict(FAULTS)["publisher_kill"] * args.seconds
        replacement = cut_clip(clip, kill_at, workdir / f"rest-{worker}.ts")
        pending = [(name, fraction * args.seconds) for name, fraction in FAULTS]
        next_sample = 0.0
        while (elapsed := time.monotonic() - started) < args.seconds:
            if elapsed >= next_sample:
                samples.append(sample(process.pid, api, streams, elapsed))
                restarts += restart_ended(api, streams, samples[-1], elapsed)
                next_sample += args.sample_seconds
            if pending and elapsed >= pending[0][1]:
                name, _ = pending.pop(0)
                fault_log.append(inject(name, elapsed, relay, api, port, streams, args, replacement, workdir,
                                        worker, started))
                next_sample = min(next_sample, time.monotonic() - started + 2)  # look again soon
            time.sleep(0.1)
        samples.append(sample(process.pid, api, streams, time.monotonic() - started))
        for stream in streams:
            status, _ = http_call("POST", f"{api}/stream/stop", {}, headers={"X-Stream-Id": stream.id}, timeout=10)
            stopped_ok.append(status == 200)
    finally:
        stop.set()
        for stream in streams:
            wb.stop_process(stream.publisher)
        wb.stop_process(process)
        relay.stop()
    return summarize(worker, args, streams, samples, fault_log, restarts, stopped_ok, started)


def sample(pid: int, api: str, streams: list[Stream], elapsed: float) -> dict:
    began = time.monotonic()
    status, body = http_call("GET", f"{api}/health", timeout=5)
    health = (json.loads(body).get("status") if status == 200 else None) if body else None
    answered_s = time.monotonic() - began
    states = {}
    for stream in streams:
        code, text = http_call("GET", f"{api}/stream/status", headers={"X-Stream-Id": stream.id}, timeout=5)
        try:
            states[stream.id] = json.loads(text) if code == 200 else {"http": code}
        except ValueError:
            states[stream.id] = {"http": code}
    return {"t": elapsed, "rss_mib": rss_mib(pid), "fds": open_fds(pid), "health": health,
            "health_s": answered_s, "status": states}


def restart_ended(api: str, streams: list[Stream], latest: dict, elapsed: float) -> list[dict]:
    """What a gateway does with a stream whose worker ended it (a worker may end a stream when a
    channel fails, as upstream PyTrickle does): starts it again. Returns what was restarted."""
    restarted = []
    for stream in streams:
        if latest["status"].get(stream.id, {}).get("client_running") is True:
            continue
        status, _ = http_call("POST", f"{api}/stream/start", stream.start_body, headers={"X-Stream-Id": stream.id})
        wb.log(f"soak: {elapsed:.0f} s: {stream.id} had ended; started again ({status})")
        restarted.append({"t": elapsed, "stream": stream.id, "status": status})
    return restarted


def inject(name: str, elapsed: float, relay: Relay, api: str, port: int, streams: list[Stream],
           args: argparse.Namespace, replacement: Path, workdir: Path, worker: str, started: float) -> dict:
    wb.log(f"soak {worker}: {elapsed:.0f} s: {name}")
    end = elapsed
    if name == "relay_restart":
        relay.kill()
        time.sleep(0.5)
        relay.start()
        end = time.monotonic() - started
    elif name == "publisher_kill":
        streams[0].publisher.send_signal(signal.SIGKILL)
        streams[0].publisher.wait()
        streams[0].publisher = publish(args, port, streams[0], replacement, workdir / f"publish-{worker}.log")
    elif name == "processor_raise":
        for stream in streams:
            http_call("POST", f"{api}/stream/params", {"soak_raise": True}, headers={"X-Stream-Id": stream.id})
        time.sleep(RAISE_SECONDS)
        for stream in streams:
            http_call("POST", f"{api}/stream/params", {"soak_raise": False}, headers={"X-Stream-Id": stream.id})
        end = time.monotonic() - started
    elif name == "control_flood":
        for stream in streams:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            for k in range(FLOOD_MESSAGES):
                try:
                    connection.request("POST", f"/{stream.channels['ctl']}/-1", body=json.dumps({"soak_flood": k}),
                                       headers={"Content-Type": "application/json"})
                    connection.getresponse().read()
                except (OSError, http.client.HTTPException):
                    connection.close()
                    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            connection.close()
        end = time.monotonic() - started
    return {"fault": name, "at_s": elapsed, "end_s": end}


def event_type(message: dict) -> str | None:
    """The type of one events-channel message ({"event": {"type": ...}, "queue_event_type": ...})."""
    event = message.get("event", message)
    return event.get("type") if isinstance(event, dict) else None


def describe_status(state: dict) -> str:
    """One /stream/status answer, short: its state and whether the stream's client runs."""
    if "http" in state:
        return f"HTTP {state['http']}"
    running = state.get("client_running")
    return str(state.get("state", "?")) + ("" if running is None else " running" if running else " stopped")


def summarize(worker: str, args: argparse.Namespace, streams: list[Stream], samples: list[dict], faults: list[dict],
              restarts: list[dict], stopped_ok: list[bool], started: float) -> dict:
    frames_in = frames_lost = 0
    by_minute: dict[int, list[float]] = {}
    arrivals_out: list[float] = []
    for stream in streams:
        seen_in = {pts: at for pts, at in zip(stream.clock_in.frame_pts, stream.clock_in.frame_arrivals)
                   if pts is not None}
        seen_out = {pts: at for pts, at in zip(stream.clock_out.frame_pts, stream.clock_out.frame_arrivals)
                    if pts is not None}
        frames_in += len(seen_in)
        frames_lost += sum(1 for pts in seen_in if pts not in seen_out)
        for pts, out_at in seen_out.items():
            arrivals_out.append(out_at - started)
            if pts in seen_in:
                by_minute.setdefault(int((out_at - started) // 60), []).append(1000 * (out_at - seen_in[pts]))
    arrivals_out.sort()
    for fault in faults:
        after = [t for t in arrivals_out if t > fault["end_s"]]
        fault["output_again_after_s"] = round(after[0] - fault["end_s"], 2) if after else None
        window = (started + fault["at_s"], started + fault["end_s"] + 30)
        reported = []
        for stream in streams:
            with stream.lock:
                reported += [event_type(e) for t, e in stream.events if window[0] <= t <= window[1]]
        fault["events"] = sorted({str(kind) for kind in reported
                                  if kind not in (None, "heartbeat", "params_updated", "stream_stopped")})
        states = [s for s in samples if fault["at_s"] <= s["t"] <= fault["end_s"] + 30]
        fault["states"] = sorted({describe_status(state) for s in states for state in s["status"].values()})
        fault["restarted"] = sorted({r["stream"] for r in restarts if fault["at_s"] <= r["t"] <= fault["end_s"] + 30})
    baseline_at = min(60.0, args.seconds / 3)
    baseline = next((s for s in samples if s["t"] >= baseline_at), samples[-1])
    last = samples[-1]
    return {
        "worker": worker, "streams": len(streams), "seconds": args.seconds,
        "frames_in": frames_in, "frames_lost": frames_lost,
        "lost_fraction": frames_lost / frames_in if frames_in else 1.0,
        "p99_ms_by_minute": {minute: round(wb.percentile(values, 0.99), 1)
                             for minute, values in sorted(by_minute.items())},
        "rss_mib": [round(s["rss_mib"], 1) for s in samples], "fds": [s["fds"] for s in samples],
        "rss_growth": (last["rss_mib"] - baseline["rss_mib"]) / baseline["rss_mib"],
        "fd_growth": last["fds"] - baseline["fds"],
        "health_answered": all(s["health"] is not None for s in samples),
        "slowest_health_s": max(s["health_s"] for s in samples),
        "stopped_on_request": all(stopped_ok) and len(stopped_ok) == len(streams),
        "restarts": restarts,
        "faults": faults,
    }


def print_report(args: argparse.Namespace, results: list[dict]) -> None:
    print(f"Soak: {args.streams} real-time 1280x720 30 fps streams per worker for {args.seconds:g} s, faults at "
          + ", ".join(f"{name} {fraction * args.seconds:.0f} s" for name, fraction in FAULTS)
          + f". {os.cpu_count()} cores.\n")
    print("| worker | frames in | lost | p99 latency per minute (ms) | RSS first → last (MiB) | growth after "
          "minute 1 | descriptors (growth) | health always answered (slowest) | streams stopped on request |")
    print("|---|---:|---:|---|---|---:|---|---|---|")
    for r in results:
        p99 = ", ".join(f"{v:g}" for v in r["p99_ms_by_minute"].values())
        print(f"| {WORKER_NAMES[r['worker']]} | {r['frames_in']} | {100 * r['lost_fraction']:.1f} % | {p99} "
              f"| {r['rss_mib'][0]:.0f} → {r['rss_mib'][-1]:.0f} | {100 * r['rss_growth']:+.1f} % "
              f"| {r['fds'][-1]} ({r['fd_growth']:+d}) | {'yes' if r['health_answered'] else '**no**'} "
              f"({r['slowest_health_s']:.2f} s) | {'yes' if r['stopped_on_request'] else '**no**'} |")
    print("\n| worker | fault | at (s) | output flowing again after (s) | reported on the events channel "
          "| /stream/status states meanwhile | streams the gateway had to start again |")
    print("|---|---|---:|---:|---|---|---|")
    for r in results:
        for f in r["faults"]:
            again = "never" if f["output_again_after_s"] is None else f"{f['output_again_after_s']:.1f}"
            print(f"| {WORKER_NAMES[r['worker']]} | {f['fault']} | {f['at_s']:.0f} | {again} "
                  f"| {', '.join(f['events']) or '-'} | {', '.join(f['states']) or '-'} "
                  f"| {', '.join(f['restarted']) or 'none'} |")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trickle", type=Path, default=REPO / "build" / "src" / "trickle")
    parser.add_argument("--cpp-worker", type=Path, default=REPO / "build" / "bench" / "soak_worker")
    parser.add_argument("--python", type=Path, default=REPO / ".venv" / "bin" / "python")
    parser.add_argument("--worker", type=lambda s: s.split(","), default=["cpp", "python"])
    parser.add_argument("--streams", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=600)
    parser.add_argument("--sample-seconds", type=float, default=10)
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--keep", type=Path, help="keep the logs (relay, worker, publishers) in this folder")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="soak-") as tmp:
        workdir = Path(tmp) if args.keep is None else args.keep
        workdir.mkdir(parents=True, exist_ok=True)
        wb.log(f"soak: making a {args.seconds + 15:g} s clip")
        clip = wb.make_clip(workdir, args.seconds + 15)
        results = [run_worker(args, workdir, clip, worker) for worker in args.worker]
        if args.json:
            args.json.write_text(json.dumps(results, indent=1))
        print_report(args, results)
        if any("Traceback" in (workdir / f"worker-{w}.log").read_text(errors="replace") for w in args.worker):
            wb.log("soak: a worker log holds a traceback")
    return 0


if __name__ == "__main__":
    sys.exit(main())
