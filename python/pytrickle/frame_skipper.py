"""
Adaptive video frame skipping.

Keeps the video queue from growing without bound (dropping the oldest frames
when it overflows) and, when a target frame rate below the ingress rate is
configured, lets through only every N-th frame.
"""

import asyncio
import logging
import time
from dataclasses import dataclass
from enum import Enum
from typing import Optional, Union

from .fps_meter import FPSMeter
from .frames import AudioFrame, VideoFrame  # noqa: F401  (AudioFrame kept importable here)

logger = logging.getLogger(__name__)


class FrameProcessingResult(Enum):
    """Non-frame outcomes of pulling a frame through the skipper."""

    SKIPPED = "skipped"


# What process_video_queue hands back.
FrameResult = Union[VideoFrame, FrameProcessingResult, None]


@dataclass
class FrameSkipConfig:
    """Tuning knobs for AdaptiveFrameSkipper."""

    target_fps: Optional[float] = None  # None: follow the measured ingress rate
    adaptation_cooldown: float = 0.5  # seconds between re-evaluations of the interval
    max_queue_size: int = 15  # queue length above which old frames are dropped
    max_cleanup_frames: int = 50  # most frames dropped in a single cleanup pass


class AdaptiveFrameSkipper:
    """Pulls video frames from a queue, thinning them to the configured rate."""

    def __init__(self, config: FrameSkipConfig, fps_meter: "FPSMeter"):
        self.config = config
        self.fps_meter = fps_meter
        self.frame_counter = 0
        self.skip_interval = 1  # 1 means every frame passes
        self.last_adaptation_time = time.time()

    async def process_video_queue(self, video_queue: asyncio.Queue, timeout: float = 5) -> FrameResult:
        """Take the next frame from ``video_queue``.

        Returns the frame to process, ``None`` for the shutdown sentinel, or
        ``FrameProcessingResult.SKIPPED``. ``asyncio.TimeoutError`` propagates
        when nothing arrives within ``timeout`` seconds.
        """
        await self._cleanup_video_queue_overflow(video_queue, timeout)
        frame = await asyncio.wait_for(video_queue.get(), timeout=timeout)
        if frame is None:
            return None
        return self._process_video_frame(frame)

    async def _cleanup_video_queue_overflow(self, video_queue: asyncio.Queue, timeout: float):
        """Discard the oldest frames when the queue is longer than allowed."""
        backlog = video_queue.qsize()
        if backlog <= self.config.max_queue_size:
            return

        to_drop = min(backlog - self.config.max_queue_size, self.config.max_cleanup_frames)
        saw_sentinel = False
        for _ in range(to_drop):
            try:
                dropped = await asyncio.wait_for(video_queue.get(), timeout=timeout)
            except asyncio.TimeoutError:
                break
            if dropped is None:
                saw_sentinel = True
                break

        if saw_sentinel:
            # The shutdown marker must still reach the consumer.
            await video_queue.put(None)

    def _process_video_frame(self, frame: VideoFrame) -> FrameResult:
        self.frame_counter += 1
        self._adapt_skip_interval()
        if self._should_skip_frame():
            return FrameProcessingResult.SKIPPED
        return frame

    def _adapt_skip_interval(self):
        """Recompute the skip interval from the ingress rate (rate-limited by the cooldown)."""
        now = time.time()
        if now - self.last_adaptation_time < self.config.adaptation_cooldown:
            return

        ingress_fps = self.fps_meter.get_ingress_video_fps()
        if ingress_fps < 1.0:
            return  # not enough data yet

        target = self.config.target_fps if self.config.target_fps is not None else ingress_fps
        if ingress_fps <= target:
            interval = 1
        else:
            interval = max(1, round(ingress_fps / target))

        if interval != self.skip_interval:
            logger.debug(
                f"Skip pattern: {ingress_fps:.1f}fps → {target:.1f}fps (skip every {interval} frames)"
            )
            self.skip_interval = interval

        self.last_adaptation_time = now

    def _should_skip_frame(self) -> bool:
        if self.skip_interval <= 1:
            return False
        return self.frame_counter % self.skip_interval != 1

    def reset(self):
        """Start counting afresh with no skipping."""
        self.frame_counter = 0
        self.skip_interval = 1

    def set_target_fps(self, target_fps: Optional[float]):
        """Change the target rate (None = follow ingress) and re-adapt at once."""
        if target_fps is not None and not target_fps > 0:
            logger.warning(f"Invalid target FPS: {target_fps}, keeping current: {self.config.target_fps}")
            return

        self.config.target_fps = target_fps
        self.last_adaptation_time = 0
        self._adapt_skip_interval()

        if target_fps is None:
            logger.info("Auto-detect target FPS enabled")
        else:
            logger.info(f"Target FPS set to {target_fps}")
