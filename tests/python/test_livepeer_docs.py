"""The code Livepeer's documentation shows for PyTrickle and "bring your own container" workers, run
as a user writes it (a model stub in place of the model): a processor with initialize() and a plain
update_params, `await processor.start()`, StreamServer(target_fps=, max_queue_size=), the
/api/stream/* routes with a 704x384 start, get_metrics(), frame.to(), and TrickleClient used
directly. Upstream's own surface stays as it was (the rest of the suite)."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from pathlib import Path

import pytest
import torch

from python_worker import PythonWorker
from trickle_testutil import count_video_frames, create_channel, http_request, run, stream_codecs

from pytrickle import FrameProcessor, StreamServer, TrickleClient
from pytrickle.frames import AudioFrame, VideoFrame

METRIC_KEYS = {"fps", "latency_ms", "gpu_memory_mb", "frames_processed", "frames_dropped", "error_count"}


class MyAIProcessor(FrameProcessor):
    """As the pages write it."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.initialized = 0
        self.params = []
        self.shapes = set()

    async def initialize(self):
        self.initialized += 1  # "load your model here"

    async def process_video_async(self, frame):
        self.shapes.add((tuple(frame.tensor.shape), frame.tensor.dtype))
        return frame.replace_tensor(frame.tensor.flip(-1))  # the "model": swap red and blue

    async def process_audio_async(self, frame):
        return [frame]

    def update_params(self, params: dict):
        self.params.append(params)


async def start_stream(worker: PythonWorker, relay, route: str, request_id: str, params: dict):
    """Creates the relay's in/out channels and starts a stream on them through `route`."""
    for channel in ("in", "out"):
        await asyncio.to_thread(create_channel, relay.url(channel))
    return await worker.post(route, {"subscribe_url": relay.url("in"), "publish_url": relay.url("out"),
                                     "gateway_request_id": request_id, "params": params})


def output_size(path: Path) -> tuple[int, int]:
    cp = run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries", "stream=width,height",
              "-of", "csv=p=0", path], timeout=60)
    width, height = cp.stdout.decode().split()[0].split(",")
    return int(width), int(height)


async def test_the_pages_processor_and_server_run_a_stream(relay, trickle_exe, background, ts_clip, tmp_path):
    processor = MyAIProcessor()
    await processor.start()  # loads the model now; the server must not load it again
    assert processor.initialized == 1
    server = StreamServer(frame_processor=processor, port=0, capability_name="live-video-to-video",
                          host="127.0.0.1", target_fps=24, max_queue_size=30)
    worker = await PythonWorker(server).start()
    try:
        await worker.wait_health("IDLE")
        status, answer = await start_stream(worker, relay, "/api/stream/start", "docs", {"width": 704, "height": 384})
        assert status == 200 and answer["status"] == "success", answer
        out = tmp_path / "out.ts"
        subscriber = background([trickle_exe, "subscribe", relay.url("out"), "-o", out], "subscribe")
        publisher = background([trickle_exe, "publish", "--realtime", relay.url("in"), ts_clip], "publish")
        await asyncio.sleep(3)
        metrics = processor.get_metrics()
        assert set(metrics) == METRIC_KEYS
        assert metrics["frames_processed"] > 0 and metrics["fps"] > 0, metrics
        status, state = await worker.get("/api/stream/status")
        assert status == 200 and set(state["metrics"]) == METRIC_KEYS
        assert state["fps"]["egress_video_fps"] >= 0  # upstream's keys are still there
        status, answer = await worker.post("/api/stream/params", {"prompt": "a watercolour"})
        assert (status, answer) == (200, {"status": "success", "message": "Parameters updated successfully"})
        assert await asyncio.to_thread(publisher.wait, 60) == 0, publisher.report()
        assert await asyncio.to_thread(subscriber.wait, 30) == 0, subscriber.report()
        assert output_size(out) == (704, 384)
        assert stream_codecs(out) == ["h264,video", "opus,audio"]
        # target_fps=24 limits a 30 fps input: about 24 of every 30 frames go through.
        frames = count_video_frames(out)
        assert 0.7 * 24 * 6 <= frames <= 24 * 6 + 3, frames
        assert processor.shapes == {((1, 384, 704, 3), torch.float32)}  # upstream's default layout
        assert {"prompt": "a watercolour"} in processor.params  # a plain (sync) update_params
        assert processor.initialized == 1
        status, answer = await worker.post("/api/stream/stop", {})
        assert status in (200, 400), answer  # the stream may already have ended with its input
        assert processor.get_metrics()["frames_processed"] == 0  # no stream: zeros
    finally:
        await worker.close()


async def test_the_server_loads_the_model_itself_when_start_was_not_called():
    processor = MyAIProcessor()
    worker = await PythonWorker(StreamServer(frame_processor=processor, port=0, host="127.0.0.1")).start()
    try:
        await worker.wait_health("IDLE")
        assert processor.initialized == 1
        # The /api/stream/* routes answer as /stream/* do, here with no stream running.
        assert await worker.post("/api/stream/stop", {}) == await worker.post("/stream/stop", {})
        assert (await worker.get("/api/stream/status"))[0] == 200
    finally:
        await worker.close()


