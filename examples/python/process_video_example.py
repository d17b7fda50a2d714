#!/usr/bin/env python3
"""Mirror and green-tint video with OpenCV (decorator handlers).

Shows video processing with OpenCV (horizontal flip, hue pushed towards green),
a background task that reports status on the data channel every few seconds,
runtime parameters (intensity and an artificial delay) and stream lifecycle
hooks that start and stop that task.

Run with:
    python -m pytrickle.examples.process_video_example
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Any, Dict, List

import cv2
import numpy as np
import torch

from pytrickle import StreamProcessor, VideoFrame
from pytrickle.decorators import (
    model_loader,
    on_stream_start,
    on_stream_stop,
    param_updater,
    video_handler,
)
from pytrickle.frame_skipper import FrameSkipConfig

logger = logging.getLogger(__name__)
logging.basicConfig(level=logging.INFO)

STATUS_INTERVAL_SECONDS = 5.0


def _clamp_unit(value: float) -> float:
    return max(0.0, min(1.0, value))


@dataclass
class GreenProcessorConfig:
    """Effect settings: tint strength (0..1), per-frame delay in seconds, readiness."""

    intensity: float = 0.8
    delay: float = 0.0
    ready: bool = False


class GreenProcessorHandlers:
    """Mirrors each frame and shifts its hue towards green; reports status periodically."""

    def __init__(self) -> None:
        self.cfg = GreenProcessorConfig()
        self.processor = None  # the StreamProcessor, set by main() for send_data
        self.background_tasks: List[asyncio.Task] = []
        self.background_task_started = False

    @model_loader
    async def load(self, **kwargs: dict) -> None:
        """Prepare the effect; ``intensity`` may come in the loader's keyword arguments."""
        logger.info(f"Model loader called with kwargs: {kwargs}")
        self.cfg.intensity = _clamp_unit(kwargs.get("intensity", 0.5))
        # A real app would load its weights here.
        self.cfg.ready = True
        logger.info(f"✅ OpenCV Green processor ready (intensity: {self.cfg.intensity})")

    def _start_background_task(self) -> None:
        """Launch the status reporter once per stream (needs a running loop and a processor)."""
        if self.background_task_started or not self.processor:
            return
        self.background_tasks.append(asyncio.create_task(self._send_periodic_status()))
        self.background_task_started = True
        logger.info("Started background status task")

    async def _send_periodic_status(self) -> None:
        """Every few seconds publish a status line (a Python dict repr) on the data channel."""
        sent = 0
        try:
            while True:
                await asyncio.sleep(STATUS_INTERVAL_SECONDS)
                sent += 1
                if not self.processor:
                    continue
                status = {
                    "type": "status_update",
                    "counter": sent,
                    "intensity": self.cfg.intensity,
                    "ready": self.cfg.ready,
                    "timestamp": time.time(),
                }
                if await self.processor.send_data(str(status)):
                    logger.info(f"Sent status update #{sent}")
                else:
                    logger.warning(f"Failed to send status update #{sent}, stopping")
                    break
        except asyncio.CancelledError:
            logger.info("Background status task cancelled")
            raise
        except Exception as exc:
            logger.error(f"Error in background status task: {exc}")

    @on_stream_start
    async def on_start(self, params: Dict[str, Any]) -> None:
        """Take ``intensity`` and ``delay`` from the start params, then arm the reporter."""
        if params:
            if "intensity" in params:
                try:
                    self.cfg.intensity = _clamp_unit(float(params["intensity"]))
                    logger.info("Stream start intensity set to %.2f", self.cfg.intensity)
                except (TypeError, ValueError):
                    logger.warning("Invalid intensity %s at stream start", params["intensity"])
            if "delay" in params:
                try:
                    self.cfg.delay = max(0.0, float(params["delay"]))
                    logger.info("Stream start delay set to %.2fs", self.cfg.delay)
                except (TypeError, ValueError):
                    logger.warning("Invalid delay %s at stream start", params["delay"])
        logger.info("Stream started, initializing resources")
        self.background_task_started = False
        logger.info("Stream initialization complete")

    @on_stream_stop
    async def on_stop(self) -> None:
        """Cancel the background tasks of the stream that ended."""
        logger.info("Stream stopped, cleaning up background tasks")
        for task in self.background_tasks:
            if not task.done():
                task.cancel()
                logger.info("Cancelled background task")
        self.background_tasks.clear()
        self.background_task_started = False
        logger.info("All background tasks cleaned up")

    def _tint(self, rgb: np.ndarray) -> np.ndarray:
        """Mirror a uint8 RGB image and push its hue and saturation towards green."""
        mirrored = cv2.flip(rgb, 1)
        hsv = cv2.cvtColor(mirrored, cv2.COLOR_RGB2HSV)
        hue_shift = self.cfg.intensity * 30  # OpenCV hue runs 0..179
        saturation_boost = self.cfg.intensity * 50
        hsv[:, :, 0] = ((hsv[:, :, 0] + hue_shift) % 180).astype(np.uint8)
        hsv[:, :, 1] = np.clip(hsv[:, :, 1] + saturation_boost, 0, 255).astype(np.uint8)
        return cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)

    @video_handler
    async def handle_video(self, frame: VideoFrame) -> VideoFrame:
        """Tint and mirror one frame, keeping its layout (batch dim, CHW/HWC) and scale."""
        self._start_background_task()
        if self.cfg.delay > 0:
            await asyncio.sleep(self.cfg.delay)

        tensor = frame.tensor
        batched = tensor.dim() == 4
        if batched:
            if tensor.shape[0] != 1:
                logger.error(f"Unexpected batch size: {tensor.shape[0]}")
                return frame
            tensor = tensor.squeeze(0)
        if tensor.dim() != 3:
            logger.error(f"Unexpected tensor shape after processing: {tensor.shape}")
            return frame

        channels_first = tensor.shape[0] == 3
        image = (tensor.permute(1, 2, 0) if channels_first else tensor).cpu().numpy()

        unit_range = image.max() <= 1.0
        pixels = (image * 255).astype(np.uint8) if unit_range else image.astype(np.uint8)
        tinted = self._tint(pixels).astype(np.float32)
        if unit_range:
            tinted = tinted / 255.0

        result = torch.from_numpy(tinted)
        if channels_first:
            result = result.permute(2, 0, 1)
        if batched:
            result = result.unsqueeze(0)
        return frame.replace_tensor(result.to(frame.tensor.device))

    @param_updater
    async def update_params(self, params: dict) -> None:
        """Runtime updates: ``intensity`` (clamped to 0..1) and ``delay`` (seconds, >= 0)."""
        if "intensity" in params:
            previous = self.cfg.intensity
            self.cfg.intensity = _clamp_unit(float(params["intensity"]))
            if previous != self.cfg.intensity:
                logger.info(f"Green hue intensity: {previous:.2f} → {self.cfg.intensity:.2f}")
        if "delay" in params:
            previous = self.cfg.delay
            self.cfg.delay = max(0.0, float(params["delay"]))
            if previous != self.cfg.delay:
                logger.info(f"Processing delay: {previous:.2f} → {self.cfg.delay:.2f}")


# Plain module-level handlers, used by pytrickle.test_utils and the test-suite.
async def load_model(**kwargs: dict) -> None:
    """Loader that loads nothing."""
    return None


async def process_video(frame: VideoFrame) -> VideoFrame:
    """Video handler that returns its input."""
    return frame


async def update_params(params: dict) -> None:
    """Parameter handler that ignores its input."""
    return None


async def main() -> None:
    """Serve the green processor until interrupted."""
    handlers = GreenProcessorHandlers()
    processor = StreamProcessor.from_handlers(
        handlers,
        name="green-processor",
        port=8000,
        frame_skip_config=FrameSkipConfig(),
    )
    handlers.processor = processor  # lets the status task call send_data
    logger.info("Each frame is mirrored and tinted green with OpenCV")
    logger.info("Update params with: POST http://localhost:8000/stream/params")
    await processor.run_forever()


if __name__ == "__main__":
    asyncio.run(main())
