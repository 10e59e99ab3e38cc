"""Image and sequence metrics of the paper (PSNR, SSIM, MS-SSIM, QSSIM, CDC, warp error) plus
palette fidelity and the paint-region measure of the work left (wrong regions). numpy / OpenCV
only; FID (which needs torch) lives in :mod:`.fid`.

All image metrics take ``uint8`` RGB ``(H, W, 3)`` (or gray ``(H, W)``) arrays of equal shape.
SSIM follows Wang et al. 2004 exactly as scikit-image computes it with
``gaussian_weights=True, sigma=1.5, use_sample_covariance=False`` (tests check the agreement): its
constants and formula are ``core.ssim``'s (the training loss's too), the blur is ``cv2.GaussianBlur``
because that is ~10x faster at native resolution.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from opdm_studio.core.ssim import K1, K2, SIGMA, WINDOW, contrast_structure, moments, ssim_map

_RADIUS = WINDOW // 2   # scikit-image: int(truncate 3.5 * sigma 1.5 + 0.5) = 5 -> an 11x11 window
MS_SSIM_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)   # Wang, Simoncelli, Bovik 2003


def _check_pair(a: np.ndarray, b: np.ndarray) -> None:
    if a.shape != b.shape:
        raise ValueError(f"images differ in shape: {a.shape} vs {b.shape}")


def psnr(a: np.ndarray, b: np.ndarray, data_range: float = 255.0) -> float:
    """Peak signal-to-noise ratio in dB over all pixels and channels (inf for identical images)."""
    _check_pair(a, b)
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    if mse == 0.0:
        return float("inf")
    return float(10.0 * np.log10(data_range ** 2 / mse))


def _blur(x: np.ndarray) -> np.ndarray:
    # BORDER_REFLECT == scipy.ndimage mode "reflect" (what scikit-image uses); borders are
    # cropped before averaging anyway.
    k = 2 * _RADIUS + 1
    return cv2.GaussianBlur(x, (k, k), sigmaX=SIGMA, sigmaY=SIGMA, borderType=cv2.BORDER_REFLECT)


def _ssim_maps(x: np.ndarray, y: np.ndarray, data_range: float) -> tuple[np.ndarray, np.ndarray]:
    """Per-pixel SSIM and contrast-structure (cs) maps of one float64 channel."""
    mx, my, sxx, syy, sxy = moments(x, y, _blur)
    return ssim_map(mx, my, sxx, syy, sxy, data_range), contrast_structure(sxx, syy, sxy, data_range)


def _crop(m: np.ndarray) -> np.ndarray:
    r = _RADIUS
    return m[r:-r, r:-r] if m.shape[0] > 2 * r and m.shape[1] > 2 * r else m


def _channels(img: np.ndarray) -> list[np.ndarray]:
    img = img.astype(np.float64)
    return [img] if img.ndim == 2 else [img[..., c] for c in range(img.shape[2])]


def ssim(a: np.ndarray, b: np.ndarray, data_range: float = 255.0) -> float:
    """Mean SSIM (Gaussian 11x11, sigma 1.5), averaged over colour channels like scikit-image."""
    _check_pair(a, b)
    vals = [float(_crop(_ssim_maps(x, y, data_range)[0]).mean())
            for x, y in zip(_channels(a), _channels(b), strict=True)]
    return float(np.mean(vals))


def _down2(x: np.ndarray) -> np.ndarray:
    # 2x2 average pooling (MS-SSIM's low-pass + decimation); odd edges are dropped.
    h, w = x.shape[0] // 2 * 2, x.shape[1] // 2 * 2
    x = x[:h, :w]
    return 0.25 * (x[0::2, 0::2] + x[1::2, 0::2] + x[0::2, 1::2] + x[1::2, 1::2])


def ms_ssim(a: np.ndarray, b: np.ndarray, data_range: float = 255.0,
            weights: Sequence[float] = MS_SSIM_WEIGHTS) -> float:
    """Multi-scale SSIM (Wang 2003): cs at the finer scales, full SSIM at the coarsest, per channel.

    Negative per-scale values are clipped to 0 (as pytorch-msssim does) so that the weighted
    product stays real. Images must be at least 11 * 2**(scales-1) / 2 px (e.g. 88 px for 5 scales);
    smaller images use as many scales as fit.
    """
    _check_pair(a, b)
    w = np.asarray(weights, np.float64)
    n_scales = len(w)
    while n_scales > 1 and min(a.shape[:2]) / 2 ** (n_scales - 1) < 2 * _RADIUS + 1:
        n_scales -= 1
    w = w[:n_scales] / w[:n_scales].sum()
    vals = []
    for x, y in zip(_channels(a), _channels(b), strict=True):
        terms = []
        for s in range(n_scales):
            full, cs = _ssim_maps(x, y, data_range)
            if s == n_scales - 1:
                terms.append(max(float(_crop(full).mean()), 0.0))
            else:
                terms.append(max(float(_crop(cs).mean()), 0.0))
                x, y = _down2(x), _down2(y)
        vals.append(float(np.prod(np.asarray(terms) ** w)))
    return float(np.mean(vals))


def _qmul(p: tuple[np.ndarray, np.ndarray], q: tuple[np.ndarray, np.ndarray]):
    """Hamilton product of quaternion fields given as (scalar (H,W), vector (H,W,3))."""
    a, u = p
    b, v = q
    scalar = a * b - np.sum(u * v, axis=-1)
    vector = a[..., None] * v + b[..., None] * u + np.cross(u, v)
    return scalar, vector


def qssim(a: np.ndarray, b: np.ndarray, data_range: float = 255.0) -> float:
    """Quaternion SSIM for colour images (Kolaman & Yadid-Pecht 2012).

    Each pixel is the pure quaternion ``R i + G j + B k``; local means, variances and the
    quaternion cross-covariance use the SSIM Gaussian window. The index is the modulus of the
    quaternion product of the luminance and structure terms over their real denominators, so
    colour shifts that keep each channel's SSIM (e.g. hue rotations) still lower it.
    """
    _check_pair(a, b)
    if a.ndim != 3 or a.shape[2] != 3:
        raise ValueError("qssim needs RGB images (H, W, 3)")
    x = a.astype(np.float64)
    y = b.astype(np.float64)
    c1 = (K1 * data_range) ** 2
    c2 = (K2 * data_range) ** 2
    mx = np.stack([_blur(x[..., c]) for c in range(3)], -1)
    my = np.stack([_blur(y[..., c]) for c in range(3)], -1)
    # mu_x * conj(mu_y) for pure quaternions: (mx . my, -(mx x my))
    lum_num = (2 * np.sum(mx * my, -1) + c1, -2 * np.cross(mx, my))
    lum_den = np.sum(mx * mx, -1) + np.sum(my * my, -1) + c1
    # E[x conj(y)] - mu_x conj(mu_y), component-wise via window averages.
    dot = sum(_blur(x[..., c] * y[..., c]) for c in range(3)) - np.sum(mx * my, -1)
    cr = np.cross(x, y)
    cross = np.stack([_blur(cr[..., c]) for c in range(3)], -1) - np.cross(mx, my)
    sxx = sum(_blur(x[..., c] ** 2) for c in range(3)) - np.sum(mx * mx, -1)
    syy = sum(_blur(y[..., c] ** 2) for c in range(3)) - np.sum(my * my, -1)
    cs_num = (2 * dot + c2, -2 * cross)
    cs_den = sxx + syy + c2
    s, v = _qmul(lum_num, cs_num)
    modulus = np.sqrt(s * s + np.sum(v * v, -1))
    return float(_crop(modulus / (lum_den * cs_den)).mean())


# --- sequence metrics -------------------------------------------------------------------------

def _hist(img: np.ndarray, channel: int, bins: int) -> np.ndarray:
    h = cv2.calcHist([np.ascontiguousarray(img)], [channel], None, [bins], [0, 256]).ravel()
    h = h.astype(np.float64) + 1e-10
    return h / h.sum()


def js_divergence(p: np.ndarray, q: np.ndarray) -> float:
    """Jensen-Shannon divergence (natural log) of two discrete distributions."""
    m = 0.5 * (p + q)
    kl = lambda u, v: float(np.sum(u * np.log(u / v)))  # noqa: E731
    return 0.5 * kl(p, m) + 0.5 * kl(q, m)


def cdc(frames: Sequence[np.ndarray], bins: int = 256, steps: Sequence[int] = (1,)) -> float:
    """Colour distribution consistency (Liu et al., TCVC): mean JS divergence of per-channel colour
    histograms between frames ``step`` apart, averaged over channels, pairs and steps.

    0 for a sequence of identical frames; lower is more temporally consistent.
    """
    if len(frames) < 2:
        raise ValueError("CDC needs at least two frames")
    vals = []
    for step in steps:
        for i in range(len(frames) - step):
            a, b = frames[i], frames[i + step]
            chans = range(a.shape[2]) if a.ndim == 3 else [0]
            vals.append(np.mean([js_divergence(_hist(a, c, bins), _hist(b, c, bins)) for c in chans]))
    return float(np.mean(vals))


def _gt_flow(src: np.ndarray, dst: np.ndarray, method: str) -> np.ndarray:
    """Flow dst -> src (for each dst pixel, where it is in src) on gray versions of GT frames."""
    g0 = cv2.cvtColor(dst, cv2.COLOR_RGB2GRAY)
    g1 = cv2.cvtColor(src, cv2.COLOR_RGB2GRAY)
    if method == "dis":
        dis = cv2.DISOpticalFlow.create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
        return dis.calc(g0, g1, None)  # type: ignore[call-overload]  # (the stubs lack flow=None)
    if method == "farneback":
        return cv2.calcOpticalFlowFarneback(g0, g1, None, 0.5, 3, 15, 3, 5, 1.2, 0)
    raise ValueError(f"unknown flow method {method!r}")


def _remap(img: np.ndarray, flow: np.ndarray) -> np.ndarray:
    h, w = flow.shape[:2]
    gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    return cv2.remap(img, gx + flow[..., 0], gy + flow[..., 1], cv2.INTER_LINEAR,
                     borderMode=cv2.BORDER_REPLICATE)


def gt_flows(gt_frames: Sequence[np.ndarray], method: str = "dis",
             occlusion_px: float = 1.0) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per consecutive GT pair (t-1, t): backward flow t -> t-1 and the visibility mask.

    A pixel is visible where going t -> t-1 -> t with the two flows returns within
    ``occlusion_px`` of the start (forward-backward check). Computed once per window and shared by
    every method's warp error.
    """
    out = []
    for t in range(1, len(gt_frames)):
        f_bw = _gt_flow(gt_frames[t - 1], gt_frames[t], method)   # t -> t-1
        f_fw = _gt_flow(gt_frames[t], gt_frames[t - 1], method)   # t-1 -> t
        back = _remap(f_fw, f_bw)
        out.append((f_bw, np.linalg.norm(f_bw + back, axis=-1) <= occlusion_px))
    return out


