"""https:// trickle URLs, as a default go-livepeer orchestrator hands them out: a relay serving
TLS with a self-signed certificate made at test time, the C++ worker and our Python StreamServer
streaming a clip with all five channel URLs on https://, our clients with certificate checks off
(upstream's behaviour) and on, and the mistakes (plain HTTP to the TLS port and the reverse) that
must end in a clear error, never a hang. Upstream's own clients through the TLS relay are in
test_interop_upstream.py."""

from __future__ import annotations

import asyncio
import http.server
import json
import os
import ssl
import threading
import time


from python_worker import PythonWorker
from test_cpp_worker import worker_factory  # noqa: F401 - the fixture, shared
from trickle_testutil import (CLIP_FPS, CLIP_SECONDS, count_video_frames, create_channel, http_request, run,
                              stream_codecs)

from pytrickle import StreamProcessor
from pytrickle.decorators import param_updater, video_handler
from pytrickle.publisher import TricklePublisher
from pytrickle.subscriber import TrickleSubscriber
from pytrickle.utils.register import RegisterCapability

FRAMES = CLIP_SECONDS * CLIP_FPS
CHANNELS = {"in": "video/mp2t", "out": "video/mp2t", "ctl": "application/json", "events": "application/json",
            "data": "application/jsonl"}


def json_segments(raw: bytes) -> list:
    """Segments written back to back by `trickle subscribe`: one JSON value (or JSON line) each."""
    decoder, text, at, out = json.JSONDecoder(), raw.decode(), 0, []
    while at < len(text):
        if text[at].isspace():
            at += 1
            continue
        value, at = decoder.raw_decode(text, at)
        out.append(value)
    return out


def five_urls(relay) -> dict:
    for channel, mime in CHANNELS.items():
        create_channel(relay.url(channel), mime)
    return {"subscribe_url": relay.url("in"), "publish_url": relay.url("out"), "control_url": relay.url("ctl"),
            "events_url": relay.url("events"), "data_url": relay.url("data")}


def post_control(relay, params: dict):
    status, _, body = http_request("POST", relay.url("ctl") + "/0", {"Content-Type": "application/json"},
                                   json.dumps(params).encode())
    assert status == 200, body


# --------------------------------------------------------------------------------------------
# the workers, every channel on https://


def test_cpp_worker_streams_with_all_five_urls_on_https(tls_relay, worker_factory, trickle_exe,  # noqa: F811
                                                        background, ts_clip, tmp_path):
    worker = worker_factory("green_tint_worker")
    urls = five_urls(tls_relay)
    assert all(url.startswith("https://") for url in urls.values())
    start = {**urls, "gateway_request_id": "tls", "params": {"max_framerate": 60}}
    status, answer = worker.post("/stream/start", start)
    assert status == 200, answer
    out, events = tmp_path / "out.ts", tmp_path / "events.json"
    subscriber = background([trickle_exe, "subscribe", tls_relay.url("out"), "-o", out], "subscribe")
    event_reader = background([trickle_exe, "subscribe", tls_relay.url("events"), "-o", events, "--start-seq", "0"],
                              "events")
    publisher = background([trickle_exe, "publish", "--realtime", tls_relay.url("in"), ts_clip], "publish")
    time.sleep(CLIP_SECONDS / 2)
    post_control(tls_relay, {"strength": 0.0, "via": "control"})
    assert publisher.wait(timeout=60) == 0, publisher.report()
    assert subscriber.wait(timeout=30) == 0, subscriber.report()
    assert count_video_frames(out) == FRAMES
    assert stream_codecs(out) == ["h264,video", "opus,audio"]
    log = worker.output()
    # The control message came in over TLS; certificate checks were off, and the log says so once.
    assert 'green tint: params {"strength": 0.0, "via": "control"}' in log, log[-3000:]
    assert log.count("https:// channels, certificate verification off") == 1, log[-3000:]
    # No channel (media, control, events, data) failed to connect or gave up.
    assert "connection_failed" not in log and "max_retries_exceeded" not in log, log[-3000:]
    worker.post("/stream/stop", {})
    tls_relay_events = []
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        tls_relay_events = json_segments(events.read_bytes()) if events.exists() else []
        if any(e["event"]["type"] == "receive_first_ingest_segment" for e in tls_relay_events):
            break
        time.sleep(0.1)
    event_reader.kill()
    types = {e["event"]["type"] for e in tls_relay_events}
    assert {"receive_first_ingest_segment", "send_first_processed_segment"} <= types, tls_relay_events


class DataSendingTint:
    """Tints the picture, sends one data item per 30 frames, takes parameters from control."""

    def __init__(self):
        self.frames = 0
        self.params = []
        self.app = None

    @video_handler
    async def tint(self, frame):
        self.frames += 1
        if self.frames % 30 == 0:
            await self.app.send_data(json.dumps({"frame": self.frames}))
        return frame

    @param_updater
    async def update(self, params):
        self.params.append(params)


