"""Drop-in down to the module level: every module-level name of every upstream PyTrickle module
(imported modules such as av, np, torch, aiohttp; logger; constants; helpers) exists in ours with
the same kind of value, so code that reads or patches them (upstream's own tests do
``patch('pytrickle.encoder.av.open')``) works on ours. Names ours loads on first use (PyAV,
aiohttp) count, as attribute access finds them. A value that is a module we cannot import here (an
optional dependency not installed in this venv) is not compared."""

from __future__ import annotations

import importlib
import json
import subprocess
import types
from unittest import mock

import pytest

from conftest import UPSTREAM_CLIENTS, upstream_env

# Deliberate differences, each with its reason: {(module, name): reason}. None today.
ALLOWED: dict[tuple[str, str], str] = {}


@pytest.fixture(scope="module")
def upstream_names(upstream_python) -> dict:
    out = subprocess.run([str(upstream_python), "-I", str(UPSTREAM_CLIENTS / "module_names.py")], env=upstream_env(),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=300)
    assert out.returncode == 0, out.stderr.decode()[-4000:]
    return json.loads(out.stdout)


def _importable(module_name: str) -> bool:
    try:
        importlib.import_module(module_name)
    except ImportError:
        return False
    return True


def test_every_upstream_module_name_exists_in_ours(upstream_names):
    assert len(upstream_names) >= 30, sorted(upstream_names)  # the walk found upstream's modules
    problems = []
    for module_name, names in sorted(upstream_names.items()):
        try:
            ours = importlib.import_module(module_name)
        except ImportError as error:
            problems.append(f"{module_name}: does not import ({error})")
            continue
        for name, (kind, value_module) in sorted(names.items()):
            if (module_name, name) in ALLOWED:
                continue
            if value_module is not None and not _importable(value_module):
                continue  # an optional dependency this venv does not have
            if not hasattr(ours, name):
                problems.append(f"{module_name}.{name}: missing (upstream: {kind})")
                continue
            value = getattr(ours, name)
            if kind == "NoneType":
                continue  # a cache or an optional import upstream left empty: any value once filled
            if type(value).__name__ != kind:
                problems.append(f"{module_name}.{name}: {type(value).__name__}, upstream: {kind}")
            elif value_module is not None and value.__name__ != value_module:
                problems.append(f"{module_name}.{name}: module {value.__name__}, upstream: {value_module}")
    assert not problems, "\n".join(problems)


def test_patching_a_lazily_loaded_module_global_reaches_the_code_that_uses_it():
    pytest.importorskip("av", reason="PyAV is an optional dependency; this venv has it unless told otherwise")
    import pytrickle.frames as frames

    assert isinstance(frames.av, types.ModuleType)  # loaded on first access, then a plain global
    with mock.patch("pytrickle.frames.av") as patched:
        patched.VideoFrame.from_ndarray.return_value = "patched"
        frame = frames.VideoFrame.from_tensor(__import__("torch").zeros(4, 4, 3))
        assert frame.to_av_frame(frame.tensor) == "patched"
    assert frames.av is not patched


def test_patching_upstreams_encoder_target_works():
    pytest.importorskip("av", reason="PyAV is an optional dependency; this venv has it unless told otherwise")
    import pytrickle.decoder as decoder
    import pytrickle.encoder as encoder

    with mock.patch("pytrickle.encoder.av.open") as opened:  # what upstream's own tests patch
        encoder.av.open("x")
    opened.assert_called_once_with("x")
    with mock.patch("pytrickle.decoder.av") as patched, mock.patch.object(decoder, "_import_pil_image"):
        patched.open.side_effect = RuntimeError("the patched av ran")
        with pytest.raises(RuntimeError, match="the patched av ran"):
            decoder.decode_av("missing.ts", lambda frame: None, lambda metadata: None)
