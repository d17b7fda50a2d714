"""pytrickle.encoder / decoder / media compatibility modules (spec sections 3 and 4)."""

from __future__ import annotations

import inspect
import logging
import sys
from fractions import Fraction

import pytest
from trickle_testutil import fresh_python

from pytrickle import decoder, encoder, media
from pytrickle.decoder import DEFAULT_MAX_FRAMERATE, decode_av
from pytrickle.encoder import (AUDIO_BUFFER_LEN, AUDIO_BUFFER_SECS, GOP_SECS, MAX_DROPPED_VIDEO,
                               OUT_TIME_BASE, _log_frame_timestamps, _rescale_ts,
                               calc_aspect_ratio, default_output_metadata, encode_av)
from pytrickle.frames import VideoFrame



@pytest.fixture
def no_av(monkeypatch):
    """Make PyAV unavailable, whether or not it happens to be installed: `import av` fails, and the
    modules' own `av` globals (upstream's module namespace) are None, as after a failed import."""
    monkeypatch.setitem(sys.modules, "av", None)
    for module in (decoder, encoder):
        monkeypatch.setattr(module, "av", None)


def test_the_live_path_never_imports_the_pyav_modules():
    # A fresh interpreter: importing everything a StreamServer runs must leave them unloaded.
    code = ("import sys, pytrickle, pytrickle.server, pytrickle.protocol, pytrickle.client;"
            "print(sorted(m for m in sys.modules if m.startswith('pytrickle._pyav') or "
            "m in ('pytrickle.decoder', 'pytrickle.encoder', 'pytrickle.media')))")
    assert fresh_python(code).strip() == "[]"


def test_upstream_module_names_are_the_fenced_modules_themselves(monkeypatch):
    from pytrickle import _pyav, protocol
    assert (decoder, encoder, media) == (_pyav.decoder, _pyav.encoder, _pyav.media)
    assert decoder.logger.name == "pytrickle.decoder" and media.logger.name == "pytrickle.media"
    # protocol's upstream re-exports load on first use and are the same objects.
    assert protocol.run_subscribe is media.run_subscribe and protocol.run_publish is media.run_publish
    assert protocol.default_output_metadata is encoder.default_output_metadata
    # Patching the upstream name patches what runs.
    monkeypatch.setattr("pytrickle.decoder.DEFAULT_MAX_FRAMERATE", 30)
    assert _pyav.decoder.DEFAULT_MAX_FRAMERATE == 30
    with pytest.raises(AttributeError, match="no attribute 'not_there'"):
        protocol.not_there


def test_constants():
    assert DEFAULT_MAX_FRAMERATE == 24
    assert OUT_TIME_BASE == Fraction(1, 90000) and isinstance(OUT_TIME_BASE, Fraction)
    assert (GOP_SECS, AUDIO_BUFFER_SECS, AUDIO_BUFFER_LEN, MAX_DROPPED_VIDEO) == (2, 2, 100, 100)
    assert (media.MAX_DECODER_RETRIES, media.DECODER_RETRY_RESET_SECONDS) == (3, 120)
    assert (media.MAX_ENCODER_RETRIES, media.ENCODER_RETRY_RESET_SECONDS) == (3, 120)


def test_calc_aspect_ratio():
    assert calc_aspect_ratio(720, 1280) == Fraction(16, 9)
    assert calc_aspect_ratio(512, 512) == Fraction(1, 1)
    assert calc_aspect_ratio(1080, 1440) == Fraction(4, 3)
    assert calc_aspect_ratio(480, 854) == Fraction(427, 240)
    assert calc_aspect_ratio(0, 640) == Fraction(1, 1)
    assert calc_aspect_ratio(480, -1) == Fraction(1, 1)
    assert isinstance(calc_aspect_ratio(720, 1280), Fraction)


def test_default_output_metadata():
    assert default_output_metadata(1280, 720) == {
        "video": {
            "codec": "h264", "width": 1280, "height": 720, "pix_fmt": "yuv420p",
            "time_base": Fraction(1, 90000), "framerate": Fraction(24, 1),
            "sar": Fraction(16, 9), "dar": Fraction(16, 9), "format": "yuv420p",
            "target_width": 1280, "target_height": 720,
        },
        "audio": {
            "codec": "aac", "sample_rate": 48000, "format": "fltp", "channels": 2,
            "layout": "stereo", "time_base": Fraction(1, 90000),
        },
    }
    square = default_output_metadata(512, 512)["video"]
    assert square["sar"] == square["dar"] == Fraction(1, 1)


