"""StreamProcessor: a server built from plain async functions or decorated handler methods
(as upstream's pytrickle.stream_processor)."""

from __future__ import annotations

import asyncio
import inspect
import logging
from enum import Enum
from typing import Any, Awaitable, Callable, Dict, List, Optional, Union  # noqa: F401  (Union: upstream's)

from .frame_overlay import OverlayConfig
from .frame_processor import FrameProcessor
from .frame_skipper import FrameSkipConfig
from .frames import AudioFrame, VideoFrame
from .registry import HandlerRegistry
from ._stream_identity import call_for_stream
from .server import StreamServer

logger = logging.getLogger(__name__)


class VideoProcessingResult(Enum):
    WITHHELD = "withheld"


VideoProcessor = Callable[[VideoFrame], Awaitable[Any]]
AudioProcessor = Callable[[AudioFrame], Awaitable[Any]]
ModelLoader = Callable[..., Awaitable[None]]
ParamUpdater = Callable[[Dict[str, Any]], Awaitable[None]]
OnStreamStart = Callable[[Dict[str, Any]], Awaitable[None]]
OnStreamStop = Callable[[], Awaitable[None]]

_KIND_TO_ARGUMENT = {
    "video": "video_processor",
    "audio": "audio_processor",
    "model_loader": "model_loader",
    "param_updater": "param_updater",
    "stream_start": "on_stream_start",
    "stream_stop": "on_stream_stop",
}


def _require_async(function: Optional[Callable], label: str) -> None:
    if function is None:
        return
    target = inspect.unwrap(getattr(function, "__func__", function))
    if not inspect.iscoroutinefunction(target):
        raise ValueError(f"{label} must be an async function")


def _positional_parameters(function: Callable) -> List[inspect.Parameter]:
    try:
        parameters = list(inspect.signature(function).parameters.values())
    except (TypeError, ValueError):
        return []
    # stream_id is passed by keyword (docs/many_streams.md).
    return [p for p in parameters
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.VAR_POSITIONAL) and p.name != "stream_id"]


def _check_signatures(handlers: Dict[str, Optional[Callable]]) -> None:
    """Best effort: warns about handlers that cannot take what they will be given."""
    needs_argument = {"video_processor": "a frame", "audio_processor": "a frame",
                      "param_updater": "a params dict", "on_stream_start": "a params dict"}
    for label, function in handlers.items():
        if function is None:
            continue
        try:
            parameters = list(inspect.signature(function).parameters.values())
        except (TypeError, ValueError):
            continue
        if label in needs_argument and not parameters:
            logger.warning("%s takes no parameters but will be called with %s", label, needs_argument[label])
        if label == "on_stream_stop" and _positional_parameters(function):
            logger.warning("on_stream_stop is called without arguments but declares positional parameters")


class _InternalFrameProcessor(FrameProcessor):
    """Adapts StreamProcessor's handler functions to the FrameProcessor interface."""

    def __init__(self, video_processor: Optional[VideoProcessor] = None,
                 audio_processor: Optional[AudioProcessor] = None,
                 model_loader: Optional[ModelLoader] = None,
                 param_updater: Optional[ParamUpdater] = None,
                 on_stream_start: Optional[OnStreamStart] = None,
                 on_stream_stop: Optional[OnStreamStop] = None, name: str = "internal-processor"):
        self.video_processor = video_processor
        self.audio_processor = audio_processor
        self.model_loader = model_loader
        self.param_updater = param_updater
        self.on_stream_start_callback = on_stream_start
        self.on_stream_stop_callback = on_stream_stop
        self.name = name
        self.frame_skip_config = None
        self.frame_skipper = None
        super().__init__()

    async def load_model(self, **kwargs) -> None:
        if self.model_loader is None:
            return
        try:
            await self.model_loader(**kwargs)
        except Exception as error:
            logger.error("model loader failed: %s", error)
            raise

    async def process_video_async(self, frame: VideoFrame) -> Optional[VideoFrame]:
        if self.video_processor is None:
            return frame
        try:
            result = await self.video_processor(frame)
        except Exception as error:  # noqa: BLE001 - the original frame goes out instead
            logger.error("video processor failed: %s", error)
            return frame
        if isinstance(result, VideoFrame):
            return result
        if result is VideoProcessingResult.WITHHELD:
            return None
        return frame

    async def process_audio_async(self, frame: AudioFrame) -> Optional[List[AudioFrame]]:
        if self.audio_processor is None:
            return [frame]
        try:
            result = await self.audio_processor(frame)
        except Exception as error:  # noqa: BLE001
            logger.error("audio processor failed: %s", error)
            return [frame]
        if isinstance(result, AudioFrame):
            return [result]
        if isinstance(result, list):
            return result
        return [frame]

    # The callbacks get stream_id= when they declare it (one worker serving several streams,
    # docs/many_streams.md); upstream's signatures are called as upstream calls them.

    async def update_params(self, params: Dict[str, Any], stream_id: str = "") -> None:
        if not params:
            return
        user_params = dict(params)
        if params.get("load_model"):
            await self.ensure_model_loaded()
            user_params.pop("load_model", None)
        if self.param_updater is not None and user_params:
            await call_for_stream(self.param_updater, user_params, stream_id=stream_id)

    async def on_stream_start(self, params: Dict[str, Any], stream_id: str = "") -> None:
        if self.on_stream_start_callback is None:
            return
        try:
            await call_for_stream(self.on_stream_start_callback, params, stream_id=stream_id)
        except Exception as error:  # noqa: BLE001
            logger.error("on_stream_start handler failed: %s", error)

    async def on_stream_stop(self, stream_id: str = "") -> None:
        if self.on_stream_stop_callback is None:
            return
        try:
            await call_for_stream(self.on_stream_stop_callback, stream_id=stream_id)
        except Exception as error:  # noqa: BLE001
            logger.error("on_stream_stop handler failed: %s", error)