def warp_error(frames: Sequence[np.ndarray], gt_frames: Sequence[np.ndarray] | None = None,
               method: str = "dis", flows: list[tuple[np.ndarray, np.ndarray]] | None = None) -> float:
    """Temporal warp error (Lai et al. 2018): mean squared difference (colours in [0, 1]) between
    each output frame and the previous output frame warped to it with the flow of the ground truth,
    over pixels that the forward-backward flow check marks as visible in both frames.

    0 for a static clip coloured identically. Flow (OpenCV DIS MEDIUM or Farneback) is computed on
    the GT frames (or passed precomputed from :func:`gt_flows`), so a method is not rewarded for
    being consistent with its own wrong motion.
    """
    if flows is None:
        if gt_frames is None or len(gt_frames) != len(frames):
            raise ValueError("warp error needs as many ground-truth frames as output frames")
        flows = gt_flows(gt_frames, method)
    if len(frames) < 2 or len(flows) != len(frames) - 1:
        raise ValueError("warp error needs >= 2 output frames and one flow per consecutive pair")
    total, count = 0.0, 0
    for t in range(1, len(frames)):
        f_bw, visible = flows[t - 1]
        warped = _remap(frames[t - 1], f_bw).astype(np.float64) / 255.0
        diff = ((frames[t].astype(np.float64) / 255.0 - warped) ** 2).mean(axis=-1)
        total += float(diff[visible].sum())
        count += int(visible.sum())
    return total / count if count else float("nan")


