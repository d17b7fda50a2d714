"""The orchestrator's side of "bring your own container", against a fake orchestrator written from
go-livepeer's handlers (fake_orchestrator.py): registration with currency and token, unregistering
at stop, registering again when the orchestrator forgets us, the Bearer token on every stream
route (our Python server and the C++ worker alike), and a stream driven end to end the way
byoc/stream_orchestrator.go drives one."""

from __future__ import annotations

import asyncio
import json
import logging

import pytest

from fake_orchestrator import SECRET, TOKEN, free_port
from python_worker import PythonWorker, make_server
from test_python_stream import RecordingProcessor
from trickle_testutil import count_video_frames, http_request
from worker_processes import start_passthrough

async def keeping_server(port: int, **kwargs) -> PythonWorker:
    server = make_server(RecordingProcessor(), keep_registered=True, **kwargs)
    server.port = port
    worker = await PythonWorker(server).start()
    await worker.wait_health("IDLE")
    return worker


async def wait_until(condition, what: str, timeout: float = 15.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


async def test_registration_says_everything_and_the_capability_goes_at_stop(orchestrator, capability_env, caplog):
    caplog.set_level(logging.DEBUG)
    worker = await keeping_server(capability_env)
    try:
        await wait_until(lambda: "video-fx" in orchestrator.capabilities, "the registration")
        first = orchestrator.registrations()[0]
        assert first["headers"]["Authorization"] == SECRET  # the secret as is, no scheme (go-livepeer)
        assert first["headers"]["Content-Type"] == "application/json"
        assert json.loads(first["body"]) == {
            "url": f"http://127.0.0.1:{capability_env}", "name": "video-fx", "description": "test worker",
            "capacity": 2, "price_per_unit": 7, "price_scaling": 1000, "currency": "USD", "token": TOKEN}
        assert orchestrator.capabilities["video-fx"]["token"] == TOKEN
    finally:
        await worker.close()
    unregister = [r for r in orchestrator.requests if r["path"] == "/capability/unregister"]
    assert [(r["body"], r["headers"]["Authorization"]) for r in unregister] == [(b"video-fx", SECRET)]
    assert orchestrator.capabilities == {}
    assert all(TOKEN not in record.getMessage() for record in caplog.records)


async def test_without_currency_and_token_the_body_is_upstreams(orchestrator, capability_env, monkeypatch):
    monkeypatch.delenv("CAPABILITY_CURRENCY")
    monkeypatch.delenv("CAPABILITY_TOKEN")
    worker = await keeping_server(capability_env)
    try:
        await wait_until(lambda: orchestrator.registrations(), "the registration")
        assert set(json.loads(orchestrator.registrations()[0]["body"])) == {
            "url", "name", "description", "capacity", "price_per_unit", "price_scaling"}
        # No token: the stream routes are open, as upstream's.
        status, answer = await worker.post("/stream/stop")
        assert (status, answer) == (400, {"status": "error", "message": "No active stream to stop"})
    finally:
        await worker.close()


async def test_a_restarted_orchestrator_learns_of_us_again(orchestrator, capability_env, monkeypatch):
    monkeypatch.setenv("CAPABILITY_REFRESH_SECONDS", "0.3")
    worker = await keeping_server(capability_env)
    try:
        await wait_until(lambda: "video-fx" in orchestrator.capabilities, "the registration")
        orchestrator.restart()
        assert orchestrator.capabilities == {}
        await wait_until(lambda: "video-fx" in orchestrator.capabilities, "registering again after the restart")
    finally:
        await worker.close()


async def test_a_401_drop_is_followed_by_registering_again(orchestrator, capability_env, relay, trickle_exe,
                                                           background, ts_clip, tmp_path, monkeypatch):
    monkeypatch.setenv("CAPABILITY_REFRESH_SECONDS", "3600")  # only the refusal can bring us back
    worker = await keeping_server(capability_env)
    try:
        await wait_until(lambda: "video-fx" in orchestrator.capabilities, "the registration")
        # The orchestrator holds a stale token (say, from this worker's previous run): refused, dropped.
        orchestrator.capabilities["video-fx"]["token"] = "stale"
        status, answer = await asyncio.to_thread(orchestrator.start_stream, "video-fx", "s1", relay)
        assert (status, answer) == (401, {"status": "error", "message": "Unauthorized"})
        assert orchestrator.dropped == ["video-fx"]
        await wait_until(lambda: "video-fx" in orchestrator.capabilities, "registering again after the 401")
        assert orchestrator.capabilities["video-fx"]["token"] == TOKEN
        # Now the stream runs, steered the way the orchestrator steers it.
        status, answer = await asyncio.to_thread(orchestrator.start_stream, "video-fx", "s1", relay,
                                                 {"max_framerate": 60})
        assert status == 200 and answer["request_id"] == "s1", answer
        out = tmp_path / "out.ts"
        subscriber = background([trickle_exe, "subscribe", relay.url("s1-out"), "-o", out], "subscribe")
        publisher = background([trickle_exe, "publish", "--realtime", relay.url("s1-in"), ts_clip], "publish")
        status, answer = await asyncio.to_thread(orchestrator.call_worker, "video-fx", "/stream/params", "s1",
                                                 {"strength": 0.5})
        assert (status, answer) == (200, {"status": "success", "message": "Parameters updated successfully"})
        assert await asyncio.to_thread(publisher.wait, 60) == 0, publisher.report()
        assert await asyncio.to_thread(subscriber.wait, 30) == 0, subscriber.report()
        assert count_video_frames(out) > 0
        assert {"strength": 0.5}.items() <= worker.server.frame_processor.params[-1].items()
        status, answer = await asyncio.to_thread(orchestrator.call_worker, "video-fx", "/stream/stop", "s1", None)
        assert (status, answer) == (200, {"status": "success", "message": "Stream stopped successfully"})
        # Every call carried the stream's id (byoc/stream_orchestrator.go sets X-Stream-Id).
    finally:
        await worker.close()


async def test_an_unreachable_orchestrator_never_stops_the_server(capability_env, monkeypatch):
    monkeypatch.setenv("ORCH_URL", f"http://127.0.0.1:{free_port()}")  # nobody listens there
    worker = await keeping_server(capability_env)
    try:
        registration = worker.server._registration
        await wait_until(lambda: registration.attempts >= 3, "three registration attempts", timeout=20)
        assert registration.registered is False
        assert await worker.get("/health") == (200, {"status": "IDLE"})
        status, _, answer = await asyncio.to_thread(
            http_request, "POST", worker.base + "/stream/stop", {"Authorization": f"Bearer {TOKEN}"}, b"")
        assert status == 400 and json.loads(answer)["message"] == "No active stream to stop"
    finally:
        await worker.close()


# Bodies that, with the right token, get the route's own answer and leave the server idle.
GUARDED = [("POST", "/stream/start", b"{}"), ("POST", "/stream/stop", b""), ("POST", "/stream/params", b'{"a": 1}'),
           ("GET", "/stream/status", None), ("GET", "/stream/stats", None), ("POST", "/live-video-to-video", b"{}")]
REFUSED_HEADERS = [None, "Basic d29ya2VyLXRva2Vu", "Bearer", "Bearer not-the-token", f"Bearer {TOKEN}x",
                   f"Token {TOKEN}"]


@pytest.mark.parametrize("kind", ["ours", "ours-aiohttp", "cpp"])
def test_the_stream_routes_need_the_token_and_nothing_else_does(kind, tmp_path):
    env = {"CAPABILITY_TOKEN": TOKEN, **({"PYTRICKLE_HTTP": "aiohttp"} if kind == "ours-aiohttp" else {})}
    worker = start_passthrough(kind.split("-")[0], tmp_path, env=env)
    try:
        for method, path, body in GUARDED:
            for header in REFUSED_HEADERS:
                headers = {"Content-Type": "application/json"}
                if header is not None:
                    headers["Authorization"] = header
                status, response_headers, raw = http_request(method, worker.base + path, headers, body)
                assert status == 401, (path, header, raw)
                assert json.loads(raw) == {"status": "error", "message": "Unauthorized"}
                assert response_headers.get("WWW-Authenticate", "").startswith("Bearer")
            status, _, raw = http_request(method, worker.base + path,
                                          {"Content-Type": "application/json", "Authorization": f"bearer  {TOKEN}"},
                                          body)
            assert status != 401, (path, raw)
            if path == "/stream/status":
                assert TOKEN not in raw.decode()
        for path in ("/health", "/version", "/app-version", "/hardware/info"):
            assert http_request("GET", worker.base + path)[0] == 200, path
        assert worker.health() == (200, b'{"status": "IDLE"}')
    finally:
        worker.stop()
    log = worker.output()
    assert "refused POST /stream/start: no Authorization header" in log
    assert "refused GET /stream/status: wrong token" in log
    assert TOKEN not in log


async def test_an_empty_token_argument_turns_the_check_off(monkeypatch):
    monkeypatch.setenv("CAPABILITY_TOKEN", TOKEN)
    worker = await PythonWorker(make_server(RecordingProcessor(), auth_token="")).start()
    try:
        await worker.wait_health("IDLE")
        status, _ = await worker.get("/stream/status")
        assert status == 200
    finally:
        await worker.close()
