#!/usr/bin/env python3
"""A passthrough PyTrickle worker, written once against PyTrickle's public API and run unchanged
on upstream PyTrickle (its own venv) and on our package: what bench/compare measures.

    python_passthrough_worker.py --host 127.0.0.1 --port 0 --port-file FILE [--cuda-round-trip]
                                 [--max-streams N]

--cuda-round-trip moves each frame to the GPU and back, as users of upstream PyTrickle running a
model on the GPU do: the reference of the GPU benchmark (bench/multi_stream).
--max-streams N serves N streams at once, named by X-Stream-Id (docs/many_streams.md): this
package only, upstream's StreamServer has no such argument (bench/multi_stream runs N upstream
processes instead).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
from pathlib import Path

from pytrickle import FrameProcessor, StreamServer


class Passthrough(FrameProcessor):
    def __init__(self, cuda_round_trip: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.cuda_round_trip = cuda_round_trip
        self.raising = False  # bench/soak.py's processor fault: params {"soak_raise": true}

    async def load_model(self, **kwargs):
        pass

    async def process_video_async(self, frame):
        if self.raising:
            raise RuntimeError("soak: the processor raises, as asked")
        if self.cuda_round_trip:
            return frame.replace_tensor(frame.tensor.to("cuda").cpu())
        return frame

    async def process_audio_async(self, frame):
        return [frame]

    async def update_params(self, params):
        if isinstance(params, dict) and "soak_raise" in params:
            self.raising = bool(params["soak_raise"])


async def serve(host: str, port: int, port_file: Path | None, cuda_round_trip: bool,
                max_streams: int | None) -> None:
    # Without --max-streams the call is upstream's own, so the script runs unchanged on upstream.
    extra = {} if max_streams is None else {"max_streams": max_streams}
    server = StreamServer(Passthrough(cuda_round_trip=cuda_round_trip), host=host, port=port, **extra)
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
    parser.add_argument("--cuda-round-trip", action="store_true")
    parser.add_argument("--max-streams", type=int)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    asyncio.run(serve(args.host, args.port, args.port_file, args.cuda_round_trip, args.max_streams))


if __name__ == "__main__":
    main()
