"""pytrickle.frame_overlay (spec section 12)."""

from __future__ import annotations

import sys
from fractions import Fraction
from types import SimpleNamespace

import numpy as np
import pytest
from upstream_runner import run_upstream
import torch

from pytrickle import frame_overlay as fo
from pytrickle.frame_overlay import (
    OverlayConfig,
    OverlayController,
    OverlayMode,
    build_frame_overlay,
)
from pytrickle.frames import VideoFrame


BG = [30 / 255] * 3
PANEL = [20 / 255] * 3
TRACK = [40 / 255] * 3
FILL = [100 / 255, 150 / 255, 255 / 255]


def have_cv2() -> bool:
    try:
        import cv2  # noqa: F401
    except Exception:
        return False
    return True


needs_cv2 = pytest.mark.skipif(not have_cv2(), reason="OpenCV (cv2) not installed")


def frame(shape=(1, 512, 512, 3), ts=9000, tb=Fraction(1, 90000)):
    return VideoFrame(torch.zeros(shape), ts, tb, {"frame_init": 1.0})


def px(f, y, x):
    return f.tensor[y, x].tolist()


# ------------------------------------------------------------------------------------------
# public names / config


def test_exports_and_enum():
    assert fo.__all__ == ["OverlayMode", "OverlayConfig", "OverlayController", "build_frame_overlay"]
    assert OverlayMode.PROGRESSBAR.value == "progressbar"
    assert OverlayMode.PASSTHROUGH.value == "passthrough"


def test_config_defaults_and_modes():
    c = OverlayConfig()
    assert c.mode is OverlayMode.PROGRESSBAR
    assert c.message == "Loading..." and c.progress is None and c.enabled is True
    assert c.auto_timeout_seconds == 1.5 and c.frame_count_to_disable == 1
    assert c.is_overlay_mode() and not c.is_passthrough_mode()
    p = OverlayConfig(mode=OverlayMode.PASSTHROUGH)
    assert p.is_passthrough_mode() and not p.is_overlay_mode()


# ------------------------------------------------------------------------------------------
# rendering


@needs_cv2
def test_overlay_render_geometry_and_colours():
    orig = frame()
    out = build_frame_overlay(orig, message="Loading...", frame_counter=0, progress=1.0)
    assert isinstance(out, VideoFrame)
    assert out.tensor.shape == (512, 512, 3) and out.tensor.dtype == torch.float32
    assert out.timestamp == 9000 and out.time_base == Fraction(1, 90000)
    assert out.log_timestamps == {}
    assert float(out.tensor.min()) >= 0.0 and float(out.tensor.max()) <= 1.0
    # corners: background
    for y, x in [(0, 0), (511, 511), (0, 511), (511, 0)]:
        assert px(out, y, x) == pytest.approx(BG)
    # panel 400x200 at (56,156): interior fill
    assert px(out, 170, 70) == pytest.approx(PANEL)
    assert px(out, 340, 440) == pytest.approx(PANEL)
    # just outside the panel's border: background
    assert px(out, 150, 256) == pytest.approx(BG)
    # border colour on the panel edge
    assert px(out, 156, 256) == pytest.approx([60 / 255] * 3)
    # progress bar (x 86..426, y 296..302) fully filled
    assert px(out, 299, 90) == pytest.approx(FILL)
    assert px(out, 299, 420) == pytest.approx(FILL)
    # text pixels (colour 200) exist around the baseline row
    text_region = out.tensor[225:260, 150:360]
    assert bool((text_region > 150 / 255).any())


@needs_cv2
def test_overlay_progress_partial_and_animated():
    half = build_frame_overlay(frame(), progress=0.5)
    assert px(half, 299, 200) == pytest.approx(FILL)
    assert px(half, 299, 300) == pytest.approx(TRACK)
    # progress None with counter 0: (sin(0)+1)/2 = 0.5 -> same bar as progress 0.5
    anim = build_frame_overlay(frame(), frame_counter=0, progress=None)
    assert torch.equal(anim.tensor, half.tensor)
    # progress 0 falls back to the animation too
    zero = build_frame_overlay(frame(), frame_counter=0, progress=0.0)
    assert torch.equal(zero.tensor, half.tensor)
    # counter giving sin = -1 -> empty bar
    empty = build_frame_overlay(frame(), frame_counter=47, progress=None)
    assert px(empty, 299, 120) == pytest.approx(TRACK)


@needs_cv2
def test_no_message_no_text():
    out = build_frame_overlay(frame(), message="", progress=1.0)
    assert bool((out.tensor[200:290, 60:450] == 20 / 255).all())


