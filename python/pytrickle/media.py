"""Upstream's pytrickle.media, for code that calls it directly (PyAV; the engine's pipeline
never imports it). The code lives in pytrickle._pyav.media; this name is that very module, so
patching pytrickle.media.X patches what runs."""

import sys

from ._pyav import media as _module

sys.modules[__name__] = _module
