"""
Handler typing and a small registry of active handlers.

Kept separate from the decorators so that stream processing code can use the
types without importing the decorators (avoids import cycles).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Literal, Optional, Protocol, overload

if TYPE_CHECKING:  # pragma: no cover - typing only
    from .frames import AudioFrame, VideoFrame

logger = logging.getLogger(__name__)

# Any raw (undecorated or decorated) handler callable.
HandlerFn = Callable[..., Any]

HandlerKind = Literal[
    "video",
    "audio",
    "model_loader",
    "param_updater",
    "stream_start",
    "stream_stop",
]


class VideoHandlerProtocol(Protocol):
    """Shape of a decorated video handler."""

    async def __call__(self, *args: VideoFrame) -> Optional[VideoFrame]: ...


class AudioHandlerProtocol(Protocol):
    """Shape of a decorated audio handler."""

    async def __call__(self, *args: AudioFrame) -> Optional[List[AudioFrame]]: ...


class ModelLoaderProtocol(Protocol):
    """Shape of a decorated model loader."""

    async def __call__(self, *args: Any, **kwargs: Any) -> None: ...


class ParamUpdaterProtocol(Protocol):
    """Shape of a decorated parameter updater."""

    async def __call__(self, params: Dict[str, Any]) -> None: ...


class StreamStartProtocol(Protocol):
    """Shape of a decorated stream-start hook."""

    async def __call__(self, params: Dict[str, Any]) -> None: ...


class StreamStopProtocol(Protocol):
    """Shape of a decorated stream-stop hook."""

    async def __call__(self) -> None: ...


@dataclass
class HandlerInfo:
    """Metadata attached to each decorated handler."""

    handler_type: HandlerKind
    description: Optional[str] = None
    signature: Optional[str] = None


class HandlerRegistry:
    """One handler per kind; re-registering a kind replaces it with a warning."""

    def __init__(self) -> None:
        self._handlers: Dict[HandlerKind, HandlerFn] = {}
        self._info: Dict[HandlerKind, HandlerInfo] = {}

    def register(self, handler: HandlerFn, info: HandlerInfo) -> None:
        kind = info.handler_type
        if kind in self._handlers:
            logger.warning(
                "Overwriting handler '%s': %s -> %s",
                kind,
                self._info[kind].description,
                info.description,
            )
        self._handlers[kind] = handler
        self._info[kind] = info

    @overload
    def get(self, handler_type: Literal["video"]) -> Optional[VideoHandlerProtocol]: ...

    @overload
    def get(self, handler_type: Literal["audio"]) -> Optional[AudioHandlerProtocol]: ...

    @overload
    def get(self, handler_type: Literal["model_loader"]) -> Optional[ModelLoaderProtocol]: ...

    @overload
    def get(self, handler_type: Literal["param_updater"]) -> Optional[ParamUpdaterProtocol]: ...

    @overload
    def get(self, handler_type: Literal["stream_start"]) -> Optional[StreamStartProtocol]: ...

    @overload
    def get(self, handler_type: Literal["stream_stop"]) -> Optional[StreamStopProtocol]: ...

    def get(self, handler_type: HandlerKind) -> Optional[HandlerFn]:
        return self._handlers.get(handler_type)
