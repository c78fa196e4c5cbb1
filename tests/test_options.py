"""Each option's default and help are written once, on a dataclass field in options.py: the command line shows
exactly those, and the stages get them when called from Python (issue 25)."""
import dataclasses
import enum
import subprocess
import sys

import typer

from motionbert_cli import options as o
from motionbert_cli.cli import app

# command -> the dataclasses whose fields its parameters are (pose3d's --size is Pose3dOptions.frame_size)
COMMANDS = {
    ("pose3d",): (o.PeopleOptions, o.Pose3dOptions),
    ("mesh",): (o.PeopleOptions, o.MeshOptions),
    ("live",): (o.PeopleOptions, o.LiveOptions),
    ("train", "action"): (o.ActionTrainSchedule,),
}
RENAMED = {"size": "frame_size"}
RESOLVED = {"device"}     # "auto" on the command line; the dataclass holds the device it resolved to
NOT_DEFAULTS = {"out"}    # live: None means live_<date-time>, which the command makes


def command(path):
    cmd = typer.main.get_command(app)
    for name in path:
        cmd = cmd.commands[name]
    return cmd


def test_command_line_defaults_and_help_come_from_the_dataclasses():
    checked = 0
    for path, classes in COMMANDS.items():
        fields = {f.name: (cls, f) for cls in classes for f in dataclasses.fields(cls)}
        for p in command(path).params:
            name = RENAMED.get(p.name, p.name)
            if name not in fields or name in RESOLVED:
                continue
            cls, f = fields[name]
            assert p.help == f.metadata["help"], (path, name)
            if f.default is dataclasses.MISSING or name in NOT_DEFAULTS or name == "frame_size":
                continue
            default = p.default.value if isinstance(p.default, enum.Enum) else p.default
            assert default == f.default, (path, name, default, f.default)
            checked += 1
    assert checked >= 45


def test_train_pose3d_help_shows_the_schedule_defaults():
    params = {p.name: p for p in command(("train", "pose3d")).params}
    for name in ("epochs", "steps_per_epoch", "batch_size", "lr", "precision", "seed"):
        assert params[name].default is None  # so a --config file's value wins over the schedule's
        value = getattr(o.TrainSchedule, name)
        shown = f"{value:g}" if isinstance(value, float) else str(value)
        assert f"(default: {shown}, or the --config file's)" in params[name].help


def test_options_import_without_numpy_or_torch():
    code = "import sys, motionbert_cli.options; print(any(m in sys.modules for m in ('numpy', 'torch')))"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.strip() == "False"
