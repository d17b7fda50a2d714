"""TricklePublisher: writes a trickle channel, one streaming POST per segment (as upstream's pytrickle.publisher),
over the engine's C++ client. The POST for the next segment is opened before it is needed."""

from __future__ import annotations

import asyncio
import logging
import time  # noqa: F401  (upstream's module namespace)
from typing import List, Optional  # noqa: F401  (List: upstream's)

from ._async_bridge import call_native
from ._native_loader import load_native
from .base import ComponentState, ErrorCallback, TrickleComponent
from ._lazy_names import lazy_names

# Upstream's module is built on aiohttp; the engine does the HTTP here, but the name is there for
# code that reaches for it.
__getattr__ = lazy_names(__name__, {"aiohttp": "aiohttp"})

logger = logging.getLogger(__name__)

CONNECT_TIMEOUT_SECONDS = 30
KEEPALIVE_TIMEOUT_SECONDS = 5
RETRY_DELAY_SECONDS = 0.05


class SegmentWriter:
    """Writes one segment; ``close()`` (or leaving ``async with``) ends it."""

    def __init__(self, native_writer):
        self._native = native_writer  # None after the publisher was closed: writes do nothing
        self._closed = False

    def seq(self) -> int:
        return -1 if self._native is None else self._native.seq()

    async def write(self, data: bytes) -> None:
        if self._native is None or self._closed:
            return
        await call_native(lambda done: self._native.write(bytes(data), done))

    async def close(self) -> None:
        if self._native is None or self._closed:
            return
        self._closed = True
        await call_native(self._native.close)

    async def __aenter__(self) -> "SegmentWriter":
        return self

    async def __aexit__(self, exc_type, exc, tb) -> None:
        await self.close()


class TricklePublisher(TrickleComponent):
    def __init__(self, url: str, mime_type: str = "video/mp4",
                 error_callback: Optional[ErrorCallback] = None, component_name: str = "publisher",
                 verify_ssl: bool = False, ssl_ca_file: Optional[str] = None):
        super().__init__(error_callback=error_callback, component_name=component_name)
        self.url = url
        # https:// only. Off by default, as upstream (orchestrators use self-signed certificates);
        # a CA bundle file turns checking on (so do TRICKLE_CA_BUNDLE / TRICKLE_TLS_VERIFY).
        self.verify_ssl = verify_ssl
        self.ssl_ca_file = ssl_ca_file
        self.mime_type = mime_type
        self.idx = 0
        self.next_writer = None
        self.lock = asyncio.Lock()
        self.session = None  # the engine's client, once started
        self.connect_timeout_seconds = CONNECT_TIMEOUT_SECONDS
        self.keepalive_timeout_seconds = KEEPALIVE_TIMEOUT_SECONDS
        self._loop: Optional[asyncio.AbstractEventLoop] = None

    def stream_idx(self) -> str:
        return f"{self.url}/{self.idx}"

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        native = load_native()
        self.session = native.NativePublisher(self.url, self.mime_type, self.connect_timeout_seconds,
                                              self._on_native_error, bool(self.verify_ssl),
                                              self.ssl_ca_file or "")
        self._update_state(ComponentState.RUNNING)

    def _on_native_error(self, kind: str, message: str) -> None:
        loop = self._loop
        if loop is None or loop.is_closed() or self.shutdown_event.is_set():
            return
        exception = Exception(message or kind)
        try:
            loop.call_soon_threadsafe(lambda: loop.create_task(self._notify_error(kind, exception)))
        except RuntimeError:
            pass

    async def preconnect(self):
        """The engine pre-connects the next POST by itself; kept for API compatibility."""
        return None

    async def next(self) -> SegmentWriter:
        async with self.lock:
            if self.error_event.is_set() and not self.shutdown_event.is_set():
                # Recovery between encoder retries, as upstream.
                self.error_event.clear()
                self._update_state(ComponentState.RUNNING)
            if self._should_stop():
                return SegmentWriter(None)
            if self.session is None:
                await self.start()
            native_writer = await call_native(self.session.next)
            self.idx = native_writer.seq() + 1
            return SegmentWriter(native_writer)

    async def close(self) -> None:
        self.shutdown_event.set()
        self._update_state(ComponentState.STOPPED)
        if self.session is not None:
            session, self.session = self.session, None
            await call_native(session.close)

    async def _run_delete(self) -> bool:
        """DELETEs the channel (upstream has this but never calls it, docs/compatibility.md Q21)."""
        if self.session is None:
            await self.start()
        return bool(await call_native(self.session.delete_channel))

    async def __aenter__(self) -> "TricklePublisher":
        await self.start()
        return self

    async def __aexit__(self, exc_type, exc, tb) -> None:
        await self.close()
