"""
Pipeline lifecycle state shared by the server, the client and user code.

A single enum records the internal phase; three asyncio events let tasks
wait for "running", "shutdown" and "error".
"""

from __future__ import annotations

import asyncio
import logging
import traceback
from enum import Enum

logger = logging.getLogger(__name__)


class PipelineState(Enum):
    """Internal pipeline phase; the values are the strings the HTTP API reports."""

    LOADING = "LOADING"
    IDLE = "IDLE"
    OK = "OK"
    ERROR = "ERROR"


class StreamState:
    """Enum-driven lifecycle tracker with coordination events."""

    def __init__(self) -> None:
        self._state: PipelineState = PipelineState.LOADING

        self.running_event = asyncio.Event()
        self.shutdown_event = asyncio.Event()
        self.error_event = asyncio.Event()

        self.active_client: bool = False
        self.active_streams: int = 0
        self.startup_complete: bool = False

        self._state_transitions = {
            PipelineState.LOADING: self._set_loading,
            PipelineState.IDLE: self._set_idle,
            PipelineState.OK: self._set_ok,
            PipelineState.ERROR: self._set_error,
        }

    # -- derived views -------------------------------------------------------------------

    @property
    def state(self) -> PipelineState:
        return self._state

    @property
    def running(self) -> bool:
        """Running event set and neither shutdown nor error signalled."""
        return (
            self.running_event.is_set()
            and not self.shutdown_event.is_set()
            and not self.error_event.is_set()
        )

    @property
    def pipeline_ready(self) -> bool:
        """True once the internal phase is IDLE or OK."""
        return self._state in (PipelineState.IDLE, PipelineState.OK)

    # -- bookkeeping ---------------------------------------------------------------------

    def set_active_client(self, active: bool):
        self.active_client = active

    def update_active_streams(self, count: int) -> None:
        self.active_streams = max(0, int(count))

    def update_component_health(self, component_name: str, health_data: dict):
        """Component errors are transient: they are logged at debug level only."""
        if health_data.get("error"):
            logger.debug(
                f"Component {component_name} reported error (normal): {health_data.get('error')}"
            )

    # -- reporting -----------------------------------------------------------------------

    def _get_current_status(self) -> str:
        if self.error_event.is_set():
            return "ERROR"
        if self.active_streams > 0 or self.active_client:
            return "OK"
        if self.startup_complete:
            return "IDLE"
        return "LOADING"

    def get_state(self) -> dict:
        return {
            "status": self._get_current_status(),
            "pipeline_ready": self.pipeline_ready,
            "shutdown_initiated": self.shutdown_event.is_set(),
            "error": self.error_event.is_set(),
        }

    def get_pipeline_state(self) -> dict:
        """Health payload; unlike get_state, IDLE also requires pipeline_ready."""
        if self.error_event.is_set():
            status = "ERROR"
        elif self.active_streams > 0 or self.active_client:
            status = "OK"
        elif self.pipeline_ready and self.startup_complete:
            status = "IDLE"
        else:
            status = "LOADING"
        return {
            "status": status,
            "state": status,
            "error_message": None,
            "pipeline_ready": self.pipeline_ready,
            "active_streams": self.active_streams,
            "startup_complete": self.startup_complete,
            "pipeline_state": self._state.name,
            "additional_info": {},
        }

    # -- transitions ---------------------------------------------------------------------

    def _set_loading(self) -> None:
        self._state = PipelineState.LOADING
        self.running_event.set()

    def _set_idle(self) -> None:
        self._state = PipelineState.IDLE
        self.running_event.set()

    def _set_ok(self) -> None:
        self._state = PipelineState.OK
        self.running_event.set()

    def _set_error(self) -> None:
        logger.error(f"State transition: {self._state.name} → ERROR")
        self._state = PipelineState.ERROR
        self.shutdown_event.set()
        self.error_event.set()

    def set_state(self, state: PipelineState) -> None:
        """Move to ``state``; unknown values only log a warning."""
        handler = self._state_transitions.get(state)
        if handler is None:
            logger.warning(f"Unknown PipelineState enum: {state}")
            return
        handler()

    def set_startup_complete(self) -> None:
        self.startup_complete = True
        if self._state == PipelineState.LOADING:
            self.set_state(PipelineState.IDLE)

    def is_error(self) -> bool:
        return self.error_event.is_set()

    def set_error(self, message: str) -> None:
        """Log ``message`` with a little calling context and enter ERROR."""
        logger.error(f"Stream state: ERROR - {message}")
        logger.error(f"Error occurred from state {self._state.name}, call stack:")
        logger.error(traceback.format_stack()[-3:-1])
        self.set_state(PipelineState.ERROR)

    def clear_error(self) -> None:
        """Leave ERROR (if in it) back to LOADING; startup_complete is untouched."""
        if not self.is_error():
            return
        self.error_event.clear()
        self.shutdown_event.clear()
        self.set_state(PipelineState.LOADING)
        logger.info("Stream state: ERROR cleared, returning to LOADING")
