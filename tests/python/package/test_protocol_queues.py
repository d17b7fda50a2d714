"""TrickleProtocol's ingress loop also hands out frames put into subscribe_queue by hand, as
upstream's does (its decoder feeds that queue), alongside the engine's."""

import asyncio
from fractions import Fraction

import torch

from pytrickle.frames import VideoFrame
from pytrickle.protocol import TrickleProtocol


async def test_frames_put_into_subscribe_queue_come_out_of_the_ingress_loop():
    protocol = TrickleProtocol(subscribe_url="", publish_url="")
    await protocol.start()
    try:
        frames = [VideoFrame(torch.zeros(1, 4, 4, 3), i, Fraction(1, 30)) for i in range(3)]
        protocol.subscribe_queue.put(None)  # the end marker upstream's decoder sends is skipped
        for frame in frames:
            protocol.subscribe_queue.put(frame)
        done = asyncio.Event()
        received = []
        async for frame in protocol.ingress_loop(done):
            received.append(frame)
            if len(received) == len(frames):
                done.set()
        assert [f.timestamp for f in received] == [0, 1, 2]
        assert protocol.fps_meter.ingress_video_timestamps  # counted as ingress
    finally:
        await protocol.stop()
