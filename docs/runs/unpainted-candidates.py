"""What the regions the paint decision leaves wrong on the fixing bench's synthetic cuts could have
been given instead (docs/evaluation.md, "What the wrong regions left could be given"):

    .venv/bin/python docs/runs/unpainted-candidates.py 2024,0

Replays the engine's own decision (``IntervalPainter.decide`` with the warp, as shipped) on the
guesses docs/runs/warp-paint-replay.py keeps in /tmp/warp_paint/SEED.pkl (made there on first
use), then, over the sampled in-betweens:

- every region left unpainted (its guess kept, or decided alone), by how it was decided: how many
  are right now, and how many would be with the guess's nearest paint, the keys' warp's nearest
  paint, or the track's paint as snapping ``all`` gives it;
- every region under 50 px: right now, and with the nearest paint of the median of its pixels
  brighter than line ink in the guess or in the warp; and whether its nearest neighbour region's
  true paint is its own (a sliver of the paint around it);
- the bench's clicks with carrying on that decision, by the size of the region clicked;
- the small regions pinched off another one diagonally (a 1 px channel between two lines), and
  whether the region they touch holds their paint."""
import sys
from collections import Counter

import cv2
import numpy as np
import torch

torch.set_num_threads(2)
from opdm_studio.bench import fixes_bench as fb  # noqa: E402
from opdm_studio.engine import paint as P  # noqa: E402
from opdm_studio.engine.fixes import RegionCache  # noqa: E402
from opdm_studio.imaging.snapping import region_stats  # noqa: E402
from opdm_studio.pipelines.base import Guess  # noqa: E402
from opdm_studio.synth.cut import generate_cut  # noqa: E402

_src = open("docs/runs/warp-paint-replay.py").read().split("\nfor seed in")[0]
_ns: dict = {}
exec(compile(_src, "warp-paint-replay", "exec"), _ns)
capture = _ns["capture"]
SOURCES = ["alone", "key", "vote", "kept", "several"]
SMALL = 50


def decide(data, regions, mode):
    guesses = {f: Guess(rgb.copy(), conf, base) for f, (rgb, conf, base) in data["guesses"].items()}
    return P.IntervalPainter(regions, mode).decide(data["palette"], data["keys"], guesses)


def bright_paint(img, lab, k, colours):
    """Nearest paint of the median of region k's pixels brighter than line ink (-1: none)."""
    px = img[lab == k].astype(np.float32)
    px = px[px.max(1) > fb.INK_LEVEL]
    if not len(px):
        return -1
    return int(np.argmin(((colours - np.median(px, 0)) ** 2).sum(1)))


def is_paint(p, code, true):
    """Whether palette index ``p`` (-1: none) is the true colour ``true`` (packed)."""
    return bool(p >= 0 and code[p] == true)


def clicks_by_size(data, seed):
    """The bench's clicks with carrying on the shipped decision, by the clicked region's size:
    clicks, regions the fills were carried to, why carrying stopped (per side)."""
    out = Counter()

    def count(fixer, frame, x, y, done):
        lab = fixer.regions.labels(frame)
        area = int((lab == lab[y, x]).sum())
        size = "under 50 px" if area < SMALL else ("50-499 px" if area < 500 else "500 px or more")
        out[(size, "clicks")] += 1
        out[(size, "carried to")] += len(done.fix.carried)
        for why in done.fix.stops:
            out[(size, f"stopped: {why}")] += 1
    r = _ns["replay_watching_fills"](data, seed, "shipped", count)
    print(f"  clicks with carrying {r['clicks']} ({r['wrong_at_start']} wrong regions at the start), by the clicked region's size:")
    for size in ("under 50 px", "50-499 px", "500 px or more"):
        print(f"    {size}: " + ", ".join(f"{k[1]} {v}" for k, v in sorted(out.items()) if k[0] == size))


