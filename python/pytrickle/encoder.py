"""Upstream's pytrickle.encoder, for code that calls it directly (PyAV; the engine's pipeline
never imports it). The code lives in pytrickle._pyav.encoder; this name is that very module, so
patching pytrickle.encoder.X patches what runs."""

import sys

from ._pyav import encoder as _module

sys.modules[__name__] = _module
