"""Region-level corrections of the default pipeline's guesses, on cached guesses (docs/evaluation.md,
"Wrong regions against the chained flow: two more tries"):

    .venv/bin/python docs/runs/cache-guesses.py resources/models/default.safetensors ../shared/evaldata /tmp/guesses
    .venv/bin/python docs/runs/region-corrections.py cells128,cells256,dominant,pal0 [CLIP_GLOB]

Variants: ``revcellsN`` every paint region under N of the network's pixels keeps the chained
flow's pixels; ``cellsN`` every paint region under N of the network's pixels takes the mean of the
correction (guess - chained flow) over the region; ``medN`` the same under N pixels; ``dominant``
each region's pixels further than 24 levels from its dominant colour take that colour; ``palM``
the chained flow's pixels back in regions whose mean colour the correction moved further (by M
levels) from the keys' palette. Prints PSNR@224 and wrong paint regions per frame (the protocol's
measure) per gap and per clip, with the chained flow and the guesses as they are (off)."""
import glob
import importlib.util
import os
import re
import sys
from collections import defaultdict
from pathlib import Path

import cv2
import numpy as np

spec = importlib.util.spec_from_file_location("pdr", str(Path(__file__).with_name("paint-decisions-real.py")))
pdr = importlib.util.module_from_spec(spec); spec.loader.exec_module(pdr)
from opdm_studio.engine.fixes import RegionCache
from opdm_studio.engine.frame import FrameColorizer
from opdm_studio.engine.project import ColorizeSettings
from opdm_studio.evaluation import metrics as M
from opdm_studio.evaluation.protocol import to224


def dominant(img, lab, q=4):
    n = lab.max() + 1
    qi = (img >> q).astype(np.int64)
    code = (qi[..., 0] << 10) | (qi[..., 1] << 5) | qi[..., 2] if q == 3 else (qi[..., 0] << 8) | (qi[..., 1] << 4) | qi[..., 2]
    bits = 15 if q == 3 else 12
    m = lab > 0
    key = (lab[m].astype(np.int64) << bits) | code[m]
    u, inv, cnt = np.unique(key, return_inverse=True, return_counts=True)
    reg = u >> bits
    # best bin per region
    order = np.lexsort((-cnt, reg))
    first = np.ones(len(order), bool); first[1:] = reg[order][1:] != reg[order][:-1]
    best = order[first]
    best_key = np.full(n, -1, np.int64); best_key[reg[best]] = u[best]
    # mean colour of pixels in the best bin
    pix = img[m].astype(np.float64)
    inbin = key == best_key[lab[m]]
    sums = np.zeros((n, 3)); np.add.at(sums, lab[m][inbin], pix[inbin])
    c = np.bincount(lab[m][inbin], minlength=n)
    dom = sums / np.maximum(c, 1)[:, None]
    return dom, np.bincount(lab.ravel(), minlength=n)

def clean(img, lab, tol=24, lo=0.6, hi=0.999, mode="flat"):
    dom, area = dominant(img, lab)
    d = np.abs(img.astype(np.float64) - dom[lab]).max(axis=2)
    inl = (d <= tol) & (lab > 0)
    share = np.bincount(lab.ravel(), weights=inl.ravel(), minlength=len(area)) / np.maximum(area, 1)
    ok = (share >= lo) & (share < hi) & (area >= 16); ok[0] = False
    fix = ok[lab] & ~inl
    out = img.copy()
    if mode == "flat":
        out[fix] = np.round(dom[lab][fix]).astype(np.uint8)
    else:
        # nearest inlier of the same region
        src = (~inl).astype(np.uint8)
        _, idx = cv2.distanceTransformWithLabels(src, cv2.DIST_L2, 5, labelType=cv2.DIST_LABEL_PIXEL)
        ys, xs = np.nonzero(src == 0)
        lut_y = np.zeros(idx.max() + 1, np.int64); lut_x = np.zeros(idx.max() + 1, np.int64)
        lut_y[idx[ys, xs]] = ys; lut_x[idx[ys, xs]] = xs
        ny, nx = lut_y[idx], lut_x[idx]
        same = lab[ny, nx] == lab
        f2 = fix & same
        out[f2] = img[ny[f2], nx[f2]]
        f3 = fix & ~same
        out[f3] = np.round(dom[lab][f3]).astype(np.uint8)
    return out


def nearest_interior(lab, interior):
    src = (~interior).astype(np.uint8)
    _, idx = cv2.distanceTransformWithLabels(src, cv2.DIST_L2, 5, labelType=cv2.DIST_LABEL_PIXEL)
    ys, xs = np.nonzero(interior)
    lut_y = np.zeros(idx.max() + 1, np.int64); lut_x = np.zeros(idx.max() + 1, np.int64)
    lut_y[idx[ys, xs]] = ys; lut_x[idx[ys, xs]] = xs
    return lut_y[idx], lut_x[idx]

