"""
A tiny lock-protected holder for the most recent value passed between components.
"""

import logging
import threading
from typing import Any, Optional

logger = logging.getLogger(__name__)


class LastValueCache:
    """Keeps only the latest value; safe to use from several threads."""

    def __init__(self):
        self._lock = threading.Lock()
        self._value: Optional[Any] = None

    def put(self, value: Any) -> None:
        with self._lock:
            self._value = value

    def get(self) -> Optional[Any]:
        with self._lock:
            return self._value
