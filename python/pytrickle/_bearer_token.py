"""Ours: the token an orchestrator sends as ``Authorization: Bearer <token>`` when the worker's
capability was registered with one (go-livepeer's BYOC ``token``).

Compared in constant time: both sides are hashed first (SHA-256), so neither the token's value nor
its length shows in how long a refusal takes. The token itself is never logged or reported.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from typing import Optional

TOKEN_ENV = "CAPABILITY_TOKEN"


def configured_token(explicit: Optional[str]) -> Optional[str]:
    """The token a server checks: the argument when given (an empty string turns checking off),
    else $CAPABILITY_TOKEN, the variable registration sends it from; None means no checks."""
    token = explicit if explicit is not None else os.environ.get(TOKEN_ENV, "")
    return token or None


def _digest(text: str) -> bytes:
    return hashlib.sha256(text.encode("utf-8", "surrogateescape")).digest()


class BearerToken:
    def __init__(self, token: str):
        if not token:
            raise ValueError("an empty token checks nothing")
        self._digest = _digest(token)

    def refusal(self, authorization: Optional[str]) -> Optional[str]:
        """None when the header carries the token; otherwise why not (safe to log)."""
        if not authorization:
            return "no Authorization header"
        scheme, _, credentials = authorization.strip().partition(" ")
        if scheme.lower() != "bearer":
            return "not a Bearer token"
        if not hmac.compare_digest(_digest(credentials.strip()), self._digest):
            return "wrong token"
        return None
