"""TrickleClient: runs one stream through a FrameProcessor (as upstream's pytrickle.client).

Five coroutines on the caller's event loop: ingress (engine → input queues), processing (the
processor's coroutines, the frame skipper and the loading overlay), egress (results → engine),
control (params from the control channel) and send-data (batched data-channel posts). Each is
looked up on the instance when the client starts, so tests can replace one.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
import time
from collections import deque
from typing import Any, AsyncIterator, Callable, Deque, Dict, List, Optional, Union  # noqa: F401  (Deque: upstream's)

from .base import ErrorCallback
from .direct_stream import DirectStream
from .frame_layout import FRAME_LAYOUT_UPSTREAM, engine_frame_options
from .frame_overlay import OverlayConfig, OverlayController
from .frame_processor import FrameProcessor
from .frame_skipper import AdaptiveFrameSkipper, FrameProcessingResult, FrameSkipConfig
from .frames import AudioFrame, AudioOutput, VideoFrame, VideoOutput
from .protocol import TrickleProtocol
from ._stream_identity import call_for_stream

logger = logging.getLogger(__name__)

# Upstream posts a keep-alive `[]` on the data channel after this long without data.
DATA_KEEPALIVE_SECONDS = 25.0


class TrickleClient:
    """Upstream's client: ``TrickleClient(protocol, frame_processor)``, run with ``start()``.

    Ours beside it (Livepeer's documentation's direct style): ``TrickleClient(subscribe_url=...,
    publish_url=...)`` used as ``async with``, taking frames with ``video_frames()`` /
    ``audio_frames()`` and publishing results with ``publish_video_frame()`` /
    ``publish_audio_frame()`` (see direct_stream.py). One style or the other, not both.
    """

    def __init__(self, protocol: Optional[TrickleProtocol] = None, frame_processor: Optional[FrameProcessor] = None,
                 control_handler: Optional[Callable] = None,
                 send_data_interval: Optional[float] = 0.333,
                 error_callback: Optional[ErrorCallback] = None, max_queue_size: int = 300,
                 frame_skip_config: Optional[FrameSkipConfig] = None,
                 overlay_config: Optional[OverlayConfig] = None, *,
                 subscribe_url: Optional[str] = None, publish_url: Optional[str] = None,
                 control_url: str = "", events_url: str = "", data_url: Optional[str] = None,
                 width: int = 512, height: int = 512, max_framerate: Optional[int] = None,
                 frame_layout: str = FRAME_LAYOUT_UPSTREAM, **protocol_options: Any):
        direct = subscribe_url is not None or publish_url is not None
        if direct and (protocol is not None or frame_processor is not None):
            raise ValueError("TrickleClient takes protocol= and frame_processor= (upstream's style) or "
                             "subscribe_url= and publish_url= (direct use), not both")
        if not direct and (protocol is None or frame_processor is None):
            raise TypeError("TrickleClient needs protocol= and frame_processor=, or subscribe_url= and publish_url=")
        self._direct: Optional[DirectStream] = None
        if direct:
            protocol = TrickleProtocol(subscribe_url or "", publish_url or "", control_url=control_url,
                                       events_url=events_url, data_url=data_url, width=width, height=height,
                                       max_framerate=max_framerate,
                                       **engine_frame_options(frame_layout), **protocol_options)
            self._direct = DirectStream(protocol, max_queue_size)
        self.protocol = protocol
        self.frame_processor = frame_processor
        self.control_handler = control_handler
        self.send_data_interval = send_data_interval
        self.frame_skip_config = frame_skip_config or FrameSkipConfig()
        self.overlay_config = overlay_config or OverlayConfig()
        self.loading_controller = OverlayController(self.overlay_config)
        self.error_callback = error_callback or getattr(frame_processor, "error_callback", None)
        if not getattr(protocol, "error_callback", None):
            protocol.error_callback = self._on_protocol_error

        self.running = False
        self.request_id = "default"
        # Ours: the stream this client runs, as its frames and the processor's callbacks name it
        # (a StreamServer sets it from X-Stream-Id; docs/many_streams.md).
        self.stream_id = ""
        self.stop_event = asyncio.Event()
        self.error_event = asyncio.Event()
        self.max_queue_size = max_queue_size
        self.video_input_queue: asyncio.Queue = asyncio.Queue(maxsize=max_queue_size)
        self.audio_input_queue: asyncio.Queue = asyncio.Queue(maxsize=max_queue_size * 4)
        self.output_queue: asyncio.Queue = asyncio.Queue(maxsize=200)
        self.data_queue: deque = deque(maxlen=1000)
        self.frame_skipper = AdaptiveFrameSkipper(config=self.frame_skip_config,
                                                  fps_meter=protocol.fps_meter)
        # Ours, for get_metrics(): video frames the processor returned, frames the skipper let
        # go, and frames the processor raised on.
        self.frames_processed = 0
        self.frames_skipped = 0
        self.processing_errors = 0

    # ---- direct use (ours) ----

    async def __aenter__(self) -> "TrickleClient":
        if self._direct is None:
            raise TypeError("async with TrickleClient(...) is for direct use: TrickleClient(subscribe_url=..., "
                            "publish_url=...); with a frame processor, await client.start()")
        await self._direct.open()
        self.running = True
        return self

    async def __aexit__(self, exc_type, exc, tb) -> None:
        self.running = False
        await self._direct.close(abandoned=exc_type is not None)

    def _direct_stream(self) -> DirectStream:
        if self._direct is None or not self.running:
            raise RuntimeError("video_frames()/publish_video_frame() need TrickleClient(subscribe_url=..., "
                               "publish_url=...) inside `async with`")
        return self._direct

    def video_frames(self) -> AsyncIterator[VideoFrame]:
        """Each decoded video frame, until the input ends."""
        return self._direct_stream().video_frames()

    def audio_frames(self) -> AsyncIterator[AudioFrame]:
        """Each decoded audio frame, until the input ends; once iterated, audio is no longer
        passed through: publish it with publish_audio_frame()."""
        return self._direct_stream().audio_frames()

    async def publish_video_frame(self, frame: Optional[VideoFrame]) -> None:
        await self._direct_stream().publish_video_frame(frame)

    async def publish_audio_frame(self, frames: Union[AudioFrame, List[AudioFrame], None]) -> None:
        await self._direct_stream().publish_audio_frame(frames)

    # ---- public ----

    async def start(self, request_id: str = "default", params: Optional[Dict[str, Any]] = None) -> None:
        if self._direct is not None:
            raise TypeError("a TrickleClient made with subscribe_url=/publish_url= is used with `async with`")
        if self.running:
            raise RuntimeError("Client is already running")
        self.request_id = request_id
        self.stop_event.clear()
        self.error_event.clear()
        self.loading_controller.reset()
        await self.protocol.start()
        try:
            await call_for_stream(self.frame_processor.on_stream_start, params or {}, stream_id=self.stream_id)
        except Exception as error:  # noqa: BLE001 - a failing hook does not stop the stream
            logger.error("on_stream_start failed: %s", error)
        self.running = True
        if isinstance(self.frame_processor, FrameProcessor):
            self.frame_processor._stream = self  # what get_metrics() reads
        try:
            loops = [self._ingress_loop(), self._processing_loop(), self._egress_loop(),
                     self._control_loop(), self._send_data_loop()]
            results = await asyncio.gather(*loops, return_exceptions=True)
            for result in results:
                if isinstance(result, BaseException) and not isinstance(result, asyncio.CancelledError):
                    logger.error("stream loop ended with an error: %s", result)
        except asyncio.CancelledError:
            pass
        finally:
            self.running = False
            if getattr(self.frame_processor, "_stream", None) is self:
                self.frame_processor._stream = None
            try:
                await call_for_stream(self.frame_processor.on_stream_stop, stream_id=self.stream_id)
            except Exception as error:  # noqa: BLE001
                logger.error("on_stream_stop failed: %s", error)
            await self.protocol.stop()
            self.frame_skipper.reset()

    async def stop(self) -> None:
        if not self.running:
            return
        self.stop_event.set()
        self.loading_controller.reset()
        if not self.output_queue.full():
            self.output_queue.put_nowait(None)
        self.data_queue.append(None)

    async def publish_data(self, data: str) -> None:
        self.data_queue.append(data)

    def get_statistics(self) -> Dict[str, int]:
        return {
            "video_input_queue_size": self.video_input_queue.qsize(),
            "audio_input_queue_size": self.audio_input_queue.qsize(),
            "output_queue_size": self.output_queue.qsize(),
        }

    def set_target_fps(self, target_fps: Optional[float]) -> None:
        self.frame_skipper.set_target_fps(target_fps)

    async def _on_protocol_error(self, error_type: str, exception: Optional[Exception] = None) -> None:
        if error_type in ("protocol_shutdown", "subscription_ended", "stream_not_found"):
            self.stop_event.set()
        else:
            logger.error("protocol error %s: %s", error_type, exception)
            self.error_event.set()
        if self.error_callback:
            try:
                await self.error_callback(error_type, exception)
            except Exception as error:  # noqa: BLE001
                logger.error("error callback failed: %s", error)

    # ---- loops ----

    def _should_stop(self) -> bool:
        return self.stop_event.is_set() or self.error_event.is_set()

    async def _fail(self, kind: str, error: Exception) -> None:
        logger.error("%s: %s", kind, error)
        self.stop_event.set()
        self.error_event.set()
        if self.error_callback:
            try:
                await self.error_callback(kind, error)
            except Exception as callback_error:  # noqa: BLE001
                logger.error("error callback failed: %s", callback_error)

    async def _ingress_loop(self) -> None:
        try:
            async for frame in self.protocol.ingress_loop(self.stop_event):
                if self._should_stop():
                    break
                frame.stream_id = self.stream_id
                if isinstance(frame, VideoFrame):
                    await self.video_input_queue.put(frame)
                elif isinstance(frame, AudioFrame):
                    await self.audio_input_queue.put(frame)
        except Exception as error:
            await self._fail("ingress_loop_error", error)
        finally:
            # Never block on a full queue here: the processing loops may be gone (upstream, docs/compatibility.md Q42).
            for q in (self.video_input_queue, self.audio_input_queue):
                if q.full():
                    try:
                        q.get_nowait()
                    except asyncio.QueueEmpty:
                        pass
                q.put_nowait(None)

    async def _processing_loop(self) -> None:
        try:
            await asyncio.gather(self._process_video_frames(), self._process_audio_frames())
        except Exception as error:
            await self._fail("processing_loop_error", error)
        finally:
            try:
                await asyncio.wait_for(self.output_queue.put(None), 1.0)
            except asyncio.TimeoutError:
                pass

    async def _process_video_frames(self) -> None:
        while not self._should_stop():
            try:
                frame = await self.frame_skipper.process_video_queue(self.video_input_queue, timeout=5)
            except asyncio.TimeoutError:
                continue
            if frame is None:
                break
            if frame is FrameProcessingResult.SKIPPED:
                self.frames_skipped += 1
                continue
            try:
                if self.loading_controller.should_skip_processing():
                    result = None
                else:
                    result = await self.frame_processor.process_video_async(frame)
                    self.frames_processed += 1
                output = self.loading_controller.update_and_apply(frame, result)
            except Exception as error:  # noqa: BLE001 - the frame is dropped, the stream goes on
                self.processing_errors += 1
                logger.error("video processing failed, frame dropped: %s", error)
                continue
            if output is None:
                continue
            await self.output_queue.put(VideoOutput(output, self.request_id))

    async def _process_audio_frames(self) -> None:
        while not self._should_stop():
            try:
                frame = await asyncio.wait_for(self.audio_input_queue.get(), timeout=5)
            except asyncio.TimeoutError:
                continue
            if frame is None:
                break
            try:
                result = await self.frame_processor.process_audio_async(frame)
            except Exception as error:  # noqa: BLE001
                self.processing_errors += 1
                logger.error("audio processing failed, frame dropped: %s", error)
                continue
            if result:
                await self.output_queue.put(AudioOutput(list(result), self.request_id))

    async def _egress_loop(self) -> None:
        async def outputs():
            while not self._should_stop():
                try:
                    item = await asyncio.wait_for(self.output_queue.get(), timeout=0.5)
                except asyncio.TimeoutError:
                    continue
                if item is None:
                    return
                yield item

        try:
            await self.protocol.egress_loop(outputs())
        except Exception as error:
            await self._fail("egress_loop_error", error)

    async def _control_loop(self) -> None:
        try:
            async for params in self.protocol.control_loop(self.stop_event):
                await self.protocol.update_params(params)
                handler = self.control_handler
                if handler is None:
                    continue
                if inspect.iscoroutinefunction(handler):
                    await handler(params)
                else:
                    outcome = handler(params)
                    if inspect.isawaitable(outcome):
                        await outcome
        except Exception as error:
            await self._fail("control_loop_error", error)

    async def _send_data_loop(self) -> None:
        interval = self.send_data_interval if self.send_data_interval else 0.333
        last_send = time.monotonic()
        finished = False
        while not finished:
            try:
                await asyncio.wait_for(self.stop_event.wait(), timeout=interval)
            except asyncio.TimeoutError:
                pass
            items = []
            while self.data_queue:
                item = self.data_queue.popleft()
                if item is None:
                    finished = True
                    break
                items.append(item)
            if self._should_stop():
                finished = True
            now = time.monotonic()
            if items or now - last_send + interval > DATA_KEEPALIVE_SECONDS:
                try:
                    await self.protocol.publish_data(json.dumps(items) + "\n")
                except Exception as error:  # noqa: BLE001
                    logger.error("sending data failed: %s", error)
                last_send = now
