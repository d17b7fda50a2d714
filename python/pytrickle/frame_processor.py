"""The base class user code subclasses to run a model on a stream (upstream's contract, pytrickle.frame_processor)."""

from __future__ import annotations

import asyncio
import logging
from abc import ABC, abstractmethod
from typing import Any, Dict, List, Optional

from .base import ErrorCallback
from .frames import AudioFrame, VideoFrame
from .state import StreamState

logger = logging.getLogger(__name__)


class FrameProcessor(ABC):
    """Subclass it and implement the four abstract coroutines.

    The engine decodes the input into ``VideoFrame``/``AudioFrame`` objects, awaits
    ``process_video_async``/``process_audio_async`` on the server's event loop and encodes what
    they return.
    """

    def __init__(self, error_callback: Optional[ErrorCallback] = None, **init_kwargs):
        # Extra keyword arguments are accepted and ignored, as upstream does (docs/compatibility.md Q26).
        self.error_callback = error_callback
        self.state: Optional[StreamState] = None
        self._model_loaded = False
        self._model_load_lock = asyncio.Lock()

    def attach_state(self, state: StreamState) -> None:
        self.state = state

    async def ensure_model_loaded(self, **kwargs) -> None:
        """Loads the model once; later calls return at once. A failure propagates."""
        async with self._model_load_lock:
            if self._model_loaded:
                return
            await self.load_model(**kwargs)
            self._model_loaded = True
            if self.state is not None:
                self.state.set_startup_complete()

    @abstractmethod
    async def load_model(self, **kwargs) -> None: ...

    @abstractmethod
    async def process_video_async(self, frame: VideoFrame) -> Optional[VideoFrame]: ...

    @abstractmethod
    async def process_audio_async(self, frame: AudioFrame) -> Optional[List[AudioFrame]]: ...

    @abstractmethod
    async def update_params(self, params: Dict[str, Any]) -> None: ...

    async def on_stream_start(self, params: Dict[str, Any]) -> None:
        """Called when a stream starts, with the start request's ``params`` (or ``{}``)."""

    async def on_stream_stop(self) -> None:
        """Called when a stream has ended."""
