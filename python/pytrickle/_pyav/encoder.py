"""
Encoder helpers and the PyAV encoder kept for source compatibility with upstream PyTrickle's pytrickle.encoder.

``TrickleProtocol`` does not use ``encode_av``: the C++ engine encodes and segments the output
itself. The constants and the small helpers (``default_output_metadata``, ``calc_aspect_ratio``,
``_rescale_ts``, ``_log_frame_timestamps``) have no dependencies. PyAV and Pillow are optional
and are imported only when ``encode_av`` runs; without them it raises ImportError
(``pip install av``).
"""

from __future__ import annotations

import datetime  # noqa: F401  (upstream's module namespace)
import logging
import math
import os
import time
from collections import deque
from fractions import Fraction
from typing import Callable, Optional

import numpy as np

# Optional, as in decoder.py: None without them; module globals so that patches take effect.
try:
    import av
except ImportError:
    av = None
try:
    from PIL import Image
except ImportError:
    Image = None

from .decoder import _import_av, _import_pil_image
from ..frames import DEFAULT_HEIGHT, DEFAULT_WIDTH, AudioOutput, InputFrame, VideoOutput

logger = logging.getLogger("pytrickle.encoder")  # upstream's logger name

# MPEG-TS clock.
OUT_TIME_BASE = Fraction(1, 90_000)
# Forced keyframe spacing (and segment length) in seconds of media time.
GOP_SECS = 2

# Audio may run at most this far (seconds) ahead of / behind video.
AUDIO_BUFFER_SECS = 2
# Audio frames held while waiting for video (about 2 s of 20 ms frames).
AUDIO_BUFFER_LEN = 100
# Video frames dropped for lagging audio before the encoder gives up (about 4 s at 25 fps).
MAX_DROPPED_VIDEO = 100

# How long encode_av waits for stream metadata, and how often it looks.
_METADATA_WAIT_SECS = 30
_METADATA_POLL_SECS = 0.1


def _video_stream_options(codec: str, width: int, height: int) -> dict:
    options = {"video_size": f"{width}x{height}", "bf": "0"}
    if codec == "libx264":
        options.update({"preset": "superfast", "tune": "zerolatency", "forced-idr": "1"})
    return options


def _add_video_stream(container, codec: str, width: int, height: int):
    stream = container.add_stream(codec, options=_video_stream_options(codec, width, height))
    stream.time_base = OUT_TIME_BASE
    if stream.codec_context.time_base is None:
        stream.codec_context.time_base = OUT_TIME_BASE
    return stream


def _add_audio_stream(container, codec: str):
    stream = container.add_stream(codec)
    stream.time_base = OUT_TIME_BASE
    stream.sample_rate = 48000
    stream.layout = "mono"
    if stream.codec_context.time_base is None:
        stream.codec_context.time_base = OUT_TIME_BASE
    return stream


def _codec_time_base(stream, kind: str):
    if stream.codec_context.time_base is None:
        logger.warning(f"{kind} codec context time_base is None, using stream time_base")
        return stream.time_base
    return stream.codec_context.time_base


