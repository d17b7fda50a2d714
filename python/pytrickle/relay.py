"""TrickleRelay (ours, not in upstream): the engine's trickle relay inside this process.

A gateway (go-livepeer) normally owns the channels a worker reads and writes. For local runs,
demos and tests, this relay serves the same protocol on loopback:

    with TrickleRelay() as relay:
        relay.create_channel("in")
        url = relay.url("in")        # http://127.0.0.1:<port>/in

With ``tls_cert`` and ``tls_key`` (PEM files) it serves https://, as go-livepeer's relay does.
"""

from __future__ import annotations

from typing import Optional

from ._native_loader import load_native


class TrickleRelay:
    def __init__(self, host: str = "127.0.0.1", port: int = 0, autocreate: bool = True,
                 tls_cert: Optional[str] = None, tls_key: Optional[str] = None):
        if bool(tls_cert) != bool(tls_key):
            raise ValueError("tls_cert and tls_key go together: give both to serve https://, or neither")
        self.host = host
        self.scheme = "https" if tls_cert else "http"
        self._native = load_native().NativeRelay(host, port, autocreate, tls_cert or "", tls_key or "")

    @property
    def port(self) -> int:
        return self._native.port

    @property
    def base_url(self) -> str:
        return f"{self.scheme}://{self.host}:{self.port}"

    def url(self, channel: str) -> str:
        return f"{self.base_url}/{channel}"

    def create_channel(self, name: str, mime_type: str = "") -> str:
        """Creates the channel now (a subscriber may then wait on it before anything is published)."""
        self._native.create_channel(name, mime_type)
        return self.url(name)

    def close_channel(self, name: str) -> bool:
        """Ends the channel for every reader; False when there was no such channel."""
        return self._native.close_channel(name)

    def stop(self) -> None:
        self._native.stop()

    def __enter__(self) -> "TrickleRelay":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.stop()
