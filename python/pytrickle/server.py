"""StreamServer: the REST API around one FrameProcessor (as upstream's pytrickle.server).

Routes, status codes, JSON bodies and the LOADING → IDLE → OK → ERROR state follow upstream
exactly, except where upstream has a bug this package fixes (README, "Differences"):
a malformed start request no longer tears down the running stream (docs/compatibility.md Q11) and `params_updated`
is emitted once per update (docs/compatibility.md Q15).

This module holds the routes that change a stream (start, stop, params) and the server's life
cycle; the read-only routes are in _server_info.py, the two HTTP transports and aiohttp's extras
in _server_transport.py.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import os
import time
import uuid  # noqa: F401  (upstream's module namespace)
from dataclasses import dataclass  # noqa: F401  (upstream's)
from typing import Any, Callable, Dict, List, Optional, Union

from .api import HardwareInformation, HardwareStats, StreamParamsUpdateRequest, StreamStartRequest, Version  # noqa: F401
from .client import TrickleClient
from .frame_overlay import OverlayConfig
from .frame_layout import FRAME_LAYOUT_UPSTREAM, engine_frame_options
from .frame_processor import FrameProcessor
from .frame_skipper import FrameSkipConfig
from ._bearer_token import BearerToken, configured_token
from .utils.registration import CapabilityRegistration
from ._stream_identity import StreamIdError, call_for_stream, stream_id_from
from ._stream_sessions import StreamSession, StreamSessions
from .protocol import TrickleProtocol
from .state import PipelineState, StreamState  # noqa: F401  (PipelineState: upstream's module has it too)
from .utils.hardware import HardwareInfo
from ._native_http import NativeTransport
from ._server_info import InfoRoutes
from ._server_transport import AiohttpSurface, RouteConfig, aiohttp_needed, json_response, web

logger = logging.getLogger(__name__)


def _now_ms() -> int:
    return int(time.time() * 1000)


def _checked_target_fps(value: Optional[float]) -> Optional[float]:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 1 <= value <= 60:
        raise ValueError(f"target_fps must be a number from 1 to 60, not {value!r}")
    return value


def _checked_queue_size(value: Optional[int]) -> Optional[int]:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"max_queue_size must be a whole number of frames, at least 1, not {value!r}")
    return value


def _checked_max_streams(value: Optional[int], keep_registered: bool) -> int:
    if value is None:
        # A worker that registers itself serves the capacity it registers with.
        value = int(os.environ.get("CAPABILITY_CAPACITY", "1") or 1) if keep_registered else 1
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 256:
        raise ValueError(f"max_streams must be a whole number from 1 to 256, not {value!r}")
    return value


def _parse_show_loading(value: Any) -> bool:
    if isinstance(value, str):
        return value.lower() == "true"
    return bool(value)


class StreamServer(AiohttpSurface, InfoRoutes):
    def __init__(self, frame_processor: FrameProcessor, port: int = 8000, pipeline: str = "",
                 capability_name: str = "", version: str = "0.0.1",
                 custom_routes: Optional[List[Union[RouteConfig, Dict[str, Any]]]] = None,
                 middleware: Optional[List[Callable]] = None,
                 cors_config: Optional[Dict[str, Any]] = None,
                 static_routes: Optional[List[Dict[str, Any]]] = None,
                 app_context: Optional[Dict[str, Any]] = None, health_check_interval: float = 5.0,
                 enable_default_routes: bool = True, route_prefix: str = "/", host: str = "0.0.0.0",
                 on_startup: Optional[List[Callable]] = None,
                 on_shutdown: Optional[List[Callable]] = None,
                 publisher_timeout: Optional[float] = None,
                 subscriber_timeout: Optional[float] = None,
                 app_kwargs: Optional[Dict[str, Any]] = None,
                 frame_skip_config: Optional[FrameSkipConfig] = None,
                 overlay_config: Optional[OverlayConfig] = None,
                 verify_ssl: bool = False, ssl_ca_file: Optional[str] = None,
                 target_fps: Optional[float] = None, max_queue_size: Optional[int] = None,
                 frame_layout: str = FRAME_LAYOUT_UPSTREAM, auth_token: Optional[str] = None,
                 keep_registered: bool = False, max_streams: Optional[int] = None):
        # Livepeer's documentation's arguments (ours; upstream has none of them):
        # target_fps: the frame-rate limit of each stream (1-60; a start's params.max_framerate
        # still wins); max_queue_size: decoded frames buffered before the oldest are dropped;
        # frame_layout: "hwc_uint8" hands frames over as [H, W, 3] uint8 instead of upstream's
        # [1, H, W, 3] float32 in [0, 1].
        # Ours for go-livepeer's BYOC contract: auth_token (default $CAPABILITY_TOKEN; "" turns it
        # off) makes the /stream/* routes answer 401 unless the request carries
        # "Authorization: Bearer <token>"; keep_registered registers the capability with the
        # orchestrator at start (ORCH_URL, ORCH_SECRET, CAPABILITY_*), keeps it registered and
        # unregisters it at stop (utils/registration.py); max_streams > 1 serves that many streams
        # at once, named by the X-Stream-Id header (docs/many_streams.md; default: 1, or
        # $CAPABILITY_CAPACITY when keep_registered, which registers that capacity).
        token = configured_token(auth_token)
        self._bearer = BearerToken(token) if token else None
        self.max_streams = _checked_max_streams(max_streams, keep_registered)
        self._sessions = StreamSessions(self.max_streams)
        register_kwargs: Dict[str, Any] = {"capability_capacity": self.max_streams}
        if token:
            register_kwargs["capability_token"] = token
        self._registration = (CapabilityRegistration(
            refresh_seconds=float(os.environ.get("CAPABILITY_REFRESH_SECONDS", "60")),
            register_kwargs=register_kwargs) if keep_registered else None)
        self._registration_starter: Optional[asyncio.Task] = None
        self.target_fps = _checked_target_fps(target_fps)
        self.max_queue_size = _checked_queue_size(max_queue_size)
        self.frame_layout = frame_layout
        self._engine_frame_options = engine_frame_options(frame_layout)
        self.frame_processor = frame_processor
        self.port = port
        self.host = host
        self.state = StreamState()
        if isinstance(frame_processor, FrameProcessor):
            frame_processor.attach_state(self.state)
        self.route_prefix = route_prefix
        self.enable_default_routes = enable_default_routes
        self.health_check_interval = health_check_interval
        self._startup_task: Optional[asyncio.Task] = None
        # Anything aiohttp-specific makes the server serve through aiohttp.
        self._aiohttp_required = any(value for value in (custom_routes, middleware, cors_config, static_routes,
                                                         app_context, on_startup, on_shutdown, app_kwargs))
        if web is None and self._aiohttp_required:
            raise aiohttp_needed("custom routes, middleware, CORS, static routes, hooks and app options")
        self.app = web.Application(**(app_kwargs or {})) if web is not None else None
        self._routes: Dict[str, Dict[str, Callable]] = {}
        self.version = version
        self.hardware_info = HardwareInfo()
        self.pipeline = pipeline or os.getenv("PIPELINE", "") or "byoc"
        self.capability_name = capability_name or os.getenv("CAPABILITY_NAME", "") or os.getenv("MODEL_ID", "") or ""
        self.publisher_timeout = publisher_timeout
        self.subscriber_timeout = subscriber_timeout
        # How the streams' https:// trickle URLs are checked (see TrickleProtocol).
        self.verify_ssl = verify_ssl
        self.ssl_ca_file = ssl_ca_file
        self.frame_skip_config = frame_skip_config
        self.overlay_config = overlay_config

        self._health_monitor_task: Optional[asyncio.Task] = None
        self._runner = None  # aiohttp's AppRunner or the NativeTransport, once started
        self._cors = None

        for key, value in (app_context or {}).items():
            self.app[key] = value
        for item in middleware or []:
            self.app.middlewares.append(item)
        if cors_config:
            self._setup_cors(cors_config)
        for hook in on_startup or []:
            self.app.on_startup.append(hook)
        for hook in on_shutdown or []:
            self.app.on_shutdown.append(hook)
        if enable_default_routes:
            self._setup_routes()
        if custom_routes:
            self._setup_custom_routes(custom_routes)
        if static_routes:
            self._setup_static_routes(static_routes)
        self._remember_app_as_built()

    def _token_checked(self, handler: Callable) -> Callable:
        """The route, answering 401 first unless the request carries the configured token."""

        async def checked(request):
            refusal = self._bearer.refusal(request.headers.get("Authorization"))
            if refusal is None:
                return await handler(request)
            logger.warning("refused %s %s: %s", request.method, request.path, refusal)
            if self._registration is not None:
                self._registration.orchestrator_forgot_us()
            response = json_response({"status": "error", "message": "Unauthorized"}, status=401)
            response.headers["WWW-Authenticate"] = 'Bearer realm="trickle worker"'
            return response

        return checked

    # ---- start-up ----

    def _start_pipeline_initialization(self) -> None:
        if isinstance(self.frame_processor, FrameProcessor):
            self._startup_task = asyncio.create_task(self._initialize_frame_processor())
        else:
            self.state.set_startup_complete()

    async def _initialize_frame_processor(self) -> None:
        try:
            await self.frame_processor.ensure_model_loaded()
            self.state.set_startup_complete()
        except Exception as error:  # noqa: BLE001 - reported through the state
            logger.error("Model loading failed: %s", error)
            self.state.set_error(f"Model loading failed: {error}")

    # ---- request handling (shared by every route) ----

    async def _parse_and_validate_request(self, request, model_class):
        content_type = request.content_type
        if not content_type.startswith("application/json"):
            raise ValueError(f"Unknown content type: {content_type}")
        data = json.loads(await request.text())
        return model_class.model_validate(data)

    def _pipeline_state(self) -> str:
        """What the start route reports as current_state: the health status ("IDLE", "OK", ...)."""
        return self.get_health_summary()

    # ---- which stream a request is about (docs/many_streams.md) ----

    @property
    def current_client(self) -> Optional[TrickleClient]:
        """The most recent stream's client (upstream's attribute; with many streams, see streams())."""
        session = self._sessions.latest()
        return session.client if session is not None else None

    @current_client.setter
    def current_client(self, client: Optional[TrickleClient]) -> None:
        # Upstream's attribute could be assigned (its tests do): None forgets every stream, a
        # client becomes the one stream.
        params = self.current_params
        self._sessions.clear()
        if client is not None:
            self._sessions.add(StreamSession(getattr(client, "stream_id", "") or "default", client, params))

    @property
    def current_params(self) -> Optional[StreamStartRequest]:
        session = self._sessions.latest()
        return session.params if session is not None else None

    @current_params.setter
    def current_params(self, params: Optional[StreamStartRequest]) -> None:
        session = self._sessions.latest()
        if session is not None:
            session.params = params

    def streams(self) -> Dict[str, TrickleClient]:
        """Ours: the client of each stream, by stream id."""
        return {session.stream_id: session.client for session in self._sessions.all()}

    def _addressed(self, request, none_message: Optional[str]):
        """(session, None), or (None, the error answer). With one stream the header is ignored
        (upstream). A request without the header means the only stream; none_message None
        (status) turns "no stream" and "several streams" into (None, None): the server's view."""
        if self._sessions.many:
            try:
                wanted = stream_id_from(request.headers)
            except StreamIdError as error:
                return None, json_response({"status": "error", "message": str(error)}, status=400)
            if wanted is not None:
                session = self._sessions.get(wanted)
                if session is None:
                    return None, json_response(
                        {"status": "error", "message": f"No stream with X-Stream-Id {wanted}"}, status=404)
                return session, None
        live = self._sessions.live()
        if len(live) == 1:
            return live[0], None
        if not live and self._sessions.latest() is not None:
            return self._sessions.latest(), None  # the stream that ended by itself (upstream, Q12)
        if none_message is None:
            return None, None
        if not live:
            return None, json_response({"status": "error", "message": none_message}, status=400)
        return None, json_response({"status": "error",
                                    "message": f"X-Stream-Id is required: {len(live)} streams are running"},
                                   status=400)

    def _start_refusal(self, request, start_request: StreamStartRequest):
        """(stream id, None), or (None, the answer refusing the start)."""
        def refused(message: str, status: int):
            return None, json_response({"status": "error", "message": message,
                                        "current_state": self._pipeline_state()}, status=status)

        try:
            header_id = stream_id_from(request.headers)
        except StreamIdError as error:
            if self._sessions.many:
                return refused(str(error), 400)
            header_id = None  # upstream ignores the header
        stream_id = header_id or start_request.gateway_request_id or "default"
        if not self._sessions.many:
            latest = self._sessions.latest()
            if latest is not None and latest.busy():
                return refused("Pipeline is still in use", 503)
        else:
            existing = self._sessions.get(stream_id)
            if existing is not None and not existing.ended:
                return refused(f"Stream {stream_id} is already running", 409)
            if self._sessions.live_count() >= self.max_streams:
                return refused(f"Worker at capacity: {self.max_streams} of {self.max_streams} streams running", 503)
        return stream_id, None

    def _count_streams(self) -> None:
        running = self._sessions.live_count()
        self.state.set_active_client(running > 0)
        self.state.update_active_streams(running)

    # ---- the stream routes ----

    async def _handle_start_stream(self, request):
        if not (self.state.startup_complete and self.state.pipeline_ready):
            if self._startup_task is not None:
                try:
                    await asyncio.shield(self._startup_task)
                except Exception as error:  # noqa: BLE001 - logged; the state says the rest
                    logger.error("waiting for start-up: %s", error)
            if not (self.state.startup_complete and self.state.pipeline_ready) or self.state.is_error():
                return json_response({
                    "status": "error",
                    "message": "Pipeline is still initializing. Please wait for IDLE status.",
                    "current_state": self._pipeline_state(),
                }, status=503)
        try:
            start_request = await self._parse_and_validate_request(request, StreamStartRequest)
        except Exception as error:  # noqa: BLE001
            # Unlike upstream (docs/compatibility.md Q11), a malformed request leaves a running stream alone.
            return json_response({
                "status": "error",
                "message": f"Error starting stream: {error}",
                "current_state": self._pipeline_state(),
            }, status=400)
        stream_id, refusal = self._start_refusal(request, start_request)
        if refusal is not None:
            return refusal
        session = None
        try:
            params = start_request.params or {}
            protocol = TrickleProtocol(
                subscribe_url=start_request.subscribe_url,
                publish_url=start_request.publish_url,
                control_url=start_request.control_url or "",
                events_url=start_request.events_url or "",
                data_url=start_request.data_url,
                width=params.get("width", 512),
                height=params.get("height", 512),
                max_framerate=params.get("max_framerate") or self.target_fps,
                publisher_timeout=self.publisher_timeout,
                subscriber_timeout=self.subscriber_timeout,
                detect_out_resolution=params.get("detect_out_resolution", True),
                verify_ssl=self.verify_ssl,
                ssl_ca_file=self.ssl_ca_file,
                **self._engine_frame_options,
                **({"video_queue_size": self.max_queue_size} if self.max_queue_size else {}),
            )
            client = TrickleClient(
                protocol=protocol,
                frame_processor=self.frame_processor,
                control_handler=functools.partial(self._handle_control_message, stream_id=stream_id),
                frame_skip_config=self.frame_skip_config,
                overlay_config=self.overlay_config,
                **({"max_queue_size": self.max_queue_size} if self.max_queue_size else {}),
            )
            client.stream_id = stream_id
            session = StreamSession(stream_id, client, start_request)
            self._sessions.add(session)
            self._count_streams()
            session.task = asyncio.create_task(self._run_client(session))
            self._start_health_monitoring()
            return json_response({
                "status": "success",
                "message": "Stream started successfully",
                "request_id": start_request.gateway_request_id,
                "current_state": self._pipeline_state(),
            })
        except Exception as error:  # noqa: BLE001
            if session is not None:
                await self._discard(session)
            return json_response({
                "status": "error",
                "message": f"Error starting stream: {error}",
                "current_state": self._pipeline_state(),
            }, status=400)

    async def _discard(self, session: StreamSession) -> None:
        task, session.task = session.task, None
        if task is not None and not task.done():
            task.cancel()
            try:
                await task
            except (asyncio.CancelledError, Exception):  # noqa: BLE001
                pass
        try:
            await session.client.stop()
        except Exception as error:  # noqa: BLE001
            logger.error("stopping the client: %s", error)
        session.ended = True
        self._sessions.remove(session)
        self._count_streams()

    async def _run_client(self, session: StreamSession) -> None:
        try:
            await session.client.start(session.params.gateway_request_id, session.params.params)
        except asyncio.CancelledError:
            raise
        except Exception as error:  # noqa: BLE001
            logger.error("Client execution failed: %s", error)
            self.state.set_error(f"Client execution failed: {error}")
        finally:
            # Upstream keeps current_client after the stream ended by itself (docs/compatibility.md Q12);
            # so do we, and the slot is free at once.
            self._sessions.ended(session)
            self._count_streams()

    async def _handle_stop_stream(self, request):
        session, refusal = self._addressed(request, "No active stream to stop")
        if refusal is not None:
            return refusal
        try:
            client = session.client
            await client.protocol.emit_monitoring_event({"type": "stream_stopped", "timestamp": _now_ms()})
            await client.stop()
            task, session.task = session.task, None
            if task is not None:
                # The client winds down by itself (the engine flushes what it encoded); a client
                # that does not within 5 s is cancelled, as upstream cancels it at once.
                try:
                    await asyncio.wait_for(asyncio.shield(task), timeout=5.0)
                except asyncio.TimeoutError:
                    task.cancel()
                    try:
                        await task
                    except (asyncio.CancelledError, Exception):  # noqa: BLE001
                        pass
                except asyncio.CancelledError:
                    pass
            session.ended = True
            self._sessions.remove(session)
            self._count_streams()
            return json_response({"status": "success", "message": "Stream stopped successfully"})
        except Exception as error:  # noqa: BLE001
            return json_response({"status": "error", "message": f"Error stopping stream: {error}"}, status=500)

    async def _handle_control_message(self, control_data: dict, stream_id: str = "") -> None:
        try:
            await call_for_stream(self.frame_processor.update_params, control_data, stream_id=stream_id)
        except Exception as error:  # noqa: BLE001
            logger.error("control message failed: %s", error)

    async def _run_param_update(self, params: Dict[str, Any], session: Optional[StreamSession] = None) -> None:
        session = session or self._sessions.latest()
        client = session.client if session is not None else None
        try:
            if "show_loading" in params and client is not None:
                client.loading_controller.set_manual_loading(_parse_show_loading(params["show_loading"]))
            async with (session.param_lock if session is not None else asyncio.Lock()):
                if client is not None:
                    await client.protocol.update_params(params)
                await call_for_stream(self.frame_processor.update_params, params,
                                      stream_id=session.stream_id if session is not None else "")
                if client is not None:
                    await client.protocol.emit_monitoring_event(
                        {"type": "params_updated", "timestamp": _now_ms(), "params": params})
        except Exception as error:  # noqa: BLE001
            logger.error("Parameter update failed: %s", error)
            self.state.set_error(f"Parameter update failed: {error}")

    async def _handle_update_params(self, request):
        try:
            update = await self._parse_and_validate_request(request, StreamParamsUpdateRequest)
            data = update.model_dump()
        except Exception as error:  # noqa: BLE001
            return json_response({"status": "error", "message": f"Parameter update failed: {error}"}, status=500)
        session, refusal = self._addressed(request, "No active stream to update")
        if refusal is not None:
            return refusal
        await self._run_param_update(data, session)
        return json_response({"status": "success", "message": "Parameters updated successfully"})

    # ---- health monitor ----

    def _start_health_monitoring(self) -> None:
        if self._health_monitor_task is None or self._health_monitor_task.done():
            self._health_monitor_task = asyncio.create_task(self._health_monitoring_loop())

    async def _health_monitoring_loop(self) -> None:
        while True:
            await asyncio.sleep(self.health_check_interval)
            for session in self._sessions.all():
                protocol = getattr(session.client, "protocol", None)
                if protocol is not None and hasattr(protocol, "get_component_health"):
                    self.state.update_component_health("protocol", protocol.get_component_health())

    # ---- running ----

    async def stop(self) -> None:
        if self._registration is not None:
            if self._registration_starter is not None and not self._registration_starter.done():
                self._registration_starter.cancel()
            await self._registration.close()  # unregisters: no new streams for a worker that is stopping
        sessions = self._sessions.all()
        for session in sessions:
            try:
                await session.client.stop()
            except Exception as error:  # noqa: BLE001
                logger.error("stopping the client: %s", error)
        # The clients wind down by themselves (the engine flushes); the server's own tasks are cancelled.
        tasks = [session.task for session in sessions] + [self._health_monitor_task, self._startup_task]
        for index, task in enumerate(tasks):
            if task is not None and not task.done():
                if index >= len(sessions):
                    task.cancel()
                try:
                    await asyncio.wait_for(task, timeout=15.0)
                except (asyncio.CancelledError, asyncio.TimeoutError, Exception):  # noqa: BLE001
                    pass

    async def start_server(self):
        """Starts listening, then loads the model in the background. Returns the runner (aiohttp's
        AppRunner, or the native transport, which has the same cleanup() and addresses)."""
        if self._uses_aiohttp():
            if web is None:
                raise aiohttp_needed("PYTRICKLE_HTTP=aiohttp")
            runner = web.AppRunner(self.app)
            await runner.setup()
            site = web.TCPSite(runner, self.host, self.port)
            await site.start()
        else:
            runner = NativeTransport(self._routes)
            await runner.start(self.host, self.port)
        self._runner = runner
        logger.info("StreamServer listening on http://%s:%s (%s)", self.host, self.bound_port(),
                    "aiohttp" if self._uses_aiohttp() else "engine HTTP server")
        self._start_pipeline_initialization()
        if self._registration is not None:
            self._registration_starter = asyncio.create_task(self._register_when_loaded())
        return runner

    async def _register_when_loaded(self) -> None:
        """Register once the model is loaded (the orchestrator should not send streams to a
        worker that cannot take them yet); a model that fails to load is not registered."""
        if self._startup_task is not None:
            try:
                await asyncio.shield(self._startup_task)
            except Exception:  # noqa: BLE001 - reported through the state
                pass
        if self.state.startup_complete and not self.state.is_error():
            self._registration.start()

    async def run_forever(self) -> None:
        runner = await self.start_server()
        try:
            while True:
                await asyncio.sleep(3600)
        except KeyboardInterrupt:
            pass
        finally:
            await self.stop()
            await runner.cleanup()
