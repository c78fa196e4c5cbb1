"""Lay out the Bandai mocap clips (../shared/data/mocap/bandai) as `train action` folders: DIR/train/<class>/
and DIR/val/<class>/ of symbolic links, with whole styles held out for validation.

    python models/recipes/bandai_action_folders.py ../shared/data/mocap/bandai ~/.cache/motionbert/bandai_action

File names are dataset-{1,2}_{content}_{style}_{nnn}.npz. Contents are merged into classes a single camera can
tell apart (left/right variants merged: a mirrored view turns one into the other, and training mirrors);
contents with too few clips to train and test on, or that overlap a kept class, are left out.
"""
from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

CLASSES = {
    "walk": "walk",
    "walk-back": "walk backwards",
    "walk-left": "walk sideways", "walk-right": "walk sideways",
    "walk-turn-left": "walk and turn", "walk-turn-right": "walk and turn",
    "run": "run", "dash": "run",
    "raise-up-left-hand": "raise one hand", "raise-up-right-hand": "raise one hand",
    "raise-up-both-hands": "raise both hands",
    "wave-left-hand": "wave one hand", "wave-right-hand": "wave one hand",
    "wave-both-hands": "wave both hands",
    "bow": "bow",
}
# Left out: bye, byebye (goodbye waves: the same motion as the wave classes under another name), guide, call,
# respond (conversational gestures, 14 / 2 / 1 clips), kick, punch, slash, dance-short (1-2 clips each).
HELD_OUT_STYLES = {"elderly", "youthful", "old", "childish", "happy"}


def main(src: Path, dst: Path) -> None:
    counts = Counter()
    for f in sorted(src.glob("dataset-*_*_*_*.npz")):
        _, content, style, _ = f.stem.split("_")
        cls = CLASSES.get(content)
        if cls is None:
            continue
        split = "val" if style in HELD_OUT_STYLES else "train"
        d = dst / split / cls
        d.mkdir(parents=True, exist_ok=True)
        link = d / f.name
        if not link.exists():
            link.symlink_to(f.resolve())
        counts[split, cls] += 1
    for cls in sorted({c for _, c in counts}):
        print(f"{cls:18s} train {counts['train', cls]:4d}  val {counts['val', cls]:4d}")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
