"""The refine recipe's own data (``synth-refine``): synthetic cuts generated on the fly, line art
made from their colour frames as the evaluation protocol makes it, flow at the cut's size.

This is what trained the shipped default model (docs/model.md). Items have the keys of a
warped triplet (training/triplets.py, ``refs`` "flow-warped" or "chain-warped"), so the refine
objective trains on either: ``line``, ``prev`` / ``next`` (the keys warped onto the target, matched
directly or chained through the in-between drawings), ``prop`` (their two-key propagation),
``target``, ``confidence`` and ``t``.

Items are keyed like triplets (the key seeds every choice), so a run resumes exactly; ``uses``
neighbouring keys share one cut, and the sampler keeps them in order (``shuffle = False``).
"""
from __future__ import annotations

from collections import OrderedDict

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset

from training.triplets import WARPED, color_tensor, line_tensor, warp_keys


def protocol_drawing(rgb: np.ndarray) -> np.ndarray:
    """Binary line drawing (0 ink / 255 paper) of a colour frame, as the evaluation protocol makes it."""
    from opdm_studio.imaging.lineart import extract_lines, line_mask_from_darkness
    return np.where(line_mask_from_darkness(extract_lines(rgb)), 0, 255).astype(np.uint8)


class SynthRefineDataset(Dataset):
    """Refine examples from synthetic cuts (key // uses picks the cut): views whose short side is
    ``size`` (zoomed by up to 1.25), cropped to ``crop`` x ``crop`` (default ``size``)."""

    shuffle = False      # neighbouring keys share a cut: generating it once serves ``uses`` items
    CACHE_CUTS = 4

    def __init__(self, size: int = 128, seed: int = 0, gap: tuple[int, int] = (3, 16),
                 cut_size: tuple[int, int] = (224, 320), frames: int = 24, uses: int = 24,
                 cuts_per_epoch: int = 100, crop: int = 0, refs: str = "chain-warped") -> None:
        if size % 16 or crop % 16 or crop > size:
            raise ValueError(f"working size and crop must be multiples of 16, crop <= size; got {size}, {crop}")
        if refs not in WARPED:
            raise ValueError(f"refs must be one of {WARPED}, got {refs!r}")
        self.refs = refs
        self.size, self.seed, self.gap, self.cut_size = size, seed, gap, cut_size
        self.crop = crop or size
        self.frames, self.uses, self.cuts_per_epoch = frames, max(1, uses), cuts_per_epoch
        self._cache: OrderedDict[int, tuple[np.ndarray, dict[int, np.ndarray]]] = OrderedDict()

    def __len__(self) -> int:
        return self.cuts_per_epoch * self.uses

    def __getstate__(self) -> dict:
        # Worker processes regenerate cuts instead of receiving them through a pipe.
        return {**self.__dict__, "_cache": OrderedDict()}

    def _cut(self, cut_key: int) -> tuple[np.ndarray, dict[int, np.ndarray]]:
        """The colour frames of cut ``cut_key`` and its (lazily drawn) protocol line art."""
        hit = self._cache.get(cut_key)
        if hit is not None:
            self._cache.move_to_end(cut_key)
            return hit
        from opdm_studio.synth.cut import generate_cut
        rng = np.random.default_rng([self.seed, cut_key, 7])
        lo, hi = self.cut_size
        w, h = (int(rng.integers(lo, hi + 1)) for _ in range(2))
        cut = generate_cut(self.frames, (w, h), seed=int(rng.integers(0, 2 ** 31 - 1)),
                           background="flat" if rng.random() < 0.7 else "gradient")
        hit = (cut.colors, {})
        self._cache[cut_key] = hit
        while len(self._cache) > self.CACHE_CUTS:
            self._cache.popitem(last=False)
        return hit

    def __getitem__(self, key: int) -> dict[str, torch.Tensor]:
        key = int(key)
        colors_all, lines_all = self._cut(key // self.uses)
        rng = np.random.default_rng([self.seed, key])
        n = len(colors_all)
        g = int(rng.integers(self.gap[0], min(self.gap[1], n - 1) + 1))
        p = int(rng.integers(0, n - g))
        q = p + g
        j = int(rng.integers(p + 1, q))
        if rng.random() < 0.5:   # time runs both ways in a cut: keys swap roles
            p, q = q, p
        step = 1 if q > p else -1
        span = range(p, q + step, step) if self.refs == "chain-warped" else (p, j, q)
        for i in span:
            if i not in lines_all:
                lines_all[i] = protocol_drawing(colors_all[i])
        t = abs(j - p) / float(abs(q - p))
        between = [lines_all[i] for i in range(p + step, q, step)] if self.refs == "chain-warped" else None
        # Flow at the cut's size (<= 320 px: below the engine's flow size), as the pipeline warps.
        refs = warp_keys(lines_all[j], colors_all[p], lines_all[p], colors_all[q], lines_all[q], t,
                         flow_size=0, between=between, position=abs(j - p))
        # Flow at the cut's size, then everything area-resized: what the engine does with frames.
        h, w = lines_all[j].shape
        scale = self.size / float(min(w, h)) * float(rng.uniform(1.0, 1.25))
        rw, rh = max(self.size, int(round(w * scale))), max(self.size, int(round(h * scale)))
        c = self.crop
        x0 = int(rng.integers(0, rw - c + 1))
        y0 = int(rng.integers(0, rh - c + 1))

        def fit(img: np.ndarray) -> np.ndarray:
            out = cv2.resize(img, (rw, rh), interpolation=cv2.INTER_AREA)
            return np.ascontiguousarray(out[y0:y0 + c, x0:x0 + c])

        conf = fit(refs.confidence.astype(np.float32))
        return {"line": line_tensor(fit(lines_all[j])), "prev": color_tensor(fit(refs.warp_prev)),
                "next": color_tensor(fit(refs.warp_next)), "prop": color_tensor(fit(refs.rgb)),
                "target": color_tensor(fit(colors_all[j])), "confidence": torch.from_numpy(conf)[None],
                "t": torch.tensor(t, dtype=torch.float32)}
