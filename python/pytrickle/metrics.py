"""The running stream's numbers in one small dict (ours; Livepeer's documentation describes them as
``FrameProcessor.get_metrics()``): what an operator or a model's own logic wants to watch, taken
from the client's counters, the FPS meter and the engine's statistics."""

from __future__ import annotations

from typing import Any, Dict

# Engine statistics that count video frames lost between decoding and the output.
_ENGINE_VIDEO_DROPS = (("queues", "video_trimmed"), ("queues", "video_dropped_full"),
                       ("queues", "output_dropped_full"), ("queues", "dropped_at_stop"),
                       ("encoder", "video_dropped_invalid"), ("encoder", "video_dropped_av_sync"),
                       ("encoder", "video_dropped_pts_not_increasing"), ("encoder", "video_dropped_encode_error"))


def _gpu_memory_mb() -> float:
    try:
        import torch
        if torch.cuda.is_available():
            return round(torch.cuda.memory_allocated() / (1024 * 1024), 1)
    except Exception:  # noqa: BLE001 - no CUDA runtime: nothing allocated there
        pass
    return 0.0


def stream_metrics(client: Any) -> Dict[str, Any]:
    """``fps``: output video frames per second; ``latency_ms``: median time from a frame's demuxing
    to its encoding (what the pipeline adds, processing included); ``gpu_memory_mb``: CUDA memory
    torch holds; ``frames_processed``: video frames the processor returned; ``frames_dropped``:
    video frames skipped or lost anywhere on the way (frame skipper, full queues, frames the
    encoder could not take); ``error_count``: frames the processor raised on, plus decode errors.
    Zeros when ``client`` is None (no stream)."""
    metrics: Dict[str, Any] = {"fps": 0.0, "latency_ms": 0.0, "gpu_memory_mb": _gpu_memory_mb(),
                               "frames_processed": 0, "frames_dropped": 0, "error_count": 0}
    if client is None:
        return metrics
    protocol = getattr(client, "protocol", None)
    engine: Dict[str, Any] = {}
    if protocol is not None:
        metrics["fps"] = round(float(protocol.fps_meter.get_fps_stats().get("egress_video_fps", 0.0)), 2)
        if hasattr(protocol, "engine_stats"):
            engine = protocol.engine_stats() or {}
    metrics["latency_ms"] = float(engine.get("latency_ms", {}).get("demux_to_encoded", {}).get("p50_ms", 0.0))
    metrics["frames_processed"] = int(getattr(client, "frames_processed", 0))
    dropped = int(getattr(client, "frames_skipped", 0))
    for section, key in _ENGINE_VIDEO_DROPS:
        dropped += int(engine.get(section, {}).get(key, 0))
    metrics["frames_dropped"] = dropped
    metrics["error_count"] = int(getattr(client, "processing_errors", 0)) + int(
        engine.get("decoder", {}).get("decode_errors", 0))
    return metrics
