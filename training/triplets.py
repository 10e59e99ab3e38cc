"""Training triplets: (previous key, target, next key) at the working size, the sampler that makes
a run exactly resumable, and batches.

Every item is keyed by an integer *key*: ``key % len`` picks the target frame and ``key`` seeds the
item's random choices (gap, crop, augmentation), so a run is reproducible and resumable whatever
the number of workers or processes.

Tensor conventions (docs/architecture.md): colour ``(3, H, W)`` in [-1, 1]; line art
``(1, H, W)`` in [-1, 1] with -1 = ink.
"""
from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset, DistributedSampler

from opdm_studio.errors import TrainingDataError
from opdm_studio.imaging.flow import FLOW_SIZE, Propagation
from training.config import MAX_GAP
from training.data import MIN_FRAMES, CutSource, DataReport
from training.plots import tensor_to_rgb

#: What a batch's references are: the keys as drawn, or the keys warped onto the target by flow
#: matched directly ("flow-warped") or chained through the in-between drawings ("chain-warped").
REFS = ("raw", "flow-warped", "chain-warped")
WARPED = ("flow-warped", "chain-warped")


@dataclass
class AugmentConfig:
    """Augmentations applied identically to the three frames of a triplet."""

    flip: float = 0.5          # probability of a horizontal flip
    rotate: float = 5.0        # max rotation, degrees
    scale: float = 0.08        # max relative zoom-in beyond the cover scale
    shift: float = 0.04        # max translation as a fraction of the working size
    hue: float = 1.0           # probability of a random hue rotation + channel permutation

    @classmethod
    def off(cls) -> AugmentConfig:
        """No augmentation (validation)."""
        return cls(flip=0.0, rotate=0.0, scale=0.0, shift=0.0, hue=0.0)


def _geometry(src_w: int, src_h: int, size: int, aug: AugmentConfig, rng: np.random.Generator) -> np.ndarray:
    """2x3 affine from the (pre-resized) source to the size x size output."""
    s = size / min(src_w, src_h)
    zoom = 1.0 + rng.uniform(0.0, aug.scale) if aug.scale > 0 else 1.0
    angle = rng.uniform(-aug.rotate, aug.rotate) if aug.rotate > 0 else 0.0
    # A rotation needs extra zoom so that no corner reads outside the image.
    rad = math.radians(abs(angle))
    zoom *= math.cos(rad) + math.sin(rad)
    cx = src_w / 2 + rng.uniform(-1, 1) * max(0.0, src_w - size / (s * zoom)) / 2
    cy = src_h / 2 + rng.uniform(-1, 1) * max(0.0, src_h - size / (s * zoom)) / 2
    m: np.ndarray = cv2.getRotationMatrix2D((cx, cy), angle, s * zoom)   # float64 (2, 3)
    m[0, 2] += size / 2 - cx
    m[1, 2] += size / 2 - cy
    if aug.shift > 0:
        m[:, 2] += rng.uniform(-aug.shift, aug.shift, 2) * size
    if rng.random() < aug.flip:
        m[0] = -m[0]
        m[0, 2] += size - 1
    return m


def _permute_colors(imgs: list[np.ndarray], rng: np.random.Generator) -> list[np.ndarray]:
    """Same random hue rotation and channel permutation on every image of the triplet.

    The network then cannot recall a character's colours from its shape: they must come from the
    references, which is what a colourist expects when the palette changes between productions.
    """
    shift = int(rng.integers(0, 180))
    perm = rng.permutation(3)
    out = []
    for img in imgs:
        hsv = cv2.cvtColor(img, cv2.COLOR_RGB2HSV)
        hsv[..., 0] = ((hsv[..., 0].astype(np.int32) + shift) % 180).astype(np.uint8)
        out.append(np.ascontiguousarray(cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)[..., perm]))
    return out


def color_tensor(img: np.ndarray) -> torch.Tensor:
    """uint8 (H, W, 3) RGB -> (3, H, W) float in [-1, 1]."""
    return torch.from_numpy(np.ascontiguousarray(img)).permute(2, 0, 1).float().div(127.5).sub(1.0)


