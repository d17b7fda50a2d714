"""pytrickle.frames: frame containers (spec section 2)."""

from __future__ import annotations

import sys
from fractions import Fraction
from types import SimpleNamespace

import numpy as np
import pytest
from trickle_testutil import fresh_python
from upstream_runner import run_upstream
import torch

from pytrickle.frames import (
    DEFAULT_HEIGHT,
    DEFAULT_WIDTH,
    AudioFrame,
    AudioOutput,
    FrameBuffer,
    InputFrame,
    OutputFrame,
    SideData,
    VideoFrame,
    VideoOutput,
)





def fake_av_audio(samples: np.ndarray, nb: int, fmt="fltp", rate=48000, layout="stereo", pts=900,
                  time_base=Fraction(1, 90000)):
    return SimpleNamespace(
        pts=pts,
        to_ndarray=lambda: samples,
        samples=nb,
        format=SimpleNamespace(name=fmt),
        sample_rate=rate,
        layout=SimpleNamespace(name=layout),
        time_base=time_base,
    )


# ------------------------------------------------------------------------------------------
# constants / side data


def test_defaults():
    assert DEFAULT_WIDTH == 512
    assert DEFAULT_HEIGHT == 512


def test_side_data_class_defaults_and_fresh_instances():
    assert SideData.skipped is True
    assert SideData.input is None
    a = VideoFrame(torch.zeros(1), 0, Fraction(1, 30))
    b = VideoFrame(torch.zeros(1), 0, Fraction(1, 30))
    assert isinstance(a.side_data, SideData)
    assert a.side_data is not b.side_data
    assert a.side_data.skipped is True and a.side_data.input is None


def test_input_frame_is_abstract_base():
    import abc

    assert issubclass(InputFrame, abc.ABC)
    assert issubclass(VideoFrame, InputFrame) and issubclass(AudioFrame, InputFrame)
    assert issubclass(VideoOutput, OutputFrame) and issubclass(AudioOutput, OutputFrame)


# ------------------------------------------------------------------------------------------
# VideoFrame


def test_video_frame_constructor_stores_values():
    t = torch.rand(1, 4, 6, 3)
    f = VideoFrame(t, 3000, Fraction(1, 90000), {"frame_init": 1.5})
    assert f.tensor is t
    assert f.timestamp == 3000
    assert f.time_base == Fraction(1, 90000)
    assert f.log_timestamps == {"frame_init": 1.5}


def test_video_frame_falsy_log_timestamps_and_float_time_base():
    f = VideoFrame(torch.zeros(2, 2, 3), 7, 0.033)
    assert f.log_timestamps == {}
    assert f.time_base == 0.033
    g = VideoFrame(torch.zeros(2, 2, 3), 7, 0.033, log_timestamps={})
    assert g.log_timestamps == {}


def test_video_frame_classmethods():
    t = torch.zeros(2, 2, 3)
    f = VideoFrame.from_tensor(t, timestamp=5)
    assert f.timestamp == 5 and f.time_base == Fraction(1, 1) and f.tensor is t
    assert VideoFrame.from_tensor(t).timestamp == 0
    g = VideoFrame.from_av_video(t, 9, Fraction(1, 25))
    assert isinstance(g, VideoFrame) and g.timestamp == 9 and g.time_base == Fraction(1, 25)
    h = InputFrame.from_av_video(t, 1, Fraction(1, 2))
    assert type(h) is VideoFrame


def test_replace_tensor_copies_logs_and_shares_side_data():
    f = VideoFrame(torch.zeros(2, 2, 3), 42, Fraction(1, 90000), {"a": 1.0})
    f.side_data.skipped = False
    new_t = torch.ones(2, 2, 3)
    g = f.replace_tensor(new_t)
    assert g is not f
    assert g.tensor is new_t
    assert g.timestamp == 42 and g.time_base == Fraction(1, 90000)
    assert g.log_timestamps == {"a": 1.0}
    assert g.log_timestamps is not f.log_timestamps
    assert g.side_data is f.side_data


