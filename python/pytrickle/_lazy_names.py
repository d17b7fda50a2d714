"""Module-level names that upstream's modules have and ours import only when asked for.

Code written for upstream reaches into module globals (``patch('pytrickle.encoder.av.open')``,
``pytrickle.publisher.aiohttp``). Importing PyAV or aiohttp in every module would slow every
import of the package, so such names resolve on first access (a module ``__getattr__``, PEP 562)
and stay in the module's globals afterwards, where ``unittest.mock.patch`` finds and replaces
them as it would upstream's.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any, Callable, Dict


def lazy_names(module_name: str, names: Dict[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` for ``names``: each maps to ``"module"`` or ``"module:attribute"``.
    A name whose module is not installed does not exist (AttributeError), as on upstream without
    that dependency."""

    def __getattr__(name: str) -> Any:
        target = names.get(name)
        if target is None:
            raise AttributeError(f"module {module_name!r} has no attribute {name!r}")
        module_path, _, attribute = target.partition(":")
        try:
            value = importlib.import_module(module_path)
        except ImportError as error:
            raise AttributeError(f"module {module_name!r} has no attribute {name!r} "
                                 f"({module_path} is not installed)") from error
        if attribute:
            value = getattr(value, attribute)
        setattr(sys.modules[module_name], name, value)
        return value

    return __getattr__


def resolve(module_name: str, name: str) -> Any:
    """The module's current value of ``name`` (a patched one if a test replaced it), imported on
    first use; ImportError when its dependency is not installed."""
    try:
        return getattr(sys.modules[module_name], name)
    except AttributeError as error:
        raise ImportError(str(error)) from error