def diagonal_slivers(data, seed, cut):
    """Regions under 64 px, over all 24 drawings, that touch another region only diagonally across
    two ink pixels (a pinch a 4-connected fill does not cross): how many, and how often the
    region they touch so most holds their true paint (what merging them into it would give)."""
    regions = RegionCache(data["lines"].__getitem__, gap=3, capacity=60)
    out = Counter()
    for f in range(len(data["lines"])):
        lab = regions.labels(f)
        truth = fb.region_colours(lab, cut.colors[f])
        areas = np.bincount(lab.ravel(), minlength=len(truth))
        found = []
        for a, b, c, d in ((lab[:-1, :-1], lab[1:, 1:], lab[1:, :-1], lab[:-1, 1:]),
                           (lab[:-1, 1:], lab[1:, :-1], lab[1:, 1:], lab[:-1, :-1])):
            m = (a > 0) & (b > 0) & (a != b) & (c == 0) & (d == 0)
            found.append(np.stack([a[m], b[m]], 1))
        pairs, touches = np.unique(np.sort(np.concatenate(found), 1), axis=0, return_counts=True)
        for k in np.flatnonzero(areas < 64):
            if k == 0:
                continue
            out["regions under 64 px"] += 1
            sel = (pairs[:, 0] == k) | (pairs[:, 1] == k)
            if sel.any():
                other = np.where(pairs[sel, 0] == k, pairs[sel, 1], pairs[sel, 0])
                out["touching another diagonally"] += 1
                out["the one touched most holds their paint"] += bool(
                    truth[other[np.argmax(touches[sel])]] == truth[k])
    print("  " + ", ".join(f"{n} {v}" for n, v in out.items()))


def main():
    for seed in [int(s) for s in sys.argv[1].split(",")]:
        data = capture(seed)
        cut = generate_cut(24, (960, 540), seed)
        regions = RegionCache(data["lines"].__getitem__, gap=3, capacity=60)
        palette = data["palette"]
        colours = palette.colors.astype(np.float32)
        cols = palette.colors.astype(np.int64)
        code = (cols[:, 0] << 16) | (cols[:, 1] << 8) | cols[:, 2]
        auto, every = decide(data, regions, "auto"), decide(data, regions, "all")
        kept, small = Counter(), Counter()
        for f, fd in auto.items():
            reg = regions.regions(f)
            lab = reg.labels
            truth = fb.region_colours(lab, cut.colors[f])
            paint = fd.paint.paint
            shown = np.where(paint >= 0, code[np.maximum(paint, 0)], fb.region_colours(lab, fd.stats.guess))
            base = data["guesses"][f][2]
            warp = region_stats(base, reg, palette, reg.line_mask).palette_index
            own = fd.stats.palette_index
            areas = np.bincount(lab.ravel(), minlength=len(truth))

            for k in range(1, len(truth)):
                if paint[k] < 0:
                    s = SOURCES[fd.paint.source[k]]
                    kept[(s, "regions")] += 1
                    kept[(s, "right now")] += bool(truth[k] == shown[k])
                    kept[(s, "guess's paint")] += is_paint(own[k], code, truth[k])
                    kept[(s, "warp's paint")] += is_paint(warp[k], code, truth[k])
                    kept[(s, "track's paint")] += is_paint(every[f].paint.paint[k], code, truth[k])
                if areas[k] < SMALL:
                    small["regions"] += 1
                    small["right now"] += bool(truth[k] == shown[k])
                    small["guess, bright pixels"] += is_paint(bright_paint(fd.stats.guess, lab, k, colours), code, truth[k])
                    small["warp, bright pixels"] += is_paint(bright_paint(base, lab, k, colours), code, truth[k])
                    m = (lab == k).astype(np.uint8)
                    ring = cv2.dilate(m, np.ones((9, 9), np.uint8)).astype(bool) & (lab > 0) & (lab != k)
                    if ring.any():
                        j = int(np.argmax(np.bincount(lab[ring])))
                        small["nearest neighbour's true paint"] += bool(truth[j] == truth[k])
        print(f"cut {seed}, {len(auto)} sampled in-betweens")
        for s in SOURCES:
            if kept[(s, "regions")]:
                print(f"  unpainted, {s}: " + ", ".join(f"{n} {kept[(s, n)]}" for n in (
                    "regions", "right now", "guess's paint", "warp's paint", "track's paint")))
        print("  under 50 px: " + ", ".join(f"{n} {v}" for n, v in small.items()))
        clicks_by_size(data, seed)
        diagonal_slivers(data, seed, cut)


main()
