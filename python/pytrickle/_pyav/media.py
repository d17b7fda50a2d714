"""
Subscribe/decode and encode/publish loops kept for source compatibility with upstream
PyTrickle's pytrickle.media.

``TrickleProtocol`` does not use ``run_subscribe``/``run_publish``: in this package the C++
engine subscribes, decodes, encodes and publishes by itself. These functions have upstream's
signatures and behaviour for code that calls them directly; the trickle transfers go through
our (C++-backed) ``TrickleSubscriber``/``TricklePublisher`` and the codec work through
``decode_av``/``encode_av``, which need the optional PyAV (``pip install av``). Without PyAV
both functions raise ImportError before doing anything.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
from typing import Callable, Optional, Union

from .decoder import DEFAULT_MAX_FRAMERATE, _import_av, _import_pil_image, decode_av
from .encoder import encode_av
from ..frames import DEFAULT_HEIGHT, DEFAULT_WIDTH
from ..publisher import TricklePublisher
from ..subscriber import TrickleSubscriber

logger = logging.getLogger("pytrickle.media")  # upstream's logger name

MAX_DECODER_RETRIES = 3
DECODER_RETRY_RESET_SECONDS = 120  # a failure this long after the previous one starts afresh

MAX_ENCODER_RETRIES = 3
ENCODER_RETRY_RESET_SECONDS = 120

_CHUNK = 32 * 1024


def _now_ms() -> int:
    return int(time.time() * 1000)


def _require_codecs() -> None:
    _import_av()
    _import_pil_image()


class _Retries:
    """Counts failures; the count restarts when failures are far enough apart."""

    def __init__(self, limit: int, reset_after: float):
        self.limit = limit
        self.reset_after = reset_after
        self.count = 0
        self.last = time.time()

    def failed(self) -> bool:
        """Record a failure; True while another attempt is allowed."""
        now = time.time()
        if now - self.last > self.reset_after:
            logger.info("Resetting retry count")
            self.count = 0
        self.count += 1
        self.last = now
        return self.count < self.limit

    def exhausted(self) -> bool:
        return self.count >= self.limit


# ---- subscribe + decode ----

async def run_subscribe(
    subscribe_url: str,
    frame_callback: Callable,
    put_metadata: Callable,
    monitoring_callback: Optional[Callable] = None,
    target_width: Optional[int] = DEFAULT_WIDTH,
    target_height: Optional[int] = DEFAULT_HEIGHT,
    max_framerate: Union[int, Callable[[], int], None] = DEFAULT_MAX_FRAMERATE,
    subscriber_timeout: Optional[float] = None,
):
    """Subscribe to ``subscribe_url`` and decode it, delivering frames to ``frame_callback``.

    Segments are piped into ``decode_av`` running in the default executor. Whatever happens,
    the function ends by calling ``put_metadata(None)`` and ``frame_callback(None)``; errors
    are logged, not raised (except a missing PyAV, reported up front).
    """
    _require_codecs()
    target_width = DEFAULT_WIDTH if target_width is None else target_width
    target_height = DEFAULT_HEIGHT if target_height is None else target_height
    if max_framerate is None:
        max_framerate = DEFAULT_MAX_FRAMERATE
    try:
        read_fd, write_fd = os.pipe()
        writer = await _asyncify_fd_writer(write_fd)
        decode_task = asyncio.create_task(
            _decode_in(read_fd, frame_callback, put_metadata, writer, target_width, target_height,
                       max_framerate))
        subscribe_task = asyncio.create_task(
            _subscribe(subscribe_url, writer, monitoring_callback, subscriber_timeout))
        await asyncio.gather(subscribe_task, decode_task)
        logger.info("run_subscribe complete")
    except Exception:
        logger.exception("run_subscribe got error")
    finally:
        put_metadata(None)  # the decoder may have ended before producing metadata
        frame_callback(None)  # end-of-input sentinel for the consumer


async def _subscribe(subscribe_url: str, out_pipe, monitoring_callback: Optional[Callable] = None,
                     subscriber_timeout: Optional[float] = None):
    """Copy every segment of the channel into ``out_pipe``; close it when the channel ends."""
    if subscriber_timeout is not None:
        subscriber = TrickleSubscriber(url=subscribe_url, connect_timeout_seconds=subscriber_timeout)
    else:
        subscriber = TrickleSubscriber(url=subscribe_url)
    first_segment = True
    async with subscriber:
        logger.info(f"Launching subscribe loop for {subscribe_url}")
        while True:
            segment = None
            try:
                segment = await subscriber.next()
                if not segment:
                    break
                while True:
                    chunk = await segment.read()
                    if not chunk:
                        break
                    out_pipe.write(chunk)
                    await out_pipe.drain()
                if first_segment:
                    first_segment = False
                    if monitoring_callback:
                        await monitoring_callback({"type": "receive_first_ingest_segment",
                                                   "timestamp": _now_ms()})
            except Exception as error:
                logger.info(f"Failed to read segment - {error}")
                break
            finally:
                if segment:
                    await segment.close()
                else:
                    out_pipe.close()  # no more input: lets the decoder see EOF


async def _asyncify_fd_writer(write_fd: int) -> asyncio.StreamWriter:
    """Wrap the write end of a pipe in an asyncio StreamWriter."""
    loop = asyncio.get_running_loop()
    protocol = asyncio.StreamReaderProtocol(asyncio.StreamReader(), loop=loop)
    transport, _ = await loop.connect_write_pipe(lambda: protocol, os.fdopen(write_fd, "wb"))
    return asyncio.StreamWriter(transport, protocol, None, loop)


async def _decode_in(in_pipe: int, frame_callback: Callable, put_metadata: Callable, write_fd,
                     target_width: int, target_height: int,
                     max_framerate: Union[int, Callable[[], int], None] = DEFAULT_MAX_FRAMERATE):
    """Run ``decode_av`` on the pipe's read end in the default executor, with retries."""
    target_width = DEFAULT_WIDTH if target_width is None else target_width
    target_height = DEFAULT_HEIGHT if target_height is None else target_height
    if max_framerate is None:
        max_framerate = DEFAULT_MAX_FRAMERATE
    source = f"pipe:{in_pipe}"

    def run() -> None:
        retries = _Retries(MAX_DECODER_RETRIES, DECODER_RETRY_RESET_SECONDS)
        while not retries.exhausted():
            try:
                decode_av(source, frame_callback, put_metadata, target_width, target_height,
                          max_framerate)
                break
            except Exception as error:
                if f"Invalid data found when processing input: '{source}'" in str(error):
                    logger.info("Stream closed before initialization")
                    break
                if retries.failed():
                    logger.exception(f"Error in decode_av, retrying {retries.count}/{MAX_DECODER_RETRIES}")
                else:
                    logger.exception("Error in decode_av, maximum retries reached")
        try:
            write_fd.close()  # ends the subscriber side too
        except Exception:
            pass
        os.close(in_pipe)
        logger.info("Decoding finished")

    await asyncio.get_running_loop().run_in_executor(None, run)


