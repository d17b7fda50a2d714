"""
Multi-stream management (as upstream's pytrickle.manager).

``StreamHandler`` is the minimal interface one stream exposes (start, stop, running, size);
``BaseStreamManager`` keeps a registry of handlers keyed by request id, serialises creation and
removal with a lock and mirrors the number of live streams into an optional ``StreamState``;
``TrickleStreamManager`` builds handlers through a user-supplied async factory. None of this is
used by ``StreamServer``: it is a building block for integrators running several streams.
"""

from __future__ import annotations

import asyncio
import logging
from abc import ABC, abstractmethod
from typing import Any, Callable, Dict, Optional

from .state import StreamState

logger = logging.getLogger(__name__)

# Per-handler and overall limits used by cleanup_all().
_HANDLER_STOP_TIMEOUT = 8.0
_CLEANUP_TIMEOUT = 15.0


class StreamHandler:
    """Interface of one managed stream, with its output resolution.

    Cooperative: extra keyword arguments go to the next class in the MRO, so it can be mixed
    with other bases.
    """

    def __init__(self, width: int = 512, height: int = 512, **kwargs):
        super().__init__(**kwargs)
        self.width = width
        self.height = height

    @property
    def running(self) -> bool:
        """True while the stream is live; subclasses provide it."""
        raise NotImplementedError("Subclasses must implement the 'running' property")

    async def start(self) -> bool:
        """Bring the stream up; True on success. Subclasses provide it."""
        raise NotImplementedError("Subclasses must implement start()")

    async def stop(self, *, called_by_manager: bool = False) -> bool:
        """Tear the stream down; True on a clean stop. Subclasses provide it."""
        raise NotImplementedError("Subclasses must implement stop()")

    def update_resolution(self, width: int, height: int) -> bool:
        """Record a new size; returns whether anything changed (a change is logged)."""
        if self.width == width and self.height == height:
            return False
        previous = (self.width, self.height)
        self.width = width
        self.height = height
        logger.info(f"Resolution updated from {previous[0]}x{previous[1]} to {width}x{height}")
        return True


