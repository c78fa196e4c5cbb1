"""Lay out all the labelled motion in ../shared as `train action` folders of everyday and sport classes
(issue 26): DIR/train/<class>/ and DIR/val/<class>/, held out by subject or style.

    python models/recipes/everyday_action_folders.py ../shared ~/.cache/motionbert/everyday_action

Sources and how they are held out:
- Human3.6M training subjects (data/mocap/h36m): its 15 actions, merged where they name the same motion; long
  takes are cut into SEGMENT_S pieces (written as npz); subject S8 is validation.
- HumanEva-I Train (data/eval/humaneva/data_3d_humaneva15.npz): Walking, Jog, Box, Gestures, ThrowCatch,
  cut likewise; subject S3 is validation (its Validate subjects stay for benchmarks/bench_action.py).
- Bandai-Namco (data/mocap/bandai): as models/recipes/bandai_action_folders.py, whole styles held out.
- DeepMimic and CMU (data/mocap/deepmimic, cmu): too few clips per action to hold any out; training only.
Human3.6M "purchases" (carrying things around, mixed) is left out.
"""
from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

import numpy as np

SEGMENT_S = 5.0
H36M = {"walking": "walk", "walkingdog": "walk", "walkingtogether": "walk", "greeting": "greet",
        "directions": "point or give directions", "discussion": "talk with gestures", "phoning": "phone call",
        "eating": "eat or drink", "smoking": "smoke", "takingphoto": "take a photo", "sittingdown": "sit down",
        "sitting": "sitting", "waiting": "stand and wait", "posing": "stand and wait"}
HUMANEVA = {"Walking": "walk", "Jog": "run or jog", "Box": "punch or box", "Gestures": "talk with gestures",
            "ThrowCatch": "throw or catch"}
BANDAI = {"walk": "walk", "walk-back": "walk", "walk-left": "walk", "walk-right": "walk",
          "walk-turn-left": "walk", "walk-turn-right": "walk", "run": "run or jog", "dash": "run or jog",
          "raise-up-left-hand": "raise hand", "raise-up-right-hand": "raise hand",
          "raise-up-both-hands": "raise hand", "wave-left-hand": "wave", "wave-right-hand": "wave",
          "wave-both-hands": "wave", "bye": "wave", "byebye": "wave", "bow": "bow", "punch": "punch or box",
          "kick": "kick", "dance-short": "dance", "guide": "point or give directions", "call": "phone call"}
BANDAI_HELD_OUT = {"elderly", "youthful", "old", "childish", "happy"}
DEEPMIMIC = [("walk", "walk"), ("zombie", "walk"), ("ready_to_walk", "walk"), ("walk_to_ready", "walk"),
             ("jog", "run or jog"), ("run", "run or jog"), ("jump", "jump"), ("spinkick", "kick"),
             ("kick", "kick"), ("punch", "punch or box"), ("dance", "dance"), ("spin", "dance"),
             ("cartwheel", "cartwheel, flip or roll"), ("backflip", "cartwheel, flip or roll"),
             ("sideflip", "cartwheel, flip or roll"), ("roll", "cartwheel, flip or roll"),
             ("crawl", "crawl or get up"), ("getup", "crawl or get up")]
CMU = {"02_01": "walk", "131_01": "walk", "131_02": "walk", "131_03": "jump", "05_06": "dance"}


def segments(j: np.ndarray, fps: float):
    """Pieces of SEGMENT_S seconds (the last one ends at the clip's end); clips shorter than 1.5 pieces whole."""
    n = int(round(SEGMENT_S * fps))
    if len(j) < 1.5 * n:
        yield 0, j
        return
    starts = list(range(0, len(j) - n + 1, n))
    if starts[-1] + n < len(j) - n // 2:
        starts.append(len(j) - n)
    for s in starts:
        yield s, j[s:s + n]


def main(shared: Path, dst: Path) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    from motionbert_cli.mocap import read_videopose3d

    counts = Counter()

    def put(split, cls, name, joints=None, fps=None, link=None):
        d = dst / split / cls
        d.mkdir(parents=True, exist_ok=True)
        f = d / name
        if not f.exists():
            if link is not None:
                f.symlink_to(Path(link).resolve())
            else:
                np.savez(f, joints3d=joints.astype(np.float32), fps=np.float32(fps), source=np.asarray(name))
        counts[split, cls] += 1

    for f in sorted((shared / "data/mocap/h36m").glob("S*_*.npz")):
        subject, rest = f.stem.split("_", 1)
        cls = H36M.get(rest.rsplit("_", 1)[0])
        if cls is None:
            continue
        d = np.load(f)
        for s, piece in segments(d["joints3d"], float(d["fps"])):
            put("val" if subject == "S8" else "train", cls, f"h36m_{f.stem}_{s:06d}.npz", piece, float(d["fps"]))
    for m in read_videopose3d(shared / "data/eval/humaneva/data_3d_humaneva15.npz", ["Train/"]):
        cls = HUMANEVA.get(m.meta["action"].split(" ")[0])
        if cls is None:
            continue
        subject = m.meta["subject"].split("/")[-1]
        for s, piece in segments(m.joints, m.fps):
            name = f"humaneva_{subject}_{m.meta['action'].replace(' ', '')}_{s:06d}.npz"
            put("val" if subject == "S3" else "train", cls, name, piece, m.fps)
    for f in sorted((shared / "data/mocap/bandai").glob("dataset-*_*_*_*.npz")):
        _, content, style, _ = f.stem.split("_")
        cls = BANDAI.get(content)
        if cls is not None:
            put("val" if style in BANDAI_HELD_OUT else "train", cls, f.name, link=f)
    for f in sorted((shared / "data/mocap/deepmimic").glob("*.npz")):
        cls = next((c for key, c in DEEPMIMIC if key in f.stem), None)
        if cls is not None:
            put("train", cls, f.name, link=f)
    for f in sorted((shared / "data/mocap/cmu").glob("*.bvh")):
        if f.stem in CMU:
            put("train", CMU[f.stem], f.name, link=f)
    for cls in sorted({c for _, c in counts}):
        print(f"{cls:26s} train {counts['train', cls]:5d}  val {counts['val', cls]:5d}")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