async def test_python_server_streams_with_all_five_urls_on_https(tls_relay, trickle_exe, background, ts_clip,
                                                                 tmp_path, caplog):
    handlers = DataSendingTint()
    app = StreamProcessor.from_handlers(handlers, port=0, host="127.0.0.1")
    handlers.app = app
    app.server.state.set_startup_complete()
    worker = await PythonWorker(app.server).start()
    caplog.set_level("INFO")
    try:
        urls = await asyncio.to_thread(five_urls, tls_relay)
        status, answer = await worker.post("/stream/start", {**urls, "gateway_request_id": "tls",
                                                             "params": {"max_framerate": 60}})
        assert status == 200, answer
        out, data, events = tmp_path / "out.ts", tmp_path / "data.jsonl", tmp_path / "events.json"
        subscriber = background([trickle_exe, "subscribe", tls_relay.url("out"), "-o", out], "subscribe")
        data_reader = background([trickle_exe, "subscribe", tls_relay.url("data"), "-o", data, "--start-seq", "0"],
                                 "data")
        event_reader = background([trickle_exe, "subscribe", tls_relay.url("events"), "-o", events,
                                   "--start-seq", "0"], "events")
        publisher = background([trickle_exe, "publish", "--realtime", tls_relay.url("in"), ts_clip], "publish")
        await asyncio.sleep(CLIP_SECONDS / 2)
        await asyncio.to_thread(post_control, tls_relay, {"prompt": "over tls"})
        assert await asyncio.to_thread(publisher.wait, 60) == 0, publisher.report()
        assert await asyncio.to_thread(subscriber.wait, 30) == 0, subscriber.report()
        assert count_video_frames(out) == FRAMES
        assert {"prompt": "over tls"} in handlers.params
        deadline = time.monotonic() + 10
        items = []
        while time.monotonic() < deadline and not items:
            items = [item for batch in json_segments(data.read_bytes()) for item in batch] if data.exists() else []
            await asyncio.sleep(0.1)
        assert items and json.loads(items[0])["frame"] % 30 == 0, items
        got_events = json_segments(events.read_bytes()) if events.exists() else []
        assert any(e["event"]["type"] == "receive_first_ingest_segment" for e in got_events), got_events
        data_reader.kill()
        event_reader.kill()
    finally:
        await worker.close()
    said = [r.getMessage() for r in caplog.records if "certificate verification off" in r.getMessage()]
    assert len(said) == 1 and said[0].endswith("https:// channels, certificate verification off"), said


# --------------------------------------------------------------------------------------------
# our clients: checks off by default, on when asked


async def test_python_clients_check_certificates_only_when_asked(tls_relay, tls_certificate, other_certificate):
    url = tls_relay.url("checked")
    await asyncio.to_thread(create_channel, url)
    payload = os.urandom(300_000)

    async def publish(**tls) -> list:
        errors = []

        async def on_error(kind, exc):
            errors.append((kind, str(exc)))
        publisher = TricklePublisher(url, "application/octet-stream", error_callback=on_error, **tls)
        await publisher.start()
        async with await publisher.next() as writer:
            await writer.write(payload)
        await publisher.close()
        return errors

    async def read_one(**tls):
        errors = []

        async def on_error(kind, exc):
            errors.append((kind, str(exc)))
        subscriber = TrickleSubscriber(url, start_seq=0, max_retries=2, error_callback=on_error, **tls)
        async with subscriber:
            segment = await subscriber.next()
            body = b""
            while segment is not None and (chunk := await segment.read()):
                body += chunk
        return body if segment is not None else None, errors

    # Off (upstream's default): the self-signed relay is trusted as it is.
    assert await publish() == []
    body, errors = await read_one()
    assert (body, errors) == (payload, [])
    # On against the system's CAs, or a bundle of someone else's: refused, saying why and where.
    for tls in ({"verify_ssl": True}, {"ssl_ca_file": str(other_certificate.cert)}):
        body, errors = await read_one(**tls)
        assert body is None
        assert [kind for kind, _ in errors] == ["max_retries_exceeded"], errors
        assert "certificate verify failed" in errors[0][1] and url in errors[0][1], errors
        refused = await publish(**tls)
        assert refused and refused[0][0] == "connection_failed", refused
        assert "certificate verify failed" in refused[0][1], refused
    # On, with the relay's own certificate as the bundle: accepted.
    body, errors = await read_one(ssl_ca_file=str(tls_certificate.cert))
    assert (body, errors) == (payload, [])


