"""Shared fixtures for the Python test-suite.

- the `trickle` binary (env TRICKLE_EXE, else <repo>/build/src/trickle, else <repo>/.local/bin/trickle)
- `trickle serve` relays on loopback, port chosen by the OS, killed at teardown
- the upstream PyTrickle venv (<repo>/.venv-upstream, made by scripts/setup_upstream_venv)
- a small H.264 + AAC MPEG-TS clip made with the ffmpeg CLI
Plain helpers (subprocesses with timeouts, HTTP with urllib) are in trickle_testutil.py.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import sys
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from trickle_testutil import (CLIP_FPS, CLIP_GOP, CLIP_SECONDS, Background, tail, run)

REPO = Path(__file__).resolve().parents[2]
# Our package from the checkout (its engine from build/bindings, or $TRICKLE_NATIVE_DIR), unless
# the tests run against an installed one (TRICKLE_TEST_INSTALLED=1).
if not os.environ.get("TRICKLE_TEST_INSTALLED"):
    sys.path.insert(0, str(REPO / "python"))
TESTS_DIR = Path(__file__).resolve().parent
UPSTREAM_CLIENTS = TESTS_DIR / "upstream_clients"
UPSTREAM_VENV = REPO / ".venv-upstream"
UPSTREAM_MARKER = UPSTREAM_VENV / "UNAVAILABLE"

LISTEN_RE = re.compile(r"^trickle relay listening on (https?://127\.0\.0\.1:(\d+))/$")


# --------------------------------------------------------------------------------------------
# subprocesses


@pytest.fixture
def background(tmp_path):
    """Factory: background(cmd, name) -> Background; everything still running is killed after."""
    started: list[Background] = []

    def start(cmd, name: str, env=None) -> Background:
        b = Background(cmd, tmp_path / "logs", name, env=env)
        started.append(b)
        return b

    yield start
    for b in started:
        b.kill()
        # Shown by pytest only when the test failed: everything each process said.
        print(f"===== {b.name} =====\n{b.report()}")


# --------------------------------------------------------------------------------------------
# the trickle binary and its relay


def _find_trickle() -> Path | None:
    env = os.environ.get("TRICKLE_EXE")
    if env:
        return Path(env)
    for p in (REPO / "build" / "src" / "trickle", REPO / ".local" / "bin" / "trickle"):
        if p.is_file() and os.access(p, os.X_OK):
            return p
    return None


@pytest.fixture(scope="session")
def trickle_exe() -> Path:
    exe = _find_trickle()
    if exe is None:
        pytest.fail("the trickle binary was not found: set TRICKLE_EXE, or build it "
                    "(expected at build/src/trickle or .local/bin/trickle); run scripts/setup")
    if not (exe.is_file() and os.access(exe, os.X_OK)):
        pytest.fail(f"TRICKLE_EXE={exe} is not an executable file")
    return exe


@dataclass
class Relay:
    proc: subprocess.Popen
    base_url: str  # "http://127.0.0.1:PORT", no trailing slash
    port: int
    stderr_path: Path
    stdout_lines: list = field(default_factory=list)

    def url(self, channel: str) -> str:
        return f"{self.base_url}/{channel}"

    def logs(self) -> str:
        try:
            err = self.stderr_path.read_text("utf-8", "replace")
        except OSError:
            err = ""
        return (f"--- relay stdout ---\n{tail(''.join(self.stdout_lines))}\n"
                f"--- relay stderr ---\n{tail(err)}")

    def assert_alive(self):
        assert self.proc.poll() is None, f"the relay died (rc {self.proc.returncode})\n{self.logs()}"


def start_relay(exe: Path, workdir: Path, *, autocreate: bool, tls: "Certificate | None" = None) -> Relay:
    workdir.mkdir(parents=True, exist_ok=True)
    cmd = [str(exe), "serve", "--host", "127.0.0.1", "--port", "0"]
    if autocreate:
        cmd.append("--autocreate")
    if tls is not None:
        cmd += ["--tls-cert", str(tls.cert), "--tls-key", str(tls.key)]
    stderr_path = workdir / f"relay-{time.monotonic_ns()}.stderr"
    err = open(stderr_path, "wb")
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err, stdin=subprocess.DEVNULL)
    err.close()

    first: list[str] = []
    lines: list[str] = []

    def drain():
        # Keeps reading so the relay can never block on a full stdout pipe.
        for raw in proc.stdout:
            line = raw.decode("utf-8", "replace")
            if not first:
                first.append(line)
            lines.append(line)

    t = threading.Thread(target=drain, daemon=True)
    t.start()
    deadline = time.monotonic() + 15
    while not first and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.02)
    relay = Relay(proc, "", 0, stderr_path, lines)
    if not first:
        stop_relay(relay)
        pytest.fail(f"`{' '.join(cmd)}` printed no first line within 15 s "
                    f"(rc {proc.returncode})\n{relay.logs()}")
    m = LISTEN_RE.match(first[0].rstrip("\r\n"))
    if not m:
        stop_relay(relay)
        pytest.fail(f"`{' '.join(cmd)}`: first stdout line {first[0]!r} is not "
                    f"'trickle relay listening on http(s)://127.0.0.1:PORT/'\n{relay.logs()}")
    relay.base_url, relay.port = m.group(1), int(m.group(2))
    return relay


def stop_relay(relay: Relay) -> str | None:
    """SIGTERM, then SIGKILL after 5 s. Returns what went wrong, if anything: the relay should
    stop promptly and cleanly (exit 0, or die of the SIGTERM itself)."""
    if relay.proc.poll() is not None:
        return f"the relay had already exited with {relay.proc.returncode}"
    relay.proc.terminate()
    try:
        rc = relay.proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        relay.proc.kill()
        relay.proc.wait(timeout=5)
        return "the relay did not stop within 5 s of SIGTERM (killed)"
    if rc not in (0, -signal.SIGTERM):
        return f"the relay exited with {rc} on SIGTERM"
    return None


@pytest.fixture
def relay_factory(trickle_exe, tmp_path):
    """Factory: relay_factory(autocreate=True, tls=None) -> Relay; all are stopped at teardown.
    With a Certificate it serves https://."""
    relays: list[Relay] = []

    def make(autocreate: bool = True, tls: "Certificate | None" = None) -> Relay:
        r = start_relay(trickle_exe, tmp_path / "relay", autocreate=autocreate, tls=tls)
        relays.append(r)
        return r

    yield make
    problems = []
    for r in relays:
        problem = stop_relay(r)
        print(f"===== relay {r.base_url} (rc {r.proc.returncode}) =====\n{r.logs()}")
        if problem:
            problems.append(f"{problem}\n{r.logs()}")
    if problems:
        pytest.fail("\n".join(problems))