def encode_av(
    input_queue: Callable,
    output_callback: Callable,
    get_metadata: Callable,
    video_codec: Optional[str] = "libx264",
    audio_codec: Optional[str] = "libfdk_aac",
    detect_out_resolution: bool = True,
):
    """Encode ``VideoOutput``/``AudioOutput`` items into MPEG-TS segments with PyAV.

    ``input_queue()`` blocks for the next item and returns None at the end. For every segment
    the ``segment`` muxer opens, ``output_callback(read_file, write_file, url)`` receives the two
    ends of a fresh pipe (the muxer writes into ``write_file``). ``get_metadata()`` is polled for
    up to 30 s for the decoder's metadata. With ``detect_out_resolution`` the video size is taken
    from the first output tensor instead of the metadata's target size.
    """
    av = _import_av(__name__)
    Image = _import_pil_image(__name__)

    logger.info("Starting encoder")

    metadata = None
    waited = 0.0
    while waited < _METADATA_WAIT_SECS:
        metadata = get_metadata()
        if metadata:
            break
        time.sleep(_METADATA_POLL_SECS)
        waited += _METADATA_POLL_SECS
    if not metadata:
        logger.error(f"No metadata received after waiting {_METADATA_WAIT_SECS} seconds, exiting encoder")
        return
    if not isinstance(metadata, dict):
        logger.error(f"Invalid metadata format: expected dict, got {type(metadata)}")
        return
    if "video" not in metadata and "audio" not in metadata:
        logger.error("Metadata missing both video and audio streams")
        return

    video_meta = metadata.get("video")
    audio_meta = metadata.get("audio")
    logger.info(f"Encoder received metadata after waiting {waited:.1f}s: "
                f"video={video_meta is not None} audio={audio_meta is not None}")

    def open_segment(url: str, flags: int, options: dict):
        read_fd, write_fd = os.pipe()
        reader = os.fdopen(read_fd, "rb", buffering=0)
        writer = os.fdopen(write_fd, "wb", buffering=0)
        output_callback(reader, writer, url)
        return writer

    # Keep the muxer's interleaving buffer near one segment so that a stream without packets
    # does not hold the other back for long.
    container = av.open("%d.ts", format="segment", mode="w", io_open=open_segment,
                        options={"max_interleave_delta": str(GOP_SECS * 1_050_000)})

    video_stream = None
    audio_stream = None
    pending_video = None  # (codec, fallback width, fallback height) while creation is deferred
    pending_audio = None  # codec name while creation is deferred

    if video_meta and video_codec:
        fallback_w = video_meta.get("target_width", DEFAULT_WIDTH)
        fallback_h = video_meta.get("target_height", DEFAULT_HEIGHT)
        if detect_out_resolution:
            pending_video = (video_codec, fallback_w, fallback_h)
            logger.debug("Video stream initialization deferred for auto-detect")
        else:
            logger.info(f"Encoding video to {fallback_w}x{fallback_h} using codec {video_codec}")
            video_stream = _add_video_stream(container, video_codec, fallback_w, fallback_h)

    if audio_meta and audio_codec:
        # Streams must all exist before muxing starts: a deferred video stream defers audio too.
        if pending_video is None:
            audio_stream = _add_audio_stream(container, audio_codec)
        else:
            pending_audio = audio_codec
            logger.debug("Audio stream initialization deferred, waiting for video")

    last_keyframe = None
    first_video_ts = None
    audio_received = False
    dropped_video = 0
    dropped_audio = 0
    audio_buffer: deque = deque()

    def buffer_audio(frames) -> None:
        nonlocal dropped_audio
        audio_buffer.extend(frames)
        while len(audio_buffer) > AUDIO_BUFFER_LEN:
            audio_buffer.popleft()
            dropped_audio += 1

    while True:
        item = input_queue()
        if item is None:
            break

        if isinstance(item, VideoOutput):
            tensor = item.tensor.squeeze(0)
            if tensor.dim() != 3:
                logger.debug(f"Skipping frame with unexpected tensor dimensions: {tensor.dim()}D")
                continue
            rows, cols, channels = tensor.shape
            if channels not in (1, 3, 4):
                logger.debug(f"Skipping frame with unexpected channel count: {channels}")
                continue

            if video_stream is None and pending_video is not None:
                codec, fallback_w, fallback_h = pending_video
                if (cols, rows) != (fallback_w, fallback_h):
                    logger.info(f"Auto-detected output resolution {cols}x{rows} (input: {fallback_w}x{fallback_h})")
                logger.info(f"Encoding video to {cols}x{rows} using codec {codec}")
                try:
                    video_stream = _add_video_stream(container, codec, cols, rows)
                    if pending_audio is not None and audio_stream is None:
                        audio_stream = _add_audio_stream(container, pending_audio)
                except Exception as error:
                    logger.error(f"Failed to initialize video stream: {error}")
                    pending_video = None
                    continue

            if video_stream is None:
                continue  # no video output configured

            out_w = video_stream.codec_context.width
            out_h = video_stream.codec_context.height
            item.log_timestamps["frame_end"] = time.time()
            _log_frame_timestamps("Video", item.frame)

            try:
                pixels = (tensor * 255).byte().cpu().numpy()  # no clamping, as upstream (docs/compatibility.md Q7)
                if not pixels.flags["C_CONTIGUOUS"]:
                    logger.debug("Frame tensor is not C-contiguous, copying to contiguous array. "
                                 "Consider calling .contiguous() on tensor before output for better performance.")
                    pixels = np.ascontiguousarray(pixels)
                if channels == 1:
                    pixels = np.repeat(pixels, 3, axis=2)
                elif channels == 4:
                    pixels = pixels[:, :, :3]
                image = Image.fromarray(pixels, mode="RGB")
                if image.size != (out_w, out_h):
                    logger.warning(f"Resizing frame from {image.width}x{image.height} to {out_w}x{out_h}")
                    image = image.resize((out_w, out_h), Image.LANCZOS)
                picture = av.video.frame.VideoFrame.from_image(image)
            except Exception as error:
                logger.error(f"Error converting tensor to video frame: {error}, "
                             f"tensor shape: {tensor.shape}, dtype: {tensor.dtype}")
                continue

            dest_tb = _codec_time_base(video_stream, "Video")
            picture.pts = _rescale_ts(item.timestamp, item.time_base, dest_tb)
            picture.time_base = dest_tb
            now_ts = item.timestamp * item.time_base

            if audio_buffer:
                head = audio_buffer[0]
                lead = head.timestamp * head.time_base - now_ts
                if lead > AUDIO_BUFFER_SECS:
                    # Video lags the buffered audio: drop it to catch up, up to a limit.
                    dropped_video += 1
                    if dropped_video > MAX_DROPPED_VIDEO:
                        logger.error(f"A/V is out of sync, exiting from video "
                                     f"audio_ts={float(head.timestamp * head.time_base)} "
                                     f"video_ts={float(now_ts)} delta={float(lead)}")
                        break
                    continue

            if not last_keyframe or float(now_ts - last_keyframe) >= GOP_SECS:
                picture.pict_type = av.video.frame.PictureType.I
                last_keyframe = now_ts
                if first_video_ts is None:
                    first_video_ts = now_ts

            try:
                packets = video_stream.encode(picture)
                for packet in packets:
                    container.mux(packet)
                logger.debug(f"encoded video packets={len(packets)} pts={picture.pts} "
                             f"time_base={picture.time_base} ts={float(now_ts)}")
            except Exception as error:
                logger.error(f"Error encoding video frame: {error}, frame size: {picture.width}x{picture.height}")
            continue

        if isinstance(item, AudioOutput):
            if audio_stream is None:
                if pending_audio is not None and item.frames:
                    buffer_audio(item.frames)
                continue

            if video_stream is not None and first_video_ts is None:
                # Hold audio until video starts so no audio-only segments go out.
                if item.frames:
                    buffer_audio(item.frames)
                continue

            # Forget buffered audio too old for the first video frame.
            while audio_buffer:
                head = audio_buffer[0]
                if first_video_ts - head.timestamp * head.time_base > AUDIO_BUFFER_SECS:
                    audio_buffer.popleft()
                    dropped_audio += 1
                    continue
                break

            if audio_buffer:
                first_ts = float(audio_buffer[0].timestamp * audio_buffer[0].time_base)
                last_ts = float(audio_buffer[-1].timestamp * audio_buffer[-1].time_base)
                item.frames[:0] = audio_buffer
                logger.info(f"Flushing {len(audio_buffer)} audio frames from={first_ts} to={last_ts} "
                            f"dropped_audio={dropped_audio} dropped_video={dropped_video}")
                audio_buffer.clear()

            out_of_sync = False
            for frame in item.frames:
                frame.log_timestamps["frame_end"] = time.time()
                _log_frame_timestamps("Audio", frame)
                if not audio_received and first_video_ts is not None:
                    audio_ts = frame.timestamp * frame.time_base
                    delta = audio_ts - first_video_ts
                    if abs(delta) > AUDIO_BUFFER_SECS:
                        out_of_sync = True
                        logger.error(f"A/V is out of sync, exiting from audio audio_ts={float(audio_ts)} "
                                     f"video_ts={float(first_video_ts)} delta={float(delta)}")
                        break
                    logger.info(f"Received first audio_ts={float(audio_ts)} "
                                f"video_ts={float(first_video_ts)} delta={float(delta)}")
                    audio_received = True
                sound = av.audio.frame.AudioFrame.from_ndarray(frame.samples, format=frame.format,
                                                               layout=frame.layout)
                sound.sample_rate = frame.rate
                dest_tb = _codec_time_base(audio_stream, "Audio")
                sound.pts = _rescale_ts(frame.timestamp, frame.time_base, dest_tb)
                sound.time_base = dest_tb
                # Audio encode errors are not caught (upstream, docs/compatibility.md Q14): the caller retries.
                for packet in audio_stream.encode(sound):
                    container.mux(packet)
            if out_of_sync:
                break
            continue

        logger.warning(f"Unsupported output frame type {type(item)}")

    logger.info("Stopping encoder")
    for stream in (video_stream, audio_stream):
        if stream is not None:
            for packet in stream.encode(None):
                container.mux(packet)
    container.close()


