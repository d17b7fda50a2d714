"""Finds the compiled engine (pytrickle._native).

Installed packages carry it next to this file. In a source checkout (PYTHONPATH=python) it is
taken from the CMake build instead: $TRICKLE_NATIVE_DIR, else <repo>/build/bindings.
"""

from __future__ import annotations

import importlib
import importlib.machinery
import importlib.util
import os
import sys
from pathlib import Path

_MODULE = "pytrickle._native"


def _from_build_tree():
    directories = []
    if os.environ.get("TRICKLE_NATIVE_DIR"):
        directories.append(Path(os.environ["TRICKLE_NATIVE_DIR"]))
    directories.append(Path(__file__).resolve().parents[2] / "build" / "bindings")
    for directory in directories:
        for suffix in importlib.machinery.EXTENSION_SUFFIXES:
            candidate = directory / f"_native{suffix}"
            if candidate.is_file():
                spec = importlib.util.spec_from_file_location(_MODULE, candidate)
                module = importlib.util.module_from_spec(spec)
                sys.modules[_MODULE] = module
                spec.loader.exec_module(module)
                return module
    return None


def load_native():
    if _MODULE in sys.modules:
        return sys.modules[_MODULE]
    try:
        return importlib.import_module(_MODULE)
    except ImportError as error:
        module = _from_build_tree()
        if module is not None:
            return module
        raise ImportError(
            "pytrickle's C++ engine (pytrickle._native) is not built: install the package with "
            "`pip install .`, or run scripts/setup in a checkout (it builds build/bindings)"
        ) from error
