"""
Decorators that mark functions as PyTrickle handlers.

Every decorator returns an ``async`` wrapper (``functools.wraps`` keeps the
original reachable as ``__wrapped__``) tagged with ``_trickle_handler``,
``_trickle_handler_type`` and ``_trickle_handler_info``. Plain functions run
in a worker thread; coroutine functions are awaited. The video and audio
decorators also normalise what the handler returns.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from functools import wraps
from typing import (
    Any,
    Awaitable,
    Callable,
    Concatenate,
    List,
    Optional,
    ParamSpec,
    TypeVar,
    get_type_hints,
    overload,
)

from .frames import AudioFrame, VideoFrame
from .registry import (
    AudioHandlerProtocol,
    HandlerFn,
    HandlerInfo,
    HandlerKind,
    ModelLoaderProtocol,
    ParamUpdaterProtocol,
    StreamStartProtocol,
    StreamStopProtocol,
    VideoHandlerProtocol,
)

logger = logging.getLogger(__name__)

P = ParamSpec("P")
T = TypeVar("T")


def _rate_limited(count: int) -> bool:
    """Warn for the first three occurrences, then every hundredth."""
    return count <= 3 or count % 100 == 0


def _validate_signature(func: HandlerFn, handler_type: HandlerKind) -> None:
    """Log a warning when a handler's parameters look wrong for its kind."""
    params = list(inspect.signature(func).parameters.values())
    if params and params[0].name == "self":
        params = params[1:]

    if handler_type in ("video", "audio"):
        expected = VideoFrame if handler_type == "video" else AudioFrame
        try:
            hints = get_type_hints(func)
        except Exception:
            hints = {}
        annotated = any(hints.get(p.name) is expected for p in params)
        named = any(p.name == "frame" for p in params)
        if not (annotated or named):
            logger.warning(
                "%s handler '%s' has no parameter matching VideoFrame/AudioFrame. "
                "Expected a param annotated as %s or named 'frame'. Got: %s",
                handler_type,
                func.__name__,
                expected.__name__,
                [p.name for p in params],
            )
    elif handler_type == "param_updater" and not params:
        logger.warning(
            "Param updater '%s' has no parameters. Expected something like (params: dict).",
            func.__name__,
        )


def _tag(target: Any, handler_type: HandlerKind, info: Optional[HandlerInfo]) -> None:
    setattr(target, "_trickle_handler", True)
    setattr(target, "_trickle_handler_type", handler_type)
    setattr(target, "_trickle_handler_info", info)


def trickle_handler(
    handler_type: HandlerKind,
    description: Optional[str] = None,
    validate_signature: bool = True,
) -> Callable[[HandlerFn], HandlerFn]:
    """Tag ``func`` in place as a handler of ``handler_type`` and return it unchanged."""

    def decorator(func: HandlerFn) -> HandlerFn:
        if validate_signature:
            _validate_signature(func, handler_type)
        info = HandlerInfo(
            handler_type=handler_type,
            description=description or f"{handler_type} handler: {func.__name__}",
            signature=str(inspect.signature(func)),
        )
        _tag(func, handler_type, info)
        return func

    return decorator


def _is_coro_fn(func: HandlerFn) -> bool:
    return inspect.iscoroutinefunction(func)


async def _maybe_await(func: HandlerFn, *args: Any, **kwargs: Any) -> Any:
    """Await coroutine functions; run anything else in a worker thread."""
    if _is_coro_fn(func):
        return await func(*args, **kwargs)
    return await asyncio.to_thread(func, *args, **kwargs)


def _wrap_handler(
    handler_type: HandlerKind,
    description: Optional[str] = None,
    validate_signature: bool = True,
) -> Callable[[Callable[..., Any]], Callable[..., Awaitable[Any]]]:
    """Tag ``func`` and give back a plain async wrapper that calls it."""

    def outer(func: HandlerFn) -> Callable[..., Awaitable[Any]]:
        trickle_handler(handler_type, description=description, validate_signature=validate_signature)(func)

        @wraps(func)
        async def call(*args: Any, **kwargs: Any) -> Any:
            return await _maybe_await(func, *args, **kwargs)

        _tag(call, handler_type, getattr(func, "_trickle_handler_info"))
        return call

    return outer


def _input_frame(args: tuple, kwargs: dict) -> Any:
    """The frame a handler was called with: ``frame=`` keyword, else the last positional."""
    if "frame" in kwargs:
        return kwargs.get("frame")
    return args[-1] if args else None


def _lifecycle(handler_type: HandlerKind, label: str, func: HandlerFn) -> Any:
    """Wrapper for hooks whose return value is ignored."""
    call = _wrap_handler(handler_type, description=f"{label}: {func.__name__}", validate_signature=True)(func)

    @wraps(func)
    async def wrapper(*args: Any, **kwargs: Any) -> None:
        await call(*args, **kwargs)
        return None

    _tag(wrapper, handler_type, getattr(func, "_trickle_handler_info", None))
    return wrapper


@overload
def video_handler(func: Callable[Concatenate[VideoFrame, P], Any]) -> VideoHandlerProtocol: ...


@overload
def video_handler(func: Callable[Concatenate[T, VideoFrame, P], Any]) -> VideoHandlerProtocol: ...


