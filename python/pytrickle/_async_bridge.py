"""Turns the engine's callback-style asynchronous calls into awaitables on the running loop.

The engine calls back on its own dispatcher thread (with the GIL); the result is handed to the
loop with call_soon_threadsafe, one hop per call, which is fine for channel operations (a few
per segment). Frames do not go this way (see protocol.py).
"""

from __future__ import annotations

import asyncio
from typing import Any, Callable, Optional


def _settle(future: asyncio.Future, value: Any, error: Optional[str]) -> None:
    if future.done():
        return
    if error is not None:
        future.set_exception(RuntimeError(error))
    else:
        future.set_result(value)


async def call_native(start: Callable[..., None]) -> Any:
    """Runs ``start(callback)`` and waits for the value the engine passes to the callback. The
    engine calls ``callback(None, message)`` when the call failed on its side: that raises here
    as a RuntimeError, so no caller waits forever."""
    loop = asyncio.get_running_loop()
    future = loop.create_future()

    def callback(value: Any = None, error: Optional[str] = None) -> None:
        try:
            loop.call_soon_threadsafe(_settle, future, value, error)
        except RuntimeError:  # the loop has closed meanwhile: nobody waits any more
            pass

    start(callback)
    return await future
