"""Passthrough PyTrickle app: audio and video go out unchanged.

Every handler a worker can define is present (model loading, stream start and
stop, video, audio and parameter updates), so this file is the natural
skeleton for a new pipeline: put your processing where the comments say.

Run directly:
    python -m pytrickle.examples.passthrough_example

Or generate a customized copy:
    pytrickle init my_app --port 8000 --out ./my_app.py
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any, Dict, List

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


@dataclass
class AppConfig:
    """Settings that stream params and runtime updates may change."""

    enabled: bool = True
    # Your own settings go here, for instance:
    # strength: float = 0.5


class PassthroughHandlers:
    """Handlers returning every frame as it came in (edit them to process frames)."""

    def __init__(self) -> None:
        self.cfg = AppConfig()
        # Models and other per-app state belong here, e.g. self.model = None

    @model_loader
    async def load(self, **kwargs: dict) -> None:
        """Runs once before streaming: load weights, warm up devices, and so on."""
        logger.info("Passthrough handlers ready (there is no model to load)")

    @on_stream_start
    async def on_start(self, params: Dict[str, Any]) -> None:
        """Take the stream's initial params before the first frame arrives."""
        if params and "enabled" in params:
            self.cfg.enabled = bool(params["enabled"])
            logger.info("Stream start: processing %s", "enabled" if self.cfg.enabled else "disabled")

    @video_handler
    async def handle_video(self, frame: VideoFrame) -> VideoFrame:
        """Return the frame to publish (``frame.tensor`` holds the pixels)."""
        if not self.cfg.enabled:
            return frame
        # Processing goes here, for instance:
        #     return frame.replace_tensor(my_model(frame.tensor))
        return frame

    @audio_handler
    async def handle_audio(self, frame: AudioFrame) -> List[AudioFrame]:
        """Return the audio frames to publish (``frame.samples`` holds the samples)."""
        if not self.cfg.enabled:
            return [frame]
        # Processing goes here, for instance:
        #     return [frame.replace_samples(my_filter(frame.samples))]
        return [frame]

    @param_updater
    async def update_params(self, params: dict) -> None:
        """Apply parameters sent while the stream runs (POST /stream/params)."""
        if "enabled" in params:
            self.cfg.enabled = bool(params["enabled"])
            logger.info("Processing %s", "enabled" if self.cfg.enabled else "disabled")
        # Your own parameters, for instance:
        # if "strength" in params:
        #     self.cfg.strength = float(params["strength"])

    @on_stream_stop
    async def on_stop(self) -> None:
        """Runs when the stream ends: free what the stream used."""
        logger.info("Stream stopped; nothing to release")


async def main() -> None:
    """Serve the passthrough handlers until interrupted."""
    handlers = PassthroughHandlers()
    processor = StreamProcessor.from_handlers(
        handlers,
        name="passthrough-example",
        port=8000,
    )
    logger.info("Start a stream with: POST http://localhost:8000/stream/start")
    logger.info("Update params with: POST http://localhost:8000/stream/params")
    await processor.run_forever()


if __name__ == "__main__":
    asyncio.run(main())
