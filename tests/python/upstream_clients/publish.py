"""Publish segments to a trickle channel with the real, upstream PyTrickle TricklePublisher.

Runs inside <repo>/.venv-upstream only (started by the interop tests as a subprocess, with
`python -I`), so upstream `pytrickle` never meets our own package of the same name.

    publish.py URL (--segments-dir DIR | --file F [--file F ...]) [--mime video/mp2t]
               [--chunk-sizes 32768,4099,1] [--chunk-delay 0.1] [--timeout 60]

Each input file becomes one segment (a segments dir is taken in natural name order). A segment
is written with SegmentWriter.write() in chunks whose sizes cycle through --chunk-sizes, and the
next segment starts once the server has answered this segment's POST (upstream close() cancels
in-flight POSTs, so closing any earlier could cut a segment short). Then the publisher is closed
and the script exits. It never DELETEs the channel: upstream's publisher does not either.

stdout: one JSON object per line: {"event": "written", "seq", "bytes", "file"} and
{"event": "posted", "seq", "url", "status", "outcome"} per segment (status: the HTTP status;
outcome: the status, or the exception that ended the POST),
{"event": "error", "type", "message"} per error callback, {"event": "done", ...} at the end.
Exit status: 0 when every POST was answered 200 and no error was reported; 1 otherwise;
124 on timeout.
"""

import argparse
import asyncio
import json
import logging
import re
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


def natural_key(p: Path):
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", p.name)]


async def publish(args, files):
    import pytrickle
    from pytrickle.publisher import TricklePublisher
    from pytrickle.base import setup_asyncio_exception_handler

    check_upstream(pytrickle)
    # upstream's own handler: drops the connection-reset noise of close() cancelling a POST
    setup_asyncio_exception_handler()
    errors = []

    async def on_error(error_type, exc):
        errors.append(error_type)
        emit(event="error", type=error_type, message=str(exc) if exc else None)

    class TrackingPublisher(TricklePublisher):
        """Upstream publisher that also records when each segment's POST has been answered."""

        def __init__(self, *a, **kw):
            super().__init__(*a, **kw)
            self.post_done = {}
            self.post_outcome = {}  # url -> HTTP status, or the exception's text

        def _done_event(self, url):
            return self.post_done.setdefault(url, asyncio.Event())

        async def start(self):
            await super().start()
            # Record each POST's status (or exception): upstream swallows connection resets
            # silently, which a test must be able to see.
            post = self.session.post

            def recording_post(url, **kw):
                async def run():
                    try:
                        resp = await post(url, **kw)
                    except BaseException as e:
                        self.post_outcome[url] = f"{type(e).__name__}: {e}"
                        raise
                    self.post_outcome[url] = resp.status
                    return resp
                return run()

            self.session.post = recording_post

        async def _run_post(self, url, queue):
            try:
                await super()._run_post(url, queue)
            finally:
                self._done_event(url).set()

    chunk_sizes = [int(s) for s in args.chunk_sizes.split(",") if s.strip()]
    if not chunk_sizes or min(chunk_sizes) <= 0:
        raise SystemExit("--chunk-sizes must be positive integers")

    pub = TrackingPublisher(args.url, args.mime, error_callback=on_error)
    start = time.monotonic()
    urls = []
    async with pub:
        for i, path in enumerate(files):
            data = path.read_bytes()
            seg = await pub.next()
            # Upstream's publisher starts at seq 0 and moves one seq per segment; until its
            # background pre-connect runs, pub.idx is the seq of the writer just returned.
            url = f"{args.url}/{i}"
            if pub.idx != i:
                errors.append("unexpected_seq")
                emit(event="error", type="unexpected_seq", message=f"writer for seq {pub.idx}, want {i}")
            urls.append(url)
            async with seg:
                off, k = 0, 0
                while off < len(data):
                    n = chunk_sizes[k % len(chunk_sizes)]
                    await seg.write(data[off:off + n])
                    off += n
                    k += 1
                    if args.chunk_delay and off < len(data):
                        await asyncio.sleep(args.chunk_delay)  # an encoder producing it live
            emit(event="written", seq=i, bytes=len(data), file=str(path))
            # Like a real encoder, which produces one segment every GOP, let this segment's
            # POST finish before the next segment starts. This also lets the publisher's
            # background task pre-connect the next POST: upstream's next() called back to back
            # with no await in between would open a second POST to the same seq.
            await pub._done_event(url).wait()
            outcome = pub.post_outcome.get(url, "no response")
            emit(event="posted", seq=i, url=url, status=outcome if isinstance(outcome, int) else None,
                 outcome=outcome)
            if outcome != 200:
                # also catches a connection reset, which upstream ignores without a word
                errors.append("post_not_ok")
        failed = list(errors)
    emit(event="done", segments=len(urls), errors=failed, elapsed=round(time.monotonic() - start, 3))
    return 0 if not failed else 1


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("url", help="channel URL, e.g. http://127.0.0.1:PORT/name")
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--segments-dir", type=Path, help="one segment per file, natural name order")
    src.add_argument("--file", type=Path, action="append", help="one segment (repeatable)")
    ap.add_argument("--mime", default="video/mp2t")
    ap.add_argument("--chunk-sizes", default="32768", help="comma-separated write sizes, cycled")
    ap.add_argument("--chunk-delay", type=float, default=0.0,
                    help="seconds to wait between two writes of a segment")
    ap.add_argument("--timeout", type=float, default=60.0, help="overall limit in seconds")
    ap.add_argument("--verbose", action="store_true", help="upstream DEBUG logs on stderr")
    args = ap.parse_args()

    # Upstream's own log lines go to stderr, which the tests print when they fail. Its DEBUG
    # lines are the only trace of what it swallows (e.g. a connection reset on a POST).
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    logging.getLogger("pytrickle").setLevel(logging.DEBUG if args.verbose else logging.INFO)
    if args.segments_dir:
        files = sorted((p for p in args.segments_dir.iterdir() if p.is_file()), key=natural_key)
    else:
        files = args.file
    if not files:
        raise SystemExit("nothing to publish")

    async def bounded():
        return await asyncio.wait_for(publish(args, files), args.timeout)

    try:
        rc = asyncio.run(bounded())
    except asyncio.TimeoutError:
        emit(event="timeout", seconds=args.timeout)
        rc = 124
    sys.exit(rc)


if __name__ == "__main__":
    main()