def _rescale_ts(pts: int, orig_tb: Fraction, dest_tb: Fraction):
    """``pts`` in ``orig_tb`` converted to ``dest_tb``, rounded to the nearest integer."""
    if orig_tb == dest_tb:
        return pts
    if dest_tb is None:
        logger.error(f"Destination time base is None, cannot rescale timestamp {pts}")
        return pts
    return int(round(float(Fraction(pts) * orig_tb / dest_tb)))


def _log_frame_timestamps(frame_type: str, frame: InputFrame):
    """Debug-log the time spent between the pipeline stages recorded on ``frame``."""
    stamps = frame.log_timestamps
    for start, end in (("frame_init", "pre_process_frame"),
                       ("pre_process_frame", "post_process_frame"),
                       ("post_process_frame", "frame_end"),
                       ("frame_init", "frame_end")):
        if start in stamps and end in stamps:
            logger.debug(f"frame_type={frame_type} start_tag={start} end_tag={end} "
                         f"duration_s={stamps[end] - stamps[start]}s")


def default_output_metadata(width: int, height: int):
    """Metadata the encoder uses when there is no input stream to take it from."""
    aspect = calc_aspect_ratio(height, width)
    return {
        "video": {
            "codec": "h264",
            "width": width,
            "height": height,
            "pix_fmt": "yuv420p",
            "time_base": OUT_TIME_BASE,
            "framerate": Fraction(24, 1),
            "sar": aspect,
            "dar": aspect,
            "format": "yuv420p",
            "target_width": width,
            "target_height": height,
        },
        "audio": {
            "codec": "aac",
            "sample_rate": 48000,
            "format": "fltp",
            "channels": 2,
            "layout": "stereo",
            "time_base": OUT_TIME_BASE,
        },
    }


def calc_aspect_ratio(height: int, width: int) -> Fraction:
    """``width:height`` in lowest terms; 1/1 when either side is not positive."""
    if height <= 0 or width <= 0:
        return Fraction(1, 1)
    divisor = math.gcd(width, height)
    return Fraction(width // divisor, height // divisor)
