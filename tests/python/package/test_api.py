"""pytrickle.api: request models, their conversions and their exact error messages.

The upstream comparison runs every case through the real PyTrickle (in .venv-upstream,
in a subprocess) and requires the same outcome and the same str(exception).
"""

from __future__ import annotations

import importlib
import json
import math
import os
import subprocess
from pathlib import Path

import pytest
from pydantic import ValidationError

REPO = Path(__file__).resolve().parents[3]
UPSTREAM_PYTHON = REPO / ".venv-upstream" / "bin" / "python"




api = importlib.import_module("pytrickle.api")
StreamStartRequest = api.StreamStartRequest
StreamParamsUpdateRequest = api.StreamParamsUpdateRequest


# --------------------------------------------------------------------------------------------
# behaviour


def test_params_conversions():
    m = StreamParamsUpdateRequest.model_validate(
        {"width": "1920", "height": 1080.9, "max_framerate": "30", "detect_out_resolution": "No",
         "prompt": "hi", "nested": {"a": [1, 2]}})
    assert m.model_dump() == {"width": 1920, "height": 1080, "max_framerate": 30,
                              "detect_out_resolution": False, "prompt": "hi", "nested": {"a": [1, 2]}}
    assert m.prompt == "hi"
    assert m.width == 1920 and isinstance(m.width, int)


def test_bool_dimensions_become_ints():
    d = StreamParamsUpdateRequest.validate_params({"width": True, "height": True})
    assert d == {"width": 1, "height": 1} and type(d["width"]) is int


def test_validate_params_returns_copy():
    src = {"width": "64", "height": "32"}
    out = StreamParamsUpdateRequest.validate_params(src)
    assert out == {"width": 64, "height": 32}
    assert src == {"width": "64", "height": "32"}
    assert StreamParamsUpdateRequest.validate_params(None) is None


@pytest.mark.parametrize("value,expected", [
    (True, True), (False, False), ("TRUE", True), ("yes", True), ("1", True),
    ("False", False), ("no", False), ("0", False), (0, False), (5, True), (-1, True),
])
def test_detect_out_resolution_values(value, expected):
    d = StreamParamsUpdateRequest.validate_params({"detect_out_resolution": value})
    assert d["detect_out_resolution"] is expected


@pytest.mark.parametrize("params,message", [
    ({"width": 512}, "Both 'width' and 'height' must be provided together"),
    ({"height": 512}, "Both 'width' and 'height' must be provided together"),
    ({"width": 0, "height": 512}, "Width and height must be valid integers or integer strings"),
    ({"width": "abc", "height": 512}, "Width and height must be valid integers or integer strings"),
    ({"width": None, "height": 512}, "Width and height must be valid integers or integer strings"),
    ({"width": "1.5", "height": 512}, "Width and height must be valid integers or integer strings"),
    ({"max_framerate": 0}, "max_framerate must be a positive integer"),
    ({"max_framerate": -3}, "max_framerate must be a positive integer"),
    ({"max_framerate": 61}, "max_framerate cannot exceed 60 FPS"),
    ({"max_framerate": "abc"}, "max_framerate must be a valid integer"),
    ({"max_framerate": None}, "max_framerate must be a valid integer"),
    ({"detect_out_resolution": "maybe"}, "detect_out_resolution must be a boolean value"),
    ({"detect_out_resolution": 1.0}, "detect_out_resolution must be a boolean value"),
    ({"detect_out_resolution": None}, "detect_out_resolution must be a boolean value"),
    ({1: "x"}, "All field names must be strings, got <class 'int'> for key: 1"),
])
def test_update_request_plain_value_errors(params, message):
    with pytest.raises(ValueError) as info:
        StreamParamsUpdateRequest.model_validate(params)
    assert type(info.value) is ValueError  # not a pydantic ValidationError
    assert str(info.value) == message


