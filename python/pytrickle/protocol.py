"""TrickleProtocol: one stream's channels and media (as upstream's pytrickle.protocol).

The media path runs in the C++ engine (pytrickle._native.NativeStream): subscriber, demuxer,
decoder, encoder, muxer and publisher on their own threads, plus the control channel, the
events channel and its heartbeats. Decoded frames wait in the engine's bounded inbox; the event
loop is woken through an eventfd (loop.add_reader) and takes them in batches, so there is no
thread hop per frame. Results go back to the engine without blocking the loop. The data channel
is a TricklePublisher, as upstream (the client batches what is posted there).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import queue
import time
from collections import deque
from fractions import Fraction
from typing import Any, AsyncGenerator, AsyncIterator, Deque, Dict, Optional  # noqa: F401  (upstream's names)

import numpy as np
import torch

from ._native_loader import load_native
from .base import ComponentState, ErrorCallback, TrickleComponent, setup_asyncio_exception_handler
from .fps_meter import FPSMeter
from .frames import AudioFrame, AudioOutput, VideoFrame, VideoOutput
from ._lazy_names import lazy_names
from .publisher import TricklePublisher
# Upstream's module namespace, for code that patches these names here; the engine does their work.
from .cache import LastValueCache  # noqa: F401
from .frames import DEFAULT_HEIGHT, DEFAULT_MAX_FRAMERATE, DEFAULT_WIDTH
from .frames import InputFrame, OutputFrame  # noqa: F401
from .subscriber import TrickleSubscriber  # noqa: F401

logger = logging.getLogger(__name__)

# Upstream's names from its PyAV modules, loaded on first use so the live path never imports them.
__getattr__ = lazy_names(__name__, {"default_output_metadata": "pytrickle._pyav.encoder:default_output_metadata",
                                    "run_publish": "pytrickle._pyav.media:run_publish",
                                    "run_subscribe": "pytrickle._pyav.media:run_subscribe"})

# How many decoded frames one wake-up takes from the engine at most (the rest on the next turn).
INPUT_BATCH = 64
# Error kinds the engine reports that are not errors of the stream for upstream.
_NOT_ERRORS = {"subscription_ended", "decode_error"}


def _time_base_parts(time_base: Any) -> tuple[int, int]:
    """A time base as a 32-bit rational (tests pass floats such as 0.033)."""
    fraction = Fraction(time_base) if not isinstance(time_base, Fraction) else time_base
    if fraction.denominator > 2**31 - 1 or abs(fraction.numerator) > 2**31 - 1:
        fraction = fraction.limit_denominator(1_000_000)
    if fraction <= 0:
        raise ValueError(f"time base must be positive, got {time_base!r}")
    return fraction.numerator, fraction.denominator


def _encodable_video(tensor: Any) -> Any:
    """What the engine's encoder takes: a CPU tensor of float32 (values in [0, 1]) or uint8."""
    if isinstance(tensor, np.ndarray):
        tensor = torch.from_numpy(tensor)
    if not isinstance(tensor, torch.Tensor):
        raise TypeError(f"video output must be a torch.Tensor, got {type(tensor).__name__}")
    if tensor.requires_grad:
        tensor = tensor.detach()
    if tensor.device.type != "cpu":
        tensor = tensor.cpu()  # as upstream's encoder does
    if tensor.dtype not in (torch.float32, torch.uint8):
        tensor = tensor.to(torch.float32)
    return tensor


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


def _audio_samples(samples: Any) -> np.ndarray:
    if isinstance(samples, torch.Tensor):
        samples = samples.detach().cpu().numpy()
    if not isinstance(samples, np.ndarray):
        raise TypeError(f"audio samples must be a numpy array, got {type(samples).__name__}")
    if samples.ndim == 1:
        samples = samples.reshape(1, -1)
    return samples


