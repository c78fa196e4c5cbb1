"""Run inside Blender: import a BVH as Blender's own importer does and dump every bone's head, per frame,
in Blender's world (Z up). Usage: blender -b --factory-startup --python import_bvh.py -- IN.bvh OUT.json"""
import builtins
import json
import sys
import bpy
_open = builtins.open
def _open_no_u(file, mode="r", *a, **k):  # Blender 3.4's importer asks for 'rU', gone in Python 3.11
    return _open(file, mode.replace("U", ""), *a, **k)
builtins.open = _open_no_u
src, dst = sys.argv[sys.argv.index("--") + 1:]
bpy.ops.wm.read_factory_settings(use_empty=True)
bpy.ops.import_anim.bvh(filepath=src, axis_forward="-Z", axis_up="Y", global_scale=1.0, update_scene_fps=True,
                        update_scene_duration=True)
arm = [o for o in bpy.context.scene.objects if o.type == "ARMATURE"][0]
sc = bpy.context.scene
out = {"fps": sc.render.fps / sc.render.fps_base, "frame_start": sc.frame_start, "frame_end": sc.frame_end, "heads": {}}
for f in range(sc.frame_start, sc.frame_end + 1):
    sc.frame_set(f)
    for b in arm.pose.bones:
        out["heads"].setdefault(b.name, []).append(list(arm.matrix_world @ b.head))
with _open(dst, "w") as fh:
    json.dump(out, fh)
