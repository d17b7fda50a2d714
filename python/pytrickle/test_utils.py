"""Helpers for testing applications built on PyTrickle.

A ready-made :class:`MockFrameProcessor`, a ``MagicMock`` stand-in for
``TrickleClient`` and a ``StreamServer`` factory for endpoint tests.
"""

import asyncio  # noqa: F401  (upstream's module namespace)
from typing import Any, Dict, Optional  # noqa: F401  (Optional: upstream's)
from unittest.mock import AsyncMock, MagicMock

from .frame_processor import FrameProcessor


class MockFrameProcessor(FrameProcessor):
    """Pass-through processor that records the parameters it was given."""

    def __init__(self, **kwargs):
        self.test_params = {}
        self.stream_start_params = None
        super().__init__(**kwargs)

    async def load_model(self, **kwargs):
        """Nothing to load."""
        return None

    async def process_video_async(self, frame):
        """Video passes through."""
        return frame

    async def process_audio_async(self, frame):
        """Audio passes through."""
        return [frame]

    async def update_params(self, params: Dict[str, Any]):
        """Merge non-empty updates into ``test_params``."""
        if params:
            self.test_params.update(params)

    async def on_stream_start(self, params: Dict[str, Any]):
        """Remember the start parameters in ``stream_start_params``."""
        self.stream_start_params = params


def create_mock_client():
    """A ``MagicMock`` shaped like a ``TrickleClient`` whose start/stop toggle ``running``."""
    client = MagicMock()
    client.running = False

    async def _start(request_id="default", params=None):
        client.running = True

    async def _stop():
        client.running = False

    client.start = AsyncMock(side_effect=_start)
    client.stop = AsyncMock(side_effect=_stop)
    client.publish_data = AsyncMock()

    protocol = MagicMock()
    protocol.fps_meter = MagicMock()
    protocol.fps_meter.get_fps_stats.return_value = {"ingress": 30.0, "egress": 29.5}
    protocol.emit_monitoring_event = AsyncMock()
    client.protocol = protocol
    return client


def create_test_server_for_endpoints(
    capability_name: str = "test-model",
    pipeline: str = "test-pipeline",
    version: str = "1.0.0",
    enable_default_routes: bool = True,
):
    """A ``StreamServer`` (port 0, startup already complete) for HTTP endpoint tests.

    Its processor is built from the standalone handlers of
    ``pytrickle.examples.process_video_example``; when that cannot be imported a
    :class:`MockFrameProcessor` is used instead.
    """
    from .server import StreamServer
    from .stream_processor import _InternalFrameProcessor

    try:
        from pytrickle.examples.process_video_example import load_model, process_video, update_params

        processor = _InternalFrameProcessor(
            video_processor=process_video,
            audio_processor=None,
            model_loader=load_model,
            param_updater=update_params,
            name=capability_name,
        )
    except ImportError:
        processor = MockFrameProcessor()

    server = StreamServer(
        frame_processor=processor,
        port=0,
        capability_name=capability_name,
        pipeline=pipeline,
        version=version,
        enable_default_routes=enable_default_routes,
    )
    processor.attach_state(server.state)
    server.state.set_startup_complete()
    return server


def create_simple_async_mock():
    """An ``AsyncMock`` that returns None."""
    return AsyncMock(return_value=None)
