"""Measured 2026-11-30 on the shipped weights at strength 0.5 (docs/model.md, "Adapting to the keys"):

    .venv/bin/python docs/runs/refine-test-time.py resources/models/default.safetensors OUT.json CLIP...
    WS=224,320,448 .venv/bin/python docs/runs/refine-test-time.py MODEL OUT.json CLIP...

Without WS: test-time averaging of the refine network's correction (several noise draws, zero
noise, h-flip); with WS: the network run at those working sizes (short side), one noise draw.
Per frame: the shipped refine pipeline's propagation, the network run per variant, the gated
correction at strengths 0.5/0.7/1; PSNR@224 over the protocol's windows (extracted lines)."""
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch
from protocol_windows import window_inputs  # docs/runs/protocol_windows.py

from opdm_studio.core.device import inference
from opdm_studio.engine.models import load_model
from opdm_studio.evaluation.protocol import load_clip, protocol_lines, to224
from opdm_studio.imaging.flow import FLOW_SIZE
from opdm_studio.pipelines import make_pipeline
from opdm_studio.pipelines.base import resize
from opdm_studio.pipelines.opdm import NetworkInputs, to_full_size
from training.compare import psnr

torch.set_num_threads(2)
WS = [int(x) for x in os.environ['WS'].split(',')] if os.environ.get('WS') else []
lm = load_model(sys.argv[1], "cpu")
out_json = sys.argv[2]
pipe = make_pipeline("model", lm.inference, lm.model, lm.device, lm.dtype, flow_size=FLOW_SIZE)
model, diff, spec = lm.model, pipe.diffusion, pipe.spec
T0 = spec.t_start

def x0_of(line_t, prev_t, next_t, prop_t, noise):
    with inference(lm.device, lm.dtype):
        cond = model.encode_conditions(line_t, prev_t, next_t)
        tt = torch.full((1,), T0, dtype=torch.long)
        x_t = diff.q_sample(prop_t.float(), tt, noise)
        return model.denoise(x_t.to(prop_t.dtype), tt, line_t, cond).float().clamp(-1, 1)

def noise_of(seed, shape):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(shape, generator=g)

fl = lambda t: torch.flip(t, dims=[3])
results = {}
for path in sys.argv[3:]:
    clip = load_clip(Path(path), [])
    ex = [protocol_lines(f)[0] for f in clip.frames]
    for gap in (8, 16):
        acc = {}
        t0 = time.time()
        for _a, _b, frames in window_inputs(clip.frames, ex, gap):
            pipe.reset()
            for i, inp in frames:
                prop, small = pipe.flow.propagate(inp)
                h, w = ex[i].shape
                P = (prop.rgb if small is None else resize(prop.rgb, (w, h))).astype(np.float32)
                G = to224(clip.frames[i])
                def score(corr, P=P, w=w, h=h, G=G):
                    o = np.clip(P + to_full_size(corr.astype(np.float32), w, h) + 0.5, 0, 255).astype(np.uint8)
                    return psnr(to224(o), G)
                acc.setdefault("flow", []).append(score(np.zeros((8, 8, 3), np.float32)))
                for ws in WS or [pipe.working_size]:
                    net = NetworkInputs(w, h, ws, lm.device, lm.dtype)
                    ps = net.small(prop.rgb, None)
                    line_t = net.tensor(net.small(ex[i], 255))
                    prev_t = net.tensor(net.small(prop.warp_prev, None))
                    next_t = net.tensor(net.small(prop.warp_next, None))
                    prop_t = net.tensor(ps)
                    shp = tuple(prop_t.shape)
                    n0 = noise_of(0, shp)
                    xs = {"base" if not WS else f"ws{ws}": x0_of(line_t, prev_t, next_t, prop_t, n0)}
                    if not WS:
                        ks = [xs["base"]] + [x0_of(line_t, prev_t, next_t, prop_t, noise_of(s, shp)) for s in (1, 2, 3)]
                        xs["k4"] = sum(ks) / 4
                        xs["zero"] = x0_of(line_t, prev_t, next_t, prop_t, torch.zeros(shp))
                        xf = fl(x0_of(fl(line_t), fl(prev_t), fl(next_t), fl(prop_t), fl(n0)))
                        xs["flip2"] = (xs["base"] + xf) / 2
                        xf1 = fl(x0_of(fl(line_t), fl(prev_t), fl(next_t), fl(prop_t), noise_of(1, shp)))
                        xs["k2flip2"] = (xs["base"] + ks[1] + xf + xf1) / 4
                    g = np.clip(1 - resize(prop.confidence, (net.rw, net.rh)), 0, 1)[..., None]
                    for k, x in xs.items():
                        c = (net.image(x) - ps[:net.rh, :net.rw].astype(np.float32)) * g
                        for s in (0.5, 0.7, 1.0):
                            acc.setdefault(f"{k}@{s}", []).append(score(c * s))
        results[f"{clip.name}|{gap}"] = acc
        print(clip.name[:20], gap, len(acc["flow"]), f"{time.time()-t0:.0f}s", " ".join(f"{k}={np.mean(v):.2f}" for k, v in acc.items()), flush=True)
        json.dump(results, open(out_json, "w"))
