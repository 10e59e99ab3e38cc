"""Chained flow (the engine's FlowPipeline) at full resolution and at a 540 px flow size, PSNR@224
over the protocol's windows, extracted lines.

    .venv/bin/python docs/runs/flow-size.py ../shared/evaldata/Anita_readme_demo_sketch_color ...

(Measured before FLOW_SIZE_SLACK: today a 612 px frame runs at full size for both settings.)
"""
import sys
from pathlib import Path

import numpy as np

from opdm_studio.evaluation.protocol import load_clip, protocol_lines, to224, windows
from opdm_studio.pipelines.base import FrameInputs, Interval, resize
from opdm_studio.pipelines.flow import FlowPipeline
from training.compare import psnr

for path in sys.argv[1:]:
    clip = load_clip(Path(path), [])
    ex = [protocol_lines(f)[0] for f in clip.frames]
    for gap in (8, 16):
        res = {}
        for fs in (0, 540):
            fp = FlowPipeline(fs, chain=True, agreement=True)
            ps = []
            for a, b in windows(len(clip.frames), gap):
                lines = ex[a:b + 1]
                for i in range(a + 1, b):
                    iv = Interval(key=(a, b), load=lambda lines=lines: lines, position=i - a, length=b - a + 1)
                    prop, small = fp.propagate(FrameInputs(ex[i], clip.frames[a], clip.frames[b], ex[a], ex[b], t=(i-a)/(b-a), interval=iv))
                    h, w = ex[i].shape
                    P = prop.rgb if small is None else resize(prop.rgb, (w, h))
                    ps.append(psnr(to224(P), to224(clip.frames[i])))
            res[fs] = np.mean(ps)
        print(clip.name, gap, {k: round(v, 2) for k, v in res.items()}, flush=True)
