"""Side by side: one frame of a cut coloured by two commits (docs/images/warp-paint-sample-cut.png):

    (cd WORKTREE_BEFORE && python -m opdm_studio colorize resources/sample_cut --keys 0,12,23 --out /tmp/before -q)
    (cd WORKTREE_AFTER && python -m opdm_studio colorize resources/sample_cut --keys 0,12,23 --out /tmp/after -q)
    .venv/bin/python docs/runs/before-after.py /tmp/before /tmp/after sample_cut_0005.png docs/images/warp-paint-sample-cut.png

Crops both composites to where they differ (20 px around), before on the left; prints how many
pixels differ on every frame the two folders share."""
import sys
from pathlib import Path

import cv2
import numpy as np

before, after, name, out = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3], sys.argv[4]
for p in sorted(before.glob("*.png")):
    if (after / p.name).exists():
        a, b = cv2.imread(str(p)), cv2.imread(str(after / p.name))
        print(p.name, int((np.abs(a.astype(int) - b).max(2) > 0).sum()), "pixels differ")
a, b = cv2.imread(str(before / name)), cv2.imread(str(after / name))
ys, xs = np.nonzero(np.abs(a.astype(int) - b).max(2) > 0)
y0, y1 = max(ys.min() - 20, 0), ys.max() + 20
x0, x1 = max(xs.min() - 20, 0), xs.max() + 20
cv2.imwrite(out, np.concatenate([a[y0:y1, x0:x1], np.full((y1 - y0, 8, 3), 255, np.uint8), b[y0:y1, x0:x1]], 1))
