"""pytrickle.decorators and pytrickle.registry (spec section 10)."""

from __future__ import annotations

import inspect
import logging
import threading
from fractions import Fraction

import numpy as np
import pytest
import torch

from pytrickle.decorators import (
    audio_handler,
    model_loader,
    on_stream_start,
    on_stream_stop,
    param_updater,
    trickle_handler,
    video_handler,
)
from pytrickle.frames import AudioFrame, VideoFrame
from pytrickle.registry import HandlerInfo, HandlerRegistry

LOGGER = "pytrickle.decorators"


def vframe(shape=(1, 4, 4, 3)):
    return VideoFrame(torch.zeros(shape), 10, Fraction(1, 90000), {"k": 1.0})


def aframe():
    return AudioFrame._from_native(np.zeros((2, 8), np.float32), 8, "fltp", 48000, "stereo", 20,
                                   Fraction(1, 90000))


# ------------------------------------------------------------------------------------------
# registry


def test_handler_info_defaults():
    info = HandlerInfo("video")
    assert (info.handler_type, info.description, info.signature) == ("video", None, None)


def test_registry_register_get_and_overwrite(caplog):
    reg = HandlerRegistry()
    assert reg.get("video") is None

    def a(): ...

    def b(): ...

    reg.register(a, HandlerInfo("video", "first"))
    assert reg.get("video") is a
    with caplog.at_level(logging.WARNING, logger="pytrickle.registry"):
        reg.register(b, HandlerInfo("video", "second"))
    assert "Overwriting handler 'video': first -> second" in caplog.text
    assert reg.get("video") is b
    assert reg.get("audio") is None


# ------------------------------------------------------------------------------------------
# tagging


@pytest.mark.parametrize("decorator, kind, label", [
    (video_handler, "video", "Video handler"),
    (audio_handler, "audio", "Audio handler"),
    (model_loader, "model_loader", "Model loader"),
    (param_updater, "param_updater", "Parameter updater"),
    (on_stream_start, "stream_start", "Stream start handler"),
    (on_stream_stop, "stream_stop", "Stream stop handler"),
])
def test_wrapper_attributes(decorator, kind, label):
    async def my_handler(frame, extra: int = 3):
        return None

    wrapped = decorator(my_handler)
    assert inspect.iscoroutinefunction(wrapped)
    assert wrapped.__wrapped__ is my_handler
    assert wrapped.__name__ == "my_handler"
    assert wrapped._trickle_handler is True
    assert wrapped._trickle_handler_type == kind
    info = wrapped._trickle_handler_info
    assert isinstance(info, HandlerInfo)
    assert info.handler_type == kind
    assert info.description == f"{label}: my_handler"
    assert info.signature == "(frame, extra: 'int' = 3)"
    # the original function is tagged too
    assert my_handler._trickle_handler is True and my_handler._trickle_handler_type == kind


def test_trickle_handler_tags_in_place():
    def fn(params):
        return 1

    out = trickle_handler("param_updater")(fn)
    assert out is fn
    assert fn._trickle_handler_type == "param_updater"
    assert fn._trickle_handler_info.description == "param_updater handler: fn"
    assert fn._trickle_handler_info.signature == "(params)"
    fn2 = trickle_handler("video", description="custom")(lambda frame: None)
    assert fn2._trickle_handler_info.description == "custom"


def test_trickle_handler_validation_switch(caplog):
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        trickle_handler("video", validate_signature=False)(lambda x: None)
    assert caplog.text == ""
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        trickle_handler("video")(lambda x: None)
    assert "has no parameter matching VideoFrame/AudioFrame" in caplog.text


# ------------------------------------------------------------------------------------------
# signature warnings


def test_video_signature_warning_text(caplog):
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        @video_handler
        async def bad(img, scale):
            return None
    assert ("video handler 'bad' has no parameter matching VideoFrame/AudioFrame. "
            "Expected a param annotated as VideoFrame or named 'frame'. Got: ['img', 'scale']") in caplog.messages


def test_audio_signature_warning_text(caplog):
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        @audio_handler
        def bad(self, chunk: VideoFrame):
            return None
    assert ("audio handler 'bad' has no parameter matching VideoFrame/AudioFrame. "
            "Expected a param annotated as AudioFrame or named 'frame'. Got: ['chunk']") in caplog.messages


def test_no_warning_for_annotation_or_name(caplog):
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        @video_handler
        async def a(self, img: VideoFrame):
            return None

        @audio_handler
        async def b(chunk: AudioFrame):
            return None

        @video_handler
        async def c(frame):
            return None

        @model_loader
        async def d():
            return None

        @on_stream_stop
        async def e():
            return None
    assert caplog.records == []


def test_param_updater_warning(caplog):
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        @param_updater
        async def update():
            return None

        @param_updater
        async def update_ok(self, params):
            return None

        @param_updater
        async def update_self_only(self):
            return None
    assert caplog.messages == [
        "Param updater 'update' has no parameters. Expected something like (params: dict).",
        "Param updater 'update_self_only' has no parameters. Expected something like (params: dict).",
    ]


# ------------------------------------------------------------------------------------------
# execution


async def test_sync_functions_run_in_thread_async_awaited():
    main = threading.get_ident()
    seen = {}

    @model_loader
    def load(**kw):
        seen["sync"] = threading.get_ident()
        return "ignored"

    @on_stream_start
    async def start(params):
        seen["async"] = threading.get_ident()
        return "ignored"

    assert await load(a=1) is None
    assert await start({"x": 1}) is None
    assert seen["sync"] != main
    assert seen["async"] == main