def test_update_request_non_dict_is_validation_error():
    with pytest.raises(ValidationError) as info:
        StreamParamsUpdateRequest.model_validate([1, 2])
    assert "Input should be a valid dictionary or instance of StreamParamsUpdateRequest" in str(info.value)
    with pytest.raises(ValueError, match="Params must be a dictionary"):
        StreamParamsUpdateRequest.validate_params([1, 2])


def test_update_request_constructor_bypasses_checks():
    m = StreamParamsUpdateRequest(width="abc", max_framerate=1000)
    assert m.model_dump() == {"width": "abc", "max_framerate": 1000}


def test_infinite_dimension_overflows():
    # int(inf) raises OverflowError, which is not turned into the ValueError message.
    with pytest.raises(OverflowError):
        StreamParamsUpdateRequest.validate_params({"width": math.inf, "height": math.inf})


def test_start_request_minimal_and_full():
    m = StreamStartRequest.model_validate({"gateway_request_id": "abc"})
    assert m.model_dump() == {"subscribe_url": None, "publish_url": None, "control_url": None,
                              "events_url": None, "data_url": None, "gateway_request_id": "abc",
                              "params": None}
    m = StreamStartRequest.model_validate({
        "subscribe_url": "http://a/in", "publish_url": "http://a/out", "gateway_request_id": "r",
        "params": {"width": "640", "height": "480", "max_framerate": 24.9}, "unknown": 1})
    assert m.params == {"width": 640, "height": 480, "max_framerate": 24}
    assert not hasattr(m, "unknown")
    # Unlike StreamParamsUpdateRequest, the constructor runs the params validator too.
    with pytest.raises(ValidationError, match="Value error, Both 'width' and 'height'"):
        StreamStartRequest(gateway_request_id="x", params={"width": 1})


def test_start_request_errors_are_validation_errors():
    with pytest.raises(ValidationError) as info:
        StreamStartRequest.model_validate({"gateway_request_id": "r", "params": {"width": 5}})
    text = str(info.value)
    assert "1 validation error for StreamStartRequest" in text
    assert "Value error, Both 'width' and 'height' must be provided together" in text
    with pytest.raises(ValidationError, match="Field required"):
        StreamStartRequest.model_validate({})
    with pytest.raises(ValidationError, match="Input should be a valid string"):
        StreamStartRequest.model_validate({"gateway_request_id": 5})
    with pytest.raises(ValidationError, match="Input should be a valid dictionary"):
        StreamStartRequest.model_validate({"gateway_request_id": "r", "params": "x"})


def test_other_models():
    assert api.Version(model_id="m", version="1").model_dump() == {"pipeline": "byoc", "model_id": "m", "version": "1"}
    h = api.HealthStatus(status="OK")
    assert h.model_dump() == {"status": "OK", "error_message": None, "pipeline_ready": False,
                              "active_streams": 0, "startup_complete": False, "additional_info": None}
    info = api.HardwareInformation(pipeline="p", model_id="m", gpu_info={
        "0": {"id": "GPU-1", "name": "n", "memory_total": 1, "memory_free": 1, "major": 9, "minor": 0}})
    assert list(info.gpu_info) == [0]
    stats = api.HardwareStats(pipeline="p", model_id="m", gpu_stats={})
    assert stats.gpu_stats == {}
    assert api.StreamResponse(status="ok", message="m").request_id is None
    assert api.StreamStatusResponse(processing_active=True, stream_count=1).message is None
    assert api.HealthCheckResponse(status="ok", service="s", version="v").error is None
    assert api.ServiceInfoResponse(service="s", version="v", description="d", capabilities=[],
                                   endpoints={}).endpoints == {}


# --------------------------------------------------------------------------------------------
# same outcomes as upstream PyTrickle