# --- palette fidelity ---------------------------------------------------------------------------

PALETTE_BITS = 5          # palette bins of 8 levels per channel
PALETTE_MIN_SHARE = 2e-4  # a bin must hold this share of the keys' paint pixels to count as a colour


def palette_lut(key_frames: Sequence[np.ndarray], key_masks: Sequence[np.ndarray] | None = None,
                min_share: float = PALETTE_MIN_SHARE) -> np.ndarray:
    """Boolean 32x32x32 table of the keyframes' paint colours, widened by one bin (~8 levels).

    Colours are binned at 5 bits per channel; bins holding at least ``min_share`` of the keys'
    non-line pixels form the palette (this discards anti-aliasing and compression noise); a
    colour within one bin of a palette colour counts as in the palette.
    """
    shift = 8 - PALETTE_BITS
    n = 1 << PALETTE_BITS
    counts = np.zeros(n ** 3, np.int64)
    for i, key in enumerate(key_frames):
        px = key.reshape(-1, 3)
        if key_masks is not None:
            px = px[~key_masks[i].ravel()]
        q = (px >> shift).astype(np.int64)
        counts += np.bincount((q[:, 0] * n + q[:, 1]) * n + q[:, 2], minlength=n ** 3)
    grid = (counts >= max(1, min_share * counts.sum())).reshape(n, n, n)
    # Widen by one bin along each axis (no wrap-around: bin 0 is not next to bin 31).
    widened = grid.copy()
    for axis in range(3):
        w = widened.copy()
        lo = [slice(None)] * 3
        hi = [slice(None)] * 3
        lo[axis], hi[axis] = slice(0, -1), slice(1, None)
        w[tuple(lo)] |= widened[tuple(hi)]
        w[tuple(hi)] |= widened[tuple(lo)]
        widened = w
    return widened


