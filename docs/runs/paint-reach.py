"""Measured 2026-11-30 before the projection was in the pipeline (docs/model.md, "Adapting to the keys"):

    .venv/bin/python docs/runs/paint-reach.py resources/models/default.safetensors OUT.json CLIP...

Pixels the refine network's correction moved by more than CMIN levels take the nearest paint of
the keys when within TAU (RGB distance): PSNR@224 and palette fidelity (the protocol's), on the
engine's own colouring (adaptation included, snapping off). With the projection now in the
pipeline, run it on a commit before it (the c0t0 column is then the pipeline without it)."""
import json
import sys
from pathlib import Path

import numpy as np
import torch

import opdm_studio.pipelines.refine as R
from opdm_studio.engine.frame import FrameColorizer
from opdm_studio.engine.models import load_model
from opdm_studio.engine.project import ColorizeSettings
from opdm_studio.evaluation import metrics as M
from opdm_studio.evaluation.protocol import load_clip, protocol_lines, to224, windows
from opdm_studio.pipelines.base import Interval
from training.compare import psnr

torch.set_num_threads(2)
cap = {}
orig = R.to_full_size
def spy(corr, w, h):
    out = orig(corr, w, h); cap["c"] = out; return out
R.to_full_size = spy
lm = load_model(sys.argv[1])
fc = FrameColorizer("model", model=lm, settings=ColorizeSettings(method="model", snap="off"))
TAUS = [0, 16, 32, 48]
CMIN = [2, 8]
res = {}
for path in sys.argv[3:]:
    clip = load_clip(Path(path), [])
    ex = [protocol_lines(f) for f in clip.frames]
    srcs = [("extracted", [d for d, _ in ex], [m for _, m in ex])]
    if clip.lineart: srcs.append(("hand", list(clip.lineart), [d < 128 for d in clip.lineart]))
    for lname, draws, masks in srcs:
        for gap in (8, 16):
            acc = {}
            for a, b in windows(len(clip.frames), gap):
                lines = draws[a:b + 1]
                lut = M.palette_lut([clip.frames[a], clip.frames[b]], [masks[a], masks[b]])
                for i in range(a + 1, b):
                    iv = Interval(key=("w", id(lines)), load=lambda lines=lines: lines, position=i - a, length=b - a + 1)
                    out = fc.colorize(draws[i], clip.frames[a], clip.frames[b], draws[a], draws[b], t=(i - a) / (b - a), interval=iv)
                    raw = out.raw.astype(np.float32)
                    corr = cap["c"]
                    pal = fc.palette.colors.astype(np.float32)
                    G = to224(clip.frames[i])
                    # nearest palette colour of every pixel
                    flat = raw.reshape(-1, 3)
                    d2 = ((flat[:, None, :] - pal[None]) ** 2).sum(-1) if len(pal) * len(flat) < 4e8 else None
                    idx = d2.argmin(1); dist = np.sqrt(d2[np.arange(len(flat)), idx])
                    mag = np.abs(corr).max(-1).ravel()
                    for cmin, tau in [(0, 0)] + [(c, t) for c in CMIN for t in TAUS if t]:
                        o = flat.copy()
                        if tau:
                            sel = (mag > cmin) & (dist < tau)
                            o[sel] = pal[idx[sel]]
                        o = np.clip(o + 0.0, 0, 255).astype(np.uint8).reshape(raw.shape)
                        k = f"c{cmin}t{tau}"
                        acc.setdefault(k, []).append((psnr(to224(o), G), M.palette_fidelity(o, lut, masks[i])))
            res[f"{clip.name}|{lname}|{gap}"] = {k: np.mean(v, axis=0).tolist() for k, v in acc.items()}
            print(clip.name[:18], lname, gap, " ".join(f"{k}={v[0]:.2f}/{v[1]*100:.2f}" for k, v in res[f"{clip.name}|{lname}|{gap}"].items()), flush=True)
            json.dump(res, open(sys.argv[2], "w"))