def test_from_av_frame_with_timing_duck_typed():
    rgb = np.zeros((4, 5, 3), dtype=np.uint8)
    rgb[0, 0] = (255, 0, 51)
    calls = []

    class FakeAV:
        def to_ndarray(self, format=None):
            calls.append(format)
            return rgb

    orig = VideoFrame(torch.zeros(1, 4, 5, 3), 1234, Fraction(1, 90000), {"x": 1.0})
    out = VideoFrame.from_av_frame_with_timing(FakeAV(), orig)
    assert calls == ["rgb24"]
    assert out.tensor.shape == (4, 5, 3)
    assert out.tensor.dtype == torch.float32
    assert out.tensor[0, 0].tolist() == pytest.approx([1.0, 0.0, 0.2])
    assert out.timestamp == 1234 and out.time_base == Fraction(1, 90000)
    assert out.log_timestamps == {}


@pytest.mark.parametrize(
    "shape, message",
    [
        ((2, 4, 4, 3), "Expected batch size 1, got 2"),
        ((4, 4), "Expected 3D or 4D tensor, got 2D tensor"),
        ((4, 4, 2), "Expected 1, 3, or 4 channels, got 2"),
        ((1, 4, 4, 5), "Expected 1, 3, or 4 channels, got 5"),
    ],
)
def test_video_to_av_frame_validation(shape, message):
    f = VideoFrame(torch.zeros(1), 0, Fraction(1, 1))
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        f.to_av_frame(torch.zeros(shape))


def test_video_to_av_frame_without_pyav_names_extra(monkeypatch):

    monkeypatch.setitem(sys.modules, "av", None)  # makes `import av` fail
    f = VideoFrame(torch.zeros(1), 0, Fraction(1, 1))
    with pytest.raises(ImportError, match=r"pip install pytrickle\[av\]"):
        f.to_av_frame(torch.zeros(4, 4, 3))
    a = AudioFrame._from_native(np.zeros((1, 4), np.int16), 4, "s16", 48000, "mono", 0, Fraction(1, 48000))
    with pytest.raises(ImportError, match=r"pip install pytrickle\[av\]"):
        a.to_av_frame()


def test_video_to_av_frame_with_pyav():
    pytest.importorskip("av")
    f = VideoFrame(torch.zeros(1), 0, Fraction(1, 1))
    t = torch.zeros(1, 2, 4, 1)
    t[0, 0, 0, 0] = 1.0
    av_frame = f.to_av_frame(t)
    arr = av_frame.to_ndarray(format="rgb24")
    assert arr.shape == (2, 4, 3)
    assert arr[0, 0].tolist() == [255, 255, 255]
    # Float with max > 1 is not rescaled, just clamped.
    arr2 = f.to_av_frame(torch.full((2, 2, 3), 300.0)).to_ndarray(format="rgb24")
    assert arr2[0, 0].tolist() == [255, 255, 255]


# ------------------------------------------------------------------------------------------
# AudioFrame


def test_audio_frame_from_duck_typed_frame():
    samples = np.zeros((2, 1024), dtype=np.float32)
    f = AudioFrame(fake_av_audio(samples, 1024))
    assert f.samples is samples
    assert f.nb_samples == 1024
    assert f.format == "fltp"
    assert f.rate == 48000
    assert f.layout == "stereo"
    assert f.timestamp == 900
    assert f.time_base == Fraction(1, 90000)
    assert f.log_timestamps == {}
    assert isinstance(f.side_data, SideData)
    assert type(AudioFrame.from_av_audio(fake_av_audio(samples, 1024))) is AudioFrame
    assert type(InputFrame.from_av_audio(fake_av_audio(samples, 1024))) is AudioFrame


def test_audio_frame_without_pts():
    with pytest.raises(ValueError, match="^Audio frame has no timestamp$"):
        AudioFrame(fake_av_audio(np.zeros((1, 4)), 4, pts=None))