def video_handler(func: HandlerFn) -> VideoHandlerProtocol:
    """Mark a video handler and normalise its result to ``Optional[VideoFrame]``.

    A returned tensor/array with the input's number of dimensions and 1 or 3
    channels becomes ``frame.replace_tensor(result)``; other arrays are
    dropped with a (rate-limited) warning; any other value becomes ``None``.

    Example::

        @video_handler
        async def invert(frame: VideoFrame) -> VideoFrame:
            return frame.replace_tensor(1.0 - frame.tensor)
    """
    import numpy as np
    import torch

    call = _wrap_handler("video", description=f"Video handler: {func.__name__}", validate_signature=True)(func)
    mismatches = 0

    def warn_shape(got: Any, expected: Any) -> None:
        nonlocal mismatches
        mismatches += 1
        if _rate_limited(mismatches):
            logger.warning(
                "Video handler '%s' returned output with unexpected shape %s; "
                "expected same ndim and channels in (1, 3) as input %s. (seen=%d)",
                func.__name__,
                got,
                expected,
                mismatches,
            )

    @wraps(func)
    async def wrapper(*args: Any, **kwargs: Any) -> Optional[VideoFrame]:
        frame = _input_frame(args, kwargs)
        result = await call(*args, **kwargs)

        if result is None:
            return None
        if isinstance(result, VideoFrame):
            return result
        if frame is None or not isinstance(frame, VideoFrame):
            return None

        try:
            source = frame.tensor
            if hasattr(source, "dim"):
                source_ndim = source.dim()
            else:
                source_ndim = getattr(source, "ndim", -1)

            if torch.is_tensor(result):
                if result.dim() == source_ndim and result.shape[-1] in (1, 3):
                    return frame.replace_tensor(result)
                warn_shape(getattr(result, "shape", None), getattr(source, "shape", None))
                return None
            if isinstance(result, np.ndarray):
                if result.ndim == source_ndim and result.shape[-1] in (1, 3):
                    return frame.replace_tensor(torch.from_numpy(result))
                warn_shape(getattr(result, "shape", None), getattr(source, "shape", None))
                return None
        except Exception:
            logger.exception("Error normalizing video handler output")
            return None
        # Anything else (e.g. VideoProcessingResult.WITHHELD) quietly becomes None.
        return None

    _tag(wrapper, "video", getattr(func, "_trickle_handler_info", None))
    return wrapper


@overload
def audio_handler(func: Callable[Concatenate[AudioFrame, P], Any]) -> AudioHandlerProtocol: ...


@overload
def audio_handler(func: Callable[Concatenate[T, AudioFrame, P], Any]) -> AudioHandlerProtocol: ...


def audio_handler(func: HandlerFn) -> AudioHandlerProtocol:
    """Mark an audio handler and normalise its result to ``Optional[List[AudioFrame]]``.

    Lists pass through, a single frame is wrapped in a list, tensors and
    arrays replace the input frame's samples; other values give ``None`` and a
    rate-limited warning.
    """
    import numpy as np
    import torch

    call = _wrap_handler("audio", description=f"Audio handler: {func.__name__}", validate_signature=True)(func)
    unsupported = 0

    def warn_type(result: Any) -> None:
        nonlocal unsupported
        unsupported += 1
        if _rate_limited(unsupported):
            logger.warning(
                "Audio handler '%s' returned unsupported type %s; expected List[AudioFrame], "
                "AudioFrame, torch.Tensor, or numpy.ndarray. (seen=%d)",
                func.__name__,
                type(result).__name__,
                unsupported,
            )

    @wraps(func)
    async def wrapper(*args: Any, **kwargs: Any) -> Optional[List[AudioFrame]]:
        frame = _input_frame(args, kwargs)
        result = await call(*args, **kwargs)

        if result is None:
            return None
        if isinstance(result, list):
            return result
        if isinstance(result, AudioFrame):
            return [result]
        if frame is None or not isinstance(frame, AudioFrame):
            return None

        try:
            if torch.is_tensor(result):
                return [frame.replace_samples(result.detach().cpu().numpy())]
            if isinstance(result, np.ndarray):
                return [frame.replace_samples(result)]
            warn_type(result)
        except Exception:
            logger.exception("Error normalizing audio handler output")
            return None
        return None

    _tag(wrapper, "audio", getattr(func, "_trickle_handler_info", None))
    return wrapper


def model_loader(func: HandlerFn) -> ModelLoaderProtocol:
    """Mark the model-loading hook (its return value is ignored)."""
    return _lifecycle("model_loader", "Model loader", func)


def param_updater(func: HandlerFn) -> ParamUpdaterProtocol:
    """Mark the parameter-update hook (its return value is ignored)."""
    return _lifecycle("param_updater", "Parameter updater", func)


def on_stream_start(func: HandlerFn) -> StreamStartProtocol:
    """Mark the stream-start hook (its return value is ignored)."""
    return _lifecycle("stream_start", "Stream start handler", func)


def on_stream_stop(func: HandlerFn) -> StreamStopProtocol:
    """Mark the stream-stop hook (its return value is ignored)."""
    return _lifecycle("stream_stop", "Stream stop handler", func)
