"""A stream used directly, without a FrameProcessor or the REST layer (ours; Livepeer's
documentation describes it as ``TrickleClient(subscribe_url=..., publish_url=...)``):

    async with TrickleClient(subscribe_url=..., publish_url=...) as client:
        async for frame in client.video_frames():
            await client.publish_video_frame(await my_model(frame))

Decoded frames come from the engine as they do for a processor; what is published goes to the
engine's encoder. Audio passes through to the output unchanged until ``audio_frames()`` is
iterated; from then on the caller publishes it (``publish_audio_frame``). When the input ends,
the iterators end; leaving the ``async with`` block flushes what was published and ends the
output channel.
"""

from __future__ import annotations

import asyncio
import logging
from typing import AsyncIterator, List, Optional, Union

from .frames import AudioFrame, AudioOutput, VideoFrame, VideoOutput
from .protocol import TrickleProtocol

logger = logging.getLogger(__name__)

_END = None  # what the queues carry once the input has ended


class DirectStream:
    """The engine's stream, driven by the caller's loop (TrickleClient's direct mode)."""

    def __init__(self, protocol: TrickleProtocol, max_queue_size: int, request_id: str = "direct"):
        self.protocol = protocol
        self.request_id = request_id
        self._video: asyncio.Queue = asyncio.Queue(maxsize=max_queue_size)
        self._audio: asyncio.Queue = asyncio.Queue(maxsize=max_queue_size * 4)
        self._outputs: asyncio.Queue = asyncio.Queue(maxsize=64)
        self._audio_wanted = False
        self._done = asyncio.Event()
        self._tasks: List[asyncio.Task] = []
        self.frames_dropped = 0  # frames the caller did not take in time (oldest first)

    async def open(self) -> None:
        await self.protocol.start()
        self._tasks = [asyncio.create_task(self._take_inputs(), name="trickle-direct-in"),
                       asyncio.create_task(self.protocol.egress_loop(self._published()), name="trickle-direct-out")]

    async def close(self, abandoned: bool = False) -> None:
        """Ends the stream: what was published goes out (unless `abandoned`), then the output
        channel is closed."""
        self._done.set()
        await self._outputs.put(_END)
        if not abandoned:
            try:
                await asyncio.wait_for(asyncio.shield(self._tasks[1]), 10.0)  # the egress drains
            except Exception:  # noqa: BLE001 - a timeout or a failed egress: stop() ends it either way
                pass
        await self.protocol.stop()
        for task in self._tasks:
            if not task.done():
                task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    # ---- frames in ----

    async def _take_inputs(self) -> None:
        try:
            async for frame in self.protocol.ingress_loop(self._done):
                if isinstance(frame, VideoFrame):
                    self._put_dropping_oldest(self._video, frame)
                elif self._audio_wanted:
                    self._put_dropping_oldest(self._audio, frame)
                else:
                    await self._outputs.put(AudioOutput([frame], self.request_id))  # passes through
        finally:
            for queue in (self._video, self._audio):
                self._put_dropping_oldest(queue, _END)

    def _put_dropping_oldest(self, queue: asyncio.Queue, item) -> None:
        while queue.full():
            dropped = queue.get_nowait()
            if isinstance(dropped, VideoFrame):
                self.frames_dropped += 1
        queue.put_nowait(item)

    async def video_frames(self) -> AsyncIterator[VideoFrame]:
        while (frame := await self._video.get()) is not _END:
            yield frame

    async def audio_frames(self) -> AsyncIterator[AudioFrame]:
        self._audio_wanted = True
        while (frame := await self._audio.get()) is not _END:
            yield frame

    # ---- frames out ----

    async def publish_video_frame(self, frame: Optional[VideoFrame]) -> None:
        """Hands one processed frame to the encoder (waits while the encoder is behind); None is
        skipped, as a processor's None is a dropped frame."""
        if frame is not None:
            await self._outputs.put(VideoOutput(frame, self.request_id))

    async def publish_audio_frame(self, frames: Union[AudioFrame, List[AudioFrame], None]) -> None:
        if frames is None:
            return
        frames = [frames] if isinstance(frames, AudioFrame) else list(frames)
        if frames:
            await self._outputs.put(AudioOutput(frames, self.request_id))

    async def _published(self):
        while (item := await self._outputs.get()) is not _END:
            yield item
