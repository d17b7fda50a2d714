"""The bridge between the engine's asynchronous calls and asyncio: a call whose coroutine throws on
the engine's io thread raises in the awaiting task, instead of leaving it waiting forever."""

from __future__ import annotations

import asyncio

import pytest

from pytrickle._async_bridge import call_native
from pytrickle._native_loader import load_native


async def test_a_call_that_throws_on_the_io_thread_raises_in_the_caller():
    native = load_native()
    with pytest.raises(RuntimeError, match="broken on the io thread"):
        await asyncio.wait_for(call_native(lambda done: native._throw_on_io("broken on the io thread", done)), 5)
    # The engine goes on serving calls afterwards.
    with pytest.raises(RuntimeError, match="again"):
        await asyncio.wait_for(call_native(lambda done: native._throw_on_io("again", done)), 5)


async def test_values_still_arrive_as_values():
    calls = []

    def start(done):
        calls.append(done)
        done(42)

    assert await asyncio.wait_for(call_native(start), 5) == 42
    assert len(calls) == 1
