"""How well an action checkpoint from `train action` labels held-out examples, and what it says on real people.

1. The validation folder (e.g. the Bandai styles held out by models/recipes/bandai_action_folders.py), each 3D
   example seen through --views random cameras of the training kind and of HELD_OUT_VIEWS (high and far:
   a camera set training never used): accuracy and confusion tables.
2. HumanEva-I (real people, real cameras, its 2D ground truth; Train and Validate subjects, 3 cameras):
   the label given to each Walking, Jog, Box, Gestures and ThrowCatch trial.

    python benchmarks/bench_action.py --checkpoint motionbert_cli/weights/motionbert_cpu_action.bin \\
        --val ~/.cache/motionbert/bandai_action/val [--shared ../shared]
"""
from __future__ import annotations

import argparse
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

from motionbert_cli.action import classify, model_frames, prepare_windows
from motionbert_cli.action_train import (HELD_OUT_VIEWS, ActionTrainConfig, class_folders, load_example, predict,
                                         validation_inputs)
from motionbert_cli.checkpoint import load_model
from motionbert_cli.evaluate import videopose3d_views


def confusion_table(title, names, y, pred) -> Table:
    t = Table(title=title)
    t.add_column("true \\ predicted")
    for i in range(len(names)):
        t.add_column(str(i + 1), justify="right")
    t.add_column("recall", justify="right")
    m = np.zeros((len(names), len(names)), int)
    np.add.at(m, (y, pred), 1)
    for i, n in enumerate(names):
        t.add_row(f"{i + 1} {n}", *[str(v) for v in m[i]], f"{m[i, i] / max(m[i].sum(), 1):.2f}")
    return t


def source(path: Path) -> str:
    """Which data set a validation file comes from, by the name the recipes give it."""
    name = Path(path).name
    return ("Human3.6M" if name.startswith("h36m_") else "HumanEva" if name.startswith("humaneva_")
            else "Bandai" if name.startswith("dataset-") else "other")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--checkpoint", type=Path, required=True)
    ap.add_argument("--val", type=Path, help="validation folder laid out like train action's --data")
    ap.add_argument("--views", type=int, default=2, help="cameras per 3D example")
    ap.add_argument("--shared", type=Path, default=Path(__file__).resolve().parents[1].parent / "shared")
    args = ap.parse_args()
    con = Console()
    model = load_model(args.checkpoint)
    names = model.meta["classes"]
    T = model_frames(model)
    cfg = ActionTrainConfig()
    if args.val:
        exs = []
        for cname, files in class_folders(args.val):
            exs += [load_example(f, names.index(cname), None, "cpu", 640, None) for f in files]
        y = np.repeat([e.label for e in exs], 1)
        for label, view in (("training's camera kind", None), ("held-out cameras (high, far)", HELD_OUT_VIEWS)):
            preds, ys = [], []
            for v in range(args.views):
                x = validation_inputs(exs, T, cfg, view, seed=1000 * (v + 1))
                preds.append(predict(model, x))
                ys.append(y)
            pred, yy = np.concatenate(preds), np.concatenate(ys)
            per_class = [float((pred[yy == c] == c).mean()) for c in range(len(names)) if (yy == c).any()]
            con.print(f"{label}: accuracy {(pred == yy).mean():.3f} over {len(yy)} views of {len(exs)} clips; "
                      f"mean per-class recall {np.mean(per_class):.3f}")
            src = np.tile([source(e.path) for e in exs], args.views)
            for s in sorted(set(src)):
                m = src == s
                rec = [float((pred[m & (yy == c)] == c).mean()) for c in range(len(names)) if (m & (yy == c)).any()]
                con.print(f"  {s}: accuracy {(pred[m] == yy[m]).mean():.3f} over {m.sum()} views, "
                          f"mean recall over its {len(rec)} classes {np.mean(rec):.3f}")
            con.print(confusion_table(f"{label} (rows: true class)", names, yy, pred))
    he = args.shared / "data/eval/humaneva"
    if (he / "data_3d_humaneva15.npz").is_file():
        said = defaultdict(Counter)
        for v in videopose3d_views(he / "data_3d_humaneva15.npz", he / "data_2d_humaneva15_gt.npz"):
            x = prepare_windows(v.kp.astype(np.float32), (640, 480), 60.0, T, "h36m")
            said[v.action][names[int(classify(model, x[None]).argmax())]] += 1
        t = Table(title="HumanEva-I (real 2D of real people, ground-truth keypoints): labels given per trial x camera")
        t.add_column("action")
        t.add_column("labels (count)")
        for a, c in sorted(said.items()):
            t.add_row(a, ", ".join(f"{n} {k}" for n, k in c.most_common()))
        con.print(t)


if __name__ == "__main__":
    main()
