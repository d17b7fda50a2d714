"""pytrickle: real-time AI video over Livepeer's trickle protocol.

A drop-in replacement for upstream PyTrickle with the media path (HTTP streaming, demuxing,
decoding, encoding, muxing) in a C++ engine. Subclass ``FrameProcessor`` (or use
``StreamProcessor`` with handler functions) and serve it with ``StreamServer``.
"""

from . import api
from .base import ComponentState, ErrorCallback, TrickleComponent
from .client import TrickleClient
from .fps_meter import FPSMeter
from .frame_overlay import OverlayConfig, OverlayController, OverlayMode
from .frame_processor import FrameProcessor
from .frame_skipper import FrameSkipConfig
from .frames import AudioFrame, AudioOutput, FrameBuffer, VideoFrame, VideoOutput
from .manager import BaseStreamManager, StreamHandler, TrickleStreamManager
from .protocol import TrickleProtocol
from .publisher import TricklePublisher
from .server import StreamServer
from .state import StreamState
from .stream_handler import TrickleStreamHandler
from .stream_processor import StreamProcessor, VideoProcessingResult
from .subscriber import TrickleSubscriber
from .utils.register import RegisterCapability
from .version import __version__

__all__ = [
    "TrickleClient",
    "StreamServer",
    "StreamProcessor",
    "VideoProcessingResult",
    "TrickleProtocol",
    "VideoFrame",
    "AudioFrame",
    "VideoOutput",
    "AudioOutput",
    "FrameBuffer",
    "TricklePublisher",
    "TrickleSubscriber",
    "BaseStreamManager",
    "TrickleStreamManager",
    "StreamHandler",
    "TrickleStreamHandler",
    "StreamState",
    "TrickleComponent",
    "ComponentState",
    "ErrorCallback",
    "RegisterCapability",
    "FrameProcessor",
    "FPSMeter",
    "FrameSkipConfig",
    "OverlayConfig",
    "OverlayMode",
    "OverlayController",
    "api",
    "__version__",
]
