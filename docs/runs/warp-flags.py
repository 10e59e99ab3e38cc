"""Per-region warp confidence against wrong regions on cached real windows (docs/evaluation.md, "Review flags on the real clips"):

    .venv/bin/python docs/runs/warp-flags.py "EISAI_konobi*"

Needs docs/runs/cache-guesses.py's guesses in /tmp/guesses and docs/runs/paint-decisions-real.py beside it."""
import glob
import os
import re
import sys

import numpy as np

sys.argv = sys.argv[:1] + sys.argv[1:]
import importlib.util

_spec = importlib.util.spec_from_file_location("paint_real", __file__.replace("warp-flags.py", "paint-decisions-real.py"))
_real = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_real)
clip, RegionCache = _real.clip, _real.RegionCache
from opdm_studio.engine.paint import region_means
from opdm_studio.imaging.flow import FLOW_SIZE
from opdm_studio.pipelines.base import FrameInputs, Interval
from opdm_studio.pipelines.flow import FlowPipeline

pat = sys.argv[1] if len(sys.argv) > 1 else "*"
rows = []
for path in sorted(glob.glob(f"/tmp/guesses/{pat}.npz")):
    name, lname, g, w = re.match(r"(.*)__(.*)__G(\d+)__w(\d+)\.npz", os.path.basename(path)).groups()
    d = np.load(path); raws = list(d["raw"]); a, b = int(d["a"]), int(d["b"])
    c, ex = clip(name); draws = [x for x, _ in ex] if lname == "extracted" else list(c.lineart)
    lines = draws[a:b + 1]
    fp = FlowPipeline(FLOW_SIZE, True, agreement=False)
    rc = RegionCache(lambda j, lines=lines: lines[j], gap=3)
    for j in range(1, b - a):
        inp = FrameInputs(lines[j], c.frames[a], c.frames[b], lines[0], lines[-1], t=j / (b - a), pair=("w", path),
                          interval=Interval(key=("w", path), load=lambda lines=lines: lines, position=j, length=b - a + 1))
        prop, small = fp.propagate(inp)
        conf = prop.confidence
        reg = rc.regions(j); lab = reg.labels; n = reg.count + 1
        wm = region_means(reg, conf)
        gt = c.frames[a + j]; out = raws[j - 1]
        close = (np.abs(out.astype(np.int16) - gt.astype(np.int16)).max(axis=2) <= 24)
        area = np.maximum(np.bincount(lab.ravel(), minlength=n), 1)
        wrong = np.bincount(lab.ravel(), weights=close.ravel(), minlength=n) / area < 0.9
        for k in range(1, n):
            rows.append((wm[k], wrong[k], area[k] / lab.size))
r = np.array(rows, dtype=float)
wm, wr, ar = r[:, 0], r[:, 1] > 0.5, r[:, 2]
print("regions", len(r), "wrong", wr.sum())
for th in (0.2, 0.3, 0.4, 0.5, 0.6, 0.7):
    f = wm < th
    print(th, "flagged", f.sum(), "recall", round((f & wr).sum() / max(wr.sum(), 1), 3), "precision", round((f & wr).sum() / max(f.sum(), 1), 3), "area share flagged", round(ar[f].sum() / max(ar.sum(), 1e-9), 3))
