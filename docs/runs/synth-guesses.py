"""The fixing bench's synthetic cuts (seeds given, 24 frames 960x540, keys 0 and 23) coloured by the
engine's cut run with the shipped model, snapping off; the raw guesses kept in /tmp/synth_guess/SEED.npz
for docs/runs/paint-decisions-synth.py:

    .venv/bin/python docs/runs/synth-guesses.py 2024,0,1,2
"""
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

torch.set_num_threads(2)
from opdm_studio.engine.models import load_model, resolve_model
from opdm_studio.engine.project import ColorizeSettings, Project
from opdm_studio.engine.run import Colorizer
from opdm_studio.synth.cut import generate_cut, write_cut

model = load_model(resolve_model(None), "cpu", "auto")
for seed in [int(s) for s in sys.argv[1].split(",")]:
    out = Path(f"/tmp/synth_guess/{seed}.npz")
    if out.exists(): continue
    out.parent.mkdir(exist_ok=True)
    cut = generate_cut(24, (960, 540), seed)
    keys = [0, 23]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        write_cut(folder / "cut", keyframes=keys, cut=cut)
        settings = ColorizeSettings(method="model", device="cpu", snap="off", layers=["color"])
        project = Project.create(folder / "cut", folder / "out", keys=keys, settings=settings)
        raws = {}
        for ev in Colorizer(project, model=model).run():
            if ev.kind == "done" and ev.output is not None and ev.result is not None and ev.result.status != "keyframe":
                raws[ev.index] = ev.output.raw
        lines = np.stack([project.cut.line(i) for i in range(len(project.cut))])
    idx = sorted(raws)
    np.savez(out, idx=np.array(idx), raw=np.stack([raws[i] for i in idx]), lines=lines)
    print(seed, len(idx), flush=True)