def test_audio_from_native():
    s = np.arange(8, dtype=np.int16).reshape(1, 8)
    f = AudioFrame._from_native(s, 4, "s16", 44100, "stereo", 77, Fraction(1, 90000))
    assert type(f) is AudioFrame
    assert f.samples is s
    assert (f.nb_samples, f.format, f.rate, f.layout, f.timestamp) == (4, "s16", 44100, "stereo", 77)
    assert f.time_base == Fraction(1, 90000)
    assert f.log_timestamps == {}
    assert isinstance(f.side_data, SideData)


def test_from_audio_frame_and_replace_samples():
    base = AudioFrame(fake_av_audio(np.zeros((2, 1024), np.float32), 1024))
    base.log_timestamps["t"] = 2.0
    new = np.ones((2, 512), np.float32)
    r = base.replace_samples(new)
    assert r.samples is new and r.nb_samples == 512
    assert (r.format, r.rate, r.layout, r.timestamp) == ("fltp", 48000, "stereo", 900)
    assert r.log_timestamps == {"t": 2.0} and r.log_timestamps is not base.log_timestamps
    assert r.side_data is base.side_data

    one_d = base.from_audio_frame(samples=np.zeros(300, np.float32))
    assert one_d.nb_samples == 300

    ts_only = base.from_audio_frame(timestamp=1800)
    assert ts_only.timestamp == 1800
    assert ts_only.samples is base.samples and ts_only.nb_samples == 1024

    # Packed (1, n*ch) arrays report n*ch samples (last axis), as upstream does.
    packed = base.from_audio_frame(samples=np.zeros((1, 2048), np.int16))
    assert packed.nb_samples == 2048


def test_audio_from_tensor_variants():
    stereo = torch.tensor([[0.5, -1.0, 1.0], [0.0, 0.25, -0.5]])

    s16 = AudioFrame.from_tensor(stereo[:1])  # packed mono -> 1-D
    assert s16.samples.dtype == np.int16
    assert s16.samples.shape == (3,)
    assert s16.samples.tolist() == [16384, -32768, 32767]
    assert s16.nb_samples == 3
    assert (s16.format, s16.layout, s16.rate, s16.timestamp) == ("s16", "mono", 48000, 0)
    assert s16.time_base == Fraction(1, 48000)

    packed = AudioFrame.from_tensor(stereo, format="s16", layout="stereo")
    assert packed.samples.shape == (3, 2)  # transposed to (samples, channels)
    assert packed.nb_samples == 2  # (docs/compatibility.md Q14)

    s32 = AudioFrame.from_tensor(stereo, format="s32p", layout="stereo", sample_rate=16000,
                                 timestamp=5, time_base=Fraction(1, 90000))
    # 's32p' is not 's32': converted to float32, planar layout kept
    assert s32.samples.dtype == np.float32 and s32.samples.shape == (2, 3)
    assert s32.nb_samples == 3 and s32.time_base == Fraction(1, 90000) and s32.timestamp == 5

    s32_packed = AudioFrame.from_tensor(torch.tensor([[0.5, -1.0, 0.25]]), format="s32")
    assert s32_packed.samples.dtype == np.int32
    assert s32_packed.samples.tolist() == [1073741824, -2147483648, 536870912]

    fltp = AudioFrame.from_tensor(stereo, format="fltp", layout="stereo")
    assert fltp.samples.dtype == np.float32 and fltp.samples.shape == (2, 3)
    assert fltp.nb_samples == 3


def test_audio_to_av_frame_with_pyav(caplog):
    pytest.importorskip("av")
    f = AudioFrame._from_native(np.zeros((2, 256), np.float32), 256, "fltp", 48000, "stereo", 960,
                                Fraction(1, 48000))
    out = f.to_av_frame()
    assert out.samples == 256 and out.sample_rate == 48000 and out.pts == 960
    bad = AudioFrame._from_native(np.zeros((2, 256), np.float32), 256, "nonsense", 44100, "stereo", 3,
                                  Fraction(1, 44100))
    dummy = bad.to_av_frame()
    assert dummy.samples == 1024 and dummy.format.name == "s16" and dummy.layout.name == "mono"
    assert dummy.sample_rate == 44100 and dummy.pts == 3
    assert "Audio conversion failed" in caplog.text