def test_cli_checks_with_ca_and_the_environment(tls_relay, tls_certificate, other_certificate, trickle_exe,
                                                ts_clip, tmp_path):
    url = tls_relay.url("cli")
    create_channel(url)
    tee = tmp_path / "sent.ts"
    sent = run([trickle_exe, "publish", url, ts_clip, "--keep-open", "--tee", tee, "--ca", tls_certificate.cert],
               timeout=60)
    assert f"{url}: verifying certificates against {tls_certificate.cert}" in sent.stderr.decode()
    got = tmp_path / "got.ts"
    base = [trickle_exe, "subscribe", url, "--start-seq", "0", "--max-segments", "1", "--max-retries", "2",
            "-o", got]
    # Unchecked by default, and the log says so.
    fine = run(base, timeout=30)
    assert f"{url}: certificate verification off" in fine.stderr.decode()
    assert got.read_bytes() and tee.read_bytes().startswith(got.read_bytes())
    # --verify-tls against the system's CAs: refused, with the reason.
    refused = run(base + ["--verify-tls"], timeout=30, check=False)
    assert refused.returncode == 1
    assert "certificate verify failed" in refused.stderr.decode(), refused.stderr.decode()[-2000:]
    # TRICKLE_CA_BUNDLE: the wrong bundle refuses, the right one accepts.
    env = dict(os.environ, TRICKLE_CA_BUNDLE=str(other_certificate.cert))
    assert run(base, timeout=30, check=False, env=env).returncode == 1
    env["TRICKLE_CA_BUNDLE"] = str(tls_certificate.cert)
    assert run(base, timeout=30, env=env).returncode == 0
    # A --ca that does not exist is a usage error, before any connection.
    missing = run(base + ["--ca", tmp_path / "absent.pem"], timeout=30, check=False)
    assert missing.returncode != 0 and "absent.pem" in missing.stderr.decode()


def test_plain_and_tls_mismatches_end_quickly_with_a_clear_error(tls_relay, relay, trickle_exe, tmp_path):
    # Plain HTTP to the TLS port: the relay answers 400 as Go's servers do.
    plain = tls_relay.url("x").replace("https://", "http://")
    status, _, body = http_request("GET", plain + "/0")
    assert status == 400 and b"HTTP request to an HTTPS server" in body
    started = time.monotonic()
    cp = run([trickle_exe, "subscribe", plain, "--max-retries", "1", "-o",
              tmp_path / "a"], timeout=30, check=False)
    assert cp.returncode == 1 and "HTTP request to an HTTPS server" in cp.stderr.decode(), cp.stderr.decode()
    # TLS to a plain relay: the handshake fails, saying the server does not speak TLS.
    secure = relay.url("x").replace("http://", "https://")
    cp = run([trickle_exe, "subscribe", secure, "--max-retries", "1", "-o", tmp_path / "b"], timeout=30,
             check=False)
    assert cp.returncode == 1 and "does not speak TLS" in cp.stderr.decode(), cp.stderr.decode()
    assert time.monotonic() - started < 10
    tls_relay.assert_alive()
    relay.assert_alive()


def test_relay_refuses_a_key_that_is_not_the_certificates(trickle_exe, tls_certificate, other_certificate):
    cp = run([trickle_exe, "serve", "--port", "0", "--tls-cert", tls_certificate.cert, "--tls-key",
              other_certificate.key], timeout=30, check=False)
    assert cp.returncode == 1 and "does not match" in cp.stderr.decode(), cp.stderr.decode()
    lonely = run([trickle_exe, "serve", "--port", "0", "--tls-cert", tls_certificate.cert], timeout=30, check=False)
    assert lonely.returncode != 0 and "--tls-key" in lonely.stderr.decode()


# --------------------------------------------------------------------------------------------
# registration with an orchestrator on https://


class FakeOrchestrator(http.server.BaseHTTPRequestHandler):
    """go-livepeer's /capability/register as the worker sees it: 200 for the right secret."""
    seen: list = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        FakeOrchestrator.seen.append((self.path, self.headers.get("Authorization"), json.loads(body)))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


async def test_registration_checks_the_orchestrator_only_when_the_environment_asks(tls_certificate,
                                                                                    other_certificate, monkeypatch):
    """Unchecked by default (test_register.py); TRICKLE_CA_BUNDLE / TRICKLE_TLS_VERIFY turn checks
    on for registration as for the channels."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), FakeOrchestrator)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tls_certificate.cert, tls_certificate.key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    FakeOrchestrator.seen = []
    orch = f"https://127.0.0.1:{server.server_address[1]}"

    async def register():
        return await RegisterCapability().register_capability(orch_url=orch, orch_secret="orch-secret",
                                                              capability_name="tls-worker", max_retries=1)
    try:
        monkeypatch.setenv("TRICKLE_TLS_VERIFY", "1")
        assert await register() is False
        monkeypatch.delenv("TRICKLE_TLS_VERIFY")
        monkeypatch.setenv("TRICKLE_CA_BUNDLE", str(other_certificate.cert))
        assert await register() is False
        assert FakeOrchestrator.seen == []  # refused at the handshake: nothing was posted
        monkeypatch.setenv("TRICKLE_CA_BUNDLE", str(tls_certificate.cert))
        assert await register()
        path, auth, body = FakeOrchestrator.seen[0]
        assert (path, auth, body["name"]) == ("/capability/register", "orch-secret", "tls-worker")
    finally:
        server.shutdown()
        server.server_close()
