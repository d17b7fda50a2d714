"""Our package and upstream PyTrickle on either side of one stream, through `trickle serve`:
upstream's TricklePublisher/TrickleSubscriber (in .venv-upstream, as subprocesses) feeding and
reading our StreamServer; our TricklePublisher/TrickleSubscriber feeding and reading upstream's
StreamServer (bench/python_passthrough_worker.py, the same program both packages run)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from conftest import REPO, upstream_env
from python_worker import PythonWorker, _request, make_server
from test_python_stream import RecordingProcessor
from trickle_testutil import CLIP_FPS, CLIP_SECONDS, count_video_frames, create_channel, http_delete, stream_codecs

from pytrickle import TricklePublisher, TrickleSubscriber

pytestmark = pytest.mark.upstream
FRAMES = CLIP_SECONDS * CLIP_FPS
TS_PACKET = 188


async def test_upstream_clients_feed_and_read_our_server(relay, upstream, ts_clip, tmp_path):
    processor = RecordingProcessor()
    worker = await PythonWorker(make_server(processor)).start()
    try:
        await worker.wait_health("IDLE")
        for channel in ("in", "out"):
            await asyncio.to_thread(create_channel, relay.url(channel))
        status, answer = await worker.post("/stream/start", {
            "subscribe_url": relay.url("in"), "publish_url": relay.url("out"), "gateway_request_id": "u",
            "params": {"max_framerate": 60}})
        assert status == 200, answer
        subscriber = upstream.subscribe(relay.url("out"), tmp_path / "segments", "--start-seq", "0",
                                        "--timeout", "90")
        await asyncio.sleep(0.5)
        publisher = upstream.publish(relay.url("in"), "--file", ts_clip, "--mime", "video/mp2t")
        assert await asyncio.to_thread(publisher.wait, 60) == 0, publisher.report()
        # Upstream's publisher never ends its channel (docs/compatibility.md Q21): the gateway would; so do we.
        assert 200 <= await asyncio.to_thread(http_delete, relay.url("in")) < 300
        # Our worker drains, then ends its output channel: upstream's subscriber sees the end.
        assert await asyncio.to_thread(subscriber.wait, 60) == 0, subscriber.report()
        segments = [e for e in subscriber.events() if e.get("event") == "segment"]
        assert len(segments) >= CLIP_SECONDS // 2, segments
        joined = tmp_path / "joined.ts"
        joined.write_bytes(b"".join(Path(e["file"]).read_bytes() for e in segments))
        assert count_video_frames(joined) == FRAMES
        assert stream_codecs(joined) == ["h264,video", "opus,audio"]
        assert processor.video == FRAMES
    finally:
        await worker.close()


async def test_our_clients_feed_and_read_upstreams_server(relay, upstream_python, background, ts_clip, tmp_path):
    port_file = tmp_path / "upstream.port"
    server = background([upstream_python, "-I", REPO / "bench" / "python_passthrough_worker.py",
                         "--host", "127.0.0.1", "--port", "0", "--port-file", port_file],
                        "upstream-server", env=upstream_env())
    deadline = time.monotonic() + 60
    while not (port_file.exists() and port_file.read_text().strip()):
        assert server.proc.poll() is None, server.report()
        assert time.monotonic() < deadline, "upstream's StreamServer did not start"
        await asyncio.sleep(0.1)
    api = f"http://127.0.0.1:{int(port_file.read_text())}"
    while (await asyncio.to_thread(_request, "GET", api + "/health"))[1] != {"status": "IDLE"}:
        assert time.monotonic() < deadline, "upstream's StreamServer never became IDLE"
        await asyncio.sleep(0.1)
    for channel in ("in", "out"):
        await asyncio.to_thread(create_channel, relay.url(channel))
    status, answer = await asyncio.to_thread(_request, "POST", api + "/stream/start", {
        "subscribe_url": relay.url("in"), "publish_url": relay.url("out"), "gateway_request_id": "ours",
        "params": {"max_framerate": 30}})
    assert status == 200, answer

    received = bytearray()

    async def read_output():
        async with TrickleSubscriber(relay.url("out"), start_seq=0) as subscriber:
            while True:
                try:
                    segment = await asyncio.wait_for(subscriber.next(), 10)
                except asyncio.TimeoutError:
                    return  # upstream never ends its output channel (docs/compatibility.md Q21)
                if segment is None:
                    return
                while chunk := await segment.read():
                    received.extend(chunk)

    reader = asyncio.create_task(read_output())
    await asyncio.sleep(1.0)  # upstream's GET for "the segment being written" must be waiting
    data = ts_clip.read_bytes()
    third = (len(data) // 3) // TS_PACKET * TS_PACKET
    async with TricklePublisher(relay.url("in"), "video/mp2t") as publisher:
        for piece in (data[:third], data[third:2 * third], data[2 * third:]):
            async with await publisher.next() as segment:
                for offset in range(0, len(piece), 65536):
                    await segment.write(piece[offset:offset + 65536])
            await asyncio.sleep(CLIP_SECONDS / 3)
    await publisher._run_delete()  # the end of the input, as the gateway says it
    await asyncio.wait_for(reader, 90)
    out = tmp_path / "out.ts"
    out.write_bytes(bytes(received))
    frames = count_video_frames(out)
    # Upstream cuts the tail of its last segment when it closes (docs/compatibility.md Q21): at least the first GOPs.
    assert FRAMES - 2 * 60 <= frames <= FRAMES, frames
    assert "h264,video" in stream_codecs(out)