async def test_hwc_uint8_frames_are_an_option(relay, trickle_exe, background, ts_clip, tmp_path):
    processor = MyAIProcessor()
    server = StreamServer(frame_processor=processor, port=0, host="127.0.0.1", frame_layout="hwc_uint8")
    worker = await PythonWorker(server).start()
    try:
        await worker.wait_health("IDLE")
        status, answer = await start_stream(worker, relay, "/stream/start", "hwc",
                                            {"width": 320, "height": 240, "max_framerate": 60})
        assert status == 200, answer
        out = tmp_path / "out.ts"
        subscriber = background([trickle_exe, "subscribe", relay.url("out"), "-o", out], "subscribe")
        assert await asyncio.to_thread(run, [trickle_exe, "publish", relay.url("in"), ts_clip], timeout=60)
        assert await asyncio.to_thread(subscriber.wait, 30) == 0, subscriber.report()
        assert processor.shapes == {((240, 320, 3), torch.uint8)}
        assert count_video_frames(out) > 0
    finally:
        await worker.close()


@pytest.mark.parametrize("kwargs, message", [
    ({"target_fps": 0}, "target_fps must be a number from 1 to 60"),
    ({"target_fps": 100}, "target_fps must be a number from 1 to 60"),
    ({"target_fps": "24"}, "target_fps must be a number from 1 to 60"),
    ({"max_queue_size": 0}, "max_queue_size must be a whole number of frames, at least 1"),
    ({"max_queue_size": 2.5}, "max_queue_size must be a whole number of frames, at least 1"),
    ({"frame_layout": "chw"}, "frame_layout must be one of 'upstream', 'hwc_uint8'"),
])
def test_out_of_range_server_options_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        StreamServer(frame_processor=MyAIProcessor(), port=0, **kwargs)


async def test_which_model_hook_runs():
    class Neither(FrameProcessor):
        async def process_video_async(self, frame):
            return frame

        async def process_audio_async(self, frame):
            return [frame]

        async def update_params(self, params):
            pass

    with pytest.raises(TypeError, match="define load_model\\(\\) .* or initialize\\(\\)"):
        Neither()

    class Both(Neither):
        calls: list = []

        async def load_model(self, **kwargs):
            self.calls.append("load_model")

        async def initialize(self):
            self.calls.append("initialize")

    both = Both()
    await both.start()
    await both.start()
    assert Both.calls == ["load_model"]  # upstream's hook wins; documented on FrameProcessor

    class Upstreams(Neither):  # upstream's style is untouched
        loaded = 0

        async def load_model(self, **kwargs):
            Upstreams.loaded += 1

    await Upstreams().ensure_model_loaded()
    assert Upstreams.loaded == 1
    # A missing processing method is still the abstract-class error upstream gives.
    with pytest.raises(TypeError, match="abstract"):
        type("NoVideo", (FrameProcessor,), {"initialize": MyAIProcessor.initialize,
                                            "process_audio_async": Neither.process_audio_async,
                                            "update_params": Neither.update_params})()


def test_frames_move_between_devices_with_their_metadata():
    frame = VideoFrame(torch.rand(1, 8, 8, 3), 3000, __import__("fractions").Fraction(1, 90000))
    frame.side_data.input = "kept"
    moved = frame.to("cpu")
    assert moved is not frame and torch.equal(moved.tensor, frame.tensor)
    assert (moved.timestamp, moved.time_base, moved.side_data.input) == (3000, frame.time_base, "kept")
    audio = AudioFrame.from_tensor(torch.zeros(2, 480), format="fltp", layout="stereo", timestamp=90)
    back = audio.to(torch.device("cpu"))
    assert (back.nb_samples, back.format, back.layout, back.rate, back.timestamp) == (480, "fltp", "stereo", 48000, 90)
    as_tensor = audio.to("cpu")
    assert not isinstance(as_tensor.samples, torch.Tensor)  # the CPU form is the decoded numpy array
    if torch.cuda.is_available():
        on_gpu = frame.to("cuda")
        assert on_gpu.tensor.is_cuda and on_gpu.to("cpu").tensor.device.type == "cpu"
        assert audio.to("cuda").samples.is_cuda


def test_trickle_client_takes_one_style_of_arguments(relay):
    from pytrickle.protocol import TrickleProtocol
    protocol = TrickleProtocol(relay.url("in"), relay.url("out"))
    with pytest.raises(ValueError, match="not both"):
        TrickleClient(protocol=protocol, frame_processor=MyAIProcessor(), subscribe_url=relay.url("in"),
                      publish_url=relay.url("out"))
    with pytest.raises(TypeError, match="needs protocol= and frame_processor="):
        TrickleClient()
    upstream_style = TrickleClient(protocol, MyAIProcessor())  # positional, as upstream
    assert upstream_style.protocol is protocol


