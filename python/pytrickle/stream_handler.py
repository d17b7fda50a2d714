"""
TrickleStreamHandler: one complete trickle stream (protocol + client + bookkeeping) behind the
``StreamHandler`` interface, for use with the stream managers (as upstream's pytrickle.stream_handler).

A subclass supplies the frame processor (``create_frame_processor``) and reacts to control
messages (``handle_control_message``). The handler wires a ``TrickleProtocol`` and a
``TrickleClient`` together, runs the client as a task, reports ``stream_started`` /
``stream_stopped`` (queue type ``"stream_trace"``) and periodic ``stream_stats`` (queue type
``"stream_stats"``) on the events channel, and tears everything down on error or request.

Control channel (upstream, docs/compatibility.md Q37): upstream opened a second control subscriber next to the
protocol's, i.e. two readers on one channel. Here no second subscriber is opened: the engine
reads the control channel once, and messages reach ``handle_control_message`` through the
client's ``control_handler`` (after the protocol has applied ``max_framerate``).
"""

from __future__ import annotations

import asyncio
import json
import logging
from abc import abstractmethod
from typing import Any, Dict, Optional, Set

from .base import ComponentState, ErrorCallback
from .client import TrickleClient
from .frame_processor import FrameProcessor
from .manager import StreamHandler
from .protocol import TrickleProtocol
from .subscriber import TrickleSubscriber

logger = logging.getLogger(__name__)

_KEEPALIVE = {"keep": "alive"}
_STATS_INTERVAL = 20.0
_CLIENT_STOP_TIMEOUT = 5.0
_TASK_CANCEL_TIMEOUT = 3.0
# How long stream_started waits for the protocol (and so the events channel) to come up.
_PROTOCOL_READY_TIMEOUT = 10.0


