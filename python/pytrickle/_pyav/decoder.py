"""
PyAV decoder kept for source compatibility with upstream PyTrickle's pytrickle.decoder.

``TrickleProtocol`` does not use this module: the C++ engine demuxes, decodes, rate-limits and
scales the input itself. ``decode_av`` is here for code that calls it directly. PyAV (and
Pillow, for the crop) are optional dependencies and are imported only when ``decode_av`` runs;
without them it raises ImportError (``pip install av``).
"""

from __future__ import annotations

import logging
import sys
import time
from typing import Callable, Optional, Union, cast  # noqa: F401  (cast: upstream's module namespace)

import numpy as np
import torch

# PyAV (and Pillow) are optional: without them these names are None and decode_av says how to
# install them. As module globals, code patching pytrickle.decoder.av patches what runs.
try:
    import av
    from av.container import InputContainer
    from av.video.reformatter import VideoReformatter
except ImportError:
    av = InputContainer = VideoReformatter = None

from ..frames import DEFAULT_HEIGHT, DEFAULT_MAX_FRAMERATE, DEFAULT_WIDTH, AudioFrame, VideoFrame

logger = logging.getLogger("pytrickle.decoder")  # upstream's logger name


# Interval used when the configured frame rate is not positive (about 30 fps).
_FALLBACK_INTERVAL = 0.033


def _import_av(module_name: str = __name__):
    """PyAV as the calling module holds it (a patched ``av`` wins), or an ImportError that says
    how to install it."""
    module_av = getattr(sys.modules[module_name], "av", None)
    if module_av is None:
        raise ImportError("decode_av/encode_av need PyAV, an optional dependency of pytrickle: pip install av")
    return module_av


def _import_pil_image(module_name: str = __name__):
    module_image = getattr(sys.modules[module_name], "Image", None)
    if module_image is not None:
        return module_image
    try:
        from PIL import Image
    except ImportError as error:
        raise ImportError(
            "decode_av/encode_av need Pillow next to PyAV: pip install av pillow"
        ) from error
    return Image


def _framerate_source(max_framerate: Union[int, Callable[[], int], None]) -> Callable[[], int]:
    if max_framerate is None:
        return lambda: DEFAULT_MAX_FRAMERATE
    if callable(max_framerate):
        return max_framerate
    fixed = max_framerate
    return lambda: fixed


def _interval(fps) -> float:
    return 1.0 / fps if fps > 0 else _FALLBACK_INTERVAL


def decode_av(
    pipe_input,
    frame_callback: Callable,
    put_metadata: Callable,
    target_width: Optional[int] = DEFAULT_WIDTH,
    target_height: Optional[int] = DEFAULT_HEIGHT,
    max_framerate: Union[int, Callable[[], int], None] = DEFAULT_MAX_FRAMERATE,
):
    """Decode ``pipe_input`` (a path, ``"pipe:<fd>"`` or file object) with PyAV.

    Calls ``put_metadata`` once with ``{'video': ..., 'audio': ...}``, then ``frame_callback``
    for every accepted frame: video is rate-limited on media time to ``max_framerate`` (an int
    or a callable re-read per video packet), scaled and centre-cropped to the target size and
    delivered as a ``[1, H, W, 3]`` float tensor in [0, 1]; audio is passed through unchanged.
    """
    av = _import_av()
    _import_pil_image()  # PyAV's to_image() needs Pillow

    container = av.open(pipe_input, "r")
    video_stream = container.streams.video[0] if container.streams.video else None
    audio_stream = container.streams.audio[0] if container.streams.audio else None

    audio_metadata = None
    if audio_stream is not None:
        actx = audio_stream.codec_context
        audio_metadata = {
            "codec": actx.name,
            "sample_rate": actx.sample_rate,
            "format": actx.format.name,
            "channels": actx.channels,
            "layout": audio_stream.layout.name,
            "time_base": audio_stream.time_base,
            "bit_rate": actx.bit_rate,
        }

    video_metadata = None
    if video_stream is not None:
        vctx = video_stream.codec_context
        video_metadata = {
            "codec": vctx.name,
            "width": vctx.width,
            "height": vctx.height,
            "pix_fmt": vctx.pix_fmt,
            "time_base": video_stream.time_base,
            "framerate": vctx.framerate,  # often unreliable for live sources
            "sar": vctx.sample_aspect_ratio,
            "dar": vctx.display_aspect_ratio,
            "format": str(vctx.format),
            "target_width": target_width,
            "target_height": target_height,
        }

    if video_metadata is None and audio_metadata is None:
        logger.error("No audio or video streams found in the input.")
        container.close()
        return

    metadata = {"video": video_metadata, "audio": audio_metadata}
    logger.info(f"Metadata: {metadata}")
    put_metadata(metadata)

    reformatter = VideoReformatter()
    get_framerate = _framerate_source(max_framerate)
    fps = get_framerate()
    if fps is None:
        fps = DEFAULT_MAX_FRAMERATE
    logger.info(f"Decoder configured with max frame rate: {fps} FPS")
    frame_interval = _interval(fps)
    next_pts_time = 0.0

    try:
        for packet in container.demux():
            if packet.dts is None:
                continue

            if audio_stream is not None and packet.stream == audio_stream:
                for decoded in packet.decode():
                    if decoded.pts is None:
                        continue
                    audio = AudioFrame.from_av_audio(decoded)
                    audio.log_timestamps["frame_init"] = time.time()
                    frame_callback(audio)
                continue

            if video_stream is None or packet.stream != video_stream:
                continue

            latest = get_framerate()
            if latest is not None and latest != fps:
                fps = latest
                logger.info(f"Decoder frame rate updated to: {fps} FPS")
                frame_interval = _interval(fps)

            for decoded in packet.decode():
                if decoded.pts is None:
                    continue

                # Media-time rate limit: early frames are dropped; a late one re-anchors.
                t = decoded.time
                if t < next_pts_time:
                    continue
                if t > next_pts_time + frame_interval:
                    next_pts_time = t + frame_interval
                else:
                    next_pts_time += frame_interval

                picture = decoded
                if (picture.width, picture.height) != (target_width, target_height):
                    # Scale so the target is covered, keeping the aspect ratio (even sizes).
                    if target_width / target_height < picture.width / picture.height:
                        h = target_height
                        w = int((target_height * picture.width / picture.height) / 2) * 2
                    else:
                        w = target_width
                        h = int((target_width * picture.height / picture.width) / 2) * 2
                    picture = reformatter.reformat(picture, format="rgba", width=w, height=h)

                image = picture.to_image()
                if image.mode != "RGB":
                    image = image.convert("RGB")
                if image.size != (target_width, target_height):
                    width, height = image.size
                    left = width // 2 - target_width // 2
                    top = height // 2 - target_height // 2
                    image = image.crop((left, top, left + target_width, top + target_height))

                pixels = np.asarray(image).astype(np.float32) / 255.0
                tensor = torch.from_numpy(pixels).unsqueeze(0)
                video = VideoFrame.from_av_video(tensor, picture.pts, picture.time_base)
                video.log_timestamps["frame_init"] = time.time()
                frame_callback(video)
    except Exception as error:
        logger.error(f"Exception while decoding: {error}")
        raise
    finally:
        container.close()

    logger.info("Decoder stopped")
