#!/usr/bin/env python3
"""A passthrough PyTrickle worker, written once against PyTrickle's public API and run unchanged
on upstream PyTrickle (its own venv) and on our package: what bench/compare measures.

    python_passthrough_worker.py --host 127.0.0.1 --port 0 --port-file FILE
"""

from __future__ import annotations

import argparse
import asyncio
import logging
from pathlib import Path

from pytrickle import FrameProcessor, StreamServer


class Passthrough(FrameProcessor):
    async def load_model(self, **kwargs):
        pass

    async def process_video_async(self, frame):
        return frame

    async def process_audio_async(self, frame):
        return [frame]

    async def update_params(self, params):
        pass


async def serve(host: str, port: int, port_file: Path | None) -> None:
    server = StreamServer(Passthrough(), host=host, port=port)
    runner = await server.start_server()
    bound = runner.addresses[0][1]
    if port_file:
        port_file.write_text(f"{bound}\n")
    while True:
        await asyncio.sleep(3600)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--port-file", type=Path)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    asyncio.run(serve(args.host, args.port, args.port_file))


if __name__ == "__main__":
    main()
