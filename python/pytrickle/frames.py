"""
Media frame containers used throughout the streaming pipeline.

Video frames carry a torch tensor, audio frames a numpy array; both keep the
presentation timestamp and time base of the media they came from so that the
encoder can place processed output at the right time.

PyAV is an optional dependency of this package: it is only imported by the
few helpers that convert to or from PyAV frame objects.
"""

import logging
import sys
from abc import ABC
from collections import deque
from fractions import Fraction
from typing import TYPE_CHECKING, Any, Deque, Dict, List, Optional, Union

import numpy as np
import torch

from ._lazy_names import lazy_names

if TYPE_CHECKING:  # pragma: no cover - typing only
    import av

logger = logging.getLogger(__name__)
# Upstream's module imports PyAV; ours on first use of `pytrickle.frames.av` or of a PyAV helper.
__getattr__ = lazy_names(__name__, {"av": "av"})

DEFAULT_WIDTH = 512
DEFAULT_HEIGHT = 512
DEFAULT_MAX_FRAMERATE = 24  # frames per second a stream is limited to unless its params say otherwise

_AV_INSTALL_HINT = (
    "PyAV ('av') is required for {what}; it is an optional dependency of pytrickle. "
    "Install it with: pip install pytrickle[av]"
)


def _require_av(what: str):
    """Import PyAV on demand, failing with an explanatory ImportError."""
    try:
        return getattr(sys.modules[__name__], "av")  # a patched pytrickle.frames.av wins, as upstream
    except AttributeError as exc:
        raise ImportError(_AV_INSTALL_HINT.format(what=what)) from exc


def _count_samples(samples: Any) -> int:
    """Per-frame sample count as PyTrickle reports it (last axis, or length for 1-D)."""
    return samples.shape[-1] if samples.ndim > 1 else len(samples)


class SideData:
    """Auxiliary per-frame data kept for compatibility with Livepeer ai-runner.

    Nothing in this package reads it; the defaults live on the class.
    """

    skipped: bool = True
    input: Optional[Union[torch.Tensor, np.ndarray]] = None


class InputFrame(ABC):
    """Common base of decoded input frames."""

    timestamp: int
    time_base: Fraction
    log_timestamps: Dict[str, float]
    side_data: SideData
    # Ours: the stream the frame belongs to when one worker serves several (docs/many_streams.md).
    stream_id: str = ""

    @classmethod
    def from_av_video(cls, tensor: torch.Tensor, timestamp: int, time_base: Fraction):
        return VideoFrame(tensor, timestamp, time_base)

    @classmethod
    def from_av_audio(cls, frame: "av.AudioFrame"):
        return AudioFrame(frame)


class VideoFrame(InputFrame):
    """A video picture held as a tensor, plus its timing."""

    tensor: torch.Tensor

    def __init__(
        self,
        tensor: torch.Tensor,
        timestamp: int,
        time_base: Fraction,
        log_timestamps: Dict[str, float] = None,
    ):
        self.tensor = tensor
        self.timestamp = timestamp
        self.time_base = time_base
        self.log_timestamps = log_timestamps or {}
        self.side_data = SideData()

    @classmethod
    def from_av_video(cls, tensor: torch.Tensor, timestamp: int, time_base: Fraction) -> "VideoFrame":
        """Build a frame from decoded data (same as calling the constructor)."""
        return cls(tensor, timestamp, time_base)

    @classmethod
    def from_tensor(cls, tensor: torch.Tensor, timestamp: int = 0) -> "VideoFrame":
        """Build a frame from a bare tensor; the time base is 1/1."""
        return cls(tensor, timestamp, Fraction(1, 1))

    def replace_tensor(self, new_tensor: torch.Tensor) -> "VideoFrame":
        """Return a frame with new pixels but this frame's timing and side data."""
        replacement = VideoFrame(new_tensor, self.timestamp, self.time_base, self.log_timestamps.copy())
        replacement.side_data = self.side_data
        replacement.stream_id = self.stream_id
        return replacement

    def to(self, device: Union[str, torch.device]) -> "VideoFrame":
        """Ours (Livepeer's documentation): this frame with its tensor on `device` ("cuda", "cpu")."""
        return self.replace_tensor(self.tensor.to(device))

    @classmethod
    def from_av_frame_with_timing(cls, av_frame: "av.VideoFrame", original_frame: "VideoFrame") -> "VideoFrame":
        """Turn a PyAV picture into an (H, W, 3) float tensor in [0, 1].

        Timestamp and time base come from ``original_frame``; its log
        timestamps are not carried over.
        """
        rgb = av_frame.to_ndarray(format="rgb24").astype(np.float32) / 255.0
        return cls(
            tensor=torch.from_numpy(rgb),
            timestamp=original_frame.timestamp,
            time_base=original_frame.time_base,
        )

    def to_av_frame(self, tensor: torch.Tensor) -> "av.VideoFrame":
        """Convert ``tensor`` (not ``self.tensor``) into an rgb24 PyAV frame.

        Accepts [1, H, W, C] or [H, W, C] with C in 1, 3 or 4; float input whose
        maximum is at most 1.0 is scaled by 255 first.
        """
        if tensor.dim() == 4:
            if tensor.shape[0] != 1:
                raise ValueError(f"Expected batch size 1, got {tensor.shape[0]}")
            tensor = tensor.squeeze(0)
        elif tensor.dim() != 3:
            raise ValueError(
                f"Expected 3D or 4D tensor, got {tensor.dim()}D tensor with shape {tensor.shape}"
            )

        channels = tensor.shape[2]
        if channels not in (1, 3, 4):
            raise ValueError(f"Expected 1, 3, or 4 channels, got {channels}")

        if tensor.dtype in (torch.float32, torch.float64):
            if tensor.max() <= 1.0:
                tensor = tensor * 255.0
        pixels = tensor.clamp(0, 255).to(torch.uint8).cpu().numpy()
        pixels = np.ascontiguousarray(pixels)

        if pixels.shape[2] == 1:
            pixels = np.repeat(pixels, 3, axis=2)

        av = _require_av("VideoFrame.to_av_frame")
        # Always built as rgb24: 4-channel input is rejected by PyAV here.
        return av.VideoFrame.from_ndarray(pixels, format="rgb24")


