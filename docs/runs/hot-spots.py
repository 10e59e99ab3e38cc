"""Times of the per-frame hot spots made cheaper on 2026-12-07, old formula against today's function,
on one 1920x1080 frame (docs/benchmarks.md, "Less work for the same pixels"):

    .venv/bin/python docs/runs/hot-spots.py

Each line: the old numpy formula's seconds, the function's, both the best of 5, and whether the
results are equal; last, what creating torch.optim.Adam costs a fresh process (it imports
torch._dynamo) against the adaptation's own Adam."""
import subprocess
import sys
import time

import cv2
import numpy as np

from opdm_studio.imaging.lineart import rgb_lines_to_gray
from opdm_studio.imaging.palette import fast_lab
from opdm_studio.imaging.snapping import _lab_distance
from opdm_studio.pipelines.refine import _largest_channel


def best(fn, *args):
    times = []
    for _ in range(5):
        t = time.perf_counter()
        out = fn(*args)
        times.append(time.perf_counter() - t)
    return min(times), out


def old_gray(rgb):
    rgb16 = rgb.astype(np.int16)
    chroma = (rgb16.max(axis=2) - rgb16.min(axis=2)).astype(np.float32)
    f = rgb.astype(np.float32)
    luma = 0.299 * f[..., 0] + 0.587 * f[..., 1] + 0.114 * f[..., 2]
    return np.clip(255.0 - np.maximum(255.0 - luma, chroma) + 0.5, 0, 255).astype(np.uint8)


def old_lab(rgb):
    lab8 = cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2Lab).reshape(-1, 3)
    out = lab8.astype(np.float32)
    out[:, 0] *= np.float32(100.0 / 255.0)
    out[:, 1:] -= np.float32(128.0)
    return out


rng = np.random.default_rng(0)
drawing = np.full((1080, 1920, 3), 255, np.uint8)
drawing[rng.random((1080, 1920)) < 0.08] = (20, 20, 30)
guess = rng.integers(0, 256, (1080, 1920, 3), dtype=np.uint8)
a, b = fast_lab(guess), fast_lab(cv2.medianBlur(guess, 3))
corr = rng.normal(0, 10, (1080, 1920, 3)).astype(np.float32)
for name, old, new, args in (
        ("line art: luma and darkness", old_gray, rgb_lines_to_gray, (drawing,)),
        ("CIELAB codes to units", old_lab, fast_lab, (guess,)),
        ("CIELAB distances", lambda x, y: np.sqrt(((x - y) ** 2).sum(axis=1)), _lab_distance, (a, b)),
        ("moved-pixel mask", lambda c: np.abs(c).max(axis=2) > 8, lambda c: _largest_channel(np.abs(c)) > 8, (corr,))):
    t_old, r_old = best(old, *args)
    t_new, r_new = best(new, *args)
    print(f"{name}: {t_old:.3f} s -> {t_new:.3f} s, equal: {np.array_equal(r_old, r_new)}", flush=True)
for what, code in (("torch.optim.Adam", "torch.optim.Adam([p], lr=1e-4)"),
                   ("the adaptation's Adam", "Adam([p], lr=1e-4)")):
    script = ("import time, torch\nfrom opdm_studio.pipelines.adapt import Adam\n"
              "p = torch.nn.Parameter(torch.zeros(3))\nt = time.perf_counter()\n" + code +
              "\nprint(round(time.perf_counter() - t, 2))")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    print(f"creating {what} in a fresh process: {out.stdout.strip()} s")
