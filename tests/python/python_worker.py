"""Runs our package's StreamServer inside the test's event loop, on a free loopback port, and
talks to it over real HTTP (urllib in a worker thread, so the server keeps serving)."""

from __future__ import annotations

import asyncio
import json
import sys
import urllib.error
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
if str(REPO / "python") not in sys.path:
    sys.path.insert(0, str(REPO / "python"))

from pytrickle import StreamServer  # noqa: E402


def _request(method: str, url: str, body=None, content_type: str = "application/json", timeout: float = 30):
    data = None
    if body is not None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": content_type})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            raw = response.read()
            status = response.status
    except urllib.error.HTTPError as error:
        raw = error.read()
        status = error.code
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, raw.decode("utf-8", "replace")


class PythonWorker:
    def __init__(self, server: StreamServer):
        self.server = server
        self.base = ""

    async def start(self) -> "PythonWorker":
        await self.server.start_server()
        self.base = f"http://127.0.0.1:{self.server.bound_port()}"
        return self

    async def request(self, method: str, path: str, body=None, content_type: str = "application/json"):
        return await asyncio.to_thread(_request, method, self.base + path, body, content_type)

    async def post(self, path: str, body=None, content_type: str = "application/json"):
        return await self.request("POST", path, body, content_type)

    async def get(self, path: str):
        return await self.request("GET", path)

    async def wait_health(self, status: str, timeout: float = 20.0) -> None:
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            code, body = await self.get("/health")
            if code == 200 and body == {"status": status}:
                return
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"/health never said {status}: last {code} {body}")
            await asyncio.sleep(0.05)

    async def close(self) -> None:
        await self.server.stop()
        runner = self.server._runner
        if runner is not None:
            await runner.cleanup()


def make_server(processor, **kwargs) -> StreamServer:
    return StreamServer(processor, port=0, host="127.0.0.1", **kwargs)
