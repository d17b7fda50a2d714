"""`pip install .` into a fresh virtual environment, as a user does, then the installed package
(not the checkout) streams a clip end to end; and `pip wheel .` makes a wheel with everything.

Slow the first time (scikit-build-core builds the engine in build/<wheel tag>/, which later runs
reuse). torch is installed first and pinned, as the package's README says."""

from __future__ import annotations

import os
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest

from conftest import REPO
from trickle_testutil import CLIP_FPS, CLIP_SECONDS, count_video_frames, run

BUILD_TIMEOUT = 3000  # seconds: a first build of the engine on 2 cores


def pip(venv: Path, *args, timeout=BUILD_TIMEOUT):
    return run([venv / "bin" / "python", "-m", "pip", *map(str, args)], timeout=timeout)


@pytest.fixture(scope="module")
def installed_venv(tmp_path_factory) -> Path:
    venv = tmp_path_factory.mktemp("clean") / "venv"
    run([sys.executable, "-m", "venv", venv], timeout=120)
    pip(venv, "install", "-q", "--upgrade", "pip", timeout=300)
    pip(venv, "install", "-q", "torch==2.13.0", timeout=900)
    pip(venv, "install", "-q", REPO)
    return venv


def test_installed_package_imports_and_has_its_commands(installed_venv, tmp_path):
    python = installed_venv / "bin" / "python"
    # From an unrelated directory, so the checkout's python/ cannot be what is imported.
    probe = run([python, "-c", textwrap.dedent("""
        import pytrickle, pytrickle._native, pytrickle.examples.passthrough_example
        print(pytrickle.__version__, pytrickle.__file__, sorted(pytrickle.__all__)[:3])
    """)], timeout=120, env=dict(os.environ, PYTHONPATH=""))
    version, location, _ = probe.stdout.decode().split(" ", 2)
    assert version.startswith("0.1.")
    assert str(installed_venv) in location, location
    # aiohttp is an extra: without it the server runs on the engine's HTTP server, and what needs
    # aiohttp says which extra to install.
    missing = run([python, "-c", textwrap.dedent("""
        import importlib.util
        assert importlib.util.find_spec("aiohttp") is None
        from pytrickle import StreamServer
        from pytrickle.test_utils import MockFrameProcessor
        StreamServer(MockFrameProcessor(), port=0)
        try:
            StreamServer(MockFrameProcessor(), port=0, custom_routes=[{"method": "GET", "path": "/x", "handler": None}])
        except ImportError as error:
            print(error)
    """)], timeout=120, env=dict(os.environ, PYTHONPATH=""))
    assert "pip install 'pytrickle[aiohttp]'" in missing.stdout.decode()
    listing = run([installed_venv / "bin" / "pytrickle", "list"], timeout=60).stdout.decode()
    assert "Available templates:" in listing and "process_video" in listing
    assert run([installed_venv / "bin" / "trickle", "--help"], timeout=30).returncode == 0


def test_installed_package_streams_end_to_end(installed_venv, ts_clip, tmp_path):
    out = tmp_path / "out.ts"
    script = tmp_path / "stream.py"
    script.write_text(textwrap.dedent(f"""
        import asyncio, importlib.util, json, subprocess, urllib.request
        assert importlib.util.find_spec("aiohttp") is None  # the engine's HTTP server serves
        from pytrickle import FrameProcessor, StreamServer
        from pytrickle.relay import TrickleRelay

        class Passthrough(FrameProcessor):
            async def load_model(self, **kwargs): pass
            async def process_video_async(self, frame): return frame
            async def process_audio_async(self, frame): return [frame]
            async def update_params(self, params): pass

        def post(url, body):
            request = urllib.request.Request(url, json.dumps(body).encode(), {{"Content-Type": "application/json"}})
            return json.loads(urllib.request.urlopen(request, timeout=30).read())

        async def main():
            trickle = "{installed_venv / 'bin' / 'trickle'}"
            with TrickleRelay() as relay:
                for channel in ("in", "out"):
                    relay.create_channel(channel, "video/mp2t")
                server = StreamServer(Passthrough(), port=0, host="127.0.0.1")
                await server.start_server()
                api = f"http://127.0.0.1:{{server.bound_port()}}"
                await asyncio.sleep(0.5)
                answer = await asyncio.to_thread(post, api + "/stream/start", {{
                    "subscribe_url": relay.url("in"), "publish_url": relay.url("out"),
                    "gateway_request_id": "pip", "params": {{"max_framerate": 60}}}})
                assert answer["status"] == "success", answer
                subscriber = subprocess.Popen([trickle, "subscribe", relay.url("out"), "-o", "{out}"])
                await asyncio.to_thread(subprocess.run, [trickle, "publish", "--realtime", relay.url("in"),
                                                         "{ts_clip}"], check=True, timeout=60)
                assert await asyncio.to_thread(subscriber.wait, 30) == 0
                await server.stop()
                await server._runner.cleanup()

        asyncio.run(main())
    """))
    run([installed_venv / "bin" / "python", script], timeout=180, env=dict(os.environ, PYTHONPATH=""))
    assert count_video_frames(out) == CLIP_SECONDS * CLIP_FPS


def test_pip_wheel_holds_the_extension_the_package_and_the_tool(installed_venv, tmp_path):
    pip(installed_venv, "wheel", "-q", "--no-deps", "-w", tmp_path / "wheels", REPO)
    wheels = list((tmp_path / "wheels").glob("pytrickle-0.1.*.whl"))
    assert len(wheels) == 1, wheels
    names = zipfile.ZipFile(wheels[0]).namelist()
    assert any(n.startswith("pytrickle/_native") and n.endswith(".so") for n in names), names
    for module in ("pytrickle/__init__.py", "pytrickle/server.py", "pytrickle/examples/passthrough_example.py",
                   "pytrickle/utils/hardware.py"):
        assert module in names, module
    assert any(n.endswith(".data/scripts/trickle") for n in names), [n for n in names if "scripts" in n]
    assert not any("__pycache__" in n for n in names)
