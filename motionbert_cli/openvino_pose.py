"""YOLO pose on OpenVINO without Ultralytics' predictor: letterbox, network, NMS, rescaling, ByteTrack.

Ultralytics' predictor wraps each frame in torch conversions, a Results object and callbacks that cost ~5 ms per
720p frame beside the network's ~20 ms (int8, AVX-512 EPYC; issue 24). This module does the same steps with
NumPy, following Ultralytics 8.4 step by step (LetterBox, non_max_suppression, scale_boxes / scale_coords, the
tracker's callback), and feeds Ultralytics' own BYTETracker, so ids, boxes and keypoints are those of
`YOLO.track` on the same OpenVINO model (tests/test_detect.py compares them).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .detect import import_openvino, letterbox_u8

NMS_IOU = 0.7      # Ultralytics' predict default
MAX_DET = 300


class _Detections:
    """The few things BYTETracker reads from Ultralytics' Boxes: conf, cls, xywh, xyxy, boolean indexing."""

    def __init__(self, xyxy: np.ndarray, conf: np.ndarray):
        self.xyxy, self.conf = xyxy, conf
        self.cls = np.zeros(len(conf), np.float32)

    @property
    def xywh(self) -> np.ndarray:  # as ultralytics.utils.ops.xyxy2xywh
        x = self.xyxy
        return np.stack([(x[:, 0] + x[:, 2]) / 2, (x[:, 1] + x[:, 3]) / 2, x[:, 2] - x[:, 0], x[:, 3] - x[:, 1]], -1)

    def __len__(self) -> int:
        return len(self.conf)

    def __getitem__(self, mask) -> "_Detections":
        return _Detections(self.xyxy[mask], self.conf[mask])


def nms(boxes: np.ndarray, scores: np.ndarray, iou: float) -> np.ndarray:
    """Indices kept by greedy NMS, highest score first (torchvision's rule: drop IoU > iou). boxes [N, 4] xyxy."""
    x1, y1, x2, y2 = boxes.T
    areas = (x2 - x1) * (y2 - y1)
    order = np.argsort(-scores, kind="stable")
    keep = []
    while len(order):
        i, rest = order[0], order[1:]
        keep.append(i)
        w = np.clip(np.minimum(x2[i], x2[rest]) - np.maximum(x1[i], x1[rest]), 0, None)
        h = np.clip(np.minimum(y2[i], y2[rest]) - np.maximum(y1[i], y1[rest]), 0, None)
        inter = w * h
        order = rest[inter / (areas[i] + areas[rest] - inter) <= iou] if inter.any() else rest
    return np.asarray(keep, int)


def _rescale(shape_in: tuple[int, int], shape_out: tuple[int, ...]) -> tuple[float, float, int, int]:
    """(gain_x, gain_y, pad_x, pad_y) from the letterboxed frame back to the original, as scale_boxes does."""
    gain = min(shape_in[0] / shape_out[0], shape_in[1] / shape_out[1])
    new_h, new_w = (max(round(x * gain), 1) for x in shape_out[:2])
    return (new_w / shape_out[1], new_h / shape_out[0], round((shape_in[1] - new_w) / 2 - 0.1),
            round((shape_in[0] - new_h) / 2 - 0.1))


class OpenVINOPose:
    """A YOLO pose OpenVINO model (an Ultralytics export folder with a static input shape) with ByteTrack.

    __call__(frame BGR [H, W, 3] uint8) -> (ids [n], keypoints [n, 17, 3] pixels + confidence, boxes [n, 4]
    xyxy): the tracked people, as PoseDetector returns them."""

    def __init__(self, folder: Path, conf: float = 0.25, tracker: str = "bytetrack.yaml"):
        from ultralytics.trackers.byte_tracker import BYTETracker
        from ultralytics.utils import YAML, IterableSimpleNamespace
        from ultralytics.utils.checks import check_yaml

        ov = import_openvino()
        xml = next(Path(folder).glob("*.xml"))
        core = ov.Core()
        model = core.read_model(str(xml), str(xml.with_suffix(".bin")))
        # the frame's letterboxed uint8 BGR pixels go in as they are: OpenVINO converts them to the network's
        # float RGB in [0, 1] inside the graph (~2.5 ms per 720p frame less than doing it in NumPy)
        from openvino.preprocess import ColorFormat, PrePostProcessor

        ppp = PrePostProcessor(model)
        ppp.input().tensor().set_element_type(ov.Type.u8).set_layout(ov.Layout("NHWC")) \
            .set_color_format(ColorFormat.BGR)
        ppp.input().model().set_layout(ov.Layout("NCHW"))
        ppp.input().preprocess().convert_element_type(ov.Type.f32).convert_color(ColorFormat.RGB).scale(255.0)
        model = ppp.build()
        # f32 for whatever runs in float: OpenVINO would pick bf16 on CPUs with AVX512-BF16 / AMX (detect.py)
        self.compiled = core.compile_model(model, "CPU", {"PERFORMANCE_HINT": "LATENCY",
                                                          "INFERENCE_PRECISION_HINT": ov.Type.f32})
        self.request = self.compiled.create_infer_request()
        self.shape = tuple(int(d) for d in self.compiled.input(0).get_shape()[1:3])  # (h, w)
        self.conf = conf
        cfg = IterableSimpleNamespace(**YAML.load(check_yaml(tracker)))
        if cfg.tracker_type != "bytetrack":
            raise ValueError(f"only ByteTrack runs outside Ultralytics' predictor, not {cfg.tracker_type}")
        self.tracker = BYTETracker(args=cfg)

    def __call__(self, frame: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        out = self.request.infer({0: letterbox_u8(frame, self.shape)[None]})[self.compiled.output(0)][0]  # [56, N]
        cand = out[:, out[4] > self.conf].T                                  # cx, cy, w, h, conf, 17 x (x, y, c)
        xy, half = cand[:, :2], cand[:, 2:4] / 2
        xyxy = np.concatenate([xy - half, xy + half], 1)
        keep = nms(xyxy, cand[:, 4], NMS_IOU)[:MAX_DET]
        cand, xyxy = cand[keep], xyxy[keep]
        gx, gy, px, py = _rescale(self.shape, frame.shape)
        h, w = frame.shape[:2]
        xyxy = ((xyxy - np.array([px, py, px, py], np.float32)) / np.array([gx, gy, gx, gy], np.float32))
        xyxy = np.clip(xyxy, 0, np.array([w, h, w, h], np.float32)).astype(np.float32)
        kp = cand[:, 5:].reshape(-1, 17, 3).copy()
        kp[..., 0] = np.clip((kp[..., 0] - px) / np.float32(gx), 0, w)
        kp[..., 1] = np.clip((kp[..., 1] - py) / np.float32(gy), 0, h)
        tracks = self.tracker.update(_Detections(xyxy, cand[:, 4].copy()), frame)
        if len(tracks) == 0:
            return np.zeros(0, int), np.zeros((0, 17, 3), np.float32), np.zeros((0, 4), np.float32)
        idx = tracks[:, -1].astype(int)
        return tracks[:, 4].astype(int), kp[idx].astype(np.float32), tracks[:, :4].astype(np.float32)
