"""Helpers shared by the Python tests: subprocesses with timeouts, plain HTTP with urllib,
media probing. Fixtures live in conftest.py."""

from __future__ import annotations

import json
import os
import shutil
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

SUBPROCESS_TIMEOUT = 60.0

# Clip shape shared by the ts_clip fixture and the tests that count its GOPs.
CLIP_SECONDS = 6
CLIP_FPS = 30
CLIP_GOP = 60


# --------------------------------------------------------------------------------------------
# subprocess helpers


def tail(text: str | bytes | None, limit: int = 6000) -> str:
    if text is None:
        return ""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return text if len(text) <= limit else "...\n" + text[-limit:]


def describe(proc_name: str, rc, stdout, stderr) -> str:
    return (f"{proc_name} exited with {rc}\n--- stdout ---\n{tail(stdout)}\n"
            f"--- stderr ---\n{tail(stderr)}")


def run(cmd, *, timeout: float = SUBPROCESS_TIMEOUT, check: bool = True, env=None, name=None):
    """Run a command to completion with a timeout; on failure the assertion shows its output."""
    name = name or Path(str(cmd[0])).name
    try:
        cp = subprocess.run([str(c) for c in cmd], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            stdin=subprocess.DEVNULL, timeout=timeout, env=env)
    except subprocess.TimeoutExpired as e:
        pytest.fail(f"{name} did not finish within {timeout}s: {' '.join(map(str, cmd))}\n"
                    + describe(name, "timeout", e.stdout, e.stderr))
    if check and cp.returncode != 0:
        pytest.fail(f"command failed: {' '.join(map(str, cmd))}\n"
                    + describe(name, cp.returncode, cp.stdout, cp.stderr))
    return cp


class Background:
    """A subprocess running while the test does other things; stdout/stderr go to files."""

    def __init__(self, cmd, workdir: Path, name: str, env=None):
        self.cmd = [str(c) for c in cmd]
        self.name = name
        workdir.mkdir(parents=True, exist_ok=True)
        self.out_path = workdir / f"{name}.stdout"
        self.err_path = workdir / f"{name}.stderr"
        self._out = open(self.out_path, "wb")
        self._err = open(self.err_path, "wb")
        self.proc = subprocess.Popen(self.cmd, stdout=self._out, stderr=self._err,
                                     stdin=subprocess.DEVNULL, env=env)

    @property
    def stdout(self) -> str:
        if not self._out.closed:
            self._out.flush()
        return self.out_path.read_text("utf-8", "replace")

    @property
    def stderr(self) -> str:
        if not self._err.closed:
            self._err.flush()
        return self.err_path.read_text("utf-8", "replace")

    def events(self) -> list[dict]:
        """JSON lines printed so far (the upstream client scripts print one object a line)."""
        out = []
        for line in self.stdout.splitlines():
            line = line.strip()
            if line.startswith("{"):
                try:
                    out.append(json.loads(line))
                except json.JSONDecodeError:
                    pass
        return out

    def report(self) -> str:
        return f"{' '.join(self.cmd)}\n" + describe(self.name, self.proc.returncode, self.stdout,
                                                    self.stderr)

    def wait_for_event(self, event: str, timeout: float = SUBPROCESS_TIMEOUT) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for e in self.events():
                if e.get("event") == event:
                    return e
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        for e in self.events():
            if e.get("event") == event:
                return e
        self.kill()
        pytest.fail(f"{self.name} printed no {event!r} event within {timeout}s\n" + self.report())

    def wait(self, timeout: float = SUBPROCESS_TIMEOUT) -> int:
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            pytest.fail(f"{self.name} did not finish within {timeout}s\n" + self.report())
        return rc

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
        self._out.close()
        self._err.close()


# --------------------------------------------------------------------------------------------
# HTTP helpers (standard library only)


