"""pytrickle.utils.register.RegisterCapability against a real local HTTP(S) server."""

from __future__ import annotations

import importlib
import json
import logging
import shutil
import ssl
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import ParseResult, urlparse

import pytest





register = importlib.import_module("pytrickle.utils.register")
RegisterCapability = register.RegisterCapability

ENV_VARS = ("ORCH_URL", "ORCH_SECRET", "CAPABILITY_NAME", "CAPABILITY_DESCRIPTION", "CAPABILITY_URL",
            "CAPABILITY_CAPACITY", "CAPABILITY_PRICE_PER_UNIT", "CAPABILITY_PRICE_SCALING", "CAPABILITY_CURRENCY",
            "CAPABILITY_TOKEN")


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    for name in ENV_VARS:
        monkeypatch.delenv(name, raising=False)


class FakeOrchestrator:
    """Answers POSTs with the statuses queued in `statuses` (last one repeats), records requests."""

    def __init__(self, statuses, delay_s=0.0, tls_context=None):
        self.statuses = list(statuses)
        self.delay_s = delay_s
        self.requests = []
        orch = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                orch.requests.append({"path": self.path, "headers": dict(self.headers), "body": body,
                                      "time": time.monotonic()})
                if orch.delay_s:
                    time.sleep(orch.delay_s)
                status = orch.statuses.pop(0) if len(orch.statuses) > 1 else orch.statuses[0]
                payload = b'{"ok": true}' if status == 200 else b"nope"
                try:
                    self.send_response(status)
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except OSError:
                    pass

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        scheme = "http"
        if tls_context is not None:
            self.server.socket = tls_context.wrap_socket(self.server.socket, server_side=True)
            scheme = "https"
        self.url = f"{scheme}://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                                       daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def orchestrator():
    made = []

    def make(statuses, **kw):
        o = FakeOrchestrator(statuses, **kw)
        made.append(o)
        return o

    yield make
    for o in made:
        o.close()


async def test_success_body_headers_and_result(orchestrator, monkeypatch):
    orch = orchestrator([200])
    monkeypatch.setenv("CAPABILITY_URL", "http://worker:9000/base")
    result = await RegisterCapability().register_capability(
        orch_url=orch.url, orch_secret="s3cret", capability_name="my-cap", capability_desc="desc",
        capability_capacity=4, capability_price_per_unit=7, capability_price_scaling=2)
    assert isinstance(result, ParseResult)
    assert result == urlparse("http://worker:9000/base")
    assert len(orch.requests) == 1
    req = orch.requests[0]
    assert req["path"] == "/capability/register"
    headers = {k.lower(): v for k, v in req["headers"].items()}
    assert headers["authorization"] == "s3cret"
    assert headers["content-type"] == "application/json"
    assert json.loads(req["body"]) == {"url": "http://worker:9000/base", "name": "my-cap",
                                       "description": "desc", "capacity": 4, "price_per_unit": 7,
                                       "price_scaling": 2}


async def test_currency_and_token_are_sent_when_given_and_the_token_is_not_logged(orchestrator, caplog):
    caplog.set_level(logging.DEBUG)
    orch = orchestrator([200])
    await RegisterCapability().register_capability(orch_url=orch.url, orch_secret="s", capability_name="c",
                                                   capability_currency="USD", capability_token="tok-123")
    body = json.loads(orch.requests[0]["body"])
    assert (body["currency"], body["token"]) == ("USD", "tok-123")
    assert all("tok-123" not in record.getMessage() for record in caplog.records)


async def test_unregister_sends_the_bare_name(orchestrator, monkeypatch):
    orch = orchestrator([200, 400])
    monkeypatch.setenv("ORCH_URL", orch.url)
    monkeypatch.setenv("ORCH_SECRET", "s3cret")
    assert await RegisterCapability().unregister_capability(capability_name="my-cap") is True
    request = orch.requests[0]
    assert (request["path"], request["body"], request["headers"]["Authorization"]) == (
        "/capability/unregister", b"my-cap", "s3cret")
    assert await RegisterCapability().unregister_capability(capability_name="my-cap") is False  # the 400
    monkeypatch.delenv("ORCH_URL")
    assert await RegisterCapability().unregister_capability(capability_name="my-cap") is False
    assert len(orch.requests) == 2  # nothing sent without an orchestrator


async def test_env_fallbacks_and_defaults(orchestrator, monkeypatch):
    orch = orchestrator([200])
    monkeypatch.setenv("ORCH_URL", orch.url)
    monkeypatch.setenv("ORCH_SECRET", "envsecret")
    result = await RegisterCapability.register()
    assert result == urlparse("http://localhost:8000")
    req = orch.requests[0]
    assert {k.lower(): v for k, v in req["headers"].items()}["authorization"] == "envsecret"
    assert json.loads(req["body"]) == {"url": "http://localhost:8000", "name": "pytrickle-worker",
                                       "description": "PyTrickle video processing worker",
                                       "capacity": 1, "price_per_unit": 0, "price_scaling": 1}

    monkeypatch.setenv("CAPABILITY_NAME", "env-name")
    monkeypatch.setenv("CAPABILITY_DESCRIPTION", "env-desc")
    monkeypatch.setenv("CAPABILITY_CAPACITY", "3")
    monkeypatch.setenv("CAPABILITY_PRICE_PER_UNIT", "5")
    monkeypatch.setenv("CAPABILITY_PRICE_SCALING", "9")
    monkeypatch.setenv("CAPABILITY_URL", "https://me:1234")
    # Explicit falsy values (0, "") fall back to the environment as well.
    result = await RegisterCapability.register(capability_capacity=0, capability_name="")
    assert result == urlparse("https://me:1234")
    assert json.loads(orch.requests[1]["body"]) == {"url": "https://me:1234", "name": "env-name",
                                                   "description": "env-desc", "capacity": 3,
                                                   "price_per_unit": 5, "price_scaling": 9}


