"""Mesh renderer speed at 1280x720 with a body-sized mesh of SMPL's size (6890 vertices, ~13.8k faces).

SMPL itself is licensed, so the mesh is a closed ellipsoid with the same vertex and face counts, 1.75 m tall,
3 m from the camera: the same work per frame (projection, culling, sorting, filling) as one SMPL body.

    python benchmarks/bench_render.py [--people 1] [--frames 60]
"""
from __future__ import annotations

import argparse
import time

import numpy as np

from motionbert_cli.render import MeshRenderer, person_colour


def body_mesh(n_lat: int = 83, n_lon: int = 83):
    lat = np.linspace(0, np.pi, n_lat)
    lon = np.linspace(0, 2 * np.pi, n_lon, endpoint=False)
    la, lo = np.meshgrid(lat, lon, indexing="ij")
    v = np.stack([0.25 * np.sin(la) * np.cos(lo), -0.875 * np.cos(la), 0.15 * np.sin(la) * np.sin(lo)], -1).reshape(-1, 3)
    f = []
    for i in range(n_lat - 1):
        for j in range(n_lon):
            a, b = i * n_lon + j, i * n_lon + (j + 1) % n_lon
            c, d = a + n_lon, b + n_lon
            f += [(a, c, b), (b, c, d)]
    return v, np.array(f)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--people", type=int, default=1)
    ap.add_argument("--frames", type=int, default=60)
    args = ap.parse_args()
    v, f = body_mesh()
    W, H = 1280, 720
    r = MeshRenderer(f, focal=1280, centre=(W / 2, H / 2), size=(W, H))
    frame = np.full((H, W, 3), 90, np.uint8)
    verts = np.stack([v + np.array([0.6 * (p - (args.people - 1) / 2), 0.1, 3.0 + 0.3 * p]) for p in range(args.people)])
    cols = [person_colour(p) for p in range(args.people)]
    r.draw(frame, verts, cols)
    t = time.perf_counter()
    for k in range(args.frames):
        a = 0.05 * k
        R = np.array([[np.cos(a), 0, np.sin(a)], [0, 1, 0], [-np.sin(a), 0, np.cos(a)]])
        moved = np.einsum("ij,pvj->pvi", R, verts - verts.mean(1, keepdims=True)) + verts.mean(1, keepdims=True)
        out = r.draw(frame, moved, cols)
    dt = (time.perf_counter() - t) / args.frames
    print("| renderer | resolution | people | vertices | faces | ms/frame | frames/s |")
    print("|---|---|---|---|---|---|---|")
    print(f"| OpenCV painter's | {W}x{H} | {args.people} | {len(v)} | {len(f)} | {dt * 1000:.1f} | {1 / dt:.1f} |")
    assert out.shape == frame.shape


if __name__ == "__main__":
    main()