def test_rescale_ts_exact_values(caplog):
    assert _rescale_ts(3, Fraction(1, 30), OUT_TIME_BASE) == 9000
    assert _rescale_ts(1001, Fraction(1, 30000), Fraction(1, 90000)) == 3003
    assert _rescale_ts(90000, Fraction(1, 90000), Fraction(1, 1000)) == 1000
    assert _rescale_ts(1, Fraction(1, 3), Fraction(1, 2)) == 1  # 0.666.. rounds up
    assert _rescale_ts(1, Fraction(1, 4), Fraction(1, 2)) == 0  # 0.5 rounds to even
    assert _rescale_ts(3, Fraction(1, 4), Fraction(1, 2)) == 2  # 1.5 rounds to even
    assert _rescale_ts(-3, Fraction(1, 30), OUT_TIME_BASE) == -9000
    assert isinstance(_rescale_ts(5, Fraction(1, 48000), OUT_TIME_BASE), int)
    # Same time base: returned untouched (not even converted to int).
    assert _rescale_ts(12.5, OUT_TIME_BASE, Fraction(1, 90000)) == 12.5
    with caplog.at_level(logging.ERROR, logger="pytrickle.encoder"):
        assert _rescale_ts(7, Fraction(1, 30), None) == 7
    assert "Destination time base is None" in caplog.text


def test_log_frame_timestamps(caplog):
    frame = VideoFrame.from_tensor(None)
    frame.log_timestamps = {"frame_init": 1.0, "frame_end": 3.5}
    with caplog.at_level(logging.DEBUG, logger="pytrickle.encoder"):
        _log_frame_timestamps("Video", frame)
    assert "frame_type=Video start_tag=frame_init end_tag=frame_end duration_s=2.5s" in caplog.text
    assert "pre_process_frame" not in caplog.text


def test_signatures_match_upstream():
    assert list(inspect.signature(decode_av).parameters) == [
        "pipe_input", "frame_callback", "put_metadata", "target_width", "target_height",
        "max_framerate"]
    enc = inspect.signature(encode_av).parameters
    assert list(enc) == ["input_queue", "output_callback", "get_metadata", "video_codec",
                         "audio_codec", "detect_out_resolution"]
    assert enc["video_codec"].default == "libx264" and enc["audio_codec"].default == "libfdk_aac"
    assert enc["detect_out_resolution"].default is True
    sub = inspect.signature(media.run_subscribe).parameters
    assert list(sub) == ["subscribe_url", "frame_callback", "put_metadata", "monitoring_callback",
                         "target_width", "target_height", "max_framerate", "subscriber_timeout"]
    assert (sub["target_width"].default, sub["max_framerate"].default) == (512, 24)
    pub = inspect.signature(media.run_publish).parameters
    assert list(pub) == ["publish_url", "frame_generator", "get_metadata", "monitoring_callback",
                         "publisher_timeout", "detect_out_resolution"]
    assert inspect.iscoroutinefunction(media.run_subscribe)
    assert inspect.iscoroutinefunction(media.run_publish)


def test_modules_import_without_av():
    # A fresh interpreter where `import av` fails: the modules still import, their `av` is None.
    code = ("import sys; sys.modules['av'] = None;"
            "import pytrickle.decoder as d, pytrickle.encoder as e, pytrickle.media;"
            "print(d.av, d.VideoReformatter, e.av)")
    assert fresh_python(code).split() == ["None", "None", "None"]


def test_decode_av_without_pyav_raises_importerror(no_av):
    with pytest.raises(ImportError, match=r"PyAV.*pip install av"):
        decode_av("pipe:0", lambda f: None, lambda m: None)


def test_encode_av_without_pyav_raises_importerror(no_av):
    with pytest.raises(ImportError, match=r"pip install av"):
        encode_av(lambda: None, lambda *a: None, lambda: None)


async def test_media_loops_without_pyav_raise_importerror(no_av):
    calls = []
    with pytest.raises(ImportError, match=r"PyAV"):
        await media.run_subscribe("http://127.0.0.1:9/in", calls.append, calls.append)
    with pytest.raises(ImportError, match=r"PyAV"):
        await media.run_publish("http://127.0.0.1:9/out", lambda: None, lambda: None)
    assert calls == []  # nothing was started