class TrickleProtocol(TrickleComponent):
    def __init__(self, subscribe_url: str, publish_url: str, control_url: str = "",
                 events_url: str = "", data_url: Optional[str] = None, width: Optional[int] = None,
                 height: Optional[int] = None, max_framerate: Optional[int] = None,
                 heartbeat_interval: float = 10.0, publisher_timeout: Optional[float] = None,
                 subscriber_timeout: Optional[float] = None,
                 error_callback: Optional[ErrorCallback] = None, detect_out_resolution: bool = True,
                 verify_ssl: bool = False, ssl_ca_file: Optional[str] = None,
                 **engine_options: Any):
        super().__init__(error_callback=error_callback, component_name="protocol")
        self.subscribe_url = subscribe_url
        self.publish_url = publish_url
        self.control_url = control_url
        self.events_url = events_url
        self.data_url = data_url
        self.width = width
        self.height = height
        self.max_framerate = max_framerate
        self.heartbeat_interval = heartbeat_interval
        self.publisher_timeout = publisher_timeout
        self.subscriber_timeout = subscriber_timeout
        self.detect_out_resolution = detect_out_resolution
        # For https:// channel URLs: certificates are not checked unless asked (upstream never
        # checks them); a CA bundle file turns checking on (so do TRICKLE_CA_BUNDLE / TRICKLE_TLS_VERIFY).
        self.verify_ssl = verify_ssl
        self.ssl_ca_file = ssl_ca_file
        # Ours: opt-in cheaper frames ({"uint8": True, "batch_dim": False}) and queue sizes; a
        # name the engine does not know, or a value of the wrong type, raises TypeError here.
        load_native().EngineSettings(**engine_options)
        self.engine_options = engine_options

        self.subscribe_task: Optional[asyncio.Task] = None
        self.publish_task: Optional[asyncio.Task] = None
        self.control_subscriber = None  # the engine reads the control channel
        self.events_publisher = None  # the engine writes the events channel
        self.data_publisher: Optional[TricklePublisher] = None
        self.subscribe_queue: Optional[queue.Queue] = None
        self.publish_queue: Optional[queue.Queue] = None
        self.subscription_ended = asyncio.Event()
        self._monitor_task: Optional[asyncio.Task] = None
        self._heartbeat_task: Optional[asyncio.Task] = None
        self.fps_meter = FPSMeter()

        self._native = None
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._inputs: Deque[Any] = deque()
        self._controls: Deque[Dict[str, Any]] = deque()
        self._input_ended = False
        self._input_wakeup = asyncio.Event()
        self._control_wakeup = asyncio.Event()
        self._input_done = asyncio.Event()  # the input ended and every frame was handed out
        self._egress_done = asyncio.Event()
        self._native_finished = asyncio.Event()

    # ---- lifecycle ----

    async def start(self) -> None:
        self._update_state(ComponentState.STARTING)
        setup_asyncio_exception_handler()
        self._loop = asyncio.get_running_loop()
        self.subscribe_queue = queue.Queue()
        self.publish_queue = queue.Queue()

        settings: Dict[str, Any] = dict(
            subscribe_url=self.subscribe_url or "",
            publish_url=self.publish_url or "",
            control_url=self.control_url or "",
            events_url=self.events_url or "",
            width=int(self.width or DEFAULT_WIDTH),
            height=int(self.height or DEFAULT_HEIGHT),
            max_framerate=int(self.max_framerate or DEFAULT_MAX_FRAMERATE),
            detect_out_resolution=bool(self.detect_out_resolution),
            subscriber_timeout=self.subscriber_timeout,
            publisher_timeout=self.publisher_timeout,
            heartbeat_interval=float(self.heartbeat_interval or 0),
            verify_ssl=bool(self.verify_ssl),
            ssl_ca_file=self.ssl_ca_file or "",
        )
        if _env_flag("PYTRICKLE_GPU"):
            # NVDEC/NVENC for every stream of this process (a worker container's switch); each
            # falls back to the CPU with a log line where the GPU cannot be used.
            settings["gpu_decode"] = settings["gpu_encode"] = True
        if os.environ.get("PYTRICKLE_DEVICE"):
            # "cuda": frames reach the processor as CUDA tensors (NVDEC + our kernel, no host copy).
            settings["device"] = os.environ["PYTRICKLE_DEVICE"].strip()
        settings.update(self.engine_options)
        engine = load_native()
        native = engine.NativeStream(engine.EngineSettings(**settings))
        self._native = native
        self._loop.add_reader(native.fileno(), self._on_engine_wakeup)
        native.start()

        if self.subscribe_url and self.subscribe_url.strip():
            self.subscribe_task = asyncio.create_task(self._input_done.wait(), name="trickle-subscribe")
        if self.publish_url and self.publish_url.strip():
            self.publish_task = asyncio.create_task(self._native_finished.wait(), name="trickle-publish")
        if self.data_url and self.data_url.strip():
            self.data_publisher = TricklePublisher(self.data_url, "application/jsonl",
                                                   error_callback=self._notify_error,
                                                   verify_ssl=self.verify_ssl, ssl_ca_file=self.ssl_ca_file)
            if self.publisher_timeout is not None:
                self.data_publisher.connect_timeout_seconds = self.publisher_timeout
            await self.data_publisher.start()
        self._monitor_task = asyncio.create_task(self._monitor_subscription())
        self._update_state(ComponentState.RUNNING)

    async def _monitor_subscription(self) -> None:
        """When the input has ended and everything was published: the stream is over."""
        if self.subscribe_task is None:
            return
        await self.subscribe_task
        if self.publish_task is not None:
            await self._egress_done.wait()
        self.shutdown_event.set()
        self.subscription_ended.set()
        if self.error_callback:
            try:
                await self.error_callback("subscription_ended", None)
            except Exception as error:  # noqa: BLE001 - the callback's failure is only reported
                logger.error("error callback failed: %s", error)

    async def stop(self) -> None:
        self._update_state(ComponentState.STOPPING)
        self.shutdown_event.set()
        if self.error_callback:
            try:
                await self.error_callback("protocol_shutdown", None)
            except Exception as error:  # noqa: BLE001
                logger.error("error callback failed: %s", error)
        for task in (self._heartbeat_task, self._monitor_task):
            if task is not None and not task.done():
                task.cancel()
        for q in (self.subscribe_queue, self.publish_queue):
            if q is not None:
                q.put(None)
        native = self._native
        if native is not None:
            if self._input_ended and self._egress_done.is_set():
                native.finish_output()  # everything was handed over: flush, publish, close
            else:
                native.stop()
            if not await asyncio.to_thread(native.wait_finished, 7.0):
                native.stop()
                await asyncio.to_thread(native.wait_finished, 2.0)
            self._close_native()
        if self.data_publisher is not None:
            try:
                await self.data_publisher.close()
            except Exception as error:  # noqa: BLE001
                logger.warning("closing the data channel: %s", error)
        for task in (self.subscribe_task, self.publish_task):
            if task is not None and not task.done():
                task.cancel()
        self.subscribe_task = None
        self.publish_task = None
        self._update_state(ComponentState.STOPPED)

    def _close_native(self) -> None:
        native, self._native = self._native, None
        if native is None:
            return
        try:
            if self._loop is not None and not self._loop.is_closed():
                self._loop.remove_reader(native.fileno())
        except (ValueError, OSError):
            pass
        self._native_finished.set()

    # ---- what the engine hands over (runs on the loop, woken by the eventfd) ----

    def _on_engine_wakeup(self) -> None:
        native = self._native
        if native is None:
            return
        native.drain_wakeup()
        while True:
            items, ended = native.pop_inputs(INPUT_BATCH)
            for item in items:
                self._inputs.append(self._frame_from_engine(item))
            if len(items) < INPUT_BATCH:
                break
        if items or self._inputs:
            self._input_wakeup.set()
        if ended and not self._input_ended:
            self._input_ended = True
            self._input_wakeup.set()
        for text in native.pop_controls():
            try:
                self._controls.append(json.loads(text))
            except ValueError:
                continue
            self._control_wakeup.set()
        for kind, message in native.pop_errors():
            if kind in _NOT_ERRORS:
                if kind == "decode_error":
                    logger.error("decoding the input failed: %s", message)
                continue
            asyncio.ensure_future(self._notify_error(kind, Exception(message or kind)))
        if native.finished():
            self._native_finished.set()

    @staticmethod
    def _frame_from_engine(item: Any) -> Any:
        """An EngineVideoFrame or EngineAudioFrame as the frame type upstream's code expects."""
        time_base = Fraction(item.time_base_num, item.time_base_den)
        if item.kind == "video":
            frame = VideoFrame(torch.from_dlpack(item.tensor), item.pts, time_base)
        else:
            frame = AudioFrame._from_native(item.samples, item.nb_samples, item.format, item.sample_rate,
                                            item.layout, item.pts, time_base)
        frame.log_timestamps["frame_init"] = time.time()
        return frame

    # ---- the client's view ----

    async def update_params(self, params: Dict[str, Any]) -> None:
        if "max_framerate" not in params:
            return
        try:
            fps = int(params["max_framerate"])
        except (TypeError, ValueError) as error:
            logger.warning("invalid max_framerate %r: %s", params["max_framerate"], error)
            return
        if fps > 0:
            self.max_framerate = fps
            if self._native is not None:
                self._native.set_max_framerate(fps)
            logger.info("max_framerate set to %d", fps)

    async def ingress_loop(self, done: asyncio.Event) -> AsyncIterator[Any]:
        """Every decoded frame, in order, until the input ends (then the stream drains) or
        ``done``/shutdown is set."""
        while not done.is_set() and not self.shutdown_event.is_set():
            if self._inputs or self._take_from_subscribe_queue():
                frame = self._inputs.popleft()
                if isinstance(frame, VideoFrame):
                    self.fps_meter.record_ingress_video_frame()
                else:
                    self.fps_meter.record_ingress_audio_frame()
                yield frame
                continue
            if self._input_ended or self._native is None:
                if self._input_ended:
                    self._input_done.set()
                    return
            self._input_wakeup.clear()
            try:
                await asyncio.wait_for(self._input_wakeup.wait(), 0.1)
            except asyncio.TimeoutError:
                pass

    def _take_from_subscribe_queue(self) -> bool:
        """Frames put into subscribe_queue by hand (upstream's ingress queue) are handed out too."""
        q = self.subscribe_queue
        if q is None or q.empty():
            return False
        try:
            frame = q.get_nowait()
        except queue.Empty:
            return False
        if isinstance(frame, (VideoFrame, AudioFrame)):
            self._inputs.append(frame)
            return True
        return False

    async def egress_loop(self, output_frames: AsyncIterator[Any]) -> None:
        try:
            async for output in output_frames:
                if self.shutdown_event.is_set():
                    break
                if isinstance(output, VideoOutput):
                    self.fps_meter.record_egress_video_frame()
                elif isinstance(output, AudioOutput):
                    self.fps_meter.record_egress_audio_frame()
                if self.publish_task is None or self._native is None:
                    continue  # nowhere to publish: discarded, as upstream
                await self._hand_to_encoder(output)
        except Exception as error:
            logger.error("egress loop failed: %s", error)
            raise
        finally:
            self._egress_done.set()

    async def _hand_to_encoder(self, output: Any) -> None:
        native = self._native
        try:
            if isinstance(output, VideoOutput):
                tensor = _encodable_video(output.tensor)
                num, den = _time_base_parts(output.time_base)
                pts = int(round(output.timestamp))
                push = lambda: native.push_video(tensor=tensor, pts=pts, tb_num=num, tb_den=den)  # noqa: E731
                await self._push(native, push)
            elif isinstance(output, AudioOutput):
                for frame in output.frames:
                    samples = _audio_samples(frame.samples)
                    num, den = _time_base_parts(frame.time_base)
                    pts = int(round(frame.timestamp))
                    push = lambda s=samples, f=frame, n=num, d=den, p=pts: native.push_audio(  # noqa: E731
                        samples=s, format=f.format, layout=f.layout, rate=int(f.rate), pts=p, tb_num=n, tb_den=d)
                    await self._push(native, push)
            else:
                logger.warning("ignoring output of type %s", type(output).__name__)
        except Exception as error:  # noqa: BLE001 - one bad output costs that output only
            logger.warning("output frame dropped: %s", error)

    @staticmethod
    async def _push(native, push) -> None:
        """Hands one item to the encoder; waits off the loop only while the encoder is full."""
        while not push():
            if native.output_closed():
                return
            await asyncio.to_thread(native.wait_output_room)

    async def emit_monitoring_event(self, event: Dict[str, Any], queue_event_type: str = "ai_stream_events") -> None:
        if not self.events_url or self._native is None or self.shutdown_event.is_set():
            return
        try:
            self._native.emit_event(json.dumps(event), queue_event_type)
        except Exception as error:  # noqa: BLE001 - monitoring must not break the stream
            logger.error("emitting a monitoring event failed: %s", error)

    async def control_loop(self, done: asyncio.Event) -> AsyncIterator[Dict[str, Any]]:
        if not self.control_url or not self.control_url.strip():
            logger.warning("No control URL: control messages are not read")
            return
        while not done.is_set() and not self.shutdown_event.is_set():
            if self._controls:
                yield self._controls.popleft()
                continue
            if self._native is None or self._native_finished.is_set():
                return
            self._control_wakeup.clear()
            try:
                await asyncio.wait_for(self._control_wakeup.wait(), 0.25)
            except asyncio.TimeoutError:
                pass

    async def publish_data(self, data: str) -> None:
        if self.data_publisher is None:
            return
        try:
            async with await self.data_publisher.next() as segment:
                await segment.write(data.encode("utf-8"))
        except Exception as error:  # noqa: BLE001
            logger.error("publishing data failed: %s", error)

    # ---- ours ----

    def engine_stats(self) -> Dict[str, Any]:
        """The engine's counters: frames per stage, drops, queue sizes, latency histograms."""
        if self._native is None:
            return {}
        return json.loads(self._native.stats())
