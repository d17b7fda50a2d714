"""The boundary between Python and the engine: a call whose coroutine throws on the engine's io
thread raises in the awaiting task instead of leaving it waiting forever; the settings a stream
hands the engine are typed keyword arguments (unknown names and wrong types raise TypeError); and
decoded frames come back with named fields."""

from __future__ import annotations

import asyncio

import pytest

from pytrickle._async_bridge import call_native
from pytrickle._native_loader import load_native


async def test_a_call_that_throws_on_the_io_thread_raises_in_the_caller():
    native = load_native()
    with pytest.raises(RuntimeError, match="broken on the io thread"):
        await asyncio.wait_for(call_native(lambda done: native._throw_on_io("broken on the io thread", done)), 5)
    # The engine goes on serving calls afterwards.
    with pytest.raises(RuntimeError, match="again"):
        await asyncio.wait_for(call_native(lambda done: native._throw_on_io("again", done)), 5)


async def test_values_still_arrive_as_values():
    calls = []

    def start(done):
        calls.append(done)
        done(42)

    assert await asyncio.wait_for(call_native(start), 5) == 42
    assert len(calls) == 1


# --------------------------------------------------------------------------------------------
# the settings a stream hands the engine, typed


def test_engine_settings_take_known_names_with_their_types():
    from pytrickle._native_loader import load_native
    engine = load_native()
    settings = engine.EngineSettings(subscribe_url="https://o/ai/trickle/s-in", width=640, height=360,
                                     max_framerate=None, uint8=True, batch_dim=False, subscriber_timeout=2.5,
                                     device="cuda:1", ssl_ca_file="/ca.pem")
    assert (settings.subscribe_url, settings.width, settings.height) == ("https://o/ai/trickle/s-in", 640, 360)
    assert settings.max_framerate is None and settings.subscriber_timeout == 2.5
    assert settings.uint8 is True and settings.batch_dim is False and settings.device == "cuda:1"
    assert settings.ssl_ca_file == "/ca.pem"
    # What is not given keeps the engine's default.
    default = engine.EngineSettings()
    assert (default.width, default.height, default.batch_dim, default.uint8) == (512, 512, True, False)
    assert (default.video_queue_size, default.audio_queue_size, default.subscribe_start_seq) == (300, 1200, -2)
    assert default.device == "cpu" and default.publish_url == ""


def test_engine_settings_refuse_unknown_names_wrong_types_and_positions():
    from pytrickle._native_loader import load_native
    engine = load_native()
    with pytest.raises(TypeError, match="unexpected keyword argument 'unit8'"):
        engine.EngineSettings(unit8=True)
    with pytest.raises(TypeError, match="width='wide' has the wrong type"):
        engine.EngineSettings(width="wide")
    with pytest.raises(TypeError, match="keyword arguments only"):
        engine.EngineSettings("http://x")
    with pytest.raises(TypeError, match="unexpected keyword argument 'fileno'"):
        engine.EngineSettings(fileno=3)  # a method's name is not a setting either


def test_trickle_protocol_refuses_a_misspelt_engine_option_at_once():
    from pytrickle.protocol import TrickleProtocol
    with pytest.raises(TypeError, match="unexpected keyword argument 'batchdim'"):
        TrickleProtocol("http://in", "http://out", batchdim=False)
    protocol = TrickleProtocol("http://in", "http://out", uint8=True, batch_dim=False)
    assert protocol.engine_options == {"uint8": True, "batch_dim": False}


async def test_frames_arrive_with_named_fields(tmp_path, relay, trickle_exe, ts_clip):
    """Through a real stream: the engine's frames carry their parts by name."""
    from pytrickle._native_loader import load_native
    from trickle_testutil import create_channel, run
    engine = load_native()
    create_channel(relay.url("in"))
    native = engine.NativeStream(engine.EngineSettings(subscribe_url=relay.url("in"), width=64, height=48,
                                                       heartbeat_interval=0.0, uint8=True))
    native.start()
    try:
        publisher = asyncio.create_task(asyncio.to_thread(run, [trickle_exe, "publish", relay.url("in"), ts_clip],
                                                          timeout=60))
        video = audio = None
        deadline = asyncio.get_running_loop().time() + 30
        while (video is None or audio is None) and asyncio.get_running_loop().time() < deadline:
            items, _ = native.pop_inputs(16)
            for item in items:
                if item.kind == "video" and video is None:
                    video = item
                elif item.kind == "audio" and audio is None:
                    audio = item
            await asyncio.sleep(0.02)
        await publisher
    finally:
        native.stop()
        await asyncio.to_thread(native.wait_finished, 10.0)
    assert video is not None and audio is not None
    import torch
    tensor = torch.from_dlpack(video.tensor)
    assert tuple(tensor.shape) == (1, 48, 64, 3) and tensor.dtype == torch.uint8
    assert (video.time_base_num, video.time_base_den) == (1, 90000) and video.pts >= 0
    assert audio.sample_rate == 48000 and audio.nb_samples > 0 and audio.format and audio.layout
    assert (audio.time_base_num, audio.time_base_den) == (1, 90000)