class AudioFrame(InputFrame):
    """A block of audio samples (numpy) plus format description and timing."""

    samples: np.ndarray
    format: str
    layout: str
    rate: int
    nb_samples: int

    def __init__(self, frame):
        # ``frame`` is a PyAV AudioFrame or anything shaped like one.
        if frame.pts is None:
            raise ValueError("Audio frame has no timestamp")
        self.samples = frame.to_ndarray()
        self.nb_samples = frame.samples
        self.format = frame.format.name
        self.rate = frame.sample_rate
        self.layout = frame.layout.name
        self.timestamp = frame.pts
        self.time_base = frame.time_base
        self.log_timestamps = {}
        self.side_data = SideData()

    @classmethod
    def _from_native(
        cls,
        samples: np.ndarray,
        nb_samples: int,
        format: str,
        rate: int,
        layout: str,
        timestamp: int,
        time_base,
    ) -> "AudioFrame":
        """Assemble a frame from already-decoded values (the native engine, from_tensor)."""
        built = cls.__new__(cls)
        built.samples = samples
        built.nb_samples = nb_samples
        built.format = format
        built.rate = rate
        built.layout = layout
        built.timestamp = timestamp
        built.time_base = time_base
        built.log_timestamps = {}
        built.side_data = SideData()
        return built

    @classmethod
    def from_av_audio(cls, av_frame) -> "AudioFrame":
        """Build from a PyAV audio frame (same as the constructor)."""
        return cls(av_frame)

    def replace_samples(self, samples: np.ndarray) -> "AudioFrame":
        """Return a frame with new samples and this frame's metadata."""
        return self.from_audio_frame(samples=samples)

    def to(self, device: Union[str, torch.device]) -> "AudioFrame":
        """Ours (Livepeer's documentation): this frame with its samples on `device`. On the CPU
        they are a numpy array (as decoded); elsewhere a torch tensor on that device. The encoder
        takes either."""
        if torch.device(device).type == "cpu":
            samples = self.samples.detach().cpu().numpy() if isinstance(self.samples, torch.Tensor) else self.samples
        else:
            samples = torch.as_tensor(self.samples).to(device)
        return self.from_audio_frame(samples=samples)

    def from_audio_frame(
        self, samples: Optional[np.ndarray] = None, timestamp: Optional[int] = None
    ) -> "AudioFrame":
        """Return a copy with samples and/or timestamp optionally replaced.

        Side data is shared with this frame; log timestamps are copied.
        """
        copy = AudioFrame.__new__(AudioFrame)
        if samples is not None:
            copy.samples = samples
            copy.nb_samples = _count_samples(samples)
        else:
            copy.samples = self.samples
            copy.nb_samples = self.nb_samples
        copy.format = self.format
        copy.rate = self.rate
        copy.layout = self.layout
        copy.timestamp = self.timestamp if timestamp is None else timestamp
        copy.time_base = self.time_base
        copy.log_timestamps = self.log_timestamps.copy()
        copy.side_data = self.side_data
        return copy

    @classmethod
    def from_tensor(
        cls,
        tensor: torch.Tensor,
        format: str = "s16",
        layout: str = "mono",
        sample_rate: int = 48000,
        timestamp: int = 0,
        time_base=None,
    ) -> "AudioFrame":
        """Build a frame from a float tensor shaped (channels, samples)."""
        if time_base is None:
            time_base = Fraction(1, sample_rate)

        data = tensor.detach().cpu().numpy()
        if format == "s16":
            data = np.clip(data * 32768.0, -32768, 32767).astype(np.int16)
        elif format == "s32":
            data = np.clip(data * 2147483648.0, -2147483648, 2147483647).astype(np.int32)
        else:
            data = data.astype(np.float32)

        if not format.endswith("p"):
            # Packed formats: multi-channel data is transposed, single channel flattened.
            if data.shape[0] > 1:
                data = data.T
            else:
                data = data.squeeze(0)

        return cls._from_native(data, _count_samples(data), format, sample_rate, layout, timestamp, time_base)

    def to_av_frame(self) -> "av.AudioFrame":
        """Convert to a PyAV audio frame; falls back to 1024 silent s16 samples on failure."""
        av = _require_av("AudioFrame.to_av_frame")
        try:
            data = self.samples
            if self.format.endswith("p"):
                if data.ndim == 1:
                    data = data.reshape(1, -1)
            elif data.ndim == 2 and data.shape[0] > 1:
                data = data.T
            converted = av.AudioFrame.from_ndarray(data, format=self.format, layout=self.layout)
        except Exception as exc:
            logger.warning(f"Audio conversion failed ({exc}), creating dummy frame")
            silence = np.zeros((1, 1024), dtype=np.int16)
            converted = av.AudioFrame.from_ndarray(silence, format="s16", layout="mono")
        converted.sample_rate = self.rate
        converted.pts = self.timestamp
        converted.time_base = self.time_base
        return converted


