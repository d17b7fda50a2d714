"""Runs the cases of tests/upstream_rules.json on whichever pytrickle this interpreter imports
(ours, or upstream's in .venv-upstream) and prints what each case gave, as one JSON line.

    python rules_runner.py TABLE.json
"""

import asyncio
import json
import sys

import pytrickle.frame_overlay as frame_overlay
from pytrickle.frame_overlay import OverlayConfig, OverlayController, OverlayMode
from pytrickle.frame_skipper import AdaptiveFrameSkipper, FrameProcessingResult, FrameSkipConfig


class SteadyMeter:
    """An FPS meter that always reads the same ingress rate."""

    def __init__(self, fps):
        self.fps = fps

    def get_ingress_video_fps(self):
        return self.fps


def skip_pattern(case):
    skipper = AdaptiveFrameSkipper(FrameSkipConfig(target_fps=case["target"], adaptation_cooldown=0.0),
                                   SteadyMeter(case["ingress"]))
    letters = "".join("S" if skipper._process_video_frame(i) is FrameProcessingResult.SKIPPED else "P"
                      for i in range(case["frames"]))
    return {"pattern": letters, "interval": skipper.skip_interval}


async def trimmed(case):
    config = FrameSkipConfig(max_queue_size=case["max_queue_size"], max_cleanup_frames=case["max_cleanup_frames"])
    queue = asyncio.Queue()
    for i in range(case["queued"]):
        queue.put_nowait(i)
    await AdaptiveFrameSkipper(config, SteadyMeter(0.0))._cleanup_video_queue_overflow(queue, 1.0)
    return case["queued"] - queue.qsize()


def overlay_steps(case):
    settings = dict(case["config"])
    if "mode" in settings:
        settings["mode"] = OverlayMode(settings["mode"])
    controller = OverlayController(OverlayConfig(**settings))
    named = {"processed": "processed", "original": "original", "overlay": "overlay", None: "nothing"}
    out = []
    for step, _ in case["steps"]:
        if step in ("processed", "none"):
            result = controller.update_and_apply("original", "processed" if step == "processed" else None)
            out.append([step, named[result]])
        elif step in ("manual_on", "manual_off"):
            controller.set_manual_loading(step == "manual_on")
            out.append([step, None])
        else:
            out.append([step, controller.should_skip_processing()])
    return out


def main():
    with open(sys.argv[1]) as table_file:
        table = json.load(table_file)
    frame_overlay.build_frame_overlay = lambda **kwargs: "overlay"  # the card itself is not a rule here
    skipper = table["frame_skipper"]
    print(json.dumps({
        "patterns": [skip_pattern(case) for case in skipper["patterns"]],
        "trims": [asyncio.run(trimmed(case)) for case in skipper["trims"]],
        "overlay": [overlay_steps(case) for case in table["overlay"]],
    }))


if __name__ == "__main__":
    main()
