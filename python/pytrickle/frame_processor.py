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
    """Subclass it: load the model in ``load_model`` (upstream's hook) or ``initialize`` (what
    Livepeer's documentation writes), and implement ``process_video_async``,
    ``process_audio_async`` and ``update_params`` (async, or a plain method).

    The engine decodes the input into ``VideoFrame``/``AudioFrame`` objects, awaits
    ``process_video_async``/``process_audio_async`` on the server's event loop and encodes what
    they return. The model is loaded once: by ``await processor.start()`` if you call it, else
    by the server when it starts. A subclass that defines both hooks has ``load_model`` run
    (upstream's contract); call ``initialize`` from it if it should run too.
    """

    def __new__(cls, *args, **kwargs):
        # load_model is upstream's abstract method; initialize may stand in for it. Neither is an
        # error at instantiation, as a missing abstract method is.
        if cls.load_model is FrameProcessor.load_model and cls.initialize is FrameProcessor.initialize:
            raise TypeError(f"Can't instantiate {cls.__name__}: define load_model() (upstream's hook) or "
                            "initialize() to load the model (it may do nothing)")
        return super().__new__(cls)

    def __init__(self, error_callback: Optional[ErrorCallback] = None, **init_kwargs):
        # Extra keyword arguments are accepted and ignored, as upstream does (docs/compatibility.md Q26).
        self.error_callback = error_callback
        self.state: Optional[StreamState] = None
        self._model_loaded = False
        self._model_load_lock = asyncio.Lock()
        self._stream = None  # the running stream's client, for get_metrics()

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

    async def start(self) -> None:
        """Loads the model now (``initialize``/``load_model``), once; a server made afterwards
        does not load it again."""
        await self.ensure_model_loaded()

    async def load_model(self, **kwargs) -> None:
        """Upstream's hook, called once before the first stream. By default it runs
        ``initialize()``."""
        await self.initialize()

    async def initialize(self) -> None:
        """Called once on start-up (where upstream calls ``load_model``): load your model here."""

    def get_metrics(self) -> Dict[str, Any]:
        """The running stream's numbers: ``fps`` (output video), ``latency_ms`` (median time a frame
        spends from demuxing to encoded), ``gpu_memory_mb``, ``frames_processed``,
        ``frames_dropped``, ``error_count``; zeros when no stream runs."""
        from .metrics import stream_metrics
        return stream_metrics(self._stream)

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
