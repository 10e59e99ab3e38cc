"""Measured 2026-11-30 (docs/model.md, "Adapting to the keys"):

    CHECK=0,15,40 .venv/bin/python docs/runs/adapt-keys.py resources/models/default.safetensors OUT.json ../shared/evaldata/AniDoc_sample1 ...

Test-time adaptation of the refine network on the interval's own keys (key A warped through
the chain onto key B's drawing -> key B's colours, and back), then the in-betweens coloured as
the shipped spec does. PSNR@224 before/after N steps; weights restored for every window."""
import copy
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch
from protocol_windows import window_inputs  # docs/runs/protocol_windows.py

from opdm_studio.engine.models import load_model
from opdm_studio.evaluation.protocol import load_clip, protocol_lines, to224
from opdm_studio.imaging.flow import FLOW_SIZE
from opdm_studio.pipelines import make_pipeline
from opdm_studio.pipelines.base import resize
from opdm_studio.pipelines.opdm import NetworkInputs, to_full_size
from training.compare import psnr
from training.config import TrainConfig
from training.objectives import RefineObjective

torch.set_num_threads(2)
lm = load_model(sys.argv[1], "cpu", "fp32")
out_json = sys.argv[2]
CHECK = [int(x) for x in os.environ.get("CHECK", "0,15,40").split(",")]
LR = float(os.environ.get("LR", "1e-4"))
CROP = int(os.environ.get("CROP", "128"))
pipe = make_pipeline("model", lm.inference, lm.model, lm.device, lm.dtype, flow_size=FLOW_SIZE)
model, diff, spec = lm.model, pipe.diffusion, pipe.spec
for p_ in model.parameters(): p_.requires_grad_(True)
torch.set_grad_enabled(True)
base_state = copy.deepcopy(model.state_dict())
cfg = TrainConfig()
obj = RefineObjective(model, diff, cfg, spec)

def x0_of(line_t, prev_t, next_t, prop_t):
    model.eval()
    with torch.no_grad():
        cond = model.encode_conditions(line_t, prev_t, next_t)
        tt = torch.full((1,), spec.t_start, dtype=torch.long)
        g = torch.Generator().manual_seed(0)
        x_t = diff.q_sample(prop_t, tt, torch.randn(prop_t.shape, generator=g))
        return model.denoise(x_t, tt, line_t, cond).float().clamp(-1, 1)

def tens(net, img, pad):
    return net.tensor(net.small(img, pad)).float()

results = {}
for path in sys.argv[3:]:
    clip = load_clip(Path(path), [])
    ex = [protocol_lines(f)[0] for f in clip.frames]
    for gap in (8, 16):
        acc = {}
        t0 = time.time(); tsteps = 0.0
        for _a, _b, window in window_inputs(clip.frames, ex, gap):
            model.load_state_dict(base_state)
            pipe.reset()
            frames = []
            for i, inp in window:
                prop, small = pipe.flow.propagate(inp)
                h, w = ex[i].shape
                P = (prop.rgb if small is None else resize(prop.rgb, (w, h))).astype(np.float32)
                net = NetworkInputs(w, h, pipe.working_size, lm.device, lm.dtype)
                ps = net.small(prop.rgb, None)
                frames.append(dict(P=P, net=net, ps=ps, w=w, h=h, G=to224(clip.frames[i]),
                                   t=[tens(net, ex[i], 255), tens(net, prop.warp_prev, None), tens(net, prop.warp_next, None), net.tensor(ps).float()],
                                   g=np.clip(1 - resize(prop.confidence, (net.rw, net.rh)), 0, 1)[..., None]))
            items = []
            for warp, conf, tline, trgb in pipe.flow.across_keys(inp):   # the pipeline's own pairs
                net = NetworkInputs(w, h, pipe.working_size, lm.device, lm.dtype)
                wt = tens(net, warp, None)
                c = torch.from_numpy(net.small(conf, None).astype(np.float32))[None, None]
                items.append(dict(line=tens(net, tline, 255), prev=wt, next=wt, prop=wt, target=tens(net, trgb, None), confidence=c))
            opt = torch.optim.Adam(model.parameters(), lr=LR)
            gen = torch.Generator().manual_seed(1)
            rng = np.random.default_rng(0)
            step = 0
            for n in CHECK:
                ts = time.time()
                while step < n:
                    model.train()
                    batch = {k: [] for k in items[0]}
                    for _ in range(4):
                        it = items[rng.integers(len(items))]
                        H, W = it["line"].shape[-2:]
                        cy, cx = rng.integers(0, H - CROP + 1), rng.integers(0, W - CROP + 1)
                        flip = rng.random() < 0.5
                        for k, v in it.items():
                            v = v[..., cy:cy + CROP, cx:cx + CROP]
                            batch[k].append(torch.flip(v, dims=[3]) if flip else v)
                    batch = {k: torch.cat(v) for k, v in batch.items()}
                    loss = obj(batch, gen)["loss"]
                    opt.zero_grad(); loss.backward(); opt.step(); step += 1
                tsteps += time.time() - ts
                for f in frames:
                    net = f["net"]
                    x = x0_of(*f["t"])
                    corr = (net.image(x) - f["ps"][:net.rh, :net.rw].astype(np.float32)) * f["g"]
                    for s in (0.5, 1.0):
                        o = np.clip(f["P"] + to_full_size((corr * s).astype(np.float32), f["w"], f["h"]) + 0.5, 0, 255).astype(np.uint8)
                        acc.setdefault(f"n{n}@{s}", []).append(psnr(to224(o), f["G"]))
                    if n == CHECK[0]:
                        o = np.clip(f["P"] + 0.5, 0, 255).astype(np.uint8)
                        acc.setdefault("flow", []).append(psnr(to224(o), f["G"]))
        results[f"{clip.name}|{gap}"] = acc
        print(clip.name[:20], gap, len(acc["flow"]), f"{time.time()-t0:.0f}s train {tsteps:.0f}s", " ".join(f"{k}={np.mean(v):.2f}" for k, v in acc.items()), flush=True)
        json.dump(results, open(out_json, "w"))
