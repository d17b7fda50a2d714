"""Prints, as JSON, every module-level name of every module of the pytrickle that this Python
imports: {module: {name: [kind, module name when the value is a module]}}. Run in
.venv-upstream by tests/python/package/test_module_names.py."""

import importlib
import json
import pkgutil
import types

import pytrickle

names = {}
for info in pkgutil.walk_packages(pytrickle.__path__, "pytrickle."):
    module = importlib.import_module(info.name)
    names[info.name] = {
        name: [type(value).__name__, value.__name__ if isinstance(value, types.ModuleType) else None]
        for name, value in vars(module).items() if not (name.startswith("__") and name.endswith("__"))
    }
print(json.dumps(names))