async def test_lifecycle_exceptions_propagate():
    @on_stream_stop
    async def stop():
        raise RuntimeError("nope")

    with pytest.raises(RuntimeError, match="nope"):
        await stop()


# ------------------------------------------------------------------------------------------
# video normalisation


async def test_video_results():
    f = vframe()
    other = vframe()

    @video_handler
    async def h(result, frame):
        return result

    # the frame is the last positional argument unless passed as frame=
    async def call(result):
        return await h(result, frame=f)

    assert await call(None) is None
    assert await call(other) is other
    out = await call(torch.ones(1, 4, 4, 3))
    assert isinstance(out, VideoFrame) and out.timestamp == 10 and out.side_data is f.side_data
    assert torch.equal(out.tensor, torch.ones(1, 4, 4, 3))
    gray = await call(torch.ones(1, 4, 4, 1))
    assert gray.tensor.shape == (1, 4, 4, 1)
    arr = np.full((1, 4, 4, 3), 0.5, np.float32)
    out2 = await call(arr)
    assert isinstance(out2.tensor, torch.Tensor) and float(out2.tensor[0, 0, 0, 0]) == 0.5
    assert await call("WITHHELD") is None
    assert await call(42) is None


async def test_video_positional_frame():
    f = vframe((4, 4, 3))

    @video_handler
    async def h(frame):
        return frame.tensor * 2

    out = await h(f)
    assert out.tensor.shape == (4, 4, 3)

    @video_handler
    def sync_h(frame):
        return frame.tensor + 1

    out = await sync_h(f)
    assert float(out.tensor[0, 0, 0]) == 1.0


async def test_video_no_frame_argument_gives_none():
    @video_handler
    async def h(frame=None):
        return torch.zeros(1, 4, 4, 3)

    assert await h() is None
    assert await h("not a frame") is None


async def test_video_shape_mismatch_warnings_rate_limited(caplog):
    f = vframe()

    @video_handler
    async def shaper(frame):
        return torch.zeros(4, 4, 3)  # ndim 3 vs input ndim 4

    with caplog.at_level(logging.WARNING, logger=LOGGER):
        for _ in range(200):
            assert await shaper(f) is None
    msgs = [r.getMessage() for r in caplog.records]
    assert len(msgs) == 5  # occurrences 1, 2, 3, 100, 200
    assert msgs[0] == ("Video handler 'shaper' returned output with unexpected shape torch.Size([4, 4, 3]); "
                       "expected same ndim and channels in (1, 3) as input torch.Size([1, 4, 4, 3]). (seen=1)")
    assert msgs[3].endswith("(seen=100)") and msgs[4].endswith("(seen=200)")


async def test_video_channel_mismatch_numpy(caplog):
    f = vframe()

    @video_handler
    async def four(frame):
        return np.zeros((1, 4, 4, 4), np.float32)

    with caplog.at_level(logging.WARNING, logger=LOGGER):
        assert await four(f) is None
    assert caplog.messages == [
        "Video handler 'four' returned output with unexpected shape (1, 4, 4, 4); "
        "expected same ndim and channels in (1, 3) as input torch.Size([1, 4, 4, 3]). (seen=1)"]


async def test_video_counters_are_per_handler(caplog):
    f = vframe()

    @video_handler
    async def one(frame):
        return torch.zeros(2)

    @video_handler
    async def two(frame):
        return torch.zeros(2)

    with caplog.at_level(logging.WARNING, logger=LOGGER):
        await one(f)
        await one(f)
        await two(f)
    assert caplog.messages[-1].endswith("(seen=1)")


# ------------------------------------------------------------------------------------------
# audio normalisation


async def test_audio_results(caplog):
    f = aframe()
    other = aframe()

    @audio_handler
    async def h(result, frame):
        return result

    assert await h(None, frame=f) is None
    lst = [other, "anything"]
    assert await h(lst, frame=f) is lst
    assert await h(other, frame=f) == [other]
    t = torch.ones(2, 8)
    out = await h(t, frame=f)
    assert len(out) == 1 and isinstance(out[0].samples, np.ndarray)
    assert out[0].samples.tolist() == t.numpy().tolist()
    assert out[0].timestamp == 20 and out[0].side_data is f.side_data and out[0].nb_samples == 8
    arr = np.zeros((2, 4), np.float32)
    out = await h(arr, frame=f)
    assert out[0].samples is arr and out[0].nb_samples == 4

    with caplog.at_level(logging.WARNING, logger=LOGGER):
        assert await h("text", frame=f) is None
        assert await h({"a": 1}, frame=f) is None
    assert caplog.messages == [
        "Audio handler 'h' returned unsupported type str; expected List[AudioFrame], AudioFrame, "
        "torch.Tensor, or numpy.ndarray. (seen=1)",
        "Audio handler 'h' returned unsupported type dict; expected List[AudioFrame], AudioFrame, "
        "torch.Tensor, or numpy.ndarray. (seen=2)",
    ]


async def test_audio_without_frame_gives_none(caplog):
    @audio_handler
    async def h(frame=None):
        return "text"

    with caplog.at_level(logging.WARNING, logger=LOGGER):
        assert await h() is None
        assert await h(vframe()) is None
    assert caplog.messages == []


async def test_audio_method_handler():
    class Proc:
        @audio_handler
        async def process(self, frame: AudioFrame):
            return frame.samples * 0

    p = Proc()
    out = await p.process(aframe())
    assert isinstance(out, list) and out[0].samples.shape == (2, 8)
