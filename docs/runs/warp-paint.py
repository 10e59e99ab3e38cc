"""The network's correction against the keys' warp it corrected, region by region, on the fixing
bench's synthetic cuts (docs/evaluation.md, "The warp's paint in small regions"):

    .venv/bin/python docs/runs/warp-paint.py 2024,0

Colours each cut (24 frames 960x540, keys 0 and 23) through the bench's own cut run with the
shipped model and records, for every sampled in-between, the network's guess and the warp it
corrected (``Guess.base``) as the paint decision receives them. A region (the engine's regions of
the drawing) is right when its most frequent colour is the true paint, as the bench counts.
Prints per cut how many regions the warp had right and the guess broke, and the other way round;
then the same among the small regions the warp fills with one paint (the ones
``imaging.paint_tracks.warped_paint`` gives back to the warp)."""
import sys

import numpy as np
import torch

torch.set_num_threads(2)
from opdm_studio.bench import fixes_bench as fb
from opdm_studio.engine import paint as P
from opdm_studio.engine.fixes import RegionCache
from opdm_studio.engine.models import load_model, resolve_model
from opdm_studio.imaging.paint_tracks import WARP_PAINT_AGREEMENT, WARP_PAINT_FRACTION
from opdm_studio.imaging.snapping import region_stats
from opdm_studio.synth.cut import generate_cut

SEEN = {}
measure = P.IntervalPainter.evidence


def evidence(self, f, guess, palette, keys=None):
    SEEN[f] = (guess.rgb, guess.base, palette)
    return measure(self, f, guess, palette, keys)


P.IntervalPainter.evidence = evidence
model = load_model(resolve_model(None), "cpu", "auto")
for seed in [int(s) for s in sys.argv[1].split(",")]:
    SEEN.clear()
    cut = generate_cut(24, (960, 540), seed)
    _, line = fb.colour_cut(cut, [0, 23], "model", model)
    regions = RegionCache(line, gap=3, capacity=60)
    count = dict(broke=0, mended=0, both_wrong=0, small_broke=0, small_mended=0, small_both=0,
                 small=0, regions=0)
    for f, (rgb, base, palette) in sorted(SEEN.items()):
        reg = regions.regions(f)
        truth = fb.region_colours(reg.labels, cut.colors[f])[1:]
        net = fb.region_colours(reg.labels, rgb)[1:] == truth
        warp = fb.region_colours(reg.labels, base)[1:] == truth
        st = region_stats(base, reg, palette, reg.line_mask)
        small = ((st.agreement >= WARP_PAINT_AGREEMENT) & (st.fraction <= WARP_PAINT_FRACTION)
                 & (st.palette_index >= 0))[1:]
        count["regions"] += len(truth)
        count["small"] += int(small.sum())
        for name, sel in (("", np.ones_like(small)), ("small_", small)):
            count[name + "broke"] += int((warp & ~net & sel).sum())
            count[name + "mended"] += int((~warp & net & sel).sum())
            count[name + ("both" if name else "both_wrong")] += int((~warp & ~net & sel).sum())
    print(f"cut {seed}: {len(SEEN)} sampled in-betweens, {count['regions']} regions; the network broke "
          f"{count['broke']} regions the warp had right and mended {count['mended']} "
          f"({count['both_wrong']} wrong in both); among the {count['small']} small regions the warp "
          f"fills with one paint: broke {count['small_broke']}, mended {count['small_mended']}, "
          f"wrong in both {count['small_both']}", flush=True)
