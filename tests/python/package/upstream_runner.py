"""Runs a snippet with upstream PyTrickle (in .venv-upstream, without our python/ on the path),
for tests that compare our modules with upstream's."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
UPSTREAM_PY = REPO / ".venv-upstream" / "bin" / "python"


def run_upstream(code: str):
    """Runs ``code`` with upstream PyTrickle; its last stdout line is parsed as JSON."""
    if not UPSTREAM_PY.exists() or (REPO / ".venv-upstream" / "UNAVAILABLE").exists():
        pytest.skip("upstream venv (.venv-upstream) not available")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    proc = subprocess.run([str(UPSTREAM_PY), "-c", code], capture_output=True, text=True,
                          timeout=120, env=env, cwd="/")
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])
