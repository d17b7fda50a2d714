"""pytrickle.fps_meter.FPSMeter and pytrickle.cache.LastValueCache (spec section 13)."""

from __future__ import annotations

import threading
from types import SimpleNamespace

import pytest

from pytrickle import fps_meter as fps_mod
from pytrickle.cache import LastValueCache
from pytrickle.fps_meter import FPSMeter


@pytest.fixture
def clock(monkeypatch):
    now = [1000.0]
    monkeypatch.setattr(fps_mod, "time", SimpleNamespace(time=lambda: now[0]))
    return now


SERIES = [
    ("record_ingress_video_frame", "get_ingress_video_fps", "ingress_video_timestamps", "ingress_video_fps"),
    ("record_ingress_audio_frame", "get_ingress_audio_fps", "ingress_audio_timestamps", "ingress_audio_fps"),
    ("record_egress_video_frame", "get_egress_video_fps", "egress_video_timestamps", "egress_video_fps"),
    ("record_egress_audio_frame", "get_egress_audio_fps", "egress_audio_timestamps", "egress_audio_fps"),
]


def test_defaults():
    m = FPSMeter()
    assert m.window_seconds == 10.0
    for _, _, attr, _ in SERIES:
        assert getattr(m, attr).maxlen == 600
        assert len(getattr(m, attr)) == 0
    assert FPSMeter(max_samples=5).ingress_video_timestamps.maxlen == 5


@pytest.mark.parametrize("record, get, attr, key", SERIES)
def test_each_series_independent(clock, record, get, attr, key):
    m = FPSMeter()
    assert getattr(m, get)() == 0.0
    getattr(m, record)()
    assert getattr(m, get)() == 0.0  # fewer than two samples
    for _ in range(10):
        clock[0] += 0.1
        getattr(m, record)()
    assert getattr(m, get)() == pytest.approx(10.0)
    stats = m.get_fps_stats()
    assert set(stats) == {"ingress_video_fps", "ingress_audio_fps", "egress_video_fps", "egress_audio_fps"}
    assert stats[key] == pytest.approx(10.0)
    assert sum(v for k, v in stats.items() if k != key) == 0.0
    assert getattr(m, attr)[-1] == clock[0]


def test_zero_span_and_window(clock):
    m = FPSMeter(window_seconds=2.0)
    m.record_ingress_video_frame()
    m.record_ingress_video_frame()
    assert m.get_ingress_video_fps() == 0.0  # same timestamp twice

    m.reset()
    for _ in range(5):  # 5 samples one second apart: t = 1000..1004
        m.record_ingress_video_frame()
        clock[0] += 1.0
    # now = 1005, cutoff 1003 -> samples 1003, 1004 -> 1 / 1 s
    assert m.get_ingress_video_fps() == pytest.approx(1.0)
    clock[0] += 1.5  # cutoff 1004.5 -> one sample left
    assert m.get_ingress_video_fps() == 0.0


def test_max_samples_bound(clock):
    m = FPSMeter(max_samples=3)
    for _ in range(10):
        m.record_egress_video_frame()
        clock[0] += 0.5
    assert len(m.egress_video_timestamps) == 3
    assert m.get_egress_video_fps() == pytest.approx(2.0)


def test_reset_clears_everything(clock):
    m = FPSMeter()
    for record, _, _, _ in SERIES:
        getattr(m, record)()
    m.reset()
    for _, _, attr, _ in SERIES:
        assert len(getattr(m, attr)) == 0


def test_last_value_cache():
    c = LastValueCache()
    assert c.get() is None
    c.put(1)
    c.put({"a": 2})
    assert c.get() == {"a": 2}
    c.put(None)
    assert c.get() is None

    def writer(i):
        for _ in range(200):
            c.put(i)

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert c.get() in range(4)
