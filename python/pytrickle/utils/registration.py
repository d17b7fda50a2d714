"""Ours: keeping a worker registered with its orchestrator while it runs.

go-livepeer keeps capabilities in memory only: an orchestrator that restarts has forgotten every
worker, and one that received a 401 from a worker drops its capability (the token-checking
orchestrator does). Neither tells the worker. So this registers at start, again every
``refresh_seconds`` (a restarted orchestrator learns of us within that time), again at once when
the server reports that it refused the orchestrator's token, and unregisters at the end.
Failures are logged and retried with a growing pause; nothing here ever waits on a stream or
stops the server from serving.

Re-registering replaces the orchestrator's entry for the name (go-livepeer resets its count of
the capability's running jobs); the worker enforces its own limit on streams, so that count only
affects what the orchestrator reports as free capacity.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any, Dict, Optional

from .register import RegisterCapability

logger = logging.getLogger(__name__)


class CapabilityRegistration:
    """Registers, re-registers and finally unregisters one capability.

    ``register_kwargs`` are RegisterCapability.register_capability's arguments (orch_url,
    orch_secret, capability_name, ..., capability_token); what is left out comes from the
    environment, as there.
    """

    def __init__(self, *, refresh_seconds: float = 60.0, first_retry_seconds: float = 1.0,
                 max_retry_seconds: float = 60.0, attempt_timeout: float = 5.0,
                 register_kwargs: Optional[Dict[str, Any]] = None):
        if refresh_seconds < 0 or first_retry_seconds <= 0 or max_retry_seconds < first_retry_seconds:
            raise ValueError("refresh_seconds >= 0 (0: only after a refusal), 0 < first_retry_seconds "
                             "<= max_retry_seconds")
        self.refresh_seconds = refresh_seconds
        self.first_retry_seconds = first_retry_seconds
        self.max_retry_seconds = max_retry_seconds
        self.attempt_timeout = attempt_timeout
        self.register_kwargs = dict(register_kwargs or {})
        self.registered = False
        self.attempts = 0
        self._registrar = RegisterCapability(logger)
        self._forgotten = asyncio.Event()
        self._task: Optional[asyncio.Task] = None
        self._last_attempt = 0.0

    def start(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._keep_registered(), name="capability-registration")

    def orchestrator_forgot_us(self) -> None:
        """The server refused a request's token: the orchestrator may have dropped us. Register
        again soon (at most once per first_retry_seconds, so refused strangers cannot make us
        flood the orchestrator)."""
        self._forgotten.set()

    async def close(self, unregister: bool = True) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            try:
                await task
            except (asyncio.CancelledError, Exception):  # noqa: BLE001 - the loop logs its own failures
                pass
        if unregister and self.registered:
            self.registered = False
            keys = ("orch_url", "orch_secret", "capability_name")
            await self._registrar.unregister_capability(
                **{k: self.register_kwargs[k] for k in keys if k in self.register_kwargs},
                timeout=self.attempt_timeout)

    async def _register_once(self) -> bool:
        self.attempts += 1
        self._last_attempt = time.monotonic()
        try:
            outcome = await self._registrar.register_capability(
                **self.register_kwargs, max_retries=1, timeout=self.attempt_timeout)
        except Exception as error:  # noqa: BLE001 - e.g. a malformed CAPABILITY_CAPACITY: logged, retried
            logger.error("capability registration failed: %s", error)
            return False
        return bool(outcome)

    async def _keep_registered(self) -> None:
        retry = self.first_retry_seconds
        while True:
            self.registered = await self._register_once()
            if self.registered:
                retry = self.first_retry_seconds
                wait = self.refresh_seconds or None  # None: until a refusal
            else:
                wait = retry
                logger.warning("capability not registered; trying again in %.0f s", wait)
                retry = min(retry * 2, self.max_retry_seconds)
            self._forgotten.clear()
            try:
                await asyncio.wait_for(self._forgotten.wait(), timeout=wait)
                # Refused token: go again, but not sooner than first_retry_seconds after the last try.
                pause = self.first_retry_seconds - (time.monotonic() - self._last_attempt)
                if pause > 0:
                    await asyncio.sleep(pause)
                logger.info("re-registering the capability: the server refused the orchestrator's token")
            except asyncio.TimeoutError:
                pass
