"""
Rolling frame-rate measurement for ingress and egress media.

Each direction/media pair keeps a bounded deque of wall-clock arrival times;
rates are computed over the samples that fall inside a recent time window.
"""

import logging
import time
from collections import deque
from typing import Deque, Dict

logger = logging.getLogger(__name__)


class FPSMeter:
    """Tracks ingress/egress video and audio frame rates over a sliding window."""

    def __init__(self, window_seconds: float = 10.0, max_samples: int = 600):
        """
        Args:
            window_seconds: only samples newer than this many seconds count.
            max_samples: upper bound on stored samples per series.
        """
        self.window_seconds = window_seconds
        self.ingress_video_timestamps: Deque[float] = deque(maxlen=max_samples)
        self.ingress_audio_timestamps: Deque[float] = deque(maxlen=max_samples)
        self.egress_video_timestamps: Deque[float] = deque(maxlen=max_samples)
        self.egress_audio_timestamps: Deque[float] = deque(maxlen=max_samples)

    # -- recording -----------------------------------------------------------------------

    def record_ingress_video_frame(self):
        self.ingress_video_timestamps.append(time.time())

    def record_ingress_audio_frame(self):
        self.ingress_audio_timestamps.append(time.time())

    def record_egress_video_frame(self):
        self.egress_video_timestamps.append(time.time())

    def record_egress_audio_frame(self):
        self.egress_audio_timestamps.append(time.time())

    # -- reading -------------------------------------------------------------------------

    def get_ingress_video_fps(self) -> float:
        return self._calculate_fps(self.ingress_video_timestamps)

    def get_ingress_audio_fps(self) -> float:
        return self._calculate_fps(self.ingress_audio_timestamps)

    def get_egress_video_fps(self) -> float:
        return self._calculate_fps(self.egress_video_timestamps)

    def get_egress_audio_fps(self) -> float:
        return self._calculate_fps(self.egress_audio_timestamps)

    def _calculate_fps(self, timestamps: Deque[float]) -> float:
        """(n - 1) / span over the samples in the window; 0.0 when undefined."""
        if len(timestamps) < 2:
            return 0.0
        cutoff = time.time() - self.window_seconds
        recent = [t for t in timestamps if t >= cutoff]
        if len(recent) < 2:
            return 0.0
        span = recent[-1] - recent[0]
        if span <= 0:
            return 0.0
        return (len(recent) - 1) / span

    def get_fps_stats(self) -> Dict[str, float]:
        return {
            "ingress_video_fps": self.get_ingress_video_fps(),
            "ingress_audio_fps": self.get_ingress_audio_fps(),
            "egress_video_fps": self.get_egress_video_fps(),
            "egress_audio_fps": self.get_egress_audio_fps(),
        }

    def reset(self):
        """Forget all recorded samples."""
        for series in (
            self.ingress_video_timestamps,
            self.ingress_audio_timestamps,
            self.egress_video_timestamps,
            self.egress_audio_timestamps,
        ):
            series.clear()