def line_tensor(img: np.ndarray) -> torch.Tensor:
    """uint8 (H, W) drawing -> (1, H, W) float in [-1, 1], -1 = ink."""
    return torch.from_numpy(np.ascontiguousarray(img))[None].float().div(127.5).sub(1.0)


def area_resize(img: np.ndarray, scale: float) -> np.ndarray:
    """Downscale by ``scale`` (<= 1) with area averaging (thin lines survive); 1 = unchanged."""
    if scale >= 1.0:
        return img
    return cv2.resize(img, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)


class TripletDataset(Dataset):
    """(prev key, target, next key) triplets at ``size`` x ``size``; item ``key`` seeds its choices.

    Items are dicts of tensors: ``line`` (1,S,S), ``prev``/``target``/``next`` (3,S,S) and ``t``
    (position of the target between the keys, 0..1). With ``refs`` "flow-warped" or "chain-warped"
    (the refine objective) ``prev``/``next`` are the keys warped onto the target by line-art optical
    flow (matched directly, or chained through the cut's in-between drawings),
    ``prop`` (3,S,S) is their two-key propagation and ``confidence`` (1,S,S) in [0, 1] how well
    that warp explains the target's lines -- what the refine pipeline computes at inference, with
    its resizes (:func:`flow_warped_views`; flow at ``flow_size`` for big frames).
    """

    def __init__(self, cuts: Sequence[CutSource], size: int = 224, gap: tuple[int, int] = (2, MAX_GAP),
                 augment: AugmentConfig | None = None, seed: int = 0, refs: str = "raw",
                 flow_size: int = FLOW_SIZE, crop: int = 0) -> None:
        if size % 16:
            raise ValueError(f"working size must be a multiple of 16, got {size}")
        if crop % 16 or crop > size:
            raise ValueError(f"crop must be a multiple of 16 and at most the working size {size}, got {crop}")
        lo, hi = gap
        if not 2 <= lo <= hi:
            raise ValueError(f"gap range must satisfy 2 <= min <= max, got {gap}")
        if refs not in REFS:
            raise ValueError(f"refs must be one of {REFS}, got {refs!r}")
        self.cuts = [c for c in cuts if len(c) >= MIN_FRAMES]
        if not self.cuts:
            raise TrainingDataError("no cut with at least 3 frames to make training triplets from")
        self.size, self.gap, self.seed, self.refs = size, (lo, hi), seed, refs
        self.flow_size, self.crop = int(flow_size), int(crop or size)
        self.augment = augment if augment is not None else AugmentConfig()
        # Every interior frame of every cut is a target once per epoch.
        self._index: list[tuple[int, int]] = [(ci, j) for ci, c in enumerate(self.cuts)
                                              for j in range(1, len(c) - 1)]
        # Chained references: the flows between consecutive drawings of a cut, computed once per
        # cut and mirror (in each worker process), serve every interval drawn from it.
        self._pairs: dict[int, dict] = {}

    def __getstate__(self) -> dict:
        # Worker processes compute their own flows instead of receiving them through a pipe.
        return {**self.__dict__, "_pairs": {}}

    def __len__(self) -> int:
        return len(self._index)

    def choose(self, key: int) -> tuple[int, int, int, int, np.random.Generator]:
        """(cut index, prev, target, next) for ``key`` and the item's random generator."""
        ci, j = self._index[key % len(self._index)]
        rng = np.random.default_rng([self.seed, key])
        n = len(self.cuts[ci])
        g_hi = min(self.gap[1], n - 1)
        g_lo = min(self.gap[0], g_hi)
        g = int(rng.integers(g_lo, g_hi + 1))
        p = int(rng.integers(max(0, j - g + 1), min(j - 1, n - 1 - g) + 1))
        return ci, p, j, p + g, rng

    def __getitem__(self, key: int) -> dict[str, torch.Tensor]:
        ci, p, j, q, rng = self.choose(int(key))
        cut = self.cuts[ci]
        t = (j - p) / (q - p)
        if self.refs in WARPED:
            between = [cut.line(i) for i in range(p + 1, q)] if self.refs == "chain-warped" else None
            imgs = flow_warped_views(cut.line(j), cut.color(p), cut.line(p), cut.color(q), cut.line(q),
                                     t, self.size, self.flow_size, self.augment, rng,
                                     target=cut.color(j), crop=self.crop, between=between,
                                     position=j - p, pairs=self._pairs.setdefault(ci, {}), origin=p)
        else:
            imgs = random_crop(self._affine_views(cut, p, j, q, rng), self.crop, rng)
        return to_item(imgs, t, self.augment, rng)

    def _affine_views(self, cut: CutSource, p: int, j: int, q: int,
                      rng: np.random.Generator) -> dict[str, np.ndarray]:
        """Raw keys and target at size x size through one random affine (rotation, zoom, shift)."""
        imgs: dict[str, np.ndarray] = {"line": cut.line(j), "prev": cut.color(p),
                                       "target": cut.color(j), "next": cut.color(q)}
        w, h = cut.size
        # Pre-resize so the source is at most ~1.3x the working size, then one affine does the rest.
        pre = min(1.0, 1.3 * self.size / min(w, h))
        pw, ph = max(1, round(w * pre)), max(1, round(h * pre))
        m = _geometry(pw, ph, self.size, self.augment, rng)
        return {k: cv2.warpAffine(area_resize(v, pre), m, (self.size, self.size), flags=cv2.INTER_LINEAR,
                                  borderMode=cv2.BORDER_REPLICATE) for k, v in imgs.items()}


