"""Strength of the refine network's correction, measured on cached outputs: the shipped pipeline
runs once per frame (its upsampling intercepted to keep the gated correction), then the correction
is re-scaled (0.3, 0.5, 0.7, 1, a squared gate, none); PSNR@224 over the protocol's windows.

    .venv/bin/python docs/runs/refine-strength.py resources/models/default.safetensors ../shared/evaldata/AniDoc_sample1 ...

Run it on a model whose spec has strength 1 (e.g. ``git show d312f44:resources/models/default.safetensors``).
"""
import sys
from pathlib import Path

import numpy as np
import torch
from protocol_windows import window_inputs  # docs/runs/protocol_windows.py

from opdm_studio.engine.models import load_model
from opdm_studio.evaluation.protocol import load_clip, protocol_lines, to224
from opdm_studio.imaging.chain import warp_agreement
from opdm_studio.imaging.flow import FLOW_SIZE
from opdm_studio.pipelines import make_pipeline
from opdm_studio.pipelines.base import resize
from opdm_studio.pipelines.opdm import to_full_size
from training.compare import psnr

torch.set_num_threads(2)
lm = load_model(sys.argv[1], "cpu")
pipe = make_pipeline("model", lm.inference, lm.model, lm.device, lm.dtype, flow_size=FLOW_SIZE)
import opdm_studio.pipelines.refine as R

cap = {}
orig = R.to_full_size
def spy(corr, w, h):
    cap["corr"] = corr.copy(); return orig(corr, w, h)
R.to_full_size = spy
variants = {"flow": lambda c, g: 0 * c, "gate": lambda c, g: c * g[..., None], "gate^2": lambda c, g: c * (g ** 2)[..., None],
            "0.5gate": lambda c, g: 0.5 * c * g[..., None], "0.3gate": lambda c, g: 0.3 * c * g[..., None], "0.7gate": lambda c, g: 0.7 * c * g[..., None],
            # the gate that also opens where the two keys' warps disagree
            "0.3agree": lambda c, g: 0.3 * c * AG["g"][..., None], "0.5agree": lambda c, g: 0.5 * c * AG["g"][..., None]}
AG = {}
for path in sys.argv[2:]:
    clip = load_clip(Path(path), [])
    ex = [protocol_lines(f)[0] for f in clip.frames]
    for gap in (8, 16):
        acc = {k: [] for k in variants}
        for _a, _b, frames in window_inputs(clip.frames, ex, gap):
            pipe.reset()
            for i, inp in frames:
                gen = pipe(inp)
                try:
                    while True: next(gen)
                except StopIteration as e: guess = e.value
                prop, small = pipe.flow.propagate(inp)
                h, w = ex[i].shape
                P = (prop.rgb if small is None else resize(prop.rgb, (w, h))).astype(np.float32)
                corr_g = cap["corr"]
                rh, rw = corr_g.shape[:2]
                g = np.clip(1 - resize(prop.confidence, (rw, rh)), 0, 1)
                raw = corr_g / np.maximum(g, 1e-6)[..., None]   # ungated correction
                raw[g < 1e-6] = 0
                agr = warp_agreement(prop.warp_prev, prop.warp_next)
                AG["g"] = np.clip(1 - resize(prop.confidence * agr, (rw, rh)), 0, 1)
                G = to224(clip.frames[i])
                for k, f in variants.items():
                    out = np.clip(P + to_full_size(f(raw, g).astype(np.float32), w, h) + 0.5, 0, 255).astype(np.uint8)
                    acc[k].append(psnr(to224(out), G))
        print(clip.name[:20], gap, len(acc["flow"]), " ".join(f"{k}={np.mean(v):.2f}" for k, v in acc.items()), flush=True)
