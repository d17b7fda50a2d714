#!/usr/bin/env python3
"""
Loading overlay while a model loads or the pipeline stalls.

What it shows:
1. Model loading in the background, with a configurable simulated duration
2. The health state going from LOADING to IDLE once loading is done
3. Switching the loading overlay on by hand while processing is held up
4. Parameters changed while the stream runs

The HTTP server answers /health at once while the model is still loading.
During a simulated processing stall the overlay is switched on manually; the
processor is then not called at all and viewers see a progress bar instead.

Try it:
1. Run: python -m pytrickle.examples.overlay_example
2. Health: curl http://localhost:8000/health
3. Stall processing for 15 s (while a stream runs):
   curl -X POST http://localhost:8000/stream/params \
     -H 'Content-Type: application/json' \
     -d '{"processing_delay": 15}'
"""

import asyncio
import logging
import time
from typing import Any, Dict, Optional

from pytrickle.frame_overlay import OverlayConfig, OverlayMode
from pytrickle.frame_skipper import FrameSkipConfig
from pytrickle.frames import AudioFrame, VideoFrame
from pytrickle.stream_processor import StreamProcessor

logging.basicConfig(level=logging.INFO)
logger = logging.getLogger(__name__)


class ModelLoadingOverlayProcessor(StreamProcessor):
    """A StreamProcessor whose model takes a while to load and that can pause its output."""

    def __init__(
        self,
        *,
        model_load_delay: float = 10.0,
    ):
        self.model_loaded = False
        self.model_load_delay: float = model_load_delay
        self._model_load_start_time: Optional[float] = None

        super().__init__(
            video_processor=self.process_video,
            audio_processor=self.process_audio,
            model_loader=self.load_model,
            param_updater=self.update_params,
            on_stream_start=self.on_stream_start,
            on_stream_stop=self.on_stream_stop,
            name="model-loading-demo",
            port=8000,
            frame_skip_config=FrameSkipConfig(),
            overlay_config=OverlayConfig(
                mode=OverlayMode.PROGRESSBAR,
                message="Loading...",
                enabled=True,
                auto_timeout_seconds=1.0,
            ),
            route_prefix="/",
        )

    async def load_model(self, **kwargs):
        """Pretend to load a model for ``load_delay`` (default: model_load_delay) seconds."""
        self._model_load_start_time = time.time()
        logger.info("🔄 Model loading started...")
        load_delay = kwargs.get("load_delay", self.model_load_delay)
        if load_delay > 0:
            logger.info(f"Simulating model load for {load_delay:.1f}s...")
            await asyncio.sleep(load_delay)
        self.model_loaded = True
        elapsed = time.time() - (self._model_load_start_time or time.time())
        logger.info(f"✅ Model loading complete in {elapsed:.2f}s")

    async def on_stream_start(self, params: Dict[str, Any]):
        """A ``processing_delay`` start param holds the output behind the overlay that long."""
        logger.info("🎬 Stream started")
        if not self.model_loaded:
            logger.warning("⚠️  Model not loaded yet - frames will pass through until ready")
        self._hold_output(float(params.get("processing_delay", 0.0)), at_start=True)

    async def on_stream_stop(self):
        """Nothing to clean up."""
        logger.info("🛑 Stream stopped")

    async def process_video(self, frame: VideoFrame):
        """Echo the frame (while the manual overlay is on, this is not called at all)."""
        return frame

    async def process_audio(self, frame: AudioFrame) -> list[AudioFrame]:
        """Echo the audio."""
        return [frame]

    async def update_params(self, params: dict):
        """``processing_delay``: seconds to hold the running stream's video behind the overlay."""
        logger.info(f"Custom parameters updated: {params}")
        self._hold_output(float(params.get("processing_delay", 0.0)), at_start=False)

    def _hold_output(self, seconds: float, *, at_start: bool) -> None:
        """Switch the manual overlay on and schedule switching it off after ``seconds``."""
        if seconds <= 0:
            return
        if not at_start:
            logger.info("Simulating processing delay for %.1fs", seconds)
        if self.set_loading_overlay(True):
            asyncio.create_task(self._disable_overlay_after(seconds))
            if at_start:
                logger.info("Startup block scheduled for %.1fs", seconds)
        elif at_start:
            logger.warning("Could not enable loading overlay at stream start (client not ready)")
        else:
            logger.warning("Could not enable loading overlay for processing delay (client not ready)")

    async def _disable_overlay_after(self, duration: float):
        """Turn the manual overlay off again after ``duration`` seconds."""
        try:
            await asyncio.sleep(duration)
            self.set_loading_overlay(False)
            logger.info("Processing delay complete - overlay disabled")
        except asyncio.CancelledError:
            logger.debug("Processing delay logging cancelled")


def main() -> None:
    """Build the processor and serve until interrupted."""
    logger.info("=" * 60)
    logger.info("Model loading and loading overlay example")
    logger.info("=" * 60)
    processor = ModelLoadingOverlayProcessor()
    logger.info("Server: http://localhost:8000")
    logger.info(f"Model loading delay: {processor.model_load_delay}s")
    logger.info("Try: curl http://localhost:8000/health")
    logger.info("     curl -X POST http://localhost:8000/stream/params \\")
    logger.info("       -H 'Content-Type: application/json' -d '{\"processing_delay\": 15}'")
    processor.run()


if __name__ == "__main__":
    main()
