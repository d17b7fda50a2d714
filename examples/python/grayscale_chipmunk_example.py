"""Grayscale video and chipmunk audio via decorator handlers.

Run with:
    python -m pytrickle.examples.grayscale_chipmunk_example

Video frames lose their colour (luma weights 0.2989, 0.5870, 0.1140) and audio
is pitched up by resampling each frame (factor ``chipmunk_factor``, 1.6 by
default).  Both effects can be changed with the params ``grayscale`` and
``chipmunk_factor`` at stream start or while the stream runs.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any, Dict, List

import numpy as np
import torch

from pytrickle import AudioFrame, StreamProcessor, VideoFrame
from pytrickle.decorators import (
    audio_handler,
    model_loader,
    on_stream_start,
    on_stream_stop,
    param_updater,
    video_handler,
)

logger = logging.getLogger(__name__)
logging.basicConfig(level=logging.INFO)

LUMA_WEIGHTS = (0.2989, 0.5870, 0.1140)


@dataclass
class EffectConfig:
    """Effect settings that params may change."""

    grayscale_enabled: bool = True
    chipmunk_factor: float = 1.6  # above 1.0 the pitch goes up


def _positive_float(value: Any) -> float | None:
    """``float(value)`` when that is > 0, None for non-positive values; raises on junk."""
    number = float(value)
    return number if number > 0 else None


class GrayscaleChipmunkHandlers:
    """Decorated handlers applying both effects."""

    def __init__(self) -> None:
        self.config = EffectConfig()

    @model_loader
    async def load(self, **_: dict) -> None:
        logger.info("Model loader called; this demo has nothing to load.")

    @on_stream_start
    async def on_start(self, params: Dict[str, Any]) -> None:
        """Apply ``grayscale`` / ``chipmunk_factor`` from the start params."""
        if not params:
            return
        if "grayscale" in params:
            self.config.grayscale_enabled = bool(params["grayscale"])
            logger.info("Stream start grayscale set to %s", self.config.grayscale_enabled)
        if "chipmunk_factor" in params:
            try:
                factor = _positive_float(params["chipmunk_factor"])
            except (TypeError, ValueError):
                logger.warning("Invalid chipmunk_factor %s at stream start", params["chipmunk_factor"])
            else:
                if factor is not None:
                    self.config.chipmunk_factor = factor
                    logger.info("Stream start chipmunk_factor set to %.2f", factor)

    @video_handler
    async def handle_video(self, frame: VideoFrame) -> VideoFrame:
        """Grayscale the frame, keeping its shape (optional batch of 1, HWC, 1 or 3 channels)."""
        if not self.config.grayscale_enabled:
            return frame

        image = frame.tensor
        had_batch = image.dim() == 4 and image.shape[0] == 1
        if had_batch:
            image = image.squeeze(0)
        if image.dim() != 3 or image.shape[-1] not in (1, 3):
            logger.debug("Video tensor shape %s not supported; frame left as is", tuple(image.shape))
            return frame

        if image.shape[-1] == 1:
            gray = image
        else:
            weights = torch.tensor(LUMA_WEIGHTS, device=image.device, dtype=image.dtype)
            gray = (image[..., :3] * weights).sum(dim=-1, keepdim=True)
        rgb = gray.repeat(1, 1, 3)
        if had_batch:
            rgb = rgb.unsqueeze(0)
        return frame.replace_tensor(rgb)

    @audio_handler
    async def handle_audio(self, frame: AudioFrame) -> List[AudioFrame]:
        """Pitch the frame up: read it faster (linear interpolation) over the same length."""
        factor = max(self.config.chipmunk_factor, 1.0)
        original = np.asarray(frame.samples)
        dtype = original.dtype

        # Work on a (channels, samples) view; remember how to undo it.
        if original.ndim == 1:
            planes, layout = original[np.newaxis, :], "mono"
        elif original.shape[0] <= original.shape[1]:
            planes, layout = original, "channels_first"
        else:
            planes, layout = original.T, "channels_last"

        integer = np.issubdtype(dtype, np.integer)
        if integer:
            full_scale = float(np.iinfo(dtype).max)
            work = planes.astype(np.float32) / full_scale
        else:
            work = planes.astype(np.float32, copy=False)

        length = work.shape[1]
        if length < 2:
            logger.debug("Audio frame too short to pitch-shift; left as is")
            return [frame]

        positions = np.arange(length, dtype=np.float32)
        read_at = np.linspace(0.0, positions[-1], length, dtype=np.float32) / factor
        read_at = np.clip(read_at, 0.0, positions[-1])

        shifted = np.empty_like(work)
        for channel in range(work.shape[0]):
            shifted[channel] = np.interp(read_at, positions, work[channel])

        if integer:
            info = np.iinfo(dtype)
            shifted = np.clip(shifted * full_scale, info.min, info.max).astype(dtype)
        else:
            shifted = shifted.astype(dtype, copy=False)

        if layout == "mono":
            shifted = shifted.squeeze(0)
        elif layout == "channels_last":
            shifted = shifted.T
        return [frame.replace_samples(shifted)]

    @param_updater
    async def update_config(self, params: dict) -> None:
        """Runtime updates of ``grayscale`` and ``chipmunk_factor``."""
        if "grayscale" in params:
            self.config.grayscale_enabled = bool(params["grayscale"])
        if "chipmunk_factor" in params:
            try:
                factor = _positive_float(params["chipmunk_factor"])
            except (TypeError, ValueError):
                logger.warning(
                    "Invalid chipmunk_factor %s; keeping %s",
                    params["chipmunk_factor"],
                    self.config.chipmunk_factor,
                )
            else:
                if factor is not None:
                    self.config.chipmunk_factor = factor

    @on_stream_stop
    async def on_stop(self) -> None:
        logger.info("Stream stopped; effect settings back to their defaults.")
        self.config = EffectConfig()


async def main() -> None:
    """Serve the effects until interrupted."""
    handlers = GrayscaleChipmunkHandlers()
    processor = StreamProcessor.from_handlers(
        handlers,
        name="grayscale-chipmunk-demo",
        port=8000,
    )
    # Load up front, as a real app would warm its models before serving.
    logger.info("Initializing handlers...")
    await processor._frame_processor.load_model()
    await processor.run_forever()


if __name__ == "__main__":
    asyncio.run(main())
