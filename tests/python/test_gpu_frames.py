"""GPU frames in Python: NVDEC → our kernel → CUDA tensors through DLPack, on the lent GPU machine.

Skipped where torch sees no CUDA device (this includes the CPU build of torch the project pins).
"""

from __future__ import annotations

import pytest
import torch

from test_python_stream import RecordingProcessor, run_clip_through
from trickle_testutil import CLIP_FPS, CLIP_SECONDS, count_video_frames

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(),
                                reason="needs a CUDA GPU and a CUDA build of torch")

FRAMES = CLIP_FPS * CLIP_SECONDS


class CudaProcessor(RecordingProcessor):
    """Works on a non-default stream, as model code does, and hands back a CUDA tensor."""

    def __init__(self):
        super().__init__()
        self.devices: set[str] = set()
        self.stream = None

    async def process_video_async(self, frame):
        self.video += 1
        self.devices.add(str(frame.tensor.device))
        if self.stream is None:
            self.stream = torch.cuda.Stream()
        with torch.cuda.stream(self.stream):
            inverted = 1.0 - frame.tensor
        self.stream.synchronize()
        return frame.replace_tensor(inverted)


async def test_cuda_frames_reach_the_processor_and_come_back(relay, trickle_exe, background, ts_clip, tmp_path,
                                                             monkeypatch):
    monkeypatch.setenv("PYTRICKLE_GPU", "1")
    monkeypatch.setenv("PYTRICKLE_DEVICE", "cuda")
    processor = CudaProcessor()
    out = tmp_path / "out.ts"
    await run_clip_through(processor, relay, trickle_exe, background, ts_clip, out)
    assert processor.devices == {"cuda:0"}
    assert processor.video == FRAMES
    assert count_video_frames(out) == FRAMES
