"""Runnable example apps for PyTrickle.

Each module is a complete streaming worker and doubles as a ``pytrickle init``
template.
"""