@pytest.fixture
def relay(relay_factory) -> Relay:
    """`trickle serve --host 127.0.0.1 --port 0 --autocreate`."""
    return relay_factory(autocreate=True)


# --------------------------------------------------------------------------------------------
# TLS: certificates made with the openssl CLI, as a go-livepeer orchestrator makes its own


@dataclass
class Certificate:
    cert: Path  # PEM; being self-signed, also the CA bundle that trusts it
    key: Path


def make_certificate(directory: Path, name: str, names: str) -> Certificate:
    """A self-signed P-256 certificate for `names` (subjectAltName, e.g. "IP:127.0.0.1")."""
    directory.mkdir(parents=True, exist_ok=True)
    made = Certificate(directory / f"{name}.crt", directory / f"{name}.key")
    run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
         "-days", "2", "-subj", f"/CN={name}", "-addext", f"subjectAltName={names}",
         "-keyout", made.key, "-out", made.cert], timeout=60)
    return made


@pytest.fixture(scope="session")
def tls_certificate(tmp_path_factory) -> Certificate:
    """The TLS relays' certificate, for 127.0.0.1 and localhost."""
    return make_certificate(tmp_path_factory.mktemp("tls"), "loopback", "IP:127.0.0.1,DNS:localhost")


@pytest.fixture(scope="session")
def other_certificate(tmp_path_factory) -> Certificate:
    """Someone else's certificate: a CA bundle that does not trust the relays'."""
    return make_certificate(tmp_path_factory.mktemp("tls-other"), "other", "IP:127.0.0.1")


@pytest.fixture
def tls_relay(relay_factory, tls_certificate) -> Relay:
    """`trickle serve ... --tls-cert --tls-key`: the relay on https://."""
    return relay_factory(autocreate=True, tls=tls_certificate)


@pytest.fixture(params=["http", "https"])
def relay_either_scheme(request, relay_factory) -> Relay:
    """A relay on http:// and, in a second run of the test, on https://."""
    if request.param == "http":
        return relay_factory(autocreate=True)
    return relay_factory(autocreate=True, tls=request.getfixturevalue("tls_certificate"))


# --------------------------------------------------------------------------------------------
# upstream PyTrickle venv


