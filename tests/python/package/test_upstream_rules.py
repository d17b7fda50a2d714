"""The frame-skipping and loading-overlay rules, as cases both homes share (tests/upstream_rules.json):
our Python classes and upstream's own must give every case's answer; the C++ worker's classes are
held to the same file by tests/cpp/runtime/upstream_rules_tests.cpp."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from upstream_runner import REPO, UPSTREAM_PY

TABLE_PATH = REPO / "tests" / "upstream_rules.json"
RUNNER = Path(__file__).with_name("rules_runner.py")


def expected() -> dict:
    table = json.loads(TABLE_PATH.read_text())
    skipper = table["frame_skipper"]
    return {
        "patterns": [{"pattern": case["pattern"], "interval": case["interval"]} for case in skipper["patterns"]],
        "trims": [case["dropped"] for case in skipper["trims"]],
        "overlay": [case["steps"] for case in table["overlay"]],
    }


def run(python: Path, env: dict, *flags: str) -> dict:
    proc = subprocess.run([str(python), *flags, str(RUNNER), str(TABLE_PATH)], capture_output=True, text=True,
                          timeout=120, env=env, cwd="/")
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_our_classes_give_every_case_its_answer():
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    assert run(Path(sys.executable), env) == expected()


@pytest.mark.upstream
def test_upstreams_classes_give_every_case_its_answer():
    if not UPSTREAM_PY.exists() or (REPO / ".venv-upstream" / "UNAVAILABLE").exists():
        pytest.skip("upstream venv (.venv-upstream) not available")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    assert run(UPSTREAM_PY, env, "-I") == expected()