@pytest.fixture(scope="module")
def two_second_clip(tmp_path_factory) -> Path:
    """60 frames (2 s at 30 fps) with a tone."""
    out = tmp_path_factory.mktemp("docs-media") / "two.ts"
    run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=30",
         "-f", "lavfi", "-i", "sine=frequency=330:sample_rate=48000", "-t", "2", "-c:v", "libx264", "-preset",
         "veryfast", "-g", "30", "-bf", "0", "-c:a", "aac", "-f", "mpegts", out], timeout=120)
    return out


async def test_trickle_client_used_directly(relay, trickle_exe, background, two_second_clip, tmp_path):
    async def my_model(frame):
        return frame.replace_tensor(1.0 - frame.tensor)

    for channel in ("in", "out"):
        await asyncio.to_thread(create_channel, relay.url(channel))
    out = tmp_path / "out.ts"
    subscriber = background([trickle_exe, "subscribe", relay.url("out"), "-o", out], "subscribe")
    publisher = background([trickle_exe, "publish", "--realtime", relay.url("in"), two_second_clip], "publish")
    seen = 0
    async with TrickleClient(subscribe_url=relay.url("in"), publish_url=relay.url("out"), max_framerate=60) as client:
        async for frame in client.video_frames():
            seen += 1
            await client.publish_video_frame(await my_model(frame))
    assert await asyncio.to_thread(publisher.wait, 60) == 0, publisher.report()
    assert await asyncio.to_thread(subscriber.wait, 30) == 0, subscriber.report()
    assert seen == 60
    assert count_video_frames(out) == 60
    assert stream_codecs(out) == ["h264,video", "opus,audio"]  # the audio passed through


async def test_trickle_client_direct_audio_is_the_callers_once_asked_for(relay, trickle_exe, background,
                                                                          two_second_clip, tmp_path):
    for channel in ("in", "out"):
        await asyncio.to_thread(create_channel, relay.url(channel))
    out = tmp_path / "out.ts"
    subscriber = background([trickle_exe, "subscribe", relay.url("out"), "-o", out], "subscribe")
    publisher = background([trickle_exe, "publish", "--realtime", relay.url("in"), two_second_clip], "publish")
    audio_frames = 0
    async with TrickleClient(subscribe_url=relay.url("in"), publish_url=relay.url("out"), max_framerate=60,
                             frame_layout="hwc_uint8") as client:
        async def audio():
            nonlocal audio_frames
            async for frame in client.audio_frames():
                audio_frames += 1
                await client.publish_audio_frame([frame])

        audio_task = asyncio.create_task(audio())
        async for frame in client.video_frames():
            assert frame.tensor.dtype == torch.uint8 and frame.tensor.shape == (512, 512, 3)
            await client.publish_video_frame(frame)
        await audio_task
    assert await asyncio.to_thread(publisher.wait, 60) == 0, publisher.report()
    assert await asyncio.to_thread(subscriber.wait, 30) == 0, subscriber.report()
    assert audio_frames > 50  # AAC frames of 1024 samples: ~94 in 2 s
    assert stream_codecs(out) == ["h264,video", "opus,audio"]


def test_the_readmes_local_sequence(trickle_exe, tmp_path, two_second_clip):
    """The pages' local test (Go tools) as the README writes it with `trickle`: a relay, a
    publisher, a subscriber piped into a player (ffprobe here)."""
    if shutil.which("ffprobe") is None:
        pytest.fail("ffprobe is needed (apt-get install ffmpeg)")
    video = tmp_path / "video.mp4"
    run(["ffmpeg", "-v", "error", "-y", "-i", two_second_clip, "-c", "copy", video], timeout=60)
    relay = subprocess.Popen([trickle_exe, "serve", "--host", "127.0.0.1", "--port", "0", "--channel", "output"],
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        url = relay.stdout.readline().decode().split()[-1].rstrip("/")
        # Without --autocreate only the channel named at start exists, as on go-livepeer's relay.
        assert http_request("POST", f"{url}/other", headers={"Expect-Content": "video/mp2t"})[0] == 404
        assert http_request("POST", f"{url}/other/0", data=b"x")[0] == 404
        reader = subprocess.Popen(f"'{trickle_exe}' subscribe {url}/output --start-seq 0 --timeout 20 --out - "
                                  "| ffprobe -v error -count_frames -show_entries stream=codec_type,nb_read_frames "
                                  "-of csv=p=0 -", shell=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        run([trickle_exe, "publish", f"{url}/output", video, "--realtime"], timeout=60)
        stdout, stderr = reader.communicate(timeout=60)
        lines = sorted(line for line in stdout.decode().split() if line)
        assert "video,60" in lines, (lines, stderr.decode()[-2000:])
        assert any(line.startswith("audio,") for line in lines), lines
    finally:
        relay.terminate()
        relay.wait(timeout=10)
