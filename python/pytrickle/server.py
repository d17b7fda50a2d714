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
import inspect
import json
import logging
import os
import time
from typing import Any, Callable, Dict, List, Optional, Union

from .api import HardwareInformation, HardwareStats, StreamParamsUpdateRequest, StreamStartRequest, Version  # noqa: F401
from .client import TrickleClient
from .frame_overlay import OverlayConfig
from .frame_layout import FRAME_LAYOUT_UPSTREAM, engine_frame_options
from .frame_processor import FrameProcessor
from .frame_skipper import FrameSkipConfig
from ._bearer_token import BearerToken, configured_token
from .utils.registration import CapabilityRegistration
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


async def _apply_params(processor: Any, params: Dict[str, Any]) -> None:
    """The processor's update_params, awaited when it is a coroutine: Livepeer's documentation
    writes it as a plain method, upstream as ``async def``; both work."""
    outcome = processor.update_params(params)
    if inspect.isawaitable(outcome):
        await outcome


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
                 keep_registered: bool = False):
        # Livepeer's documentation's arguments (ours; upstream has none of them):
        # target_fps: the frame-rate limit of each stream (1-60; a start's params.max_framerate
        # still wins); max_queue_size: decoded frames buffered before the oldest are dropped;
        # frame_layout: "hwc_uint8" hands frames over as [H, W, 3] uint8 instead of upstream's
        # [1, H, W, 3] float32 in [0, 1].
        # Ours for go-livepeer's BYOC contract: auth_token (default $CAPABILITY_TOKEN; "" turns it
        # off) makes the /stream/* routes answer 401 unless the request carries
        # "Authorization: Bearer <token>"; keep_registered registers the capability with the
        # orchestrator at start (ORCH_URL, ORCH_SECRET, CAPABILITY_*), keeps it registered and
        # unregisters it at stop (utils/registration.py).
        token = configured_token(auth_token)
        self._bearer = BearerToken(token) if token else None
        self._registration = (CapabilityRegistration(
            refresh_seconds=float(os.environ.get("CAPABILITY_REFRESH_SECONDS", "60")),
            register_kwargs={"capability_token": token} if token else {}) if keep_registered else None)
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

        self.current_client: Optional[TrickleClient] = None
        self.current_params: Optional[StreamStartRequest] = None
        self._client_task: Optional[asyncio.Task] = None
        self._param_update_lock = asyncio.Lock()
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
        if self.current_client is not None and self.current_client.running:
            return json_response({
                "status": "error",
                "message": "Pipeline is still in use",
                "current_state": self._pipeline_state(),
            }, status=503)
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
                control_handler=self._handle_control_message,
                frame_skip_config=self.frame_skip_config,
                overlay_config=self.overlay_config,
                **({"max_queue_size": self.max_queue_size} if self.max_queue_size else {}),
            )
            self.current_client = client
            self.current_params = start_request
            self.state.set_active_client(True)
            self.state.update_active_streams(1)
            self._client_task = asyncio.create_task(
                self._run_client(start_request.gateway_request_id, start_request.params))
            self._start_health_monitoring()
            return json_response({
                "status": "success",
                "message": "Stream started successfully",
                "request_id": start_request.gateway_request_id,
                "current_state": self._pipeline_state(),
            })
        except Exception as error:  # noqa: BLE001
            await self._discard_client()
            return json_response({
                "status": "error",
                "message": f"Error starting stream: {error}",
                "current_state": self._pipeline_state(),
            }, status=400)

    async def _discard_client(self) -> None:
        task, self._client_task = self._client_task, None
        if task is not None and not task.done():
            task.cancel()
            try:
                await task
            except (asyncio.CancelledError, Exception):  # noqa: BLE001
                pass
        client, self.current_client = self.current_client, None
        if client is not None:
            try:
                await client.stop()
            except Exception as error:  # noqa: BLE001
                logger.error("stopping the client: %s", error)
        self.current_params = None
        self.state.set_active_client(False)
        self.state.update_active_streams(0)

    async def _run_client(self, request_id: str, params: Optional[Dict[str, Any]] = None) -> None:
        client = self.current_client
        try:
            if client is not None:
                await client.start(request_id, params)
        except asyncio.CancelledError:
            raise
        except Exception as error:  # noqa: BLE001
            logger.error("Client execution failed: %s", error)
            self.state.set_error(f"Client execution failed: {error}")
        finally:
            # Upstream keeps current_client after the stream ended by itself (docs/compatibility.md Q12); so do we.
            self.state.set_active_client(False)
            self.state.update_active_streams(0)

    async def _handle_stop_stream(self, request):
        if self.current_client is None:
            return json_response({"status": "error", "message": "No active stream to stop"}, status=400)
        try:
            client = self.current_client
            await client.protocol.emit_monitoring_event({"type": "stream_stopped", "timestamp": _now_ms()})
            await client.stop()
            task, self._client_task = self._client_task, None
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
            self.current_client = None
            self.current_params = None
            self.state.set_active_client(False)
            self.state.update_active_streams(0)
            return json_response({"status": "success", "message": "Stream stopped successfully"})
        except Exception as error:  # noqa: BLE001
            return json_response({"status": "error", "message": f"Error stopping stream: {error}"}, status=500)

    async def _handle_control_message(self, control_data: dict) -> None:
        try:
            await _apply_params(self.frame_processor, control_data)
        except Exception as error:  # noqa: BLE001
            logger.error("control message failed: %s", error)

    async def _run_param_update(self, params: Dict[str, Any]) -> None:
        try:
            if "show_loading" in params and self.current_client is not None:
                self.current_client.loading_controller.set_manual_loading(
                    _parse_show_loading(params["show_loading"]))
            async with self._param_update_lock:
                if self.current_client is not None:
                    await self.current_client.protocol.update_params(params)
                await _apply_params(self.frame_processor, params)
                if self.current_client is not None:
                    await self.current_client.protocol.emit_monitoring_event(
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
        if self.current_client is None:
            return json_response({"status": "error", "message": "No active stream to update"}, status=400)
        await self._run_param_update(data)
        return json_response({"status": "success", "message": "Parameters updated successfully"})

    # ---- health monitor ----

    def _start_health_monitoring(self) -> None:
        if self._health_monitor_task is None or self._health_monitor_task.done():
            self._health_monitor_task = asyncio.create_task(self._health_monitoring_loop())

    async def _health_monitoring_loop(self) -> None:
        while True:
            await asyncio.sleep(self.health_check_interval)
            client = self.current_client
            if client is None:
                continue
            protocol = getattr(client, "protocol", None)
            if protocol is not None and hasattr(protocol, "get_component_health"):
                self.state.update_component_health("protocol", protocol.get_component_health())

    # ---- running ----

    async def stop(self) -> None:
        if self._registration is not None:
            if self._registration_starter is not None and not self._registration_starter.done():
                self._registration_starter.cancel()
            await self._registration.close()  # unregisters: no new streams for a worker that is stopping
        client = self.current_client
        if client is not None:
            try:
                await client.stop()
            except Exception as error:  # noqa: BLE001
                logger.error("stopping the client: %s", error)
        for name in ("_client_task", "_health_monitor_task", "_startup_task"):
            task = getattr(self, name)
            if task is not None and not task.done():
                if name != "_client_task":
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
