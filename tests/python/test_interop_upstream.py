"""Interop with the real, upstream PyTrickle (PyPI `pytrickle`), through `trickle serve`.

Upstream's TricklePublisher / TrickleSubscriber run in <repo>/.venv-upstream as subprocesses
(tests/python/upstream_clients/*.py), never in this process: our own package imports as
`pytrickle` too. Every payload is checked byte for byte.

Ordering used throughout: the channel is created (POST /{channel}, Expect-Content) and the
subscriber started first, so that its first GET (upstream: seq -2, "the segment being written
now", i.e. seq 0 on a fresh channel) is already waiting when the first segment starts; the
channel is ended with DELETE /{channel}, after which a subscriber sees end of stream.

The first three run twice: through a plain relay, and through one serving https:// with a
self-signed certificate (what a default go-livepeer orchestrator hands out; upstream's aiohttp
clients do not check it, and neither do ours by default).
"""

from __future__ import annotations

import random
import time
from pathlib import Path

import pytest

from trickle_testutil import (CLIP_FPS, CLIP_GOP, CLIP_SECONDS, Background, count_key_frames,
                              create_channel, http_delete, http_request, run)

pytestmark = pytest.mark.upstream

TS_SYNC = 0x47
TS_PACKET = 188
# write sizes the upstream publisher cycles through: 32 KiB and odd sizes, 1 byte included
CHUNK_SIZES = "32768,4099,1,65536,777,32768,12345"


# --------------------------------------------------------------------------------------------
# helpers


def make_payloads(directory: Path, sizes: list[int], seed: int) -> list[bytes]:
    """Random segments, written as seg-0.bin, seg-1.bin, ... (natural order = publish order)."""
    directory.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    payloads = []
    for i, size in enumerate(sizes):
        data = rng.randbytes(size)
        (directory / f"seg-{i}.bin").write_bytes(data)
        payloads.append(data)
    return payloads


def segment_events(sub: Background) -> list[dict]:
    return [e for e in sub.events() if e.get("event") == "segment"]


def error_events(proc: Background) -> list[dict]:
    return [e for e in proc.events() if e.get("event") == "error"]


def wait_until(predicate, timeout: float, interval: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


def wait_for_segments(sub: Background, count: int, timeout: float, context: str = ""):
    """Until the upstream subscriber has written `count` complete segments."""
    wait_until(lambda: len(segment_events(sub)) >= count or sub.proc.poll() is not None, timeout)
    got = segment_events(sub)
    if len(got) < count:
        sub.kill()
        pytest.fail(f"the upstream subscriber received {len(got)} of {count} segments within "
                    f"{timeout}s: {got}\n{sub.report()}\n{context}")


def wait_for_size(path: Path, size: int, timeout: float) -> bool:
    return wait_until(lambda: path.exists() and path.stat().st_size >= size, timeout)


def end_channel(url: str, relay):
    status = http_delete(url)
    assert 200 <= status < 300, f"DELETE {url} answered {status}\n{relay.logs()}"


def first_diff(a: bytes, b: bytes) -> str:
    n = min(len(a), len(b))
    for i in range(n):
        if a[i] != b[i]:
            return f"first difference at byte {i} (lengths {len(a)} vs {len(b)})"
    return f"equal for {n} bytes, lengths {len(a)} vs {len(b)}"


def assert_bytes_equal(got: bytes, want: bytes, what: str):
    # Never let pytest print megabytes of diff.
    assert got == want, f"{what}: {first_diff(got, want)}"


def read_segments(events: list[dict]) -> list[bytes]:
    return [Path(e["file"]).read_bytes() for e in events]


def first_video_packet_is_key(path: Path) -> bool:
    cp = run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries",
              "packet=flags", "-of", "csv=p=0", "-read_intervals", "%+#1", path], timeout=60)
    lines = cp.stdout.decode().split()
    return bool(lines) and "K" in lines[0]