# (model, how, input); inputs are Python literals so non-string keys, floats and bools survive.
CASES = [
    ("update", "model_validate", {}),
    ("update", "model_validate", {"prompt": "x", "strength": 0.5}),
    ("update", "model_validate", {"width": 512, "height": 512}),
    ("update", "model_validate", {"width": "1920", "height": "1080"}),
    ("update", "model_validate", {"width": 1920.7, "height": 1080.2}),
    ("update", "model_validate", {"width": True, "height": True}),
    ("update", "model_validate", {"width": False, "height": 10}),
    ("update", "model_validate", {"width": 512}),
    ("update", "model_validate", {"height": "512"}),
    ("update", "model_validate", {"width": -1, "height": 512}),
    ("update", "model_validate", {"width": "abc", "height": "def"}),
    ("update", "model_validate", {"width": " 64 ", "height": "32"}),
    ("update", "model_validate", {"width": [1], "height": 2}),
    ("update", "model_validate", {"width": None, "height": None}),
    ("update", "model_validate", {"width": "1e3", "height": 4}),
    ("update", "model_validate", {"max_framerate": 0}),
    ("update", "model_validate", {"max_framerate": 1}),
    ("update", "model_validate", {"max_framerate": 60}),
    ("update", "model_validate", {"max_framerate": 60.9}),
    ("update", "model_validate", {"max_framerate": 61}),
    ("update", "model_validate", {"max_framerate": "abc"}),
    ("update", "model_validate", {"max_framerate": "30"}),
    ("update", "model_validate", {"max_framerate": "30.5"}),
    ("update", "model_validate", {"max_framerate": True}),
    ("update", "model_validate", {"max_framerate": None}),
    ("update", "model_validate", {"max_framerate": [30]}),
    ("update", "model_validate", {"detect_out_resolution": True}),
    ("update", "model_validate", {"detect_out_resolution": "true"}),
    ("update", "model_validate", {"detect_out_resolution": "YES"}),
    ("update", "model_validate", {"detect_out_resolution": "0"}),
    ("update", "model_validate", {"detect_out_resolution": "No"}),
    ("update", "model_validate", {"detect_out_resolution": "maybe"}),
    ("update", "model_validate", {"detect_out_resolution": ""}),
    ("update", "model_validate", {"detect_out_resolution": 2}),
    ("update", "model_validate", {"detect_out_resolution": 0}),
    ("update", "model_validate", {"detect_out_resolution": 1.0}),
    ("update", "model_validate", {"detect_out_resolution": None}),
    ("update", "model_validate", {"detect_out_resolution": [True]}),
    ("update", "model_validate", {1: "a"}),
    ("update", "model_validate", {"ok": 1, 2.5: "b"}),
    ("update", "model_validate", {None: 1}),
    ("update", "model_validate", {(1, 2): 1}),
    ("update", "model_validate", {"width": 64, "height": 64, "max_framerate": 99}),
    ("update", "model_validate", {"width": 64, "max_framerate": 99}),
    ("update", "model_validate", {"max_framerate": 0, "detect_out_resolution": "x"}),
    ("update", "model_validate", [1, 2]),
    ("update", "model_validate", "params"),
    ("update", "model_validate", None),
    ("update", "model_validate", 5),
    ("update", "validate_params", None),
    ("update", "validate_params", [("width", 1)]),
    ("update", "validate_params", "abc"),
    ("update", "validate_params", {"width": "8", "height": "8", "x": None}),
    ("update", "construct", {"width": "abc", "max_framerate": 1000}),
    ("start", "model_validate", {"gateway_request_id": "abc"}),
    ("start", "model_validate", {}),
    ("start", "model_validate", {"subscribe_url": "http://x/in"}),
    ("start", "model_validate", {"gateway_request_id": 123}),
    ("start", "model_validate", {"gateway_request_id": None}),
    ("start", "model_validate", {"gateway_request_id": b"abc"}),
    ("start", "model_validate", {"gateway_request_id": "r", "subscribe_url": 5}),
    ("start", "model_validate", {"gateway_request_id": "r", "publish_url": ["x"]}),
    ("start", "model_validate", {"gateway_request_id": "r", "extra_key": 1, "params": None}),
    ("start", "model_validate", {"gateway_request_id": "r", "params": {}}),
    ("start", "model_validate", {"gateway_request_id": "r", "params": "x"}),
    ("start", "model_validate", {"gateway_request_id": "r", "params": [1]}),
    ("start", "model_validate", {"gateway_request_id": "r", "params": 7}),
    ("start", "model_validate", {"gateway_request_id": "r", "params": {1: "a"}}),
    ("start", "model_validate", {"gateway_request_id": "r", "params": {"width": 5}}),
    ("start", "model_validate", {"gateway_request_id": "r", "params": {"width": "5", "height": "7"}}),
    ("start", "model_validate", {"gateway_request_id": "r", "params": {"width": "a", "height": "7"}}),
    ("start", "model_validate", {"gateway_request_id": "r", "params": {"max_framerate": 0}}),
    ("start", "model_validate", {"gateway_request_id": "r", "params": {"max_framerate": 61}}),
    ("start", "model_validate", {"gateway_request_id": "r", "params": {"max_framerate": "abc"}}),
    ("start", "model_validate", {"gateway_request_id": "r", "params": {"detect_out_resolution": "x"}}),
    ("start", "model_validate", {"gateway_request_id": "r", "params": {"detect_out_resolution": "off"}}),
    ("start", "model_validate", {"gateway_request_id": 1, "params": {"width": 1}}),
    ("start", "model_validate", {"params": {"max_framerate": 100}}),
    ("start", "model_validate", [("gateway_request_id", "r")]),
    ("start", "model_validate", None),
    ("start", "construct", {"gateway_request_id": "r", "params": {"width": 5}}),
    ("start", "construct", {"params": {"width": 5}}),
]

