"""One table of request → answer (tests/rest_answers.json), three servers held to it: the C++
worker, our Python package's StreamServer, and upstream PyTrickle's own StreamServer. A row that
one of ours answers differently from upstream fails here, whichever side moved."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import REPO, upstream_env
from trickle_testutil import http_request

DOCUMENT = json.loads((REPO / "tests" / "rest_answers.json").read_text())
TABLE = DOCUMENT["rows"]
PASSTHROUGH_SCRIPT = REPO / "bench" / "python_passthrough_worker.py"


def _examples_dir() -> Path:
    env = os.environ.get("TRICKLE_EXAMPLES_DIR")
    return Path(env) if env else REPO / "build" / "examples"


class RunningServer:
    """A server in a subprocess that writes its port to a file; stopped at teardown."""

    def __init__(self, name: str, cmd: list, env: dict, workdir: Path):
        self.name = name
        port_file = workdir / f"{name}.port"
        self.log = workdir / f"{name}.log"
        with open(self.log, "wb") as out:
            self.proc = subprocess.Popen([*map(str, cmd), "--port-file", str(port_file)], env=env, stdout=out,
                                         stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while not (port_file.exists() and port_file.read_text().strip()):
            assert self.proc.poll() is None, f"{name} exited with {self.proc.returncode}:\n{self.output()}"
            assert time.monotonic() < deadline, f"{name} never wrote its port:\n{self.output()}"
            time.sleep(0.05)
        self.base = f"http://127.0.0.1:{int(port_file.read_text().split()[0])}"
        while self.health() != (200, b'{"status": "IDLE"}'):
            assert self.proc.poll() is None, f"{name} exited with {self.proc.returncode}:\n{self.output()}"
            assert time.monotonic() < deadline, f"{name} never became IDLE:\n{self.output()}"
            time.sleep(0.05)

    def health(self):
        status, _, body = http_request("GET", self.base + "/health")
        return status, body

    def output(self) -> str:
        return self.log.read_text("utf-8", "replace")[-6000:]

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def _start(kind: str, workdir: Path, request) -> RunningServer:
    args = ["--host", "127.0.0.1", "--port", "0"]
    if kind == "cpp":
        exe = _examples_dir() / "passthrough_worker"
        if not exe.is_file():
            pytest.fail(f"{exe} is missing: build the examples (scripts/setup), or set TRICKLE_EXAMPLES_DIR")
        return RunningServer(kind, [exe, *args], dict(os.environ), workdir)
    if kind == "ours":
        env = dict(os.environ)
        if not os.environ.get("TRICKLE_TEST_INSTALLED"):
            env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO / "python"), env.get("PYTHONPATH")]))
        return RunningServer(kind, [sys.executable, PASSTHROUGH_SCRIPT, *args], env, workdir)
    upstream_python = request.getfixturevalue("upstream_python")
    return RunningServer(kind, [upstream_python, "-I", PASSTHROUGH_SCRIPT, *args], upstream_env(), workdir)


@pytest.fixture(scope="module", params=["cpp", "ours", pytest.param("upstream", marks=pytest.mark.upstream)])
def server(request, tmp_path_factory):
    running = _start(request.param, tmp_path_factory.mktemp(request.param), request)
    yield running
    running.stop()
    print(f"===== {running.name} (rc {running.proc.returncode}) =====\n{running.output()}")


def _body(row: dict) -> bytes | None:
    if "body_repeat" in row:
        text, times = row["body_repeat"]
        return text.encode() * times
    if "body_hex" in row:
        return bytes.fromhex(row["body_hex"])
    return row["body"].encode() if "body" in row else None


def _send(server: RunningServer, row: dict):
    headers = {"Content-Type": row["content_type"]} if row["content_type"] else {}
    body = _body(row)
    if body is not None and not headers:
        headers = {"Content-Type": ""}  # urllib adds a form type unless told otherwise
    return http_request(row["method"], server.base + row["path"], headers=headers, data=body, timeout=30)


@pytest.mark.parametrize("row", TABLE, ids=[row["id"] for row in TABLE])
def test_each_server_answers_as_the_table_says(server, row):
    status, headers, raw = _send(server, row)
    expected = row["answer"]
    got = raw.decode("utf-8", "replace")
    assert status == row["status"], f"{server.name}: {status} {got[:500]}"
    fields = dict(expected.get("json") or expected.get("fields") or {})
    if server.name == "upstream":
        for key in DOCUMENT["published_upstream_omits"]:
            fields.pop(key, None)
    if "text" in expected:
        assert got == expected["text"]
        assert headers.get("Content-Type", "").startswith("text/plain")
    else:
        answer = json.loads(raw)
        assert headers.get("Content-Type") == "application/json; charset=utf-8"
        if "message_prefix" in expected:
            message = answer.pop("message")
            assert message.startswith(expected["message_prefix"]), message
        assert answer == fields
    # Whatever it was sent, the server is still up and still idle.
    assert server.health() == (200, b'{"status": "IDLE"}'), server.output()