# --------------------------------------------------------------------------------------------
# a. upstream publisher -> relay -> upstream subscriber


def test_upstream_publisher_to_upstream_subscriber(relay_either_scheme, upstream, tmp_path):
    relay = relay_either_scheme  # on http:// and on https://
    url = relay.url("interop-a")
    sizes = [1_500_000, 524_288 + 17, 3_000_000 - 5, 1_048_576, 777_777, 2_097_152 + 3]
    payloads = make_payloads(tmp_path / "in", sizes, seed=0xA)
    create_channel(url)

    sub = upstream.subscribe(url, tmp_path / "out", "--timeout", 90)
    sub.wait_for_event("ready")
    time.sleep(0.5)  # let its first GET (seq -2) reach the relay before anything is published

    pub = upstream.publish(url, "--segments-dir", tmp_path / "in", "--chunk-sizes", CHUNK_SIZES,
                           "--timeout", 60)
    rc = pub.wait(90)
    assert rc == 0, f"upstream publisher failed\n{pub.report()}\n{relay.logs()}"

    wait_for_segments(sub, len(sizes), timeout=30, context=relay.logs())
    end_channel(url, relay)
    t0 = time.monotonic()
    rc = sub.wait(30)
    ended_after = time.monotonic() - t0
    assert rc == 0, f"upstream subscriber failed\n{sub.report()}\n{relay.logs()}"

    segs = segment_events(sub)
    assert [e["seq"] for e in segs] == list(range(len(sizes))), sub.report()
    assert [e["bytes"] for e in segs] == sizes, sub.report()
    for i, (got, want) in enumerate(zip(read_segments(segs), payloads)):
        assert_bytes_equal(got, want, f"segment {i}")
    assert error_events(sub) == [], (
        "after DELETE the subscriber's pre-connected GET should see end of stream "
        f"(200 + Lp-Trickle-Closed), not an error\n{sub.report()}\n{relay.logs()}")
    assert ended_after < 10, f"the subscriber took {ended_after:.1f}s to end after DELETE"
    relay.assert_alive()


# --------------------------------------------------------------------------------------------
# b. upstream publisher -> relay -> our CLI subscriber


def test_upstream_publisher_to_trickle_subscribe(relay_either_scheme, upstream, trickle_exe, background,
                                                 tmp_path):
    relay = relay_either_scheme  # on http:// and on https://
    url = relay.url("interop-b")
    sizes = [2_000_000 + 1, 600_000, 1_234_567, 32_768]
    payloads = make_payloads(tmp_path / "in", sizes, seed=0xB)
    want = b"".join(payloads)
    out = tmp_path / "sub.bin"
    create_channel(url)

    sub = background([trickle_exe, "subscribe", url, "--out", out, "--start-seq", "0"],
                     "trickle-subscribe")
    time.sleep(0.5)
    pub = upstream.publish(url, "--segments-dir", tmp_path / "in", "--chunk-sizes", CHUNK_SIZES,
                           "--timeout", 60)
    rc = pub.wait(90)
    assert rc == 0, f"upstream publisher failed\n{pub.report()}\n{relay.logs()}"

    # The subscriber may buffer its output; give it time to catch up, then end the channel.
    wait_for_size(out, len(want), timeout=15)
    end_channel(url, relay)
    rc = sub.wait(30)
    assert rc == 0, f"`trickle subscribe` did not exit 0 at end of channel\n{sub.report()}\n" \
                    f"{relay.logs()}"
    assert_bytes_equal(out.read_bytes(), want, "trickle subscribe output vs published segments")
    relay.assert_alive()


# --------------------------------------------------------------------------------------------
# c. our CLI publisher -> relay -> upstream subscriber


