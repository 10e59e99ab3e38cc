"""Ceiling of any refine-spec weights: the refine pipeline's own composite with the network's x0
replaced by the truth at the working size (gate 1 - warp confidence, correction upsampled and added
at full size), against the flow propagation alone; PSNR@224 over the protocol's windows.

    .venv/bin/python docs/runs/refine-gate-ceiling.py [--direct] ../shared/evaldata/EISAI_konobi_s01e012_000339 ...

The references and the gate are those of the shipped spec (refs="chain-warped": flow chained
through the window's drawings, confidence without the keys' agreement); ``--direct`` measures the
earlier spec (each key matched to the drawing directly, refs="flow-warped").
"""
import sys
from pathlib import Path

import numpy as np

from opdm_studio.evaluation.protocol import load_clip, protocol_lines, to224, windows
from opdm_studio.imaging.flow import FLOW_SIZE
from opdm_studio.pipelines.base import FrameInputs, Interval, resize, working_geometry
from opdm_studio.pipelines.flow import FlowPipeline
from opdm_studio.pipelines.opdm import to_full_size
from training.compare import psnr

direct = "--direct" in sys.argv
for path in [a for a in sys.argv[1:] if a != "--direct"]:
    clip = load_clip(Path(path), [])
    ex = [protocol_lines(f)[0] for f in clip.frames]
    fp = FlowPipeline(FLOW_SIZE, chain=not direct, agreement=direct)
    for gap in (8, 16):
        pr, orc, n = [], [], 0
        for a, b in windows(len(clip.frames), gap):
            for i in range(a + 1, b):
                t = (i - a) / (b - a)
                lines = ex[a:b + 1]
                interval = Interval(key=(a, b), load=lambda lines=lines: lines, position=i - a, length=b - a + 1)
                prop, small = fp.propagate(FrameInputs(ex[i], clip.frames[a], clip.frames[b], ex[a], ex[b], t=t,
                                                       interval=interval))
                h, w = ex[i].shape
                P = prop.rgb if small is None else resize(prop.rgb, (w, h))
                rw, rh, _, _ = working_geometry(w, h, 224)
                corr = resize(clip.frames[i], (rw, rh)).astype(np.float32) - resize(prop.rgb, (rw, rh)).astype(np.float32)
                corr *= np.clip(1 - resize(prop.confidence, (rw, rh)), 0, 1)[..., None]
                out = np.clip(P.astype(np.float32) + to_full_size(corr, w, h) + 0.5, 0, 255).astype(np.uint8)
                G = to224(clip.frames[i])
                pr.append(psnr(to224(P), G)); orc.append(psnr(to224(out), G))
        print(f"{clip.name} G={gap} frames={len(pr)} prop={np.mean(pr):.2f} ceiling={np.mean(orc):.2f} (+{np.mean(orc)-np.mean(pr):.2f})", flush=True)