class OutputFrame(ABC):
    """Common base of processed output frames."""

    @property
    def timestamp(self):
        raise NotImplementedError("Subclasses must implement timestamp property")


class VideoOutput(OutputFrame):
    """A processed video frame on its way to the encoder."""

    frame: VideoFrame
    request_id: str

    def __init__(self, frame: VideoFrame, request_id: str = ""):
        self.frame = frame
        self.request_id = request_id

    def replace_tensor(self, tensor: torch.Tensor) -> "VideoOutput":
        return VideoOutput(self.frame.replace_tensor(tensor), self.request_id)

    @property
    def tensor(self):
        return self.frame.tensor

    @property
    def timestamp(self):
        return self.frame.timestamp

    @property
    def time_base(self):
        return self.frame.time_base

    @property
    def log_timestamps(self):
        return self.frame.log_timestamps


class AudioOutput(OutputFrame):
    """Processed audio frames on their way to the encoder."""

    frames: List[AudioFrame]
    request_id: str

    def __init__(self, frames: List[AudioFrame], request_id: str = ""):
        self.frames = frames
        self.request_id = request_id

    @property
    def timestamp(self):
        """Timestamp of the first frame, 0 when there are none."""
        return self.frames[0].timestamp if self.frames else 0


class FrameBuffer:
    """Bounded FIFO of frames; the oldest frame is evicted when full."""

    def __init__(self, max_frames: int = 300):
        self.max_frames = max_frames
        self.frames: Deque[Union[VideoFrame, AudioFrame]] = deque(maxlen=max_frames)
        self.total_frames_received = 0
        self.total_frames_discarded = 0

    def add_frame(self, frame: Union[VideoFrame, AudioFrame]):
        if len(self.frames) >= self.max_frames:
            self.total_frames_discarded += 1
        self.frames.append(frame)
        self.total_frames_received += 1

    def get_frame(self) -> Optional[Union[VideoFrame, AudioFrame]]:
        if not self.frames:
            return None
        return self.frames.popleft()

    def get_all_frames(self) -> List[Union[VideoFrame, AudioFrame]]:
        drained = list(self.frames)
        self.frames.clear()
        return drained

    def clear(self):
        self.frames.clear()

    def size(self) -> int:
        return len(self.frames)

    def get_stats(self) -> Dict[str, int]:
        return {
            "current_frames": len(self.frames),
            "max_frames": self.max_frames,
            "total_received": self.total_frames_received,
            "total_discarded": self.total_frames_discarded,
        }