def check_clip_segments(segs: list[dict], tee: Path, clip: Path, report: str):
    gops = count_key_frames(clip)
    assert gops == CLIP_SECONDS * CLIP_FPS // CLIP_GOP == 3, f"the test clip has {gops} GOPs"
    assert [e["seq"] for e in segs] == list(range(gops)), \
        f"expected one segment per GOP, seqs 0..{gops - 1}\n{report}"
    datas = read_segments(segs)
    for e, data in zip(segs, datas):
        assert data, f"segment {e['seq']} is empty\n{report}"
        assert data[0] == TS_SYNC, \
            f"segment {e['seq']} starts with {data[:4].hex()}, not the MPEG-TS sync byte"
        assert len(data) % TS_PACKET == 0, \
            f"segment {e['seq']} is {len(data)} bytes, not whole 188-byte TS packets"
        assert first_video_packet_is_key(Path(e["file"])), \
            f"segment {e['seq']} does not start with a video key frame"
    assert_bytes_equal(b"".join(datas), tee.read_bytes(), "received segments vs --tee file")


def test_trickle_publish_to_upstream_subscriber(relay_either_scheme, upstream, trickle_exe, ts_clip, tmp_path):
    """Real-time publishing, channel ended by `trickle publish` itself (its default)."""
    relay = relay_either_scheme  # on http:// and on https://
    url = relay.url("interop-c")
    tee = tmp_path / "tee.ts"
    create_channel(url)

    sub = upstream.subscribe(url, tmp_path / "out", "--timeout", 60)
    sub.wait_for_event("ready")
    time.sleep(1.0)

    run([trickle_exe, "publish", url, ts_clip, "--realtime", "--tee", tee], timeout=60)
    rc = sub.wait(30)
    assert rc == 0, f"upstream subscriber failed\n{sub.report()}\n{relay.logs()}"
    assert tee.exists() and tee.stat().st_size > 0, "--tee wrote nothing"
    check_clip_segments(segment_events(sub), tee, ts_clip, sub.report())
    assert error_events(sub) == [], (
        "the channel ended by DELETE should reach the subscriber as end of stream, not an "
        f"error\n{sub.report()}\n{relay.logs()}")
    relay.assert_alive()


def test_trickle_publish_keep_open_to_upstream_subscriber(relay, upstream, trickle_exe, ts_clip,
                                                          tmp_path):
    """As fast as possible, channel kept open by `--keep-open` and ended by the test."""
    url = relay.url("interop-c2")
    tee = tmp_path / "tee.ts"
    create_channel(url)

    sub = upstream.subscribe(url, tmp_path / "out", "--timeout", 60)
    sub.wait_for_event("ready")
    time.sleep(1.0)

    run([trickle_exe, "publish", url, ts_clip, "--keep-open", "--tee", tee], timeout=60)
    gops = count_key_frames(ts_clip)
    wait_for_segments(sub, gops, timeout=30, context=relay.logs())
    end_channel(url, relay)
    rc = sub.wait(30)
    assert rc == 0, f"upstream subscriber failed\n{sub.report()}\n{relay.logs()}"
    check_clip_segments(segment_events(sub), tee, ts_clip, sub.report())
    assert error_events(sub) == [], f"{sub.report()}\n{relay.logs()}"
    relay.assert_alive()


# --------------------------------------------------------------------------------------------
# d. our CLI publisher -> relay -> our CLI subscriber


def test_trickle_publish_to_trickle_subscribe(relay, trickle_exe, ts_clip, background, tmp_path):
    """Real-time publishing, channel ended by `trickle publish` itself."""
    url = relay.url("interop-d")
    tee, out = tmp_path / "tee.ts", tmp_path / "sub.ts"
    create_channel(url)

    sub = background([trickle_exe, "subscribe", url, "--out", out, "--start-seq", "0"],
                     "trickle-subscribe")
    time.sleep(0.5)
    run([trickle_exe, "publish", url, ts_clip, "--realtime", "--tee", tee], timeout=60)
    rc = sub.wait(30)
    assert rc == 0, f"`trickle subscribe` failed\n{sub.report()}\n{relay.logs()}"
    assert tee.stat().st_size > 0
    assert_bytes_equal(out.read_bytes(), tee.read_bytes(), "trickle subscribe output vs --tee")
    relay.assert_alive()


