"""Every command a user runs from scripts/ and bench/ answers --help with its usage and exits 0 at
once: nothing is set up, built or started first."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
COMMANDS = sorted(
    str(path.relative_to(REPO)) for folder in ("scripts", "bench") for path in (REPO / folder).iterdir()
    if path.is_file() and os.access(path, os.X_OK) and not path.name.endswith(".py"))


def test_the_commands_are_found():
    assert {"scripts/demo", "scripts/setup", "scripts/test", "bench/compare", "bench/run_fanout",
            "bench/run_hostile_connections"} <= set(COMMANDS)


@pytest.mark.parametrize("command", COMMANDS)
def test_help_prints_usage_and_does_nothing_else(command, tmp_path):
    build_dir = tmp_path / "build-bench"  # where a bench script would build if it started to
    env = dict(os.environ, TRICKLE_BENCH_BUILD_DIR=str(build_dir))
    started = time.monotonic()
    done = subprocess.run([REPO / command, "--help"], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=60)
    elapsed = time.monotonic() - started
    output = done.stdout + done.stderr
    assert done.returncode == 0, f"{command} --help exited {done.returncode}\n{output[-2000:]}"
    assert len(output.strip()) > 40, f"{command} --help printed almost nothing: {output!r}"
    assert not build_dir.exists(), f"{command} --help started a build"
    assert "setting up" not in output, f"{command} --help ran the set-up\n{output[-2000:]}"
    assert elapsed < 20, f"{command} --help took {elapsed:.1f} s: it did more than print its usage"