@needs_cv2
@pytest.mark.parametrize("shape, hw", [
    ((1, 48, 64, 3), (48, 64)),     # NHWC
    ((1, 3, 48, 64), (48, 64)),     # NCHW
    ((3, 48, 64), (48, 64)),        # CHW
    ((48, 64, 3), (48, 64)),        # HWC
    ((1, 48, 64, 1), (48, 64)),
    ((2, 1, 48, 64), (1, 48)),      # other 4-D -> shape[1:3]
])
def test_size_detection(shape, hw):
    out = build_frame_overlay(frame(shape))
    assert tuple(out.tensor.shape) == (*hw, 3)


@needs_cv2
def test_small_frames_and_errors():
    out = build_frame_overlay(frame((1, 30, 30, 3)), progress=1.0)
    assert out.tensor.shape == (30, 30, 3)
    with pytest.raises(ValueError, match="Unexpected tensor dimensions"):
        build_frame_overlay(frame((30, 30)))
    with pytest.raises(ValueError, match="Progress must be between 0.0 and 1.0, got 1.5"):
        build_frame_overlay(frame(), progress=1.5)
    with pytest.raises(ValueError, match="Width and height must be positive, got 10x0"):
        build_frame_overlay(frame((0, 10, 3)))


def test_missing_opencv_raises_runtime_error(monkeypatch):
    monkeypatch.setattr(fo, "_cv2_module", None)
    monkeypatch.setitem(sys.modules, "cv2", None)
    with pytest.raises(RuntimeError, match="opencv-python"):
        build_frame_overlay(frame())


def test_broken_opencv_raises_runtime_error(monkeypatch):
    monkeypatch.setattr(fo, "_cv2_module", None)
    monkeypatch.setitem(sys.modules, "cv2", SimpleNamespace(getBuildInformation=lambda: ""))
    with pytest.raises(RuntimeError, match="not functioning correctly"):
        build_frame_overlay(frame())


@needs_cv2
@pytest.mark.upstream
def test_render_matches_upstream(tmp_path):
    cases = [((1, 512, 512, 3), "Loading...", 0, None),
             ((1, 360, 640, 3), "Warming up model", 7, None),
             ((3, 120, 200), "Hi", 3, 0.37),
             ((1, 64, 96, 3), "x", 0, 1.0)]
    code = f"""
import numpy as np, torch
from fractions import Fraction
from pytrickle.frames import VideoFrame
from pytrickle.frame_overlay import build_frame_overlay
for i, (shape, msg, counter, prog) in enumerate({cases!r}):
    f = VideoFrame(torch.zeros(shape), 5, Fraction(1, 90000))
    out = build_frame_overlay(original_frame=f, message=msg, frame_counter=counter, progress=prog)
    np.save({str(tmp_path)!r} + f"/up{{i}}.npy", out.tensor.numpy())
print("[]")
"""
    run_upstream(code)
    for i, (shape, msg, counter, prog) in enumerate(cases):
        mine = build_frame_overlay(original_frame=frame(shape), message=msg, frame_counter=counter,
                                   progress=prog).tensor.numpy()
        theirs = np.load(tmp_path / f"up{i}.npy")
        assert mine.shape == theirs.shape and mine.dtype == theirs.dtype
        np.testing.assert_array_equal(mine, theirs)


# ------------------------------------------------------------------------------------------
# controller


@pytest.fixture
def clock(monkeypatch):
    now = [100.0]
    monkeypatch.setattr(fo, "time", SimpleNamespace(time=lambda: now[0]))
    return now


@pytest.fixture
def overlay_calls(monkeypatch):
    calls = []

    def fake(**kwargs):
        calls.append(kwargs)
        return ("overlay", kwargs["frame_counter"])

    monkeypatch.setattr(fo, "build_frame_overlay", fake)
    return calls


def test_controller_defaults(clock):
    c = OverlayController(None)
    assert c.overlay_config == OverlayConfig()
    assert c._last_video_frame_time == 100.0
    assert (c._loading_active, c._is_manual_loading, c._frame_counter, c._consecutive_received_frames) == (
        False, False, 0, 0)
    cfg = OverlayConfig(message="m")
    assert OverlayController(cfg).overlay_config is cfg