async def test_missing_url_or_secret_sends_nothing(orchestrator, monkeypatch, caplog):
    caplog.set_level(logging.INFO)
    orch = orchestrator([200])
    assert await RegisterCapability().register_capability(orch_url=orch.url) is False
    assert await RegisterCapability().register_capability(orch_secret="x") is False
    monkeypatch.setenv("ORCH_SECRET", "x")
    assert await RegisterCapability().register_capability(orch_url="") is False
    assert orch.requests == []
    assert "Orchestrator URL or secret not provided, skipping capability registration" in caplog.text


async def test_bad_integer_env_raises(monkeypatch):
    monkeypatch.setenv("CAPABILITY_CAPACITY", "lots")
    with pytest.raises(ValueError):
        await RegisterCapability().register_capability(orch_url="http://x", orch_secret="s")


async def test_400_returns_false_without_retry(orchestrator, caplog):
    orch = orchestrator([400])
    result = await RegisterCapability().register_capability(orch_url=orch.url, orch_secret="bad", delay=0.01)
    assert result is False
    assert len(orch.requests) == 1
    assert "Orchestrator secret incorrect" in caplog.text


async def test_500_retries_then_gives_up(orchestrator, caplog):
    orch = orchestrator([500])
    t0 = time.monotonic()
    result = await RegisterCapability().register_capability(orch_url=orch.url, orch_secret="s",
                                                            max_retries=3, delay=0.2)
    elapsed = time.monotonic() - t0
    assert result is False
    assert len(orch.requests) == 3
    assert elapsed >= 0.4  # two sleeps between three attempts
    assert "Register attempt 1 failed: 500" in caplog.text
    assert "Register attempt 3 failed: 500" in caplog.text
    assert "All registration retries failed" in caplog.text


async def test_500_then_200_succeeds(orchestrator):
    orch = orchestrator([500, 503, 200])
    result = await RegisterCapability().register_capability(orch_url=orch.url, orch_secret="s",
                                                            max_retries=5, delay=0.01)
    assert result == urlparse("http://localhost:8000")
    assert len(orch.requests) == 3


async def test_default_retry_count_is_three(orchestrator):
    orch = orchestrator([502])
    assert await RegisterCapability().register_capability(orch_url=orch.url, orch_secret="s", delay=0) is False
    assert len(orch.requests) == 3


async def test_connection_refused_is_retried(caplog):
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there now
    logger = logging.getLogger("test.register")
    result = await RegisterCapability(logger).register_capability(
        orch_url=f"http://127.0.0.1:{port}", orch_secret="s", max_retries=2, delay=0.01)
    assert result is False
    records = [r for r in caplog.records if r.name == "test.register"]
    assert any("Register attempt 1 failed to connect" in r.getMessage() for r in records)
    assert any("Register attempt 2 failed to connect" in r.getMessage() for r in records)


async def test_timeout_is_retried(orchestrator, caplog):
    orch = orchestrator([200], delay_s=1.0)
    t0 = time.monotonic()
    result = await RegisterCapability().register_capability(orch_url=orch.url, orch_secret="s",
                                                            max_retries=2, delay=0.01, timeout=0.2)
    assert result is False
    assert time.monotonic() - t0 < 1.5
    assert "Register attempt 1 timed out" in caplog.text
    assert "Register attempt 2 timed out" in caplog.text


async def test_invalid_url_is_a_retried_client_error(caplog):
    result = await RegisterCapability().register_capability(orch_url="notaurl", orch_secret="s",
                                                            max_retries=2, delay=0)
    assert result is False
    assert "Register attempt 2 failed" in caplog.text


async def test_default_logger_name():
    assert RegisterCapability().logger.name == "pytrickle.utils.register" or \
        RegisterCapability().logger.name.endswith("utils.register")
    custom = logging.getLogger("mine")
    assert RegisterCapability(custom).logger is custom


def test_build_register_request():
    body = RegisterCapability()._build_register_request(
        orch_url="u", orch_secret="s", capability_url="c", capability_name="n", capability_desc="d",
        capability_capacity=1, capability_price_per_unit=2, capability_price_scaling=3)
    assert body == {"url": "c", "name": "n", "description": "d", "capacity": 1,
                    "price_per_unit": 2, "price_scaling": 3}


@pytest.fixture
def self_signed(tmp_path):
    if shutil.which("openssl") is None:
        pytest.skip("openssl CLI not available to make a self-signed certificate")
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key),
                    "-out", str(cert), "-days", "1", "-subj", "/CN=not-this-host"],
                   check=True, capture_output=True, timeout=60)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(str(cert), str(key))
    return ctx


async def test_tls_certificate_not_verified(orchestrator, self_signed):
    orch = orchestrator([200], tls_context=self_signed)
    assert orch.url.startswith("https://")
    result = await RegisterCapability().register_capability(orch_url=orch.url, orch_secret="s",
                                                            max_retries=1, delay=0)
    assert result == urlparse("http://localhost:8000")
    assert len(orch.requests) == 1