def unchecked_tls() -> ssl.SSLContext:
    """TLS without certificate checks: the tests' relays use self-signed certificates."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def http_request(method: str, url: str, headers=None, data: bytes | None = None,
                 timeout: float = 10.0):
    """-> (status, headers, body) whatever the status code. https:// without certificate checks."""
    req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    context = unchecked_tls() if url.startswith("https://") else None
    try:
        with urllib.request.urlopen(req, timeout=timeout, context=context) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def http_delete(url: str) -> int:
    """DELETE {url}: how an owner ends a channel. Returns the status."""
    status, _, _ = http_request("DELETE", url)
    return status


def create_channel(url: str, mime: str = "video/mp2t"):
    """POST {url} with Expect-Content: creates the channel so a subscriber can wait on it
    before the first segment is published (a GET on an unknown channel is 404)."""
    status, headers, body = http_request("POST", url, headers={"Expect-Content": mime}, data=b"")
    assert 200 <= status < 300, (
        f"POST {url} (Expect-Content: {mime}) to create the channel answered {status}: "
        f"{body[:500]!r} headers={headers}")


# --------------------------------------------------------------------------------------------
# media


def count_key_frames(path: Path) -> int:
    """Video key frames in a media file, by ffprobe."""
    cp = run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries",
              "packet=flags", "-of", "csv=p=0", path], timeout=60)
    return sum(1 for line in cp.stdout.decode().splitlines() if "K" in line)


# --------------------------------------------------------------------------------------------
# looking at media files with ffprobe / ffmpeg


def count_video_frames(path: Path) -> int:
    cp = run(["ffprobe", "-v", "error", "-count_frames", "-select_streams", "v:0", "-show_entries",
              "stream=nb_read_frames", "-of", "csv=p=0", path], timeout=60)
    return int(cp.stdout.decode().strip().splitlines()[0])


def stream_codecs(path: Path) -> list[str]:
    cp = run(["ffprobe", "-v", "error", "-show_entries", "stream=codec_type,codec_name", "-of", "csv=p=0", path],
             timeout=60)
    # MPEG-TS streams are listed once per program as well: count each once.
    return sorted({line.strip() for line in cp.stdout.decode().splitlines() if line.strip()})


def frame_means(path: Path, frame_index: int, size: int = 512) -> tuple[float, float, float]:
    """Mean R, G, B (0-255) of one decoded frame, scaled to size x size."""
    cp = run(["ffmpeg", "-v", "error", "-i", path, "-vf", f"select=eq(n\\,{frame_index}),scale={size}:{size}",
              "-frames:v", "1", "-pix_fmt", "rgb24", "-f", "rawvideo", "-"], timeout=60)
    raw = cp.stdout
    assert len(raw) == size * size * 3, f"frame {frame_index} of {path}: {len(raw)} bytes"
    sums = [sum(raw[c::3]) for c in range(3)]
    return tuple(s / (size * size) for s in sums)


def make_colour_clip(path: Path, colour: str, seconds: int, fps: int = CLIP_FPS) -> Path:
    """A clip of one solid colour (an lavfi colour name) with a tone: H.264 320x240 + AAC in
    MPEG-TS, a key frame a second. Streams told apart by their output use one colour each."""
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        pytest.fail("the ffmpeg CLI is needed to make the test clips (apt-get install ffmpeg)")
    run([ffmpeg, "-hide_banner", "-loglevel", "error", "-y",
         "-f", "lavfi", "-i", f"color=c={colour}:size=320x240:rate={fps}",
         "-f", "lavfi", "-i", "sine=frequency=330:sample_rate=48000", "-t", str(seconds),
         "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p", "-g", str(fps), "-bf", "0",
         "-c:a", "aac", "-b:a", "64k", "-f", "mpegts", path], timeout=120)
    return path


def fresh_python(code: str) -> str:
    """What `code` prints in a fresh interpreter on this one's path (for what importing a module
    loads, or does without a dependency). Fails the test if it raises."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return out.stdout