@pytest.fixture(scope="session")
def upstream_python() -> Path:
    """<repo>/.venv-upstream/bin/python, with upstream pytrickle installed."""
    py = UPSTREAM_VENV / "bin" / "python"
    if UPSTREAM_MARKER.exists():
        pytest.skip("upstream PyTrickle is unavailable: scripts/setup_upstream_venv recorded that "
                    f"PyPI was unreachable ({UPSTREAM_MARKER}: "
                    f"{UPSTREAM_MARKER.read_text().strip()})")
    if not py.exists():
        pytest.fail(f"{py} is missing: run scripts/setup (or scripts/setup_upstream_venv) to "
                    "create the upstream PyTrickle venv")
    probe = subprocess.run(
        [str(py), "-I", "-c",
         "import importlib.metadata as m, pytrickle.publisher, pytrickle.subscriber, pytrickle;"
         "print(m.version('pytrickle'), pytrickle.__file__)"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120)
    if probe.returncode != 0:
        pytest.fail(f"upstream pytrickle does not import in {py}: run scripts/setup (or "
                    f"scripts/setup_upstream_venv)\n{tail(probe.stderr)}")
    version, path = probe.stdout.decode().split()
    assert version.startswith("0.1."), f"unexpected upstream pytrickle version {version}"
    assert Path(path).resolve().is_relative_to(UPSTREAM_VENV.resolve()), path
    return py


def upstream_env() -> dict:
    # Nothing of ours on the upstream scripts' path: `python -I` already ignores PYTHONPATH and
    # the user site; drop the variables too so no child of theirs picks them up.
    env = dict(os.environ)
    for k in ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "VIRTUAL_ENV"):
        env.pop(k, None)
    return env


@pytest.fixture
def upstream(upstream_python, background):
    """Starts the upstream client scripts (in .venv-upstream) as background processes."""

    class Upstream:
        python = upstream_python

        def cmd(self, script: str, *args):
            # --verbose: upstream's DEBUG log lines on stderr, printed when a test fails
            return [upstream_python, "-I", UPSTREAM_CLIENTS / script, "--verbose", *map(str, args)]

        def subscribe(self, url: str, out_dir: Path, *args, name="upstream-subscribe"):
            return background(self.cmd("subscribe.py", url, "--out-dir", out_dir, *args),
                              name, env=upstream_env())

        def publish(self, url: str, *args, name="upstream-publish"):
            return background(self.cmd("publish.py", url, *args), name, env=upstream_env())

    return Upstream()


# --------------------------------------------------------------------------------------------
# media


@pytest.fixture(scope="session")
def ts_clip(tmp_path_factory) -> Path:
    """6 s of 320x240 test pattern (H.264, one key frame every 60 frames at 30 fps, no
    B-frames) with a 440 Hz tone (AAC), as MPEG-TS: 3 GOPs."""
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        pytest.fail("the ffmpeg CLI is needed to make the test clip (apt-get install ffmpeg)")
    out = tmp_path_factory.mktemp("media") / "clip.ts"
    run([ffmpeg, "-hide_banner", "-loglevel", "error", "-y",
         "-f", "lavfi", "-i", f"testsrc2=size=320x240:rate={CLIP_FPS}",
         "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
         "-t", str(CLIP_SECONDS),
         "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p",
         "-g", str(CLIP_GOP), "-keyint_min", str(CLIP_GOP), "-sc_threshold", "0", "-bf", "0",
         "-c:a", "aac", "-b:a", "64k",
         "-f", "mpegts", out], timeout=120)
    assert out.stat().st_size > 0
    return out


# --------------------------------------------------------------------------------------------
# the orchestrator's side of "bring your own container"


@pytest.fixture
def orchestrator():
    from fake_orchestrator import SECRET, FakeOrchestrator
    fake = FakeOrchestrator(SECRET)
    yield fake
    fake.close()


@pytest.fixture
def capability_env(monkeypatch, orchestrator):
    """The environment a BYOC worker container gets; returns the port the worker must listen on."""
    from fake_orchestrator import SECRET, TOKEN, free_port
    port = free_port()
    for name, value in {"ORCH_URL": orchestrator.url, "ORCH_SECRET": SECRET, "CAPABILITY_NAME": "video-fx",
                        "CAPABILITY_DESCRIPTION": "test worker", "CAPABILITY_URL": f"http://127.0.0.1:{port}",
                        "CAPABILITY_CAPACITY": "2", "CAPABILITY_PRICE_PER_UNIT": "7",
                        "CAPABILITY_PRICE_SCALING": "1000", "CAPABILITY_CURRENCY": "USD",
                        "CAPABILITY_TOKEN": TOKEN}.items():
        monkeypatch.setenv(name, value)
    return port
