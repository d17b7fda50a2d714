"""A go-livepeer orchestrator's side of "bring your own container", as far as a worker can tell,
written from go-livepeer's handlers (byoc/job_orchestrator.go RegisterCapability and
UnregisterCapability, core/external_capabilities.go, byoc/stream_orchestrator.go; the token and
the 401 rule as the token-checking orchestrator has them):

- POST /capability/register: `Authorization` must equal the secret (else 400 "invalid
  authorization"); the body is the capability as JSON (a malformed one: 400); a name registered
  again replaces the old entry; 200 "ok".
- POST /capability/unregister: the same check; the body is the bare name; 200 "ok" even for a name
  it does not know.
- Streams: POST {worker}/stream/start, /stream/params, /stream/stop with `X-Stream-Id` and, when
  the capability registered a token, `Authorization: Bearer <token>`. A 401 from the worker drops
  the capability (the worker must register again).

Capabilities live in memory only, so restart() forgets them, as a restarted orchestrator does.
"""

from __future__ import annotations

import json
import socket
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Optional

from trickle_testutil import create_channel

SECRET = "orch-secret"  # the orchestrator's secret (ORCH_SECRET)
TOKEN = "worker-token-7f3a"  # the worker's token (CAPABILITY_TOKEN)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class FakeOrchestrator:
    def __init__(self, secret: str, port: int = 0):
        self.secret = secret
        self.capabilities: dict[str, dict] = {}
        self.requests: list[dict] = []  # every request the workers made to us, in order
        self.dropped: list[str] = []  # capabilities dropped after a worker's 401
        self._lock = threading.Lock()
        self._server: Optional[ThreadingHTTPServer] = None
        self._serve(port)

    # ---- the orchestrator's HTTP side ----

    def _serve(self, port: int) -> None:
        orchestrator = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def do_POST(self):  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with orchestrator._lock:
                    orchestrator.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
                status, answer = orchestrator._answer(self.path, self.headers.get("Authorization", ""), body)
                payload = answer.encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")  # as go-livepeer, whatever the body
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self._server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.port = self._server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def _answer(self, path: str, authorization: str, body: bytes) -> tuple[int, str]:
        if path not in ("/capability/register", "/capability/unregister"):
            return 404, "404 page not found"
        if authorization != self.secret:
            return 400, "invalid authorization"
        if path == "/capability/unregister":
            with self._lock:
                self.capabilities.pop(body.decode("utf-8", "replace"), None)
            return 200, "ok"
        try:
            capability = json.loads(body)
            if not isinstance(capability, dict):
                raise ValueError("not an object")
            entry = {
                "name": str(capability.get("name", "")),
                "description": str(capability.get("description", "")),
                "url": str(capability.get("url", "")),
                "capacity": int(capability.get("capacity", 0)),
                "price_per_unit": int(capability.get("price_per_unit", 0)),
                "price_scaling": int(capability.get("price_scaling", 0)) or 1,
                "currency": str(capability.get("currency", "")),
                "token": str(capability.get("token", "")),
            }
        except (ValueError, TypeError) as error:
            return 400, f"Error registering capability: {error}"
        with self._lock:
            self.capabilities[entry["name"]] = entry
        return 200, "ok"

    def registrations(self) -> list[dict]:
        with self._lock:
            return [r for r in self.requests if r["path"] == "/capability/register"]

    def wait_for(self, condition, timeout: float = 15.0, what: str = "the condition") -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}; requests: "
                                     f"{[(r['path'], r['body'][:200]) for r in self.requests]}")
            time.sleep(0.05)

    def restart(self) -> None:
        """Stop and start again on the same port, having forgotten every capability."""
        self.close()
        with self._lock:
            self.capabilities = {}
        self._serve(self.port)

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    # ---- the orchestrator calling a worker (byoc/stream_orchestrator.go) ----

    def call_worker(self, name: str, path: str, stream_id: Optional[str], body: Optional[dict],
                    timeout: float = 30.0) -> tuple[int, object]:
        with self._lock:
            capability = self.capabilities.get(name)
        if capability is None:
            return 503, "No capacity available for capability"
        headers = {"Content-Type": "application/json"}
        if stream_id is not None:
            headers["X-Stream-Id"] = stream_id
        if capability["token"]:
            headers["Authorization"] = f"Bearer {capability['token']}"
        data = json.dumps(body).encode() if body is not None else b""
        request = urllib.request.Request(capability["url"] + path, data=data, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                status, raw = response.status, response.read()
        except urllib.error.HTTPError as error:
            status, raw = error.code, error.read()
        if status == 401:
            with self._lock:
                self.capabilities.pop(name, None)
                self.dropped.append(name)
        try:
            return status, json.loads(raw)
        except ValueError:
            return status, raw.decode("utf-8", "replace")

    def start_stream(self, name: str, stream_id: str, relay, params: Optional[dict] = None):
        """What StartStream does: creates the stream's channels on the orchestrator's relay, then
        sends the worker their URLs, the request id and the params."""
        for channel in ("in", "out", "control", "events"):
            create_channel(relay.url(f"{stream_id}-{channel}"))
        body = {
            "gateway_request_id": stream_id,
            "subscribe_url": relay.url(f"{stream_id}-in"),
            "publish_url": relay.url(f"{stream_id}-out"),
            "control_url": relay.url(f"{stream_id}-control"),
            "events_url": relay.url(f"{stream_id}-events"),
            "params": params or {},
        }
        return self.call_worker(name, "/stream/start", stream_id, body)
