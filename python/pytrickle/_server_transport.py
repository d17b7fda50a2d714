"""The two ways a StreamServer serves HTTP, and what only aiohttp can do.

The engine's C++ HTTP server is the default; aiohttp takes over as soon as anything
aiohttp-specific is asked for (get_app(), custom routes, middleware, CORS, static routes,
startup/shutdown hooks, app context or app kwargs), or when user code changed ``server.app``
itself after construction (appended a hook to one of its signals, added a route or a middleware,
stored state in it: ComfyStream's worker does ``server.app.on_startup.append(...)``), so such code
works unchanged and its hooks run as on upstream. PYTRICKLE_HTTP=aiohttp forces aiohttp.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Union

try:
    from aiohttp import web
except ImportError:  # only the aiohttp-specific features need it
    web = None

from ._native_http import NativeTransport

logger = logging.getLogger("pytrickle.server")


@dataclass
class RouteConfig:
    """One custom route (upstream's pytrickle.server.RouteConfig)."""

    method: str
    path: str
    handler: Callable
    kwargs: Optional[Dict[str, Any]] = None


class PlainResponse:
    """A JSON answer when aiohttp is not installed (the attributes of aiohttp's web.Response that
    callers read)."""

    def __init__(self, data: Any, status: int = 200):
        self.status = status
        self.text = json.dumps(data)
        self.body = self.text.encode("utf-8")
        self.content_type = "application/json"
        self.charset = "utf-8"
        self.headers: Dict[str, str] = {}


def json_response(data: Any, status: int = 200):
    if web is not None:
        return web.json_response(data, status=status)
    return PlainResponse(data, status)


def aiohttp_needed(feature: str):
    return ImportError(f"StreamServer {feature} needs aiohttp: pip install 'pytrickle[aiohttp]'")


class AiohttpSurface:
    """StreamServer's aiohttp-facing methods (upstream's names and behaviour). Expects
    ``self.app`` (aiohttp's Application or None), ``self._cors``, ``self._aiohttp_required``, the
    route handlers, ``self._bearer`` and ``self._token_checked``."""

    def _setup_cors(self, cors_config: Dict[str, Any]) -> None:
        try:
            import aiohttp_cors
        except ImportError:
            logger.warning("aiohttp_cors is not installed: cors_config is ignored (pip install 'pytrickle[cors]')")
            return
        defaults = {}
        for origin, options in cors_config.items():
            defaults[origin] = aiohttp_cors.ResourceOptions(**options) if isinstance(options, dict) else options
        self._cors = aiohttp_cors.setup(self.app, defaults=defaults)
        self.app["cors"] = self._cors

    def _register(self, route) -> None:
        if self._cors is not None:
            self._cors.add(route)

    def _setup_custom_routes(self, routes: List[Union[RouteConfig, Dict[str, Any]]]) -> None:
        for route in routes:
            if isinstance(route, dict):
                kwargs = route.pop("kwargs", None)
                route = RouteConfig(kwargs=kwargs, **route)
            self.add_route(route.method, route.path, route.handler, **(route.kwargs or {}))

    def _setup_static_routes(self, static_routes: List[Dict[str, Any]]) -> None:
        for item in static_routes:
            self.add_static_route(item["prefix"], item["path"], **(item.get("kwargs") or {}))

    def _setup_routes(self) -> None:
        p = self.route_prefix.rstrip("/")
        router = self.app.router if self.app is not None else None
        stream_routes = [
            ("POST", "/stream/start", self._handle_start_stream),
            ("POST", "/stream/stop", self._handle_stop_stream),
            ("POST", "/stream/params", self._handle_update_params),
            ("GET", "/stream/status", self._handle_get_status),
        ]
        # Livepeer's documentation tells people to call /api/stream/...; with the default prefix
        # those answer beside /stream/... (which is what the orchestrator calls).
        prefixes = [p] + (["/api"] if p == "" else [])
        routes = [(method, prefix + path, handler) for prefix in prefixes for method, path, handler in stream_routes]
        routes += [
            ("POST", "/live-video-to-video", self._handle_start_stream),
            ("GET", "/health", self._handle_health),
            ("GET", "/version", self._handle_version),
            ("GET", "/app-version", self._handle_app_version),
            ("GET", "/hardware/info", self._handle_hardware_info),
            ("GET", "/hardware/stats", self._handle_hardware_stats),
            ("GET", f"{p}/stream/stats", self._handle_engine_stats),
        ]
        # With a token (StreamServer's auth_token), every stream route needs it; the system routes stay open.
        guarded = {handler for _, _, handler in stream_routes} | {self._handle_start_stream, self._handle_engine_stats}
        for method, path, handler in routes:
            if self._bearer is not None and handler in guarded:
                handler = self._token_checked(handler)
            self._routes.setdefault(path, {})[method] = handler
            if router is not None:
                self._register(router.add_route(method, path, handler))

    def _require_aiohttp(self, feature: str) -> None:
        if self.app is None:
            raise aiohttp_needed(feature)
        self._aiohttp_required = True

    def add_route(self, method: str, path: str, handler: Callable, **kwargs):
        self._require_aiohttp("add_route()")
        route = self.app.router.add_route(method, path, handler, **kwargs)
        self._register(route)
        return route

    def add_static_route(self, prefix: str, path: str, **kwargs):
        self._require_aiohttp("add_static_route()")
        return self.app.router.add_static(prefix, path, **kwargs)

    def get_app(self):
        """The aiohttp Application (the server then serves through aiohttp)."""
        self._require_aiohttp("get_app()")
        return self.app

    def add_middleware(self, middleware: Callable) -> None:
        self._require_aiohttp("add_middleware()")
        self.app.middlewares.append(middleware)

    def set_context(self, key: str, value: Any) -> None:
        self._require_aiohttp("set_context()")
        self.app[key] = value

    def get_context(self, key: str, default: Any = None) -> Any:
        return self.app.get(key, default) if self.app is not None else default

    def _app_shape(self) -> tuple:
        """What user code can change on an aiohttp Application: its signals, cleanup contexts,
        middlewares, routes and state (aiohttp puts entries of its own in some signals)."""
        app = self.app
        return (len(app.on_startup), len(app.on_shutdown), len(app.on_cleanup), len(app.on_response_prepare),
                len(app.cleanup_ctx), len(app.middlewares), len(app.router.routes()), len(app))

    def _remember_app_as_built(self) -> None:
        self._app_as_built = self._app_shape() if self.app is not None else None

    def _app_changed(self) -> bool:
        return self.app is not None and self._app_shape() != self._app_as_built

    def _uses_aiohttp(self) -> bool:
        return (self._aiohttp_required or self._app_changed()
                or os.environ.get("PYTRICKLE_HTTP", "").lower() == "aiohttp")

    def bound_port(self) -> Optional[int]:
        """Ours: the port actually listened on (useful with port=0)."""
        runner = self._runner
        if runner is None:
            return None
        if isinstance(runner, NativeTransport):
            return runner.port
        for site in runner.sites:
            server = getattr(site, "_server", None)
            if server is not None and server.sockets:
                return server.sockets[0].getsockname()[1]
        return None