class BaseStreamManager(ABC):
    """Registry of running stream handlers keyed by request id."""

    def __init__(self, stream_state: Optional[StreamState] = None):
        self.handlers: Dict[str, StreamHandler] = {}
        self.lock = asyncio.Lock()
        self.stream_state = stream_state

    @abstractmethod
    async def create_stream_handler(self, request_id: str, **kwargs) -> Optional[StreamHandler]:
        """Build (but do not start) the handler for ``request_id``; None on failure."""

    async def create_stream(self, request_id: str, **kwargs) -> bool:
        """Create, start and register a handler. False for a duplicate id or any failure."""
        async with self.lock:
            if request_id in self.handlers:
                logger.warning(f"Stream {request_id} already exists")
                return False
            try:
                # A stale error from an earlier stream is forgotten once nothing is running.
                state = self.stream_state
                if state is not None and state.is_error() and not self.handlers:
                    state.clear_error()

                handler = await self.create_stream_handler(request_id, **kwargs)
                if not handler:
                    logger.error(f"Failed to create stream handler for {request_id}")
                    return False

                if not await handler.start():
                    logger.error(f"Failed to start stream handler for {request_id}")
                    return False

                self.handlers[request_id] = handler
                self._update_stream_state()
                logger.info(f"Stream {request_id} started successfully")
                return True
            except Exception as error:
                logger.error(f"Error creating stream {request_id}: {error}")
                if self.stream_state is not None:
                    self.stream_state.set_error(f"Error creating stream: {error}")
                return False

    async def stop_stream(self, request_id: str) -> bool:
        """Stop a handler and drop it from the registry (even when stopping fails)."""
        async with self.lock:
            handler = self.handlers.get(request_id)
            if handler is None:
                logger.warning(f"Stream {request_id} not found")
                return False
            try:
                ok = await handler.stop(called_by_manager=True)
            except Exception as error:
                logger.error(f"Error stopping stream {request_id}: {error}")
                ok = False
            else:
                logger.info(f"Stream {request_id} stopped, success: {ok}")
            finally:
                self.handlers.pop(request_id, None)
                self._update_stream_state()
            return ok

    def _update_stream_state(self) -> None:
        """Publish the live stream count; with no streams left an error is cleared."""
        state = self.stream_state
        if state is None:
            return
        count = len(self.handlers)
        state.update_active_streams(count)
        if count == 0 and state.is_error():
            state.clear_error()

    def build_stream_status(self, request_id: str, handler: StreamHandler) -> Dict[str, Any]:
        """Status entry for one handler; override to add fields (must not block)."""
        return {
            "request_id": request_id,
            "running": handler.running,
            "width": handler.width,
            "height": handler.height,
        }

    async def get_stream_status(self, request_id: str) -> Optional[Dict[str, Any]]:
        """Status of one stream, or None if unknown (or if building the status fails)."""
        async with self.lock:
            handler = self.handlers.get(request_id)
        if handler is None:
            return None
        try:
            return self.build_stream_status(request_id, handler)
        except Exception:
            return None

    async def list_streams(self) -> Dict[str, Dict[str, Any]]:
        """Statuses of all streams by id; handlers whose status cannot be built are left out."""
        async with self.lock:
            snapshot = list(self.handlers.items())
        statuses: Dict[str, Dict[str, Any]] = {}
        for request_id, handler in snapshot:
            try:
                status = self.build_stream_status(request_id, handler)
            except Exception:
                continue
            if status:
                statuses[request_id] = status
        return statuses

    async def cleanup_all(self) -> None:
        """Stop every stream concurrently (8 s each, 15 s overall) and empty the registry."""
        async with self.lock:
            if not self.handlers:
                return
            stops = [self._stop_stream_with_timeout(request_id) for request_id in list(self.handlers)]
            try:
                await asyncio.wait_for(asyncio.gather(*stops, return_exceptions=True),
                                       timeout=_CLEANUP_TIMEOUT)
            except asyncio.TimeoutError:
                logger.warning("Global cleanup timeout reached, forcing cleanup")
            except Exception as error:
                logger.error(f"Error during cleanup: {error}")
            self.handlers.clear()
            self._update_stream_state()

    async def _stop_stream_with_timeout(self, request_id: str) -> bool:
        """Stop one handler within the per-handler limit; False on timeout or error."""
        handler = self.handlers.get(request_id)
        if handler is None:
            return False
        try:
            return await asyncio.wait_for(handler.stop(called_by_manager=True),
                                          timeout=_HANDLER_STOP_TIMEOUT)
        except (asyncio.TimeoutError, Exception) as error:
            logger.warning(f"Failed to stop stream {request_id} gracefully: {error}")
        return False


class TrickleStreamManager(BaseStreamManager):
    """Stream manager whose handlers come from an async factory.

    The factory is awaited as ``factory(request_id, **kwargs, app_context=app_context)``.
    """

    def __init__(self, app_context: Optional[Dict] = None, stream_state: Optional[StreamState] = None):
        if stream_state is None and app_context:
            stream_state = app_context.get("stream_state")
        super().__init__(stream_state)
        self.app_context = app_context or {}
        self.stream_handler_factory: Optional[Callable] = None

    def set_stream_handler_factory(self, factory: Callable) -> None:
        self.stream_handler_factory = factory

    async def create_stream_handler(self, request_id: str, **kwargs) -> Optional[StreamHandler]:
        factory = self.stream_handler_factory
        if factory is None:
            logger.error("No stream handler factory configured")
            return None
        try:
            return await factory(request_id, **kwargs, app_context=self.app_context)
        except Exception as error:
            logger.error(f"Error in stream handler factory: {error}")
            return None