def flow_warped_views(line: np.ndarray, prev_rgb: np.ndarray, prev_line: np.ndarray, next_rgb: np.ndarray,
                      next_line: np.ndarray, t: float, size: int, flow_size: int, augment: AugmentConfig,
                      rng: np.random.Generator, target: np.ndarray, crop: int = 0,
                      between: Sequence[np.ndarray] | None = None, position: int = 0,
                      pairs: dict | None = None, origin: int = 0) -> dict[str, np.ndarray]:
    """A refine example with the engine's resizes (opdm_studio/pipelines/refine.py), ``crop`` x
    ``crop`` (default ``size``) px of the working-size view.

    ``between`` (the drawings strictly between the previous key and the next, in order; the target
    is ``between[position - 1]``) chains the flow through them as the pipeline does for a
    ``refs="chain-warped"`` spec (:class:`~opdm_studio.imaging.chain.ChainPropagator`, the keys'
    agreement left out of the confidence); None matches each key to the drawing directly.
    ``pairs`` (a dict kept per cut) holds the pair flows between consecutive drawings for other
    intervals of the same cut, keyed by the drawing's index in the cut (``origin`` = the previous
    key's) and by the mirroring.

    Flow runs at the drawing's resolution, or at ``flow_size`` (short side) for big frames, as the
    refine pipeline's :class:`~opdm_studio.pipelines.flow.FlowPipeline` does; then every image is
    resized to the working geometry (short side ``size``) with the pipeline's own ``resize`` (area
    when shrinking): the drawing and the target from full resolution, the warped keys, their
    propagation and its confidence from the flow size. Augmentation keeps those resizes: a zoom of
    the working short side by up to ``augment.scale``, a random crop, a flip (no rotation: it would
    interpolate a second time). A crop smaller than ``size`` keeps the working scale (the network
    is convolutional) at a fraction of the cost per step.
    """
    from opdm_studio.pipelines.base import resize, working_geometry
    h, w = line.shape[:2]
    mirrored = augment.flip > 0 and rng.random() < augment.flip
    if mirrored:   # before the flow: a mirrored cut
        line, prev_rgb, prev_line, next_rgb, next_line, target = (
            np.ascontiguousarray(a[:, ::-1]) for a in (line, prev_rgb, prev_line, next_rgb, next_line, target))
        if between is not None:
            between = [np.ascontiguousarray(a[:, ::-1]) for a in between]
    shared = None if pairs is None else pairs.setdefault((mirrored, flow_size), {})
    prop = warp_keys(line, prev_rgb, prev_line, next_rgb, next_line, t, flow_size, between, position,
                     shared, origin)
    zoom = 1.0 + rng.uniform(0.0, augment.scale) if augment.scale > 0 else 1.0
    rw, rh, _, _ = working_geometry(w, h, max(size, int(round(size * zoom))))
    crop = crop or size
    x0 = int(rng.integers(0, rw - crop + 1)) if rw > crop else 0
    y0 = int(rng.integers(0, rh - crop + 1)) if rh > crop else 0

    def fit(img: np.ndarray) -> np.ndarray:
        return resize(img, (rw, rh))[y0:y0 + crop, x0:x0 + crop].copy()   # writable for torch

    return {"line": fit(line), "target": fit(target), "prev": fit(prop.warp_prev), "next": fit(prop.warp_next),
            "prop": fit(prop.rgb), "confidence": fit(prop.confidence.astype(np.float32))}


