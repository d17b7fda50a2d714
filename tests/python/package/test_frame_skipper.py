"""pytrickle.frame_skipper (spec section 11)."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import fields

import pytest
from upstream_runner import run_upstream

from pytrickle.frame_skipper import (
    AdaptiveFrameSkipper,
    FrameProcessingResult,
    FrameSkipConfig,
)





class FakeMeter:
    def __init__(self, fps=0.0):
        self.fps = fps
        self.calls = 0

    def get_ingress_video_fps(self):
        self.calls += 1
        return self.fps


def make(fps=0.0, **cfg):
    cfg.setdefault("adaptation_cooldown", 0.0)
    return AdaptiveFrameSkipper(FrameSkipConfig(**cfg), FakeMeter(fps))


def decisions(skipper, n):
    return ["S" if skipper._process_video_frame(i) is FrameProcessingResult.SKIPPED else "P"
            for i in range(n)]


def test_enum_and_config_defaults():
    assert FrameProcessingResult.SKIPPED.value == "skipped"
    assert [m.name for m in FrameProcessingResult] == ["SKIPPED"]
    c = FrameSkipConfig()
    assert (c.target_fps, c.adaptation_cooldown, c.max_queue_size, c.max_cleanup_frames) == (None, 0.5, 15, 50)
    assert [f.name for f in fields(FrameSkipConfig)] == [
        "target_fps", "adaptation_cooldown", "max_queue_size", "max_cleanup_frames"]


def test_initial_attributes():
    meter = FakeMeter()
    cfg = FrameSkipConfig()
    s = AdaptiveFrameSkipper(cfg, meter)
    assert s.config is cfg and s.fps_meter is meter
    assert s.frame_counter == 0 and s.skip_interval == 1
    assert s.last_adaptation_time > 0


def test_default_config_never_skips():
    s = make(fps=60.0)
    assert decisions(s, 10) == ["P"] * 10
    assert s.skip_interval == 1 and s.frame_counter == 10


def test_skip_interval_pattern():
    s = make(fps=30.0, target_fps=10.0)
    assert decisions(s, 7) == ["P", "S", "S", "P", "S", "S", "P"]
    assert s.skip_interval == 3


@pytest.mark.parametrize("ingress, target, interval", [
    (25.0, 10.0, 2),   # 2.5 rounds half-to-even
    (35.0, 10.0, 4),   # 3.5 -> 4
    (30.0, 30.0, 1),
    (20.0, 30.0, 1),
    (14.0, 10.0, 1),
    (16.0, 10.0, 2),
])
def test_interval_rounding(ingress, target, interval):
    s = make(fps=ingress, target_fps=target)
    s._process_video_frame("f")
    assert s.skip_interval == interval


def test_low_ingress_keeps_interval():
    s = make(fps=0.5, target_fps=10.0)
    s.skip_interval = 4
    s._adapt_skip_interval()
    assert s.skip_interval == 4


def test_cooldown_limits_adaptation():
    s = AdaptiveFrameSkipper(FrameSkipConfig(target_fps=10.0), FakeMeter(30.0))
    s._process_video_frame("f")
    assert s.fps_meter.calls == 0 and s.skip_interval == 1  # within 0.5 s of construction
    s.last_adaptation_time = 0
    s._process_video_frame("f")
    assert s.fps_meter.calls == 1 and s.skip_interval == 3
    s._process_video_frame("f")
    assert s.fps_meter.calls == 1


def test_set_target_fps(caplog):
    s = AdaptiveFrameSkipper(FrameSkipConfig(), FakeMeter(30.0))
    with caplog.at_level(logging.INFO, logger="pytrickle.frame_skipper"):
        s.set_target_fps(15.0)
    assert s.config.target_fps == 15.0 and s.skip_interval == 2
    assert "Target FPS set to 15.0" in caplog.text
    with caplog.at_level(logging.INFO, logger="pytrickle.frame_skipper"):
        s.set_target_fps(None)
    assert s.config.target_fps is None and s.skip_interval == 1
    assert "Auto-detect target FPS enabled" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="pytrickle.frame_skipper"):
        s.set_target_fps(0)
        s.set_target_fps(-5)
    assert "Invalid target FPS: 0, keeping current: None" in caplog.text
    assert "Invalid target FPS: -5, keeping current: None" in caplog.text
    assert s.config.target_fps is None


def test_reset():
    s = make(fps=30.0, target_fps=10.0)
    decisions(s, 5)
    s.reset()
    assert s.frame_counter == 0 and s.skip_interval == 1


async def test_queue_basic_and_sentinel():
    s = make()
    q = asyncio.Queue()
    await q.put("a")
    await q.put(None)
    assert await s.process_video_queue(q) == "a"
    assert await s.process_video_queue(q) is None


async def test_queue_timeout_propagates():
    s = make()
    with pytest.raises(asyncio.TimeoutError):
        await s.process_video_queue(asyncio.Queue(), timeout=0.01)


async def test_overflow_drops_oldest():
    s = make()
    q = asyncio.Queue()
    for i in range(20):
        q.put_nowait(i)
    assert await s.process_video_queue(q) == 5  # 5 oldest dropped
    assert q.qsize() == 14


async def test_overflow_respects_max_cleanup():
    s = make(max_queue_size=2, max_cleanup_frames=3)
    q = asyncio.Queue()
    for i in range(10):
        q.put_nowait(i)
    assert await s.process_video_queue(q) == 3
    assert q.qsize() == 6


async def test_overflow_requeues_sentinel():
    s = make(max_queue_size=2)
    q = asyncio.Queue()
    for item in [0, 1, None, 3, 4, 5]:
        q.put_nowait(item)
    # 4 frames to drop; the sentinel is hit after two and put back at the end.
    assert await s.process_video_queue(q) == 3
    rest = [q.get_nowait() for _ in range(q.qsize())]
    assert rest == [4, 5, None]


@pytest.mark.upstream
def test_decisions_match_upstream():
    scenario = [(30.0, 10.0), (25.0, 10.0), (60.0, 24.0), (0.5, 10.0), (45.0, None), (90.0, 29.97)]
    code = f"""
import json
from pytrickle.frame_skipper import AdaptiveFrameSkipper, FrameSkipConfig, FrameProcessingResult
class M:
    def __init__(self, fps): self.fps = fps
    def get_ingress_video_fps(self): return self.fps
out = []
for fps, target in {scenario!r}:
    s = AdaptiveFrameSkipper(FrameSkipConfig(target_fps=target, adaptation_cooldown=0.0), M(fps))
    out.append(["S" if s._process_video_frame(i) is FrameProcessingResult.SKIPPED else "P" for i in range(12)]
               + [s.skip_interval])
print(json.dumps(out))
"""
    expected = run_upstream(code)
    mine = []
    for fps, target in scenario:
        s = make(fps=fps, target_fps=target)
        mine.append(decisions(s, 12) + [s.skip_interval])
    assert mine == expected