RUNNER = r'''
import ast, sys, json
from pytrickle.api import StreamStartRequest, StreamParamsUpdateRequest

def run(model, how, value):
    cls = StreamStartRequest if model == "start" else StreamParamsUpdateRequest
    try:
        if how == "construct":
            result = cls(**value)
        else:
            result = getattr(cls, how)(value)
        if hasattr(result, "model_dump"):
            result = result.model_dump()
        return ["ok", repr(result)]
    except Exception as exc:
        return ["err", type(exc).__name__, str(exc)]

cases = ast.literal_eval(sys.stdin.read())
print(json.dumps([run(*c) for c in cases]))
'''


def _run_cases_here():
    ns: dict = {}
    code = RUNNER.replace("from pytrickle.api import StreamStartRequest, StreamParamsUpdateRequest", "")
    ns["StreamStartRequest"] = StreamStartRequest
    ns["StreamParamsUpdateRequest"] = StreamParamsUpdateRequest
    exec(compile(code.split("cases = ast.literal_eval")[0], "<runner>", "exec"), ns)
    return [ns["run"](*c) for c in CASES]


@pytest.fixture(scope="module")
def upstream_results():
    if not UPSTREAM_PYTHON.exists():
        pytest.skip(f"upstream PyTrickle venv missing: {UPSTREAM_PYTHON} (scripts/setup_upstream_venv)")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    proc = subprocess.run([str(UPSTREAM_PYTHON), "-c", RUNNER], input=repr(CASES), text=True,
                          capture_output=True, env=env, cwd="/", timeout=300)
    if proc.returncode != 0:
        pytest.fail(f"upstream runner failed:\n{proc.stderr[-4000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.upstream
@pytest.mark.parametrize("index", range(len(CASES)), ids=[f"{c[0]}-{c[1]}-{i}" for i, c in enumerate(CASES)])
def test_same_outcome_as_upstream(index, upstream_results):
    ours = _run_cases_here()[index]
    assert ours == upstream_results[index], f"case {CASES[index]!r}"