# ---- encode + publish ----

async def run_publish(
    publish_url: str,
    frame_generator: Callable,
    get_metadata: Callable,
    monitoring_callback: Optional[Callable] = None,
    publisher_timeout: Optional[float] = None,
    detect_out_resolution: bool = True,
):
    """Encode what ``frame_generator()`` returns (until None) and publish it to ``publish_url``.

    ``encode_av`` runs on its own thread (libopus audio); each segment it opens becomes one
    trickle POST, published in order. Returns once the encoder ended and every segment was
    sent; errors are raised after being logged (a missing PyAV is reported up front).
    """
    _require_codecs()
    first_segment = True
    publisher = None
    try:
        publisher = TricklePublisher(url=publish_url, mime_type="video/mp2t")
        if publisher_timeout is not None:
            publisher.connect_timeout_seconds = publisher_timeout
        loop = asyncio.get_running_loop()

        live_tasks: set = set()
        live_pipes: set = set()
        live_lock = threading.Lock()

        async def send_segment(pipe_reader) -> None:
            nonlocal first_segment
            async with await publisher.next() as segment:
                reader = asyncio.StreamReader()
                transport, _ = await loop.connect_read_pipe(
                    lambda: asyncio.StreamReaderProtocol(reader), pipe_reader)
                try:
                    while True:
                        data = await reader.read(_CHUNK)
                        if not data:
                            break
                        await segment.write(data)
                        if first_segment:
                            first_segment = False
                            if monitoring_callback:
                                await monitoring_callback({"type": "send_first_processed_segment",
                                                           "timestamp": _now_ms()})
                finally:
                    transport.close()

        def schedule(pipe_reader, pipe_writer, pipe_name) -> None:
            # On the loop: start publishing this segment and keep references until it is done.
            task = loop.create_task(send_segment(pipe_reader))
            with live_lock:
                live_tasks.add(task)
                live_pipes.add(pipe_writer)

            def finished(done: asyncio.Task) -> None:
                try:
                    done.result()
                except BaseException as error:  # noqa: BLE001 - reported, never raised
                    logger.error(f"Task {pipe_name} crashed: {error}")
                with live_lock:
                    live_tasks.discard(done)
                    live_pipes.discard(pipe_writer)

            task.add_done_callback(finished)

        def on_new_segment(pipe_reader, pipe_writer, pipe_name) -> None:
            # Called on the encoder thread.
            loop.call_soon_threadsafe(schedule, pipe_reader, pipe_writer, pipe_name)

        encoder = threading.Thread(
            target=_encode_in,
            args=(live_pipes, live_lock, frame_generator, on_new_segment, get_metadata),
            kwargs={"audio_codec": "libopus", "detect_out_resolution": detect_out_resolution},
        )
        encoder.start()
        logger.debug("run_publish: encoder thread started")
        await asyncio.to_thread(encoder.join)

        while True:
            with live_lock:
                pending = list(live_tasks)
            if not pending:
                break
            await asyncio.wait(pending)

        logger.info("run_publish complete")
    except Exception as error:
        logger.error(f"postprocess got error {error}")
        raise
    finally:
        if publisher is not None:
            await publisher.close()


def _encode_in(task_pipes, task_lock, frame_generator, sync_callback, get_metadata, **kwargs):
    """Run ``encode_av`` with retries; after a crash, close the segment pipes left open."""
    retries = _Retries(MAX_ENCODER_RETRIES, ENCODER_RETRY_RESET_SECONDS)
    while not retries.exhausted():
        try:
            encode_av(frame_generator, sync_callback, get_metadata, **kwargs)
            break
        except Exception:
            if retries.failed():
                logger.exception(f"Error in encode_av, retrying {retries.count}/{MAX_ENCODER_RETRIES}")
            else:
                logger.exception("Error in encode_av, maximum retries reached")
            with task_lock:
                pipes = list(task_pipes)
            closed = 0
            for pipe in pipes:
                try:
                    pipe.close()
                    closed += 1
                except Exception:
                    logger.exception("Error closing pipe on task list")
            logger.info(f"Closed pipes - {closed}/{len(pipes)}")
