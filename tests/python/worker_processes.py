"""Workers in subprocesses for tests that talk to them over HTTP: the C++ passthrough worker, and
bench/python_passthrough_worker.py on our package or on upstream PyTrickle."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Optional

import pytest

from conftest import REPO, upstream_env
from trickle_testutil import http_request

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
        self.port = int(port_file.read_text().split()[0])
        self.base = f"http://127.0.0.1:{self.port}"
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


def start_passthrough(kind: str, workdir: Path, upstream_python: Optional[Path] = None,
                      env: Optional[dict] = None) -> RunningServer:
    """A passthrough worker on a free port: "cpp" (examples/passthrough_worker), "ours" or
    "upstream" (bench/python_passthrough_worker.py on our package or in .venv-upstream). `env`
    is added to the environment."""
    args = ["--host", "127.0.0.1", "--port", "0"]
    extra = dict(env or {})
    if kind == "cpp":
        exe = _examples_dir() / "passthrough_worker"
        if not exe.is_file():
            pytest.fail(f"{exe} is missing: build the examples (scripts/setup), or set TRICKLE_EXAMPLES_DIR")
        return RunningServer(kind, [exe, *args], {**os.environ, **extra}, workdir)
    if kind == "ours":
        ours = {**os.environ, **extra}
        if not os.environ.get("TRICKLE_TEST_INSTALLED"):
            ours["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO / "python"), ours.get("PYTHONPATH")]))
        return RunningServer(kind, [sys.executable, PASSTHROUGH_SCRIPT, *args], ours, workdir)
    assert upstream_python is not None, "the upstream worker needs the upstream_python fixture's interpreter"
    return RunningServer(kind, [upstream_python, "-I", PASSTHROUGH_SCRIPT, *args], {**upstream_env(), **extra},
                         workdir)