def test_auto_enable_after_timeout_and_disable(clock, overlay_calls):
    c = OverlayController(OverlayConfig(message="Wait", progress=0.3))
    orig, proc = object(), object()
    assert c.update_and_apply(orig, proc) is proc
    assert c.update_and_apply(orig, None) is orig  # not yet timed out -> original frame
    clock[0] += 1.49
    assert c.update_and_apply(orig, None) is orig
    clock[0] += 0.01
    assert c.update_and_apply(orig, None) == ("overlay", 1)
    assert c.update_and_apply(orig, None) == ("overlay", 2)
    assert overlay_calls[0] == {"original_frame": orig, "message": "Wait", "frame_counter": 1,
                                "progress": 0.3}
    # one processed frame switches it off (frame_count_to_disable = 1)
    assert c.update_and_apply(orig, proc) is proc
    assert c._loading_active is False


def test_frame_count_to_disable(clock, overlay_calls):
    c = OverlayController(OverlayConfig(frame_count_to_disable=3, auto_timeout_seconds=0.0))
    orig, proc = object(), object()
    assert c.update_and_apply(orig, None) == ("overlay", 1)
    assert c.update_and_apply(orig, proc) == ("overlay", 2)
    assert c.update_and_apply(orig, proc) == ("overlay", 3)
    assert c.update_and_apply(orig, proc) is proc
    # frame_count_to_disable <= 0 behaves like 1
    c2 = OverlayController(OverlayConfig(frame_count_to_disable=0, auto_timeout_seconds=0.0))
    assert c2.update_and_apply(orig, None) == ("overlay", 1)
    assert c2.update_and_apply(orig, proc) is proc


def test_timeout_none_or_negative_never_enables(clock, overlay_calls):
    for timeout in (None, -1.0):
        c = OverlayController(OverlayConfig(auto_timeout_seconds=timeout))
        clock[0] += 100
        orig = object()
        assert c.update_and_apply(orig, None) is orig
    assert overlay_calls == []


def test_disabled_and_passthrough_return_processed(clock, overlay_calls):
    orig, proc = object(), object()
    for cfg in (OverlayConfig(enabled=False, auto_timeout_seconds=0.0),
                OverlayConfig(mode=OverlayMode.PASSTHROUGH, auto_timeout_seconds=0.0)):
        c = OverlayController(cfg)
        c.set_manual_loading(True)
        assert c.update_and_apply(orig, None) is None  # dropped
        assert c.update_and_apply(orig, proc) is proc
        assert c._loading_active is False and c._is_manual_loading is False
    assert overlay_calls == []


def test_manual_loading(clock, overlay_calls):
    c = OverlayController(OverlayConfig())
    orig, proc = object(), object()
    assert c.should_skip_processing() is False
    c.set_manual_loading(True)
    assert c.should_skip_processing() is True
    # manual overlay stays on even when processed frames arrive
    assert c.update_and_apply(orig, proc) == ("overlay", 1)
    assert c.update_and_apply(orig, proc) == ("overlay", 2)
    clock[0] += 5
    c.set_manual_loading(False)
    assert c._frame_counter == 0 and c._last_video_frame_time == clock[0]
    assert c.should_skip_processing() is False
    assert c.update_and_apply(orig, proc) is proc
    c.apply_overlay_config(OverlayConfig(mode=OverlayMode.PASSTHROUGH))
    c._is_manual_loading = True
    assert c.should_skip_processing() is False


def test_apply_overlay_config(clock, overlay_calls):
    c = OverlayController(OverlayConfig())
    c.set_manual_loading(True)
    c._frame_counter = 7
    new = OverlayConfig(message="new")
    c.apply_overlay_config(new)
    assert c.overlay_config is new and c._frame_counter == 0
    assert c._loading_active is True  # still enabled progressbar: overlay kept
    c.apply_overlay_config(OverlayConfig(enabled=False))
    assert c._loading_active is False and c._is_manual_loading is False
    c.apply_overlay_config(None)
    assert c.overlay_config == OverlayConfig()


def test_reset(clock):
    c = OverlayController(None)
    c.set_manual_loading(True)
    c._frame_counter = 4
    c._consecutive_received_frames = 2
    clock[0] = 500.0
    c.reset()
    assert (c._loading_active, c._is_manual_loading, c._frame_counter, c._consecutive_received_frames) == (
        False, False, 0, 0)
    assert c._last_video_frame_time == 500.0


@needs_cv2
def test_controller_uses_real_renderer(clock):
    c = OverlayController(OverlayConfig(auto_timeout_seconds=0.0, progress=1.0))
    out = c.update_and_apply(frame((1, 64, 96, 3), ts=77), None)
    assert isinstance(out, VideoFrame) and out.tensor.shape == (64, 96, 3) and out.timestamp == 77
