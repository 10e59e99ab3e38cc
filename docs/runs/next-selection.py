"""Colour a selection, then the next selection of the same key interval, in one process (as the
app does), with the adapted network kept between the runs and without (docs/benchmarks.md):

    .venv/bin/python docs/runs/next-selection.py [CUT] [KEYS]

Defaults: the bundled sample cut, keys 0,12,23; the first run colours frames 1-5, the second
6-11 (both inside the interval 0-12). Prints each run's seconds (wall, CPU) and its adaptation
steps, for KEEP_ADAPTED = 2 (shipped) and 0 (adapt every run)."""
import sys
import tempfile
import time
from pathlib import Path

import torch

import opdm_studio.pipelines.adapt as adapt_module
from opdm_studio.engine.project import ColorizeSettings, Project
from opdm_studio.engine.run import Colorizer

cut = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parents[2] / "resources" / "sample_cut"
keys = [int(k) for k in (sys.argv[2] if len(sys.argv) > 2 else "0,12,23").split(",")]
torch.set_num_threads(2)
for keep in (2, 0):
    adapt_module.KEEP_ADAPTED = keep
    adapt_module.forget_adapted()
    with tempfile.TemporaryDirectory() as out:
        project = Project.create(cut, Path(out) / "p", keys=keys, settings=ColorizeSettings(method="model"))
        for frames in ([1, 2, 3, 4, 5], [6, 7, 8, 9, 10, 11]):
            t0, c0 = time.perf_counter(), time.process_time()
            events = list(Colorizer(project).run(frames=frames))
            steps = sum(e.kind == "step" and e.phase == "adapt" for e in events)
            print(f"keep {keep}: frames {frames[0]}-{frames[-1]}: {time.perf_counter() - t0:.1f} s, "
                  f"{time.process_time() - c0:.1f} CPU-s, {steps} adaptation steps", flush=True)
