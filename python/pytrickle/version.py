"""
Package version, shared by the package root and the HTTP server's /version route.
"""

import logging

logger = logging.getLogger(__name__)

_FALLBACK_VERSION = "0.1.6"


def _detect_version() -> str:
    """Installed distribution version when it is a 0.1.x release, else the fallback."""
    try:
        from importlib.metadata import PackageNotFoundError, version as _dist_version
    except ImportError:  # pragma: no cover - stdlib on 3.8+
        return _FALLBACK_VERSION
    try:
        found = _dist_version("pytrickle")
    except PackageNotFoundError:
        return _FALLBACK_VERSION
    except Exception:  # broken metadata: do not fail the import
        return _FALLBACK_VERSION
    if isinstance(found, str) and found.startswith("0.1."):
        return found
    return _FALLBACK_VERSION


__version__ = _detect_version()
VERSION = __version__