class TrickleStreamHandler(StreamHandler):
    """A self-contained trickle stream; subclasses provide the processor and control handling."""

    def __init__(
        self,
        subscribe_url: str,
        publish_url: str,
        control_url: str = "",
        events_url: str = "",
        data_url: str = "",
        width: int = 512,
        height: int = 512,
        error_callback: Optional[ErrorCallback] = None,
        app_context: Optional[Dict] = None,
        **kwargs,
    ):
        super().__init__(width=width, height=height, **kwargs)

        self.subscribe_url = subscribe_url
        self.publish_url = publish_url
        self.control_url = control_url
        self.events_url = events_url
        self.data_url = data_url
        self.app_context = app_context or {}

        self.running_event = asyncio.Event()
        self.shutdown_event = asyncio.Event()
        self.error_event = asyncio.Event()

        self._task: Optional[asyncio.Task] = None
        self._control_task: Optional[asyncio.Task] = None
        self._monitoring_task: Optional[asyncio.Task] = None
        self._side_tasks: Set[asyncio.Task] = set()  # scheduled stop() calls, kept referenced

        self._error_callback = error_callback
        self._critical_error_occurred = False
        self._cleanup_lock = asyncio.Lock()

        self.protocol: Optional[TrickleProtocol] = None
        self.client: Optional[TrickleClient] = None
        # Stays None: control messages arrive through the client (see the module docstring).
        self.control_subscriber: Optional[TrickleSubscriber] = None

    # ---- state ----

    @property
    def running(self) -> bool:
        return (self.running_event.is_set()
                and not self.shutdown_event.is_set()
                and not self.error_event.is_set())

    # ---- what subclasses provide ----

    @abstractmethod
    async def create_frame_processor(self) -> FrameProcessor:
        """Return the processor that will handle this stream's frames."""

    @abstractmethod
    async def handle_control_message(self, params: Dict[str, Any]):
        """React to one JSON object received on the control channel."""

    # ---- internals ----

    def _spawn(self, coro) -> asyncio.Task:
        task = asyncio.create_task(coro)
        self._side_tasks.add(task)
        task.add_done_callback(self._side_tasks.discard)
        return task

    async def _on_error(self, error_type: str, exception: Optional[Exception] = None):
        """Errors from the protocol or client: end the stream, then tell the owner."""
        if self.shutdown_event.is_set():
            return
        logger.error(f"Critical error in trickle stream: {error_type} - {exception}")
        self._critical_error_occurred = True
        if self.running:
            self.error_event.set()
            self._spawn(self.stop())
        if self._error_callback:
            try:
                await self._error_callback(error_type, exception)
            except Exception as error:
                logger.error(f"Error in error callback: {error}")

    async def _emit_monitoring_event(self, data: Dict[str, Any], event_type: str):
        """Send ``data`` on the events channel (no-op without one or before the protocol exists)."""
        if not self.events_url or not self.events_url.strip() or self.protocol is None:
            return
        try:
            await self.protocol.emit_monitoring_event(data, event_type)
        except Exception as error:
            logger.warning(f"Failed to emit {event_type} event: {error}")

    async def _publish_data(self, text_data: str):
        """Queue ``text_data`` for the data channel (no-op without one)."""
        if not self.data_url or not self.data_url.strip() or self.client is None:
            return
        try:
            await self.client.publish_data(text_data)
        except Exception as error:
            logger.warning(f"Failed to publish data: {error}")

    async def _dispatch_control_message(self, params: Dict[str, Any]) -> None:
        """The client's control_handler: forwards to handle_control_message.

        A failing handler is logged and the stream goes on (as upstream's own control loop did);
        keep-alives are never forwarded.
        """
        if params == _KEEPALIVE:
            return
        try:
            await self.handle_control_message(params)
        except asyncio.CancelledError:
            raise
        except Exception as error:
            logger.error(f"Error in control loop: {error}")

    async def _control_loop(self):
        """Reads ``self.control_subscriber`` directly, if someone assigned one.

        ``start()`` never opens such a subscriber (control messages come through the client), so
        this is only kept for subclasses that install their own.
        """
        subscriber = self.control_subscriber
        if subscriber is None:
            return
        try:
            while not self.shutdown_event.is_set() and not self.error_event.is_set():
                try:
                    segment = await subscriber.next()
                    if not segment or segment.eos():
                        break
                    raw = await segment.read()
                    if not raw:
                        continue
                    try:
                        params = json.loads(raw.decode("utf-8"))
                    except (json.JSONDecodeError, UnicodeDecodeError) as error:
                        logger.warning(f"Invalid control message: {error}")
                        continue
                    if params == _KEEPALIVE:
                        continue
                    await self.handle_control_message(params)
                except asyncio.CancelledError:
                    raise
                except Exception as error:
                    logger.error(f"Error in control loop: {error}")
                    try:
                        await asyncio.wait_for(self.shutdown_event.wait(), timeout=0.1)
                        break
                    except asyncio.TimeoutError:
                        continue
        except asyncio.CancelledError:
            raise
        except Exception as error:
            logger.error(f"Control loop error: {error}")
            await self._on_error("control_loop_error", error)

    async def _wait_protocol_ready(self) -> bool:
        """Wait (bounded) until the protocol runs, so that events can actually be sent."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + _PROTOCOL_READY_TIMEOUT
        while loop.time() < deadline and not self.shutdown_event.is_set():
            protocol = self.protocol
            if protocol is not None and protocol.component_state == ComponentState.RUNNING:
                return True
            await asyncio.sleep(0.05)
        return False

    async def _monitoring_loop(self):
        """Announce the start, then send stats every 20 s while running."""
        try:
            if await self._wait_protocol_ready():
                await self._emit_monitoring_event({"type": "stream_started"}, "stream_trace")
            while self.running:
                try:
                    stats = await self._get_monitoring_stats()
                    if stats:
                        await self._emit_monitoring_event(stats, "stream_stats")
                except Exception as error:
                    logger.error(f"Error sending monitoring stats: {error}")
                try:
                    await asyncio.wait_for(self.shutdown_event.wait(), timeout=_STATS_INTERVAL)
                    break
                except asyncio.TimeoutError:
                    pass
        except asyncio.CancelledError:
            raise
        except Exception as error:
            logger.error(f"Monitoring loop error: {error}")

    async def _get_monitoring_stats(self) -> Optional[Dict[str, Any]]:
        """The periodic stats payload; override to customise, return None to skip a round."""
        return {
            "type": "stream_stats",
            "timestamp": asyncio.get_running_loop().time(),
            "stream": {"running": self.running, "width": self.width, "height": self.height},
        }

    def _on_client_done(self, task: asyncio.Task):
        """The client task ended (stream over, error or cancellation): clean up."""
        self.shutdown_event.set()
        if not task.cancelled():
            error = task.exception()
            if error is not None:
                logger.error(f"Client task finished with exception: {error}")
        self._spawn(self.stop())

    # ---- lifecycle ----

    async def start(self) -> bool:
        """Build protocol and client and start the stream; False if already running or on failure."""
        if self.running:
            return False
        try:
            frame_processor = await self.create_frame_processor()
            if not frame_processor:
                logger.error("Failed to create frame processor")
                return False

            self.protocol = TrickleProtocol(
                subscribe_url=self.subscribe_url,
                publish_url=self.publish_url,
                control_url=self.control_url,
                events_url=self.events_url,
                data_url=self.data_url,
                width=self.width,
                height=self.height,
                error_callback=self._on_error,
            )
            self.client = TrickleClient(
                protocol=self.protocol,
                frame_processor=frame_processor,
                control_handler=self._dispatch_control_message,
                error_callback=self._on_error,
            )

            self._task = asyncio.create_task(self.client.start())
            self._task.add_done_callback(self._on_client_done)
            self.running_event.set()

            # stream_started is sent by the monitoring task once the protocol is up.
            try:
                self._monitoring_task = asyncio.create_task(self._monitoring_loop())
            except Exception as error:
                logger.warning(f"Failed to start monitoring task: {error}")

            logger.info("TrickleStreamHandler started successfully")
            return True
        except Exception as error:
            logger.error(f"Failed to start TrickleStreamHandler: {error}")
            await self._cleanup_after_failure()
            return False

    async def stop(self, *, called_by_manager: bool = False) -> bool:
        """Stop the stream and release everything; True unless cleanup itself failed."""
        async with self._cleanup_lock:
            self.shutdown_event.set()
            try:
                # Sent while the protocol is still up (afterwards nothing could carry it).
                try:
                    await self._emit_monitoring_event(
                        {"type": "stream_stopped", "timestamp": asyncio.get_running_loop().time()},
                        "stream_trace")
                except Exception:
                    pass

                if self.client is not None:
                    try:
                        await asyncio.wait_for(self.client.stop(), timeout=_CLIENT_STOP_TIMEOUT)
                    except (asyncio.TimeoutError, Exception) as error:
                        logger.warning(f"Client stop timeout/error: {error}")

                await self._finish_client_task()
                await self._cancel_task_with_timeout(self._control_task, "Control task")
                await self._cancel_task_with_timeout(self._monitoring_task, "Monitoring task")

                if self.control_subscriber is not None:
                    try:
                        await self.control_subscriber.shutdown()
                        await self.control_subscriber.close()
                    except Exception as error:
                        logger.warning(f"Control subscriber cleanup error: {error}")

                if not called_by_manager:
                    await self._update_stream_state()
                self._set_final_state()
                logger.info("TrickleStreamHandler stopped successfully")
                return True
            except Exception as error:
                logger.error(f"Error stopping TrickleStreamHandler: {error}")
                if not called_by_manager:
                    await self._update_stream_state(emergency=True)
                self._set_final_state()
                return False

    async def _finish_client_task(self) -> None:
        """Give the client task time to wind down by itself (so the engine can flush), then
        cancel it. Never waits on the task it is running in."""
        task = self._task
        if task is None or task.done() or task is asyncio.current_task():
            return
        await asyncio.wait({task}, timeout=_CLIENT_STOP_TIMEOUT)
        await self._cancel_task_with_timeout(task, "Main task")

    async def _cleanup_after_failure(self):
        try:
            if self.client is not None:
                try:
                    await self.client.stop()
                except Exception:
                    pass
            if self.control_subscriber is not None:
                try:
                    await self.control_subscriber.close()
                except Exception:
                    pass
            self._set_final_state()
        except Exception as error:
            logger.error(f"Error in cleanup after failure: {error}")

    async def _cancel_task_with_timeout(self, task: Optional[asyncio.Task], task_name: str,
                                        timeout: float = _TASK_CANCEL_TIMEOUT):
        if task is None or task.done() or task is asyncio.current_task():
            return
        task.cancel()
        try:
            await asyncio.wait_for(task, timeout=timeout)
        except asyncio.CancelledError:
            pass
        except asyncio.TimeoutError:
            logger.warning(f"Timeout cancelling {task_name}")
        except Exception as error:
            logger.warning(f"Error cancelling {task_name}: {error}")

    def _set_final_state(self):
        self.running_event.clear()
        self.shutdown_event.set()
        self.error_event.set()

    async def _update_stream_state(self, emergency: bool = False):
        """Reflect this stream's end in ``app_context['stream_state']`` (if there is one)."""
        try:
            stream_state = self.app_context.get("stream_state")
            if stream_state:
                if emergency:
                    stream_state.set_error("Emergency stream shutdown")
                else:
                    stream_state.clear_error()
        except Exception as error:
            logger.error(f"Error updating stream state: {error}")
