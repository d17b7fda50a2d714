"""Registering a worker's capability with a Livepeer orchestrator.

The application calls this itself (no server class does it automatically).
Values not passed explicitly come from environment variables; the HTTP POST is
made with the standard library (``urllib.request`` in a worker thread), so no
HTTP client package is needed.
"""

import asyncio
import http.client
import json
import logging
import os
import socket
import ssl
import urllib.error
import urllib.request
from typing import Optional, Union
from urllib.parse import ParseResult, urlparse

from .._lazy_names import lazy_names

__getattr__ = lazy_names(__name__, {"aiohttp": "aiohttp"})  # upstream's module posts with aiohttp; ours with urllib


class _ConnectError(Exception):
    """The orchestrator could not be reached (refused, unresolvable, unreachable)."""


class _ClientError(Exception):
    """Any other transport-level failure of one registration attempt."""


class _RegisterResponse:
    """Status (and body) of one registration POST."""

    def __init__(self, status: int, body: bytes):
        self.status = status
        self._body = body

    async def text(self) -> str:
        return self._body.decode("utf-8", errors="replace")

    def __repr__(self) -> str:
        return f"<RegisterResponse [{self.status}]>"


def _tls_context() -> ssl.SSLContext:
    """Orchestrators serve self-signed certificates, so none is checked (as upstream) unless the
    environment asks, as it does for the trickle channels: ``TRICKLE_CA_BUNDLE`` (a PEM bundle
    to trust) or ``TRICKLE_TLS_VERIFY=1`` (the system's CAs)."""
    bundle = os.environ.get("TRICKLE_CA_BUNDLE", "")
    if bundle:
        return ssl.create_default_context(cafile=bundle)
    if os.environ.get("TRICKLE_TLS_VERIFY", "").strip().lower() in ("1", "true", "yes", "on"):
        return ssl.create_default_context()
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def _is_timeout(exc: BaseException) -> bool:
    if isinstance(exc, (TimeoutError, socket.timeout)):
        return True
    reason = getattr(exc, "reason", None)
    return isinstance(reason, (TimeoutError, socket.timeout))


def _post_json(url: str, body: bytes, headers: dict, timeout: float) -> _RegisterResponse:
    """Blocking POST; answers the status of any HTTP response, raises on transport errors."""
    try:
        request = urllib.request.Request(url, data=body, headers=headers, method="POST")
        with urllib.request.urlopen(request, timeout=timeout, context=_tls_context()) as resp:
            return _RegisterResponse(resp.status, resp.read())
    except urllib.error.HTTPError as err:  # a non-2xx answer is still an answer
        try:
            payload = err.read()
        except Exception:
            payload = b""
        return _RegisterResponse(err.code, payload)
    except Exception as exc:
        if _is_timeout(exc):
            raise asyncio.TimeoutError(str(exc)) from exc
        if isinstance(exc, urllib.error.URLError) and isinstance(exc.reason, OSError):
            raise _ConnectError(f"Cannot connect to host {url}: {exc.reason}") from exc
        if isinstance(exc, (OSError, http.client.HTTPException, ValueError)):
            raise _ClientError(str(exc) or type(exc).__name__) from exc
        raise