# ------------------------------------------------------------------------------------------
# outputs and buffer


def test_output_frame_timestamp_not_implemented():
    class Bare(OutputFrame):
        pass

    with pytest.raises(NotImplementedError, match="Subclasses must implement timestamp property"):
        Bare().timestamp


def test_video_output_forwards():
    f = VideoFrame(torch.zeros(2, 2, 3), 10, Fraction(1, 90000), {"k": 1.0})
    out = VideoOutput(f, "req")
    assert out.frame is f and out.request_id == "req"
    assert out.tensor is f.tensor and out.timestamp == 10
    assert out.time_base == Fraction(1, 90000) and out.log_timestamps is f.log_timestamps
    assert VideoOutput(f).request_id == ""
    new = out.replace_tensor(torch.ones(2, 2, 3))
    assert isinstance(new, VideoOutput) and new.request_id == "req"
    assert new.timestamp == 10 and new.frame.side_data is f.side_data
    with pytest.raises(AttributeError):
        out.tensor = torch.zeros(1)


def test_audio_output_timestamp():
    a = AudioFrame._from_native(np.zeros((1, 4)), 4, "s16", 48000, "mono", 321, Fraction(1, 48000))
    assert AudioOutput([a], "r").timestamp == 321
    assert AudioOutput([]).timestamp == 0
    assert AudioOutput([]).request_id == ""
    assert not hasattr(AudioOutput([a]), "time_base")


def test_frame_buffer():
    buf = FrameBuffer(max_frames=3)
    assert FrameBuffer().max_frames == 300
    assert buf.get_frame() is None
    for i in range(5):
        buf.add_frame(i)
    assert buf.size() == 3
    assert buf.get_stats() == {"current_frames": 3, "max_frames": 3, "total_received": 5,
                               "total_discarded": 2}
    assert buf.get_frame() == 2
    assert buf.get_all_frames() == [3, 4]
    assert buf.size() == 0
    buf.add_frame("x")
    buf.clear()
    assert buf.size() == 0 and buf.total_frames_received == 6


def test_module_has_no_hard_pyav_dependency():
    # PyAV is imported on first use of `frames.av` (upstream's module global) or of a conversion
    # helper, never by importing the module; without PyAV the name does not exist.
    code = ("import sys; import pytrickle.frames as f; loaded = 'av' in sys.modules;"
            "sys.modules['av'] = None; print(loaded, hasattr(f, 'av'))")
    assert fresh_python(code).split() == ["False", "False"]


@pytest.mark.upstream
def test_audio_from_tensor_matches_upstream():
    cases = [("s16", "mono", [[0.5, -1.0, 1.0]]),
             ("s16", "stereo", [[0.5, -1.0, 1.0], [0.0, 0.25, -0.5]]),
             ("s32", "mono", [[0.5, -1.0, 0.25]]),
             ("fltp", "stereo", [[0.5, -1.0, 1.0], [0.0, 0.25, -0.5]]),
             ("flt", "stereo", [[0.5, -1.0, 1.0], [0.0, 0.25, -0.5]])]
    code = f"""
import json, torch
from pytrickle.frames import AudioFrame
out = []
for fmt, layout, data in {cases!r}:
    f = AudioFrame.from_tensor(torch.tensor(data), format=fmt, layout=layout)
    out.append([f.samples.tolist(), str(f.samples.dtype), list(f.samples.shape), f.nb_samples, str(f.time_base)])
print(json.dumps(out))
"""
    expected = run_upstream(code)
    mine = []
    for fmt, layout, data in cases:
        f = AudioFrame.from_tensor(torch.tensor(data), format=fmt, layout=layout)
        mine.append([f.samples.tolist(), str(f.samples.dtype), list(f.samples.shape), f.nb_samples,
                     str(f.time_base)])
    assert mine == expected