def test_trickle_publish_keep_open_to_trickle_subscribe(relay, trickle_exe, ts_clip, background,
                                                        tmp_path):
    """As fast as possible with --keep-open; the test ends the channel."""
    url = relay.url("interop-d2")
    tee, out = tmp_path / "tee.ts", tmp_path / "sub.ts"
    create_channel(url)

    sub = background([trickle_exe, "subscribe", url, "--out", out, "--start-seq", "0"],
                     "trickle-subscribe")
    time.sleep(0.5)
    run([trickle_exe, "publish", url, ts_clip, "--keep-open", "--tee", tee], timeout=60)
    wait_for_size(out, tee.stat().st_size, timeout=15)
    end_channel(url, relay)
    rc = sub.wait(30)
    assert rc == 0, f"`trickle subscribe` failed\n{sub.report()}\n{relay.logs()}"
    assert_bytes_equal(out.read_bytes(), tee.read_bytes(), "trickle subscribe output vs --tee")
    relay.assert_alive()


# --------------------------------------------------------------------------------------------
# e. unknown channel, relay without --autocreate


def test_upstream_subscriber_unknown_channel(relay_factory, upstream, tmp_path):
    relay = relay_factory(autocreate=False)
    url = relay.url("no-such-channel")

    status, _, body = http_request("GET", f"{url}/-2")
    assert status == 404, f"GET {url}/-2 on an unknown channel answered {status}: {body[:200]!r}"

    sub = upstream.subscribe(url, tmp_path / "out", "--timeout", 30)
    rc = sub.wait(60)
    assert rc == 0, sub.report()
    end = sub.wait_for_event("end", timeout=1)
    errors = error_events(sub)
    assert [e["type"] for e in errors] == ["stream_not_found"], sub.report()
    assert "404" in (errors[0]["message"] or ""), sub.report()
    assert end["segments"] == 0, sub.report()
    # 404 is final: no retries (five would take >= 2 s with upstream's 0.5 s back-off)
    assert end["elapsed"] < 2.0, f"took {end['elapsed']}s to give up\n{sub.report()}"
    relay.assert_alive()


def test_upstream_publisher_unknown_channel(relay_factory, upstream, tmp_path):
    """Without --autocreate, a POST to an unknown channel is refused with 404 and upstream's
    publisher reports post_failed.

    The segment is written live (5 writes, 0.1 s apart), as an encoder does. The 404 must reach
    the client intact although its body is still arriving: go-livepeer's server (Go net/http)
    reads and discards up to 256 KiB of an unread request body before it writes the response,
    and half-closes with a linger when it drops the connection. A server that answers and
    closes at once makes aiohttp's next body write fail, and upstream then swallows the whole
    POST as a "connection reset" without reporting anything."""
    relay = relay_factory(autocreate=False)
    url = relay.url("no-such-channel")
    make_payloads(tmp_path / "in", [5000], seed=0xE)
    pub = upstream.publish(url, "--segments-dir", tmp_path / "in", "--chunk-sizes", "1000",
                           "--chunk-delay", "0.1", "--timeout", 30)
    rc = pub.wait(60)
    posted = [e for e in pub.events() if e.get("event") == "posted"]
    assert posted and posted[0]["status"] == 404, pub.report()
    errors = error_events(pub)
    assert errors and errors[0]["type"] == "post_failed", (
        "the relay answered 404 but upstream's publisher could not read it (connection closed "
        f"under its request body), so it reported no post_failed\n{pub.report()}")
    assert "404" in (errors[0]["message"] or ""), pub.report()
    assert rc == 1, pub.report()
    status, _, _ = http_request("GET", f"{url}/0")
    assert status == 404, "the refused POST must not have created the channel"
    relay.assert_alive()
