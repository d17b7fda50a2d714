"""Which stream a request or a callback is about (docs/many_streams.md).

go-livepeer's orchestrator names the stream of each call to a worker in an ``X-Stream-Id``
header. The id travels into logs, status bodies and the processor's callbacks, so a malformed
one is refused before anything else is touched.
"""

from __future__ import annotations

import inspect
from typing import Any, Callable, Mapping, Optional

STREAM_ID_HEADER = "X-Stream-Id"
MAX_STREAM_ID_BYTES = 128


class StreamIdError(ValueError):
    """An ``X-Stream-Id`` that cannot name a stream."""


def stream_id_from(headers: Mapping[str, str]) -> Optional[str]:
    """The request's ``X-Stream-Id``, None without one; StreamIdError when it is malformed
    (empty, longer than 128 bytes, or a byte outside visible ASCII)."""
    value = headers.get(STREAM_ID_HEADER)
    if value is None:
        return None
    if not value:
        raise StreamIdError("Invalid X-Stream-Id: it is empty")
    if len(value.encode("utf-8", "surrogateescape")) > MAX_STREAM_ID_BYTES:
        raise StreamIdError(f"Invalid X-Stream-Id: longer than {MAX_STREAM_ID_BYTES} bytes")
    if any(not "!" <= character <= "~" for character in value):
        raise StreamIdError("Invalid X-Stream-Id: only visible ASCII characters (no spaces or control characters)")
    return value


def accepts_stream_id(method: Callable) -> bool:
    """Whether a processor's callback takes the ``stream_id`` keyword (ours); callbacks written for
    upstream do not, and are called as upstream calls them."""
    try:
        parameters = inspect.signature(method).parameters
    except (TypeError, ValueError):
        return False
    # Only a parameter named so: a **kwargs catch-all written for something else gets nothing new.
    return "stream_id" in parameters


async def call_for_stream(method: Callable, *args: Any, stream_id: str) -> Any:
    """``method(*args)``, with ``stream_id=`` when it accepts it, awaited when it is a coroutine
    (Livepeer's documentation writes update_params as a plain method, upstream as ``async def``)."""
    outcome = method(*args, stream_id=stream_id) if accepts_stream_id(method) else method(*args)
    if inspect.isawaitable(outcome):
        outcome = await outcome
    return outcome
