"""
Shared base for trickle components (subscriber, publisher, protocol, ...).

Provides error/shutdown events, a coarse lifecycle state, health reporting
and bookkeeping for fire-and-forget background tasks.
"""

import asyncio
import logging
import time
from enum import Enum
from typing import Any, Callable, Coroutine, List, Optional

try:  # aiohttp is optional for this package
    import aiohttp
except ImportError:  # pragma: no cover - depends on the environment
    aiohttp = None

# Async callable invoked as ``await callback(error_type, exception)``.
ErrorCallback = Callable[[str, Optional[Exception]], Coroutine[Any, Any, None]]

logger = logging.getLogger(__name__)


class ComponentState(Enum):
    """Lifecycle phases of a component (value equals name)."""

    INIT = "INIT"
    STARTING = "STARTING"
    RUNNING = "RUNNING"
    STOPPING = "STOPPING"
    STOPPED = "STOPPED"
    ERROR = "ERROR"
    SHUTDOWN = "SHUTDOWN"


class TrickleComponent:
    """Base class with error/shutdown signalling and state tracking."""

    def __init__(self, error_callback: Optional[ErrorCallback] = None, component_name: str = "unknown"):
        self.error_event = asyncio.Event()
        self.shutdown_event = asyncio.Event()
        self.error_callback = error_callback
        self.component_name = component_name

        self.component_state = ComponentState.INIT
        self.last_error: Optional[str] = None
        self.last_activity: Optional[float] = time.time()

        self._background_tasks: List[asyncio.Task] = []

    def _should_stop(self) -> bool:
        return self.error_event.is_set() or self.shutdown_event.is_set()

    def _update_state(self, state: ComponentState):
        self.component_state = state
        self.last_activity = time.time()
        logger.debug(f"Component {self.component_name} state: {state.value}")

    async def _notify_error(self, error_type: str, exception: Optional[Exception] = None):
        """Record an error, flag it, and forward it to the error callback if any."""
        self.error_event.set()
        self.component_state = ComponentState.ERROR
        detail = str(exception) if exception else "Unknown error"
        self.last_error = f"{error_type}: {detail}"
        self.last_activity = time.time()

        logger.error(f"Component {self.component_name} error: {self.last_error}")

        if self.error_callback:
            try:
                await self.error_callback(error_type, exception)
            except Exception as exc:
                logger.error(f"Error in error callback: {exc}")

    def get_component_health(self) -> dict:
        return {
            "component": self.component_name,
            "state": self.component_state.value,
            "error": self.error_event.is_set(),
            "last_error": self.last_error,
            "last_activity": self.last_activity,
            "should_stop": self._should_stop(),
        }

    def _track_background_task(self, task: asyncio.Task):
        """Hold a reference to ``task`` until it finishes, swallowing its outcome."""
        self._background_tasks.append(task)

        def _on_done(finished: asyncio.Task):
            try:
                if not finished.cancelled():
                    finished.result()  # mark any exception as retrieved
            except (asyncio.CancelledError, Exception):
                pass
            finally:
                try:
                    self._background_tasks.remove(finished)
                except ValueError:
                    pass

        if task.done():
            _on_done(task)
        else:
            task.add_done_callback(_on_done)

    async def shutdown(self):
        """Flag shutdown so the component's loops wind down."""
        self._update_state(ComponentState.SHUTDOWN)
        self.shutdown_event.set()


def _connection_reset_error_type():
    """aiohttp's ClientConnectionResetError when available (aiohttp >= 3.10.6)."""
    if aiohttp is None:
        return None
    return getattr(aiohttp, "ClientConnectionResetError", None)


def setup_asyncio_exception_handler():
    """Install a loop exception handler that hides aiohttp connection resets.

    Everything else goes to the loop's default handler. Without a running
    loop nothing is installed (a debug message is logged).
    """

    def handle_exception(loop, context):
        exception = context.get("exception")
        reset_error = _connection_reset_error_type()
        if reset_error is not None and isinstance(exception, reset_error):
            logger.debug(f"Suppressed expected aiohttp connection reset during shutdown: {exception}")
            return
        loop.default_exception_handler(context)

    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        logger.debug("No running asyncio loop, exception handler will be set later")
        return
    loop.set_exception_handler(handle_exception)
    logger.debug("Global asyncio exception handler installed")
