"""Upstream's pytrickle.decoder, for code that calls it directly (PyAV; the engine's pipeline
never imports it). The code lives in pytrickle._pyav.decoder; this name is that very module, so
patching pytrickle.decoder.X patches what runs."""

import sys

from ._pyav import decoder as _module

sys.modules[__name__] = _module