def variant(raw, fl, lab, v):
    corr = raw.astype(np.int16) - fl.astype(np.int16)
    if v.startswith("band"):
        d = int(v[4:])
        dist = cv2.distanceTransform((lab > 0).astype(np.uint8), cv2.DIST_L2, 5)
        interior = (dist > d) & (lab > 0)
        ny, nx = nearest_interior(lab, interior)
        same = (lab[ny, nx] == lab) & (lab > 0) & ~interior
        c2 = corr.copy(); c2[same] = corr[ny[same], nx[same]]
        # regions without interior: no correction in their band
        noint = (lab > 0) & ~interior & ~same
        c2[noint] = 0
        return np.clip(fl.astype(np.int16) + c2, 0, 255).astype(np.uint8)
    if v.startswith("revcells"):
        # small regions (under N of the network's pixels) keep the chained flow's pixels
        from opdm_studio.pipelines.base import working_geometry
        H, W = lab.shape
        rw, rh, _, _ = working_geometry(W, H, 224)
        A = int(v[8:]) * (W / rw) * (H / rh)
        n = lab.max() + 1
        area = np.bincount(lab.ravel(), minlength=n)
        small = area < A
        small[0] = False
        out = raw.copy()
        m = small[lab]
        out[m] = fl[m]
        return out
    if v.startswith("med") or v.startswith("cells"):
        # small regions (area < A) take the median correction of the region
        if v.startswith("cells"):
            from opdm_studio.pipelines.base import working_geometry
            H, W = lab.shape
            rw, rh, _, _ = working_geometry(W, H, 224)
            A = int(v[5:]) * (W / rw) * (H / rh)
        else:
            A = int(v[3:])
        n = lab.max() + 1
        area = np.bincount(lab.ravel(), minlength=n)
        out = raw.copy()
        small = (area < A); small[0] = False
        m = small[lab]
        if m.any():
            for c in range(3):
                s = np.bincount(lab[m], weights=corr[..., c][m], minlength=n) / np.maximum(area, 1)
                ch = fl[..., c].astype(np.float64) + s[lab]
                out[..., c][m] = np.clip(ch[m] + 0.5, 0, 255).astype(np.uint8)
        return out
    if v.startswith("pal"):
        margin = float(v[3:])
        n = lab.max() + 1
        area = np.maximum(np.bincount(lab.ravel(), minlength=n), 1)
        def means(img):
            return np.stack([np.bincount(lab.ravel(), weights=img[..., c].ravel().astype(np.float64), minlength=n) for c in range(3)], 1) / area[:, None]
        pal = PALETTE[0].astype(np.float64)
        def dist(m):
            return np.sqrt(((m[:, None, :] - pal[None]) ** 2).sum(2)).min(1)
        do, df = dist(means(raw)), dist(means(fl))
        rev = do > df + margin; rev[0] = False
        out = raw.copy(); m = rev[lab]; out[m] = fl[m]
        return out
    if v == "dominant":
        return clean(raw, lab)
    raise ValueError(v)

variants = sys.argv[1].split(",")
pattern = sys.argv[2] if len(sys.argv) > 2 else "*"
PALETTE = [None]
R = defaultdict(lambda: defaultdict(list))
for path in sorted(glob.glob(f"/tmp/guesses/{pattern}.npz")):
    name, lname, g, w = re.match(r"(.*)__(.*)__G(\d+)__w(\d+)\.npz", os.path.basename(path)).groups()
    if lname != "extracted": continue
    d = np.load(path); raws = list(d["raw"]); a, b = int(d["a"]), int(d["b"])
    c, ex = pdr.clip(name)
    draws = [x for x, _ in ex]
    fc = FrameColorizer("flow", settings=ColorizeSettings(method="flow", snap="off"))
    fc._use_pair(("w", path), c.frames[a], c.frames[b], draws[a], draws[b])
    PALETTE[0] = fc.palette.colors
    fl = pdr.flowchain(name, lname, a, b, draws, c)
    lines = draws[a:b + 1]
    rc = RegionCache(lambda j, lines=lines: lines[j], gap=3)
    for j in range(1, b - a):
        i = a + j
        gt = c.frames[i]; pr = M.paint_regions(ex[i][1]); g224 = to224(gt)
        lab = rc.regions(j).labels
        outs = {"off": fc.finish(raws[j - 1], draws[i]).composite, "flowchain": fl[j - 1]}
        for v in variants:
            outs[v] = fc.finish(variant(raws[j - 1], fl[j - 1], lab, v), draws[i]).composite
        for k, o in outs.items():
            R[k][(name, int(g))].append((M.psnr(to224(o), g224), M.region_score(o, gt, pr).wrong))
    print(path, flush=True, file=sys.stderr)
for G in (8, 16):
    for k in R:
        sel = [x for key, v in R[k].items() if key[1] == G for x in v]
        if not sel: continue
        print(f"G{G} {k:20s} psnr {np.mean([s[0] for s in sel]):.3f} wrong {np.mean([s[1] for s in sel]):.2f} n={len(sel)}")
for key in sorted({k for v in R.values() for k in v}):
    print(key, " | ".join(f"{k[:12]} {np.mean([s[0] for s in R[k][key]]):.2f}/{np.mean([s[1] for s in R[k][key]]):.1f}" for k in R))
