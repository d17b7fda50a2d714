"""How decoded frames are handed to a processor (ours). Upstream hands out ``[1, H, W, 3]`` float32
RGB in [0, 1], and that stays the default, so code written for upstream sees what it expects.
Livepeer's documentation describes ``[H, W, 3]`` uint8 frames; the engine makes those with less
work (no conversion to float, no batch dimension)."""

from __future__ import annotations

from typing import Any, Dict

FRAME_LAYOUT_UPSTREAM = "upstream"    # [1, H, W, 3] float32 in [0, 1]
FRAME_LAYOUT_HWC_UINT8 = "hwc_uint8"  # [H, W, 3] uint8
FRAME_LAYOUTS = (FRAME_LAYOUT_UPSTREAM, FRAME_LAYOUT_HWC_UINT8)


def engine_frame_options(layout: str) -> Dict[str, Any]:
    """The engine settings for `layout` (TrickleProtocol's engine options)."""
    if layout == FRAME_LAYOUT_UPSTREAM:
        return {}
    if layout == FRAME_LAYOUT_HWC_UINT8:
        return {"uint8": True, "batch_dim": False}
    raise ValueError(f"frame_layout must be one of {', '.join(map(repr, FRAME_LAYOUTS))}, not {layout!r}")
