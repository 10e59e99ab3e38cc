"""Keep the default pipeline's raw guesses (before snapping) of every protocol window, so that paint
decisions (snapping per frame, per track) can be compared on the same guesses without sampling again:

    .venv/bin/python docs/runs/cache-guesses.py resources/models/default.safetensors ../shared/evaldata OUT_DIR [GAPS]

Writes OUT_DIR/<clip>__<lines>__G<gap>__w<window>.npz holding ``raw`` (uint8 (N, H, W, 3), the
window's in-betweens in order) and ``seconds``. Exactly what `opdm-studio evaluate --model` samples
(the same FrameColorizer, interval and seeds)."""
import sys
import time
from pathlib import Path

import numpy as np
import torch

from opdm_studio.engine.frame import FrameColorizer
from opdm_studio.engine.models import load_model
from opdm_studio.engine.project import ColorizeSettings
from opdm_studio.evaluation.protocol import find_clips, protocol_lines, windows
from opdm_studio.pipelines.base import Interval

torch.set_num_threads(2)
model = load_model(sys.argv[1], "auto")
fc = FrameColorizer("model", model=model, settings=ColorizeSettings(method="model", snap="off", seed=0))
out_dir = Path(sys.argv[3])
out_dir.mkdir(parents=True, exist_ok=True)
gaps = [int(g) for g in (sys.argv[4] if len(sys.argv) > 4 else "8,16").split(",")]
for clip in find_clips(Path(sys.argv[2]), None, []):
    ex = [protocol_lines(f) for f in clip.frames]
    sources = [("extracted", [d for d, _ in ex])] + ([("hand-drawn", list(clip.lineart))] if clip.lineart else [])
    for lname, draws in sources:
        for gap in gaps:
            for wi, (a, b) in enumerate(windows(len(clip.frames), gap)):
                path = out_dir / f"{clip.name}__{lname}__G{gap}__w{wi}.npz"
                if path.exists():
                    continue
                lines = draws[a:b + 1]
                raws, secs = [], []
                for i in range(a + 1, b):
                    t0 = time.perf_counter()
                    iv = Interval(key=("window", id(lines)), load=lambda lines=lines: lines,
                                  position=i - a, length=b - a + 1)
                    out = fc.colorize(draws[i], clip.frames[a], clip.frames[b], draws[a], draws[b],
                                      t=(i - a) / (b - a), interval=iv)
                    raws.append(out.raw)
                    secs.append(time.perf_counter() - t0)
                np.savez(path, raw=np.stack(raws), seconds=np.array(secs), a=a, b=b)
                print(path.name, f"{sum(secs):.1f} s", flush=True)
