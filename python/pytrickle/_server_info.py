"""StreamServer's read-only routes (status, health, version, hardware, engine stats) and its
state helpers: upstream's JSON shapes, answered from the server's StreamState and current client."""

from __future__ import annotations

import logging
from typing import Any, Dict

from ._server_transport import json_response
from .metrics import stream_metrics
from .state import PipelineState
from .version import __version__

logger = logging.getLogger("pytrickle.server")


class InfoRoutes:
    """Expects ``self.state``, ``self._addressed`` and ``self._sessions`` (the server's streams),
    ``self.max_streams``, ``self.pipeline``, ``self.capability_name``, ``self.version`` and
    ``self.hardware_info``."""

    async def _handle_get_status(self, request):
        try:
            session, refusal = self._addressed(request, None)
            if refusal is not None:
                return refusal
            body = dict(self.state.get_pipeline_state())
            client = session.client if session is not None else None
            body["client_active"] = client is not None
            if client is not None:
                body["client_running"] = client.running
                protocol = getattr(client, "protocol", None)
                if protocol is not None:
                    body["fps"] = protocol.fps_meter.get_fps_stats()
                body["metrics"] = stream_metrics(client)  # ours: FrameProcessor.get_metrics()'s numbers
            if session is not None and session.params is not None:
                body["current_params"] = {
                    "subscribe_url": session.params.subscribe_url,
                    "publish_url": session.params.publish_url,
                    "gateway_request_id": session.params.gateway_request_id,
                }
            if self._sessions.many:  # ours (docs/many_streams.md)
                body["max_streams"] = self.max_streams
                body["streams"] = {s.stream_id: s.describe() for s in self._sessions.all()}
            return json_response(body)
        except Exception as error:  # noqa: BLE001
            return json_response({"status": "error", "message": f"Error getting status: {error}"}, status=500)

    async def _handle_engine_stats(self, request):
        """Ours: the engine's counters, drops and latency for the addressed stream, as the C++
        worker reports them ({"stream": null} without one)."""
        session, refusal = self._addressed(request, None)
        if refusal is not None:
            return refusal
        protocol = getattr(session.client, "protocol", None) if session is not None else None
        stats = protocol.engine_stats() if protocol is not None and hasattr(protocol, "engine_stats") else {}
        return json_response({"stream": stats or None})

    async def _handle_health(self, request):
        try:
            status = self.state.get_pipeline_state()["status"]
            if status != PipelineState.ERROR.value:
                logger.info("health: %s", status)
            return json_response({"status": status})
        except Exception:  # noqa: BLE001
            return json_response({"detail": {"msg": "Failed to retrieve pipeline status."}}, status=500)

    async def _handle_version(self, request):
        return json_response({"pipeline": self.pipeline, "model_id": self.capability_name,
                                  "version": __version__})

    async def _handle_app_version(self, request):
        return json_response({"version": self.version})

    async def _handle_hardware_info(self, request):
        info = self.hardware_info.get_gpu_compute_info()
        return json_response({"pipeline": self.pipeline, "model_id": self.capability_name,
                                  "gpu_info": {str(k): _as_dict(v) for k, v in info.items()}})

    async def _handle_hardware_stats(self, request):
        stats = self.hardware_info.get_gpu_utilization_stats()
        return json_response({"pipeline": self.pipeline, "model_id": self.capability_name,
                                  "gpu_stats": {str(k): _as_dict(v) for k, v in stats.items()}})

    def set_state(self, state: PipelineState) -> None:
        self.state.set_state(state)

    def set_client_active(self, active: bool) -> None:
        self.state.set_active_client(active)

    def get_state(self) -> Dict[str, Any]:
        return self.state.get_state()

    def update_active_streams(self, count: int) -> None:
        self.state.update_active_streams(count)

    def get_health_state(self) -> Dict[str, Any]:
        return self.state.get_pipeline_state()

    def is_healthy(self) -> bool:
        return not self.state.is_error()

    def get_health_summary(self) -> str:
        return self.state.get_pipeline_state()["state"]



def _as_dict(value: Any) -> Any:
    return value.model_dump() if hasattr(value, "model_dump") else value