class RegisterCapability:
    """Registers this worker with an orchestrator, using environment variables as defaults.

    Environment variables: ``ORCH_URL``, ``ORCH_SECRET``, ``CAPABILITY_NAME``,
    ``CAPABILITY_DESCRIPTION``, ``CAPABILITY_URL`` (always taken from the
    environment), ``CAPABILITY_CAPACITY`` (default 1),
    ``CAPABILITY_PRICE_PER_UNIT`` (default 0) and ``CAPABILITY_PRICE_SCALING``
    (default 1). Ours besides upstream's: ``CAPABILITY_CURRENCY`` (the price's
    currency, e.g. "USD"; go-livepeer reads wei without it) and ``CAPABILITY_TOKEN``
    (the token the orchestrator then sends as ``Authorization: Bearer <token>`` on
    every request to this worker; StreamServer checks it). Neither is sent unless set,
    so without them the body is upstream's.
    """

    def __init__(self, logger: Optional[logging.Logger] = None):
        self.logger = logger or logging.getLogger(__name__)

    def _build_register_request(self, **values) -> dict:
        """The JSON body the orchestrator expects."""
        request = {
            "url": values["capability_url"],
            "name": values["capability_name"],
            "description": values["capability_desc"],
            "capacity": values["capability_capacity"],
            "price_per_unit": values["capability_price_per_unit"],
            "price_scaling": values["capability_price_scaling"],
        }
        if values.get("capability_currency"):
            request["currency"] = values["capability_currency"]
        if values.get("capability_token"):
            request["token"] = values["capability_token"]
        return request

    async def _make_registration_request(
        self,
        orch_url: str,
        orch_secret: str,
        register_req: dict,
        max_retries: int = 10,
        delay: float = 2.0,
        timeout: float = 5.0,
    ) -> Union[ParseResult, bool]:
        """POST the registration, retrying transient failures; a 400 (bad secret) is final."""
        headers = {"Authorization": orch_secret, "Content-Type": "application/json"}
        endpoint = f"{orch_url}/capability/register"
        body = json.dumps(register_req).encode("utf-8")

        shown = {**register_req, "token": "<set>"} if "token" in register_req else register_req
        self.logger.info(f"Registering capability: {shown}")

        for attempt in range(1, max_retries + 1):
            try:
                resp = await asyncio.wait_for(
                    asyncio.to_thread(_post_json, endpoint, body, headers, timeout),
                    timeout,
                )
                if resp.status == 200:
                    self.logger.info("Capability registered successfully")
                    return urlparse(register_req["url"])
                if resp.status == 400:
                    self.logger.error("Orchestrator secret incorrect")
                    return False
                # Like the original, this shows the response's text method, not the body.
                self.logger.warning(f"Register attempt {attempt} failed: {resp.status} {resp.text}")
            except _ConnectError as e:
                self.logger.warning(f"Register attempt {attempt} failed to connect: {e}")
            except asyncio.TimeoutError as e:
                self.logger.warning(f"Register attempt {attempt} timed out: {e}")
            except _ClientError as e:
                self.logger.warning(f"Register attempt {attempt} failed with client error: {e}")
            except Exception as e:
                # Registration problems must never take the worker's startup down.
                self.logger.error(f"Register attempt {attempt} failed with unexpected exception: {e}")

            if attempt >= max_retries:
                self.logger.warning("All registration retries failed")
                return False
            await asyncio.sleep(delay)

        return False

    async def register_capability(
        self,
        orch_url: Optional[str] = None,
        orch_secret: Optional[str] = None,
        capability_name: Optional[str] = None,
        capability_desc: Optional[str] = None,
        capability_capacity: Optional[int] = None,
        capability_price_per_unit: Optional[int] = None,
        capability_price_scaling: Optional[int] = None,
        max_retries: int = 3,
        delay: float = 2.0,
        timeout: float = 1.5,
        capability_currency: Optional[str] = None,
        capability_token: Optional[str] = None,
    ) -> Union[ParseResult, bool]:
        """Register this worker; returns ``urlparse(CAPABILITY_URL)`` on success, else False.

        Each argument left out (or falsy) is taken from its environment variable,
        then from the built-in default.  Without an orchestrator URL or secret
        nothing is sent and the answer is False.
        """
        env = os.environ
        orch_url = orch_url or env.get("ORCH_URL", "")
        orch_secret = orch_secret or env.get("ORCH_SECRET", "")
        capability_name = capability_name or env.get("CAPABILITY_NAME", "pytrickle-worker")
        capability_desc = capability_desc or env.get("CAPABILITY_DESCRIPTION", "PyTrickle video processing worker")
        capability_url = env.get("CAPABILITY_URL", "http://localhost:8000")
        capability_capacity = capability_capacity or int(env.get("CAPABILITY_CAPACITY", 1))
        capability_price_per_unit = capability_price_per_unit or int(env.get("CAPABILITY_PRICE_PER_UNIT", 0))
        capability_price_scaling = capability_price_scaling or int(env.get("CAPABILITY_PRICE_SCALING", 1))
        capability_currency = capability_currency or env.get("CAPABILITY_CURRENCY", "")
        capability_token = capability_token or env.get("CAPABILITY_TOKEN", "")

        if not (orch_url and orch_secret):
            self.logger.info("Orchestrator URL or secret not provided, skipping capability registration")
            return False

        register_req = self._build_register_request(
            orch_url=orch_url,
            orch_secret=orch_secret,
            capability_name=capability_name,
            capability_desc=capability_desc,
            capability_url=capability_url,
            capability_capacity=capability_capacity,
            capability_price_per_unit=capability_price_per_unit,
            capability_price_scaling=capability_price_scaling,
            capability_currency=capability_currency,
            capability_token=capability_token,
        )
        return await self._make_registration_request(
            orch_url, orch_secret, register_req, max_retries, delay, timeout
        )

    async def unregister_capability(
        self,
        orch_url: Optional[str] = None,
        orch_secret: Optional[str] = None,
        capability_name: Optional[str] = None,
        timeout: float = 1.5,
    ) -> bool:
        """Ours: removes the capability from the orchestrator (go-livepeer's
        ``POST /capability/unregister``, the bare name as the body). One attempt; True when
        the orchestrator said 200. Values left out come from the environment, as for
        registering."""
        env = os.environ
        orch_url = orch_url or env.get("ORCH_URL", "")
        orch_secret = orch_secret or env.get("ORCH_SECRET", "")
        capability_name = capability_name or env.get("CAPABILITY_NAME", "pytrickle-worker")
        if not (orch_url and orch_secret):
            return False
        headers = {"Authorization": orch_secret, "Content-Type": "text/plain"}
        try:
            resp = await asyncio.wait_for(
                asyncio.to_thread(_post_json, f"{orch_url}/capability/unregister", capability_name.encode("utf-8"),
                                  headers, timeout),
                timeout,
            )
        except Exception as e:  # noqa: BLE001 - shutting down must not fail on this
            self.logger.warning(f"Unregistering capability {capability_name!r} failed: {e}")
            return False
        if resp.status != 200:
            self.logger.warning(f"Unregistering capability {capability_name!r}: orchestrator answered {resp.status}")
            return False
        self.logger.info(f"Capability {capability_name!r} unregistered")
        return True

    @classmethod
    async def register(cls, logger: Optional[logging.Logger] = None, **kwargs) -> Union[ParseResult, bool]:
        """One-line registration: ``await RegisterCapability.register(capability_name="x")``."""
        return await cls(logger).register_capability(**kwargs)
