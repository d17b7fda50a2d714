"""
Loading overlay: a synthetic "Loading..." picture with a progress bar that is
sent instead of (or while waiting for) processed video.

OverlayController decides per frame whether the overlay is shown;
build_frame_overlay renders it (OpenCV is imported only when rendering).
"""

import logging
import math
import time
from dataclasses import dataclass
from enum import Enum
from typing import Optional

import numpy as np
import torch

from .frames import VideoFrame
from ._lazy_names import lazy_names

__getattr__ = lazy_names(__name__, {"av": "av"})  # upstream's module imports PyAV; nothing here uses it

__all__ = [
    "OverlayMode",
    "OverlayConfig",
    "OverlayController",
    "build_frame_overlay",
]

logger = logging.getLogger(__name__)

# Colours (RGB, since the canvas is treated as RGB).
_BACKGROUND = (30, 30, 30)
_PANEL_FILL = (20, 20, 20)
_PANEL_BORDER = (60, 60, 60)
_TEXT = (200, 200, 200)
_TRACK = (40, 40, 40)
_FILL = (100, 150, 255)

_cv2_module = None


def _get_cv2():
    """Import OpenCV once and check that it actually works."""
    global _cv2_module
    if _cv2_module is not None:
        return _cv2_module
    try:
        import cv2  # type: ignore
    except ImportError as exc:
        raise RuntimeError(
            "Frame overlay support requires the 'opencv-python' package. "
            "Install it to enable frame overlay rendering."
        ) from exc
    try:
        info = cv2.getBuildInformation()
        if not info or not isinstance(info, str):
            raise RuntimeError("OpenCV build information is invalid or empty.")
    except Exception as exc:
        raise RuntimeError(
            "OpenCV is installed but not functioning correctly. "
            "Please reinstall opencv-python."
        ) from exc
    _cv2_module = cv2
    return cv2


