"""TrickleSubscriber: reads a trickle channel segment after segment (as upstream's pytrickle.subscriber), over the
engine's C++ client. The next GET is always in flight while the current segment is read."""

from __future__ import annotations

import asyncio
import logging
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
MAX_RETRIES = 5
RETRY_DELAY_SECONDS = 0.5


class Segment:
    """One segment being received; ``read()`` hands out its bytes as they arrive."""

    def __init__(self, native_segment):
        self._native = native_segment
        self._buffer = b""
        self._ended = False
        self._closed = False

    def seq(self) -> int:
        return self._native.seq()

    def eos(self) -> bool:
        return self._native.eos()

    async def read(self, chunk_size: int = 32 * 1024) -> Optional[bytes]:
        """Up to ``chunk_size`` bytes; ``b""`` at the end of the segment (which closes it);
        ``None`` when the connection failed mid-segment."""
        if not self._buffer and not self._ended:
            piece = await call_native(self._native.read)
            if piece is None:
                await self.close()
                return None
            if piece == b"":
                self._ended = True
            self._buffer = piece
        if not self._buffer:
            await self.close()
            return b""
        chunk, self._buffer = self._buffer[:chunk_size], self._buffer[chunk_size:]
        return chunk

    async def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._native.close()


class TrickleSubscriber(TrickleComponent):
    def __init__(self, url: str, start_seq: int = -2, max_retries: int = MAX_RETRIES,
                 connect_timeout_seconds: float = CONNECT_TIMEOUT_SECONDS,
                 error_callback: Optional[ErrorCallback] = None,
                 component_name: Optional[str] = "subscriber",
                 verify_ssl: bool = False, ssl_ca_file: Optional[str] = None):
        super().__init__(error_callback=error_callback, component_name=component_name or "subscriber")
        self.base_url = url
        # https:// only. Off by default, as upstream (orchestrators use self-signed certificates);
        # a CA bundle file turns checking on (so do TRICKLE_CA_BUNDLE / TRICKLE_TLS_VERIFY).
        self.verify_ssl = verify_ssl
        self.ssl_ca_file = ssl_ca_file
        self.idx = start_seq
        self.max_retries = max_retries
        self.connect_timeout_seconds = connect_timeout_seconds
        self.pending_get = None  # upstream's pre-connected response; the engine keeps its own
        self.lock = asyncio.Lock()
        self.session = None  # the engine's client, once started
        self._loop: Optional[asyncio.AbstractEventLoop] = None

    async def start(self) -> None:
        if self.session is not None:
            return
        self._loop = asyncio.get_running_loop()
        native = load_native()
        self.session = native.NativeSubscriber(self.base_url, int(self.idx), int(self.max_retries),
                                               self.connect_timeout_seconds, self._on_native_error,
                                               bool(self.verify_ssl), self.ssl_ca_file or "")
        self._update_state(ComponentState.RUNNING)

    def _on_native_error(self, kind: str, message: str) -> None:
        # Engine dispatcher thread: continue on the loop.
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        exception = Exception(message or kind)
        try:
            loop.call_soon_threadsafe(lambda: loop.create_task(self._notify_error(kind, exception)))
        except RuntimeError:
            pass

    async def preconnect(self):
        """The engine pre-connects by itself after each segment; kept for API compatibility."""
        return None

    async def next(self) -> Optional[Segment]:
        """The next segment, or None at the end of the stream, after an error, or once closed."""
        async with self.lock:
            if self._should_stop():
                return None
            if self.session is None:
                await self.start()
            native_segment = await call_native(self.session.next)
            if native_segment is None:
                return None
            segment = Segment(native_segment)
            if segment.eos():
                return None
            if segment.seq() >= 0:
                self.idx = segment.seq() + 1
            self.last_activity = asyncio.get_running_loop().time()
            return segment

    async def close(self) -> None:
        self.shutdown_event.set()
        self._update_state(ComponentState.STOPPED)
        if self.session is not None:
            self.session.close()
            self.session = None

    async def __aenter__(self) -> "TrickleSubscriber":
        await self.start()
        return self

    async def __aexit__(self, exc_type, exc, tb) -> None:
        await self.close()
