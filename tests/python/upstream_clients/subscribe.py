"""Subscribe to a trickle channel with the real, upstream PyTrickle TrickleSubscriber.

Runs inside <repo>/.venv-upstream only (started by the interop tests as a subprocess, with
`python -I`), so upstream `pytrickle` never meets our own package of the same name.

    subscribe.py URL --out-dir DIR [--start-seq -2] [--max-segments N] [--timeout 60]
                 [--connect-timeout 30] [--max-retries 5]

Reads segments with `seg = await sub.next()` and `await seg.read()` until it returns empty,
until next() returns None (end of stream, or an error reported through error_callback), and
writes each segment to DIR/<seq>.seg (seq from seg.seq(), zero-padded). A segment is written as
<name>.part and renamed when its body has ended, so a *.seg file is always complete.

stdout: one JSON object per line: {"event": "ready"} just before the first next(),
{"event": "segment", "seq", "bytes", "file"} per segment, {"event": "error", "type", "message"}
per error callback, {"event": "end", "segments", "errors", "elapsed"} at the end.
Exit status: 0 when the subscription ended (whatever the reason: the errors are in the output);
1 on an unexpected exception; 124 on timeout.
"""

import argparse
import asyncio
import json
import logging
import sys
import time
from pathlib import Path


def emit(**obj):
    print(json.dumps(obj), flush=True)


def check_upstream(pytrickle_module):
    # Refuse to run against anything but the upstream package installed in this venv.
    path = Path(pytrickle_module.__file__).resolve()
    if Path(sys.prefix).resolve() not in path.parents or "site-packages" not in path.parts:
        sys.stderr.write(f"not upstream pytrickle: {path} (sys.prefix={sys.prefix})\n")
        sys.exit(3)


async def subscribe(args, state):
    import pytrickle
    from pytrickle.subscriber import TrickleSubscriber
    from pytrickle.base import setup_asyncio_exception_handler

    check_upstream(pytrickle)
    # upstream's own handler: drops the connection-reset noise of close() cancelling a POST
    setup_asyncio_exception_handler()
    args.out_dir.mkdir(parents=True, exist_ok=True)

    async def on_error(error_type, exc):
        state["errors"].append(error_type)
        emit(event="error", type=error_type, message=str(exc) if exc else None)

    sub = TrickleSubscriber(args.url, start_seq=args.start_seq, max_retries=args.max_retries,
                            connect_timeout_seconds=args.connect_timeout, error_callback=on_error)
    async with sub:
        emit(event="ready")
        state["start"] = time.monotonic()
        while args.max_segments is None or state["segments"] < args.max_segments:
            seg = await sub.next()
            if seg is None:
                break
            seq = seg.seq()
            name = f"{seq:06d}" if seq >= 0 else f"noseq-{state['segments']:06d}"
            final = args.out_dir / f"{name}.seg"
            if final.exists():  # the same seq twice: keep both, the test will see it
                name = f"{name}-dup{state['segments']}"
                final = args.out_dir / f"{name}.seg"
            part = args.out_dir / f"{name}.part"
            size = 0
            with open(part, "wb") as f:
                while True:
                    chunk = await seg.read()
                    if not chunk:
                        break
                    f.write(chunk)
                    size += len(chunk)
            await seg.close()
            part.rename(final)
            state["segments"] += 1
            emit(event="segment", seq=seq, bytes=size, file=str(final), eos=seg.eos())


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("url", help="channel URL, e.g. http://127.0.0.1:PORT/name")
    ap.add_argument("--out-dir", type=Path, required=True)
    ap.add_argument("--start-seq", type=int, default=-2)
    ap.add_argument("--max-segments", type=int, default=None)
    ap.add_argument("--max-retries", type=int, default=5)
    ap.add_argument("--connect-timeout", type=float, default=30.0,
                    help="upstream's per-request total timeout")
    ap.add_argument("--timeout", type=float, default=60.0, help="overall limit in seconds")
    ap.add_argument("--verbose", action="store_true", help="upstream DEBUG logs on stderr")
    args = ap.parse_args()

    # Upstream's own log lines go to stderr, which the tests print when they fail. Its DEBUG
    # lines are the only trace of what it swallows (e.g. a connection reset on a POST).
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    logging.getLogger("pytrickle").setLevel(logging.DEBUG if args.verbose else logging.INFO)
    state = {"segments": 0, "errors": [], "start": time.monotonic()}

    async def bounded():
        await asyncio.wait_for(subscribe(args, state), args.timeout)

    rc = 0
    try:
        asyncio.run(bounded())
    except asyncio.TimeoutError:
        emit(event="timeout", seconds=args.timeout)
        rc = 124
    emit(event="end", segments=state["segments"], errors=state["errors"],
         elapsed=round(time.monotonic() - state["start"], 3))
    sys.exit(rc)


if __name__ == "__main__":
    main()