def warp_keys(line: np.ndarray, prev_rgb: np.ndarray, prev_line: np.ndarray, next_rgb: np.ndarray,
              next_line: np.ndarray, t: float, flow_size: int,
              between: Sequence[np.ndarray] | None = None, position: int = 0,
              shared_pairs: dict | None = None, origin: int = 0) -> Propagation:
    """The two keys warped onto ``line`` by the refine pipeline's own flow step
    (:class:`~opdm_studio.pipelines.flow.FlowPipeline` at ``flow_size``, the keys' agreement left
    out): through the chain of ``between`` drawings when given, else matched directly
    (``shared_pairs``, ``origin``: pair flows kept across the intervals of one cut)."""
    from opdm_studio.pipelines.base import FrameInputs, Interval
    from opdm_studio.pipelines.flow import FlowPipeline
    interval = None
    if between is not None:
        lines = [prev_line, *between, next_line]
        interval = Interval(key=None, load=lambda: lines, position=position, length=len(lines),
                            origin=origin)
    pipe = FlowPipeline(flow_size, chain=True, agreement=False, shared_pairs=shared_pairs)
    return pipe.propagate(FrameInputs(line, prev_rgb, next_rgb, prev_line, next_line, t,
                                      interval=interval))[0]


def random_crop(imgs: dict[str, np.ndarray], crop: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """The same random ``crop`` x ``crop`` window of every (square) image (unchanged if as big)."""
    h, w = next(iter(imgs.values())).shape[:2]
    if crop >= min(h, w):
        return imgs
    x0, y0 = int(rng.integers(0, w - crop + 1)), int(rng.integers(0, h - crop + 1))
    return {k: np.ascontiguousarray(v[y0:y0 + crop, x0:x0 + crop]) for k, v in imgs.items()}


def to_item(imgs: dict[str, np.ndarray], t: float, augment: AugmentConfig,
            rng: np.random.Generator) -> dict[str, torch.Tensor]:
    """Working-size images -> the item's tensors, after the same random hue change on every colour."""
    colour_keys = [k for k in ("prev", "target", "next", "prop") if k in imgs]
    if rng.random() < augment.hue:
        permuted = _permute_colors([imgs[k] for k in colour_keys], rng)
        imgs.update(zip(colour_keys, permuted, strict=True))
    item: dict[str, torch.Tensor] = {k: color_tensor(imgs[k]) for k in colour_keys}
    item["line"] = line_tensor(imgs["line"])
    item["t"] = torch.tensor(t, dtype=torch.float32)
    if "confidence" in imgs:
        item["confidence"] = torch.from_numpy(np.ascontiguousarray(imgs["confidence"]))[None]
    return item


class MixedDataset(Dataset):
    """Real-cut items with a share ``ratio`` of synthetic ones mixed in (``--synth-ratio``).

    Item ``key`` is drawn from ``synthetic`` when a draw seeded by (seed, key) falls below ``ratio``,
    else from ``real``: keyed like its sources, so a run still resumes exactly. Synthetic cuts keep
    what the start model learned while a small studio cut teaches the show's look.
    """

    def __init__(self, real: Dataset, synthetic: Dataset, ratio: float, seed: int = 0) -> None:
        if not 0.0 <= ratio < 1.0:
            raise TrainingDataError(f"--synth-ratio {ratio}: give a share from 0 to below 1")
        self.real, self.synthetic, self.ratio, self.seed = real, synthetic, float(ratio), seed
        self.shuffle = getattr(real, "shuffle", True)

    def __len__(self) -> int:
        return len(self.real)  # type: ignore[arg-type]

    def is_synthetic(self, key: int) -> bool:
        """Whether item ``key`` comes from the synthetic source."""
        return bool(np.random.default_rng([self.seed, int(key), 5]).random() < self.ratio)

    def __getitem__(self, key: int) -> dict[str, torch.Tensor]:
        return (self.synthetic if self.is_synthetic(key) else self.real)[int(key)]


class KeyedDistributedSampler(DistributedSampler):
    """DistributedSampler over item keys that can start mid-epoch (exact ``--resume``).

    Yields ``epoch * len(dataset) + index`` so every epoch draws fresh augmentations for the same
    frame, and skips the first ``start`` samples of this rank's share (already trained on).
    ``shuffle=False`` keeps the keys in order (a stream whose neighbouring keys share a cut).
    """

    def __init__(self, dataset: Dataset, num_replicas: int = 1, rank: int = 0, seed: int = 0,
                 shuffle: bool = True) -> None:
        super().__init__(dataset, num_replicas=num_replicas, rank=rank, shuffle=shuffle, seed=seed,
                         drop_last=False)
        self.start = 0

    def set_position(self, epoch: int, start: int) -> None:
        """Begin at sample ``start`` of epoch ``epoch`` of this rank's share."""
        self.set_epoch(epoch)
        self.start = start

    def __iter__(self) -> Iterator[int]:
        base = self.epoch * len(self.dataset)  # type: ignore[arg-type]
        for n, i in enumerate(super().__iter__()):
            if n >= self.start:
                yield base + int(i)

    def __len__(self) -> int:
        return max(0, self.num_samples - self.start)


class KeyBatches:
    """Infinite stream of per-rank batches of item keys, positioned at a sample count."""

    def __init__(self, sampler: KeyedDistributedSampler, batch: int, start_sample: int) -> None:
        self.sampler, self.batch = sampler, batch
        self.epoch, self.start = divmod(start_sample, sampler.num_samples)

    def __iter__(self) -> Iterator[list[int]]:
        epoch, start = self.epoch, self.start
        buf: list[int] = []
        while True:
            self.sampler.set_position(epoch, start)
            for k in self.sampler:
                buf.append(k)
                if len(buf) == self.batch:
                    yield buf
                    buf = []
            epoch, start = epoch + 1, 0


def collate(items: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """Stack a list of items into a batch dict."""
    return {k: torch.stack([it[k] for it in items]) for k in items[0]}


def fixed_batch(dataset: Dataset, n: int, offset: int = 0) -> dict[str, torch.Tensor]:
    """The items with keys ``offset .. offset+n-1`` as one batch (validation, tests, previews)."""
    return collate([dataset[offset + i] for i in range(n)])


def preview_triplets(report: DataReport, n: int = 4, size: int = 128, seed: int = 0) -> list[np.ndarray]:
    """Rows of sampled triplets (line | prev | target | next) as uint8 RGB images for a data check."""
    ds = TripletDataset(report.cuts, size=size, augment=AugmentConfig.off(), seed=seed)
    rows = []
    for i in range(min(n, len(ds))):
        it = ds[(i * 7919) % len(ds)]
        tiles = [it["line"].expand(3, -1, -1), it["prev"], it["target"], it["next"]]
        rows.append(np.concatenate([tensor_to_rgb(t) for t in tiles], axis=1))
    return rows


def worker_init(_: int) -> None:
    """DataLoader worker setup: one OpenCV thread per worker (workers are the parallelism)."""
    cv2.setNumThreads(1)
    torch.set_num_threads(1)
