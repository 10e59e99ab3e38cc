"""A looser match for small regions when a fill is carried (docs/evaluation.md, "What the wrong
regions left could be given"), replayed on the fixing bench's synthetic cuts:

    .venv/bin/python docs/runs/small-region-carry.py 2024,0 base,a50,b50,a200

On the shipped decision's colours (docs/runs/warp-paint-replay.py keeps the guesses in
/tmp/warp_paint/SEED.pkl), the bench's clicks with carrying, the regions the fills were carried
to and how many of those hold another true paint than the click's. ``base``: the tracker as it
is; ``aN`` / ``bN``: where the match of a region fails and the region it lands on is under N px,
take it when at least 60 % (``a``) / 50 % (``b``) of the region's landed pixels fall in it and it
is that share made of them, counting only its pixels that come from paint (a sliver a pixel or
two wide lands largely on lines), the runner-up as before."""
import sys

import numpy as np
import torch

torch.set_num_threads(2)
import opdm_studio.imaging.tracking as T  # noqa: E402
from opdm_studio.bench import fixes_bench as fb  # noqa: E402
from opdm_studio.synth.cut import generate_cut  # noqa: E402

_src = open("docs/runs/warp-paint-replay.py").read().split("\nfor seed in")[0]
_ns: dict = {}
exec(compile(_src, "warp-paint-replay", "exec"), _ns)
MATCH = T.Correspondence.match


def looser(small, share):
    def match(self, label_a):
        m = MATCH(self, label_a)
        if m.sure or self.identical or m.label == 0 or self.areas_b[m.label] >= small:
            return m
        lo, hi = self._start[label_a], self._start[label_a + 1]
        bs, ns = self._b[lo:hi], self._n[lo:hi]
        order = np.argsort(-ns, kind="stable")
        best, n_best = int(bs[order[0]]), float(ns[order[0]])
        rival = float(ns[order[1]]) if len(order) > 1 else 0.0
        cover = n_best / max(float(self.landed_a[label_a]), 1.0)
        purity = n_best / max(float(self.landed_b[best]), 1.0)
        sure = cover >= share and purity >= share and rival <= T.MAX_RIVAL * n_best
        return T.Match(best, cover, purity, bool(sure))
    return match


def run(data, seed, cut):
    wrong = [0, 0]

    def count(fixer, frame, x, y, done):
        lab = fixer.regions.labels(frame)
        paint = fb.region_colours(lab, cut.colors[frame])[lab[y, x]]
        for g, gx, gy in done.fix.carried:
            lab_g = fixer.regions.labels(g)
            wrong[0] += fb.region_colours(lab_g, cut.colors[g])[lab_g[gy, gx]] != paint
            wrong[1] += 1
    r = _ns["replay_watching_fills"](data, seed, "shipped", count)
    return r["clicks"], wrong[1], wrong[0]

for seed in [int(s) for s in sys.argv[1].split(",")]:
    data = _ns["capture"](seed)
    cut = generate_cut(24, (960, 540), seed)
    for variant in sys.argv[2].split(","):
        T.Correspondence.match = MATCH if variant == "base" else looser(
            int(variant[1:]), 0.6 if variant[0] == "a" else 0.5)
        try:
            clicks, carried, other = run(data, seed, cut)
        finally:
            T.Correspondence.match = MATCH
        print(f"cut {seed} {variant}: {clicks} clicks with carrying, fills carried to {carried} regions, "
              f"{other} of them another paint", flush=True)