class StreamProcessor:
    def __init__(self, video_processor: Optional[VideoProcessor] = None,
                 audio_processor: Optional[AudioProcessor] = None,
                 model_loader: Optional[ModelLoader] = None,
                 param_updater: Optional[ParamUpdater] = None,
                 on_stream_start: Optional[OnStreamStart] = None,
                 on_stream_stop: Optional[OnStreamStop] = None,
                 send_data_interval: Optional[float] = 0.333, name: str = "stream-processor",
                 port: int = 8000, frame_skip_config: Optional[FrameSkipConfig] = None,
                 overlay_config: Optional[OverlayConfig] = None, validate_signature: bool = True,
                 **server_kwargs):
        handlers = {"video_processor": video_processor, "audio_processor": audio_processor,
                    "model_loader": model_loader, "param_updater": param_updater,
                    "on_stream_start": on_stream_start, "on_stream_stop": on_stream_stop}
        for label, function in handlers.items():
            _require_async(function, label)
        if validate_signature:
            _check_signatures(handlers)
        self.video_processor = video_processor
        self.audio_processor = audio_processor
        self.model_loader = model_loader
        self.param_updater = param_updater
        self.on_stream_start = on_stream_start
        self.on_stream_stop = on_stream_stop
        self.send_data_interval = send_data_interval  # stored, unused, as upstream (docs/compatibility.md Q27)
        self.name = name
        self.port = port
        self.frame_skip_config = frame_skip_config
        self.overlay_config = overlay_config
        self.server_kwargs = server_kwargs
        self._handler_registry: Optional[HandlerRegistry] = None
        self._frame_processor = _InternalFrameProcessor(
            video_processor=video_processor, audio_processor=audio_processor,
            model_loader=model_loader, param_updater=param_updater,
            on_stream_start=on_stream_start, on_stream_stop=on_stream_stop, name=name)
        self.server = StreamServer(frame_processor=self._frame_processor, port=port,
                                   frame_skip_config=frame_skip_config,
                                   overlay_config=overlay_config, **server_kwargs)
        self._frame_processor.attach_state(self.server.state)

    @classmethod
    def from_handlers(cls, handler_instance: Any, *, send_data_interval: Optional[float] = 0.333,
                      name: str = "stream-processor", port: int = 8000,
                      frame_skip_config: Optional[FrameSkipConfig] = None,
                      overlay_config: Optional[OverlayConfig] = None,
                      validate_signature: bool = True, **server_kwargs) -> "StreamProcessor":
        registry = HandlerRegistry()
        for attribute in sorted(dir(handler_instance)):
            if attribute.startswith("_"):
                continue
            try:
                handler = getattr(handler_instance, attribute)
            except Exception:  # noqa: BLE001 - properties that fail are not handlers
                continue
            info = getattr(handler, "_trickle_handler_info", None)
            if info is None:
                underlying = inspect.unwrap(getattr(handler, "__func__", handler))
                info = getattr(underlying, "_trickle_handler_info", None)
            if info is not None:
                registry.register(handler, info)
        arguments = {argument: registry.get(kind) for kind, argument in _KIND_TO_ARGUMENT.items()}
        processor = cls(send_data_interval=send_data_interval, name=name, port=port,
                        frame_skip_config=frame_skip_config, overlay_config=overlay_config,
                        validate_signature=validate_signature, **arguments, **server_kwargs)
        processor._handler_registry = registry
        return processor

    # ---- while running ----

    def _client(self):
        return self.server.current_client

    async def send_data(self, data: str) -> bool:
        client = self._client()
        if client is None or client.stop_event.is_set() or client.error_event.is_set():
            logger.debug("send_data: no running stream")
            return False
        try:
            await client.publish_data(data)
            return True
        except Exception as error:  # noqa: BLE001
            logger.error("send_data failed: %s", error)
            return False

    async def send_monitoring_event(self, event: dict, event_type: str = "custom_monitoring_event"):
        client = self._client()
        if client is None:
            return False
        await client.protocol.emit_monitoring_event(event, event_type)
        return None  # upstream returns None on success (docs/compatibility.md Q27)

    async def send_input_frame(self, frame) -> bool:
        client = self._client()
        if client is None or client.stop_event.is_set() or client.error_event.is_set():
            return False
        if isinstance(frame, VideoFrame):
            await client.video_input_queue.put(frame)
            return True
        if isinstance(frame, AudioFrame):
            await client.audio_input_queue.put(frame)
            return True
        return False

    async def _trigger_model_loading(self) -> None:
        try:
            await self._frame_processor.update_params({"load_model": True})
        except Exception as error:
            logger.error("Model loading failed: %s", error)
            self.server.state.set_error(f"Model loading failed: {error}")
            raise

    async def run_forever(self) -> None:
        if self.model_loader is not None:
            asyncio.create_task(self._trigger_model_loading())
        else:
            self.server.state.set_startup_complete()
        await self.server.run_forever()

    def run(self) -> None:
        asyncio.run(self.run_forever())

    def set_loading_overlay(self, active: bool) -> bool:
        client = self._client()
        if client is None:
            return False
        client.loading_controller.set_manual_loading(active)
        return True
