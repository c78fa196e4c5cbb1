"""A lifter's forward pass run by OpenVINO on the CPU, for `live`, where one small window per frame is lifted
and PyTorch's per-operator overhead, not arithmetic, sets the time.

The network is converted once per weights (dynamic batch and length, so every window shape works) and cached
under the tool's cache folder as <cache>/lifters/<digest>.xml/.bin; it is compiled with f32 forced, so the
output equals PyTorch's to float32 rounding (< 1e-5 on the shipped lifter) on both CPU kinds (OpenVINO would
otherwise pick bf16 where the CPU has it)."""
from __future__ import annotations

import hashlib
import os
import tempfile
import warnings
from pathlib import Path
from typing import Callable

import numpy as np
import torch


def _digest(model: torch.nn.Module) -> str:
    """What the converted network depends on: its config and every tensor."""
    h = hashlib.sha256(repr(model.cfg).encode())
    for k, v in model.state_dict().items():
        h.update(k.encode())
        h.update(v.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:20]


def openvino_ir(model: torch.nn.Module) -> Path:
    """The OpenVINO IR of `model`'s forward (x [B, T, 17, 3] -> [B, T, 17, C]): converted once (~3 s), then
    read from the cache. Returns the .xml path."""
    from .detect import cache_dir, import_openvino

    final = cache_dir() / "lifters" / f"{_digest(model)}.xml"
    if final.is_file() and final.with_suffix(".bin").is_file():
        return final
    final.parent.mkdir(parents=True, exist_ok=True)
    ov = import_openvino(converting=True)
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # tracer warnings about the shape checks in forward
        om = ov.convert_model(model.eval(), example_input=torch.zeros(2, model.cfg.maxlen, 17, model.cfg.dim_in))
    with tempfile.TemporaryDirectory(dir=final.parent, prefix=".convert-") as tmp:
        xml = Path(tmp) / final.name
        ov.save_model(om, str(xml), compress_to_fp16=False)
        os.replace(xml.with_suffix(".bin"), final.with_suffix(".bin"))  # .bin first: the .xml marks it complete
        os.replace(xml, final)
    return final


def openvino_forward(model: torch.nn.Module, threads: int | None = None) -> Callable[[torch.Tensor], torch.Tensor]:
    """`model`'s forward as an OpenVINO-compiled function of a CPU tensor (the `fn` of lift_pixel_windows)."""
    from .detect import import_openvino

    ov = import_openvino()  # no telemetry, also when the IR comes from the cache

    compiled = ov.Core().compile_model(str(openvino_ir(model)), "CPU", {
        "INFERENCE_PRECISION_HINT": "f32", "PERFORMANCE_HINT": "LATENCY",
        "INFERENCE_NUM_THREADS": threads or torch.get_num_threads()})
    request = compiled.create_infer_request()

    def forward(x: torch.Tensor) -> torch.Tensor:
        out = request.infer([np.ascontiguousarray(x.numpy(), np.float32)])
        return torch.from_numpy(np.array(out[compiled.output(0)]))

    return forward