def _create_overlay_frame_numpy(
    width: int,
    height: int,
    message: str,
    frame_counter: int,
    progress: Optional[float],
) -> np.ndarray:
    """Draw the overlay into a (height, width, 3) uint8 RGB array."""
    cv2 = _get_cv2()
    if width <= 0 or height <= 0:
        raise ValueError(f"Width and height must be positive, got {width}x{height}")
    if progress is not None and not (0.0 <= progress <= 1.0):
        raise ValueError(f"Progress must be between 0.0 and 1.0, got {progress}")

    canvas = np.empty((height, width, 3), dtype=np.uint8)
    canvas[:] = _BACKGROUND

    cx, cy = width // 2, height // 2
    panel_w = min(400, width - 40)
    panel_h = min(200, height - 40)
    panel_x = cx - panel_w // 2
    panel_y = cy - panel_h // 2

    canvas[panel_y:panel_y + panel_h, panel_x:panel_x + panel_w] = _PANEL_FILL
    cv2.rectangle(canvas, (panel_x, panel_y), (panel_x + panel_w, panel_y + panel_h), _PANEL_BORDER, 2)

    if message:
        font = cv2.FONT_HERSHEY_SIMPLEX
        scale, thickness = 1.2, 2
        (text_w, _text_h), _baseline = cv2.getTextSize(message, font, scale, thickness)
        cv2.putText(canvas, message, (cx - text_w // 2, cy), font, scale, _TEXT, thickness)

    bar_w = panel_w - 60
    bar_h = 6
    bar_x = panel_x + 30
    bar_y = cy + 40
    cv2.rectangle(canvas, (bar_x, bar_y), (bar_x + bar_w, bar_y + bar_h), _TRACK, -1)

    if progress is not None and progress > 0:
        fraction = min(1.0, max(0.0, progress))
    else:
        # Indeterminate: oscillate between empty and full.
        fraction = (math.sin(frame_counter * 0.1) + 1) * 0.5

    filled = int(bar_w * fraction)
    if filled > 0:
        cv2.rectangle(canvas, (bar_x, bar_y), (bar_x + filled, bar_y + bar_h), _FILL, -1)

    return canvas


def build_frame_overlay(
    original_frame: VideoFrame,
    message: str = "Loading...",
    frame_counter: int = 0,
    progress: Optional[float] = None,
) -> VideoFrame:
    """Render an overlay the size of ``original_frame`` and keep its timing.

    The result's tensor is (H, W, 3) float32 in [0, 1], without a batch
    dimension, whatever the layout of the original.
    """
    tensor = original_frame.tensor
    if tensor.dim() == 4:
        # NCHW when the channel axis comes first, NHWC otherwise.
        height, width = tuple(tensor.shape[2:4]) if tensor.shape[1] == 3 else tuple(tensor.shape[1:3])
    elif tensor.dim() == 3:
        height, width = tuple(tensor.shape[1:3]) if tensor.shape[0] == 3 else tuple(tensor.shape[0:2])
    else:
        raise ValueError(f"Unexpected tensor dimensions: {tensor.shape}")

    pixels = _create_overlay_frame_numpy(
        width=int(width),
        height=int(height),
        message=message,
        frame_counter=frame_counter,
        progress=progress,
    )
    rgb = torch.from_numpy(pixels.astype(np.float32) / 255.0)
    return VideoFrame(rgb, original_frame.timestamp, original_frame.time_base)


class OverlayMode(Enum):
    """What to send while the processor produces nothing."""

    PROGRESSBAR = "progressbar"
    PASSTHROUGH = "passthrough"


@dataclass
class OverlayConfig:
    """Settings for the loading overlay."""

    mode: OverlayMode = OverlayMode.PROGRESSBAR
    message: str = "Loading..."
    progress: Optional[float] = None  # None: animated bar
    enabled: bool = True
    auto_timeout_seconds: Optional[float] = 1.5  # no output for this long turns the overlay on
    frame_count_to_disable: int = 1  # consecutive outputs that turn an automatic overlay off

    def is_overlay_mode(self) -> bool:
        return self.mode == OverlayMode.PROGRESSBAR

    def is_passthrough_mode(self) -> bool:
        return self.mode == OverlayMode.PASSTHROUGH


class OverlayController:
    """Per-stream overlay state machine used by the client's video loop."""

    def __init__(self, overlay_config: Optional[OverlayConfig]):
        self.overlay_config = overlay_config if overlay_config is not None else OverlayConfig()
        self._last_video_frame_time = time.time()
        self._loading_active = False
        self._is_manual_loading = False
        self._frame_counter = 0
        self._consecutive_received_frames = 0

    def reset(self) -> None:
        """Back to the initial state (for a new stream)."""
        self._last_video_frame_time = time.time()
        self._loading_active = False
        self._is_manual_loading = False
        self._frame_counter = 0
        self._consecutive_received_frames = 0

    def update_and_apply(
        self,
        original_frame: VideoFrame,
        processed_frame: Optional[VideoFrame],
    ) -> Optional[VideoFrame]:
        """Update the state from this frame's outcome and pick the frame to send."""
        self._update_loading_state(processed_frame is not None)
        return self._apply_loading_overlay(original_frame, processed_frame)

    def apply_overlay_config(self, config: Optional[OverlayConfig]) -> None:
        self.overlay_config = config if config is not None else OverlayConfig()
        self._frame_counter = 0
        if not self.overlay_config.enabled or self.overlay_config.mode == OverlayMode.PASSTHROUGH:
            self._disable_overlay()

    def set_manual_loading(self, active: bool) -> None:
        """Force the overlay on (processing is then bypassed) or release it."""
        self._loading_active = bool(active)
        self._is_manual_loading = bool(active)
        self._last_video_frame_time = time.time()
        if not active:
            self._frame_counter = 0

    def should_skip_processing(self) -> bool:
        if self.overlay_config and self.overlay_config.is_passthrough_mode():
            return False
        return self._is_manual_loading

    # -- internals ------------------------------------------------------------------------

    def _update_loading_state(self, received_frame_from_processor: bool) -> None:
        config = self.overlay_config
        if not config or not config.enabled or config.mode != OverlayMode.PROGRESSBAR:
            self._disable_overlay()
            return

        now = time.time()
        if received_frame_from_processor:
            self._last_video_frame_time = now
            self._consecutive_received_frames += 1
            if self._loading_active and not self._is_manual_loading:
                if self._consecutive_received_frames >= max(1, config.frame_count_to_disable):
                    self._loading_active = False
            return

        self._consecutive_received_frames = 0
        if self._is_manual_loading:
            return
        timeout = config.auto_timeout_seconds
        if timeout is not None and timeout >= 0.0 and (now - self._last_video_frame_time) >= timeout:
            self._loading_active = True

    def _disable_overlay(self) -> None:
        self._loading_active = False
        self._is_manual_loading = False
        self._frame_counter = 0
        self._consecutive_received_frames = 0

    def _apply_loading_overlay(
        self,
        original_frame: VideoFrame,
        processed_frame: Optional[VideoFrame],
    ) -> Optional[VideoFrame]:
        config = self.overlay_config
        if not config or not config.enabled or config.is_passthrough_mode():
            return processed_frame

        if not self._loading_active:
            return processed_frame if processed_frame is not None else original_frame

        self._frame_counter += 1
        # Resolved through the module globals on every call so it can be patched.
        return build_frame_overlay(
            original_frame=original_frame,
            message=config.message,
            frame_counter=self._frame_counter,
            progress=config.progress,
        )
