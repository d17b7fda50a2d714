#!/usr/bin/env python3
"""What hostile connections cost the relay: N clients that connect and then stall.

For each kind of stall, a fresh `trickle serve` is started and N connections are opened to it,
spread over several loopback source addresses (127.0.0.2, .3, ...) so the per-client cap does not
refuse them. Printed per kind: the relay's resident memory before and with all N held (and the
difference per connection), whether a normal request is still answered while they are held (and
how fast), how many connections were refused with 503, and how long until the relay had closed
them all. Kinds:

  idle       connects and sends nothing
  half-head  sends half a request head, then nothing
  body       sends a POST head and one chunk of a segment, then nothing (a stalled publisher)

    bench/run_hostile_connections [--connections 3000] [--kinds idle,half-head,body]
                                  [--max-connections N] [--per-address N]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def request_for(kind: str) -> bytes:
    if kind == "idle":
        return b""
    if kind == "half-head":
        return b"GET /bench/0 HTTP/1.1\r\nHost: relay\r\nUser-Agent: sl"
    return (b"POST /bench/-1 HTTP/1.1\r\nHost: relay\r\nTransfer-Encoding: chunked\r\n"
            b"Content-Type: video/mp2t\r\n\r\n10\r\n0123456789abcdef\r\n")


class Held:
    """One stalled connection; `closed_at` is when the relay closed it (None while open)."""

    def __init__(self):
        self.writer = None
        self.refused = False
        self.closed_at: float | None = None

    async def open(self, port: int, source: str, payload: bytes) -> None:
        reader, self.writer = await asyncio.open_connection("127.0.0.1", port, local_addr=(source, 0))
        if payload:
            self.writer.write(payload)
            await self.writer.drain()
        asyncio.get_running_loop().create_task(self.watch(reader))

    async def watch(self, reader) -> None:
        try:
            data = await reader.read(256)
            if data.startswith(b"HTTP/1.1 503"):
                self.refused = True
            while data:
                data = await reader.read(4096)
        except (ConnectionError, OSError):
            pass
        self.closed_at = time.monotonic()


def probe(port: int) -> str:
    """A normal request while the connections are held: how long it took, or its refusal."""
    started = time.monotonic()
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/bench/next", timeout=10) as answer:
            answer.read()
    except urllib.error.HTTPError as error:
        return f"{error.code} (refused)"
    return f"{(time.monotonic() - started) * 1000:.1f} ms"


async def run_kind(args, kind: str) -> dict:
    command = [args.trickle, "serve", "--host", "127.0.0.1", "--port", "0", "--channel", "bench"]
    if args.max_connections is not None:
        command += ["--max-connections", str(args.max_connections)]
    relay = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        port = int(relay.stdout.readline().decode().rstrip().rstrip("/").rsplit(":", 1)[1])
        probe(port)  # warm: the first request's allocations are not the connections' cost
        await asyncio.sleep(0.5)
        before = rss_kib(relay.pid)
        held = [Held() for _ in range(args.connections)]
        payload = request_for(kind)
        for i, h in enumerate(held):
            await h.open(port, f"127.0.0.{2 + i // args.per_address}", payload)
        opened_at = time.monotonic()
        await asyncio.sleep(1.0)
        during = rss_kib(relay.pid)
        answered = await asyncio.to_thread(probe, port)
        deadline = opened_at + args.wait
        while time.monotonic() < deadline and any(h.closed_at is None for h in held):
            await asyncio.sleep(0.2)
        still_open = sum(h.closed_at is None for h in held)
        closed = [h.closed_at - opened_at for h in held if h.closed_at is not None]
        for h in held:
            h.writer.close()
        refused = sum(h.refused for h in held)
        return {
            "kind": kind, "connections": args.connections, "rss_before": before / 1024, "rss_during": during / 1024,
            "per_connection_kib": (during - before) / max(1, args.connections - refused), "probe": answered,
            "refused": refused, "still_open": still_open,
            "all_closed_s": max(closed) if closed and not still_open else None,
        }
    finally:
        relay.terminate()
        relay.wait(10)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trickle", default=os.environ.get("TRICKLE_EXE", str(ROOT / "build/src/trickle")))
    parser.add_argument("--connections", type=int, default=3000)
    parser.add_argument("--kinds", default="idle,half-head,body")
    parser.add_argument("--max-connections", type=int, default=None, help="the relay's cap (default: its own)")
    parser.add_argument("--per-address", type=int, default=1000, help="connections per source address")
    parser.add_argument("--wait", type=float, default=90, help="seconds to wait for the relay to close them")
    args = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    if args.connections + 100 > hard:
        sys.exit(f"hostile_connections: {args.connections} connections need more descriptors than {hard}")

    rows = [asyncio.run(run_kind(args, kind)) for kind in args.kinds.split(",")]
    print(f"# Hostile connections: {args.connections} held against one `trickle serve`"
          f" ({'--max-connections ' + str(args.max_connections) if args.max_connections else 'default caps'})\n")
    print("| stall | relay RSS before (MiB) | with all held (MiB) | per connection (KiB) | a normal request "
          "meanwhile | refused (503) | closed by the relay after (s) |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        closed = f"{r['all_closed_s']:.1f}" if r["all_closed_s"] is not None else f"{r['still_open']} still open"
        print(f"| {r['kind']} | {r['rss_before']:.1f} | {r['rss_during']:.1f} | {r['per_connection_kib']:.1f} | "
              f"{r['probe']} | {r['refused']} | {closed} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