def palette_fidelity(rgb: np.ndarray, lut: np.ndarray, line_mask: np.ndarray | None = None) -> float:
    """Share of non-line pixels of ``rgb`` whose colour is in the keyframes' palette (see palette_lut)."""
    shift = 8 - PALETTE_BITS
    px = rgb.reshape(-1, 3)
    if line_mask is not None:
        px = px[~line_mask.ravel()]
    if len(px) == 0:
        return float("nan")
    q = px >> shift
    return float(lut[q[:, 0], q[:, 1], q[:, 2]].mean())


# --- paint regions: the work left to a colourist -------------------------------------------------

REGION_MIN_AREA = 16      # regions under this many pixels are left out (specks, line gaps)
REGION_TOLERANCE = 24     # a pixel is right when every channel is within this many levels
REGION_SHARE = 0.9        # a region is right when at least this share of its pixels is right


@dataclass
class PaintRegions:
    """Paint regions of a frame: ``labels`` 0 on the grown ink and dropped specks, 1..n on regions."""

    labels: np.ndarray    # int32 (H, W)
    areas: np.ndarray     # int64 (n + 1,): pixels per label, areas[0] = 0

    @property
    def count(self) -> int:
        """Number of regions kept."""
        return len(self.areas) - 1


@dataclass
class RegionScore:
    """How many of a frame's paint regions a result gets wrong, by count and by area (pixels)."""

    regions: int
    wrong: int
    wrong_area: int
    area: int


def paint_regions(ink: np.ndarray, min_area: int = REGION_MIN_AREA) -> PaintRegions:
    """4-connected areas between the lines of a bool ink mask grown by 1 px, specks dropped."""
    grown = cv2.dilate(ink.astype(np.uint8), np.ones((3, 3), np.uint8))
    n, labels, stats, _ = cv2.connectedComponentsWithStats((grown == 0).astype(np.uint8),
                                                          connectivity=4, ltype=cv2.CV_32S)
    area = stats[:, cv2.CC_STAT_AREA].astype(np.int64)
    keep = area >= min_area
    keep[0] = False                      # label 0 is the grown ink itself
    new_id = np.where(keep, np.cumsum(keep), 0).astype(np.int32)
    return PaintRegions(new_id[labels], np.concatenate([[0], area[keep]]).astype(np.int64))


def region_score(pred: np.ndarray, real: np.ndarray, regions: PaintRegions,
                 tolerance: int = REGION_TOLERANCE, share: float = REGION_SHARE) -> RegionScore:
    """Regions of ``real`` that ``pred`` paints wrong: under ``share`` of pixels within ``tolerance``."""
    _check_pair(pred, real)
    diff = np.abs(pred.astype(np.int16) - real.astype(np.int16))
    close = (diff.max(axis=-1) if diff.ndim == 3 else diff) <= tolerance
    right_px = np.bincount(regions.labels[close], minlength=len(regions.areas))[1:]
    areas = regions.areas[1:]
    wrong = right_px < share * areas - 1e-9
    return RegionScore(regions.count, int(wrong.sum()), int(areas[wrong].sum()), int(areas.sum()))
