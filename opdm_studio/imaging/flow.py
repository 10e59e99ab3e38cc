"""Optical-flow colour propagation from keyframes to a line drawing (numpy / OpenCV, no torch).

Shared by the engine's fast ``flow`` colouring method and the evaluation baselines
(``flowwarp``, ``blend``, ``regionfill``).

Flow is computed between *line art*, never between colour images: the target frame only has line
art. Both line images are blurred with a Gaussian (sigma 3) so that thin strokes have a basin of
attraction wider than one pixel, then OpenCV's DIS optical flow (preset MEDIUM) gives, for every
target pixel, where the same point sits in the keyframe; the key's colours are fetched there
(backward warp with ``cv2.remap``).

Inputs follow docs/architecture.md: colour = ``uint8 (H, W, 3)`` RGB; line drawing = ``uint8 (H, W)``
with 255 paper and 0 ink. A ``float32`` darkness map in [0, 1] (1 = ink) is accepted wherever a
line drawing is, and converted.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np

#: The short side in pixels at which flow runs for big frames (the `flow_size` setting's default;
#: the pipelines, the region tracking and training's flow all use it; see docs/model.md).
FLOW_SIZE = 540
FLOW_SIGMA = 3.0
DIS_PRESETS = {
    "ultrafast": cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST,
    "fast": cv2.DISOPTICAL_FLOW_PRESET_FAST,
    "medium": cv2.DISOPTICAL_FLOW_PRESET_MEDIUM,
}
# Scale of the blurred line-art difference (0-255 gray levels) at which a warp is considered
# half-trustworthy; chosen so that a clean warp (< ~5 levels) reads as confidence > 0.9.
CONSISTENCY_SCALE = 24.0
# Window over which warp consistency is averaged: one pixel is too noisy to pick a key by.
CONSISTENCY_SIGMA = 4.0
# Gray levels of consistency error that one unit of temporal distance is worth (prior towards the
# nearer key); 4-16 all measure within 0.05 dB of each other, 8 is the middle.
TEMPORAL_PRIOR = 8.0


def as_line_u8(line: np.ndarray) -> np.ndarray:
    """A line drawing as uint8 gray (255 paper, 0 ink); darkness maps (float) are converted."""
    line = np.asarray(line)
    if line.ndim == 3:
        line = cv2.cvtColor(np.ascontiguousarray(line[..., :3]), cv2.COLOR_RGB2GRAY)
    if line.ndim != 2:
        raise ValueError(f"line art must be (H, W), got shape {line.shape}")
    if line.dtype == np.uint8:
        return line
    if np.issubdtype(line.dtype, np.floating):
        return np.clip(255.0 * (1.0 - line), 0, 255).round().astype(np.uint8)
    raise ValueError(f"line art must be uint8 drawing or float darkness, got {line.dtype}")


def prepare_line(line: np.ndarray, sigma: float = FLOW_SIGMA) -> np.ndarray:
    """Blurred uint8 line image as fed to DIS (the blur widens strokes into smooth basins)."""
    gray = as_line_u8(line)
    if sigma > 0:
        gray = cv2.GaussianBlur(gray, (0, 0), sigmaX=sigma, sigmaY=sigma)
    return gray


def line_flow(target_line: np.ndarray, key_line: np.ndarray, sigma: float = FLOW_SIGMA,
              preset: str = "medium") -> np.ndarray:
    """Dense flow (H, W, 2) float32 from the target's line art to a key's line art.

    ``target(x, y)`` corresponds to ``key(x + flow[y, x, 0], y + flow[y, x, 1])``, which is what a
    backward warp of the key's colours needs.
    """
    a = prepare_line(target_line, sigma)
    b = prepare_line(key_line, sigma)
    if a.shape != b.shape:
        raise ValueError(f"line art sizes differ: target {a.shape} vs key {b.shape}")
    dis = cv2.DISOpticalFlow.create(DIS_PRESETS[preset])
    return dis.calc(a, b, None)  # type: ignore[call-overload]  # (the stubs lack flow=None)


@lru_cache(maxsize=4)
def _grid(h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    # Pixel coordinates, cached per size (read-only: a chain warps many times at one size).
    gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    gx.setflags(write=False)
    gy.setflags(write=False)
    return gx, gy


def _sample_maps(flow: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    gx, gy = _grid(*flow.shape[:2])
    return gx + flow[..., 0], gy + flow[..., 1]


def warp_colors(key_rgb: np.ndarray, flow: np.ndarray,
                interpolation: int = cv2.INTER_LINEAR,
                border: int = cv2.BORDER_REPLICATE) -> np.ndarray:
    """Backward-warp a key's colours (or any image) along ``flow`` (target -> key) with cv2.remap."""
    map_x, map_y = _sample_maps(flow)
    return cv2.remap(key_rgb, map_x, map_y, interpolation=interpolation, borderMode=border)


def compose_flows(first: np.ndarray, then: np.ndarray) -> np.ndarray:
    """The flow that follows ``first`` (A -> B) and then ``then`` (B -> C): A -> C.

    ``out(x) = first(x) + then(x + first(x))``: the flow field is resampled (linearly), never the
    colours, so a chain of steps blurs nothing but the correspondence itself.
    """
    return first + warp_colors(then, first)


def forward_backward_error(flow: np.ndarray, back: np.ndarray) -> np.ndarray:
    """Per-pixel length (float32, pixels) of ``flow`` (A -> B) followed by ``back`` (B -> A):
    about 0 where the two flows agree, large at occlusions and mismatches."""
    loop = compose_flows(flow, back)
    return np.sqrt(loop[..., 0] ** 2 + loop[..., 1] ** 2)


def flowwarp(target_line: np.ndarray, key_rgb: np.ndarray, key_line: np.ndarray,
             sigma: float = FLOW_SIGMA, preset: str = "medium") -> np.ndarray:
    """Colour the target by warping one key's colours along line-art flow (uint8 RGB)."""
    return warp_colors(key_rgb, line_flow(target_line, key_line, sigma, preset))


def warp_consistency(target_line: np.ndarray, key_line: np.ndarray, flow: np.ndarray,
                     sigma: float = FLOW_SIGMA) -> np.ndarray:
    """Per-pixel error (float32, gray levels) of the key's blurred line art warped onto the target's.

    Small where the flow explains the target's strokes; large where strokes appear, vanish or the
    flow is wrong. Smoothed locally so it can be compared between two keys.
    """
    a = prepare_line(target_line, sigma).astype(np.float32)
    b = warp_colors(prepare_line(key_line, sigma), flow).astype(np.float32)
    err = np.abs(a - b)
    return cv2.GaussianBlur(err, (0, 0), sigmaX=CONSISTENCY_SIGMA, sigmaY=CONSISTENCY_SIGMA)


@dataclass
class Propagation:
    """Result of :func:`propagate_two`: colours, confidence, which key won each pixel, and both
    single-key warps (the refine pipeline gives them to the network as its references)."""

    rgb: np.ndarray          # uint8 (H, W, 3)
    confidence: np.ndarray   # float32 (H, W) in [0, 1]; 1 = warp fully consistent with target lines
    choice: np.ndarray       # uint8 (H, W): 0 = colour from prev key, 1 = from next key
    warp_prev: np.ndarray    # uint8 (H, W, 3): the previous key warped onto the target
    warp_next: np.ndarray    # uint8 (H, W, 3): the next key warped onto the target

    def __iter__(self):
        # Allows `rgb, confidence = propagate_two(...)`.
        return iter((self.rgb, self.confidence))


def propagate_two(target_line_u8: np.ndarray, prev_rgb: np.ndarray, prev_line_u8: np.ndarray,
                  next_rgb: np.ndarray, next_line_u8: np.ndarray, t: float,
                  sigma: float = FLOW_SIGMA, preset: str = "medium") -> Propagation:
    """Colour a target drawing from the two surrounding keyframes by line-art optical flow.

    Args:
        target_line_u8: the drawing to colour, uint8 (H, W), 255 paper / 0 ink (or float darkness).
        prev_rgb, next_rgb: the keyframes' colours, uint8 (H, W, 3).
        prev_line_u8, next_line_u8: the keyframes' line drawings, same convention as the target.
        t: temporal position of the target in [0, 1] (0 = prev key, 1 = next key); breaks ties
            towards the nearer key.

    Returns:
        :class:`Propagation` (unpacks as ``rgb, confidence``): per pixel, the colour warped from the
        key whose warp agrees better with the target's line art (locally averaged error of the
        warped key line art), ``confidence`` = how well the chosen warp explains the target's lines
        (1 perfect, -> 0 inconsistent), and ``choice`` (0 prev, 1 next).
    """
    for name, img in (("prev_rgb", prev_rgb), ("next_rgb", next_rgb)):
        if img.ndim != 3 or img.shape[2] != 3 or img.dtype != np.uint8:
            raise ValueError(f"{name} must be uint8 (H, W, 3), got {img.dtype} {img.shape}")
    t = float(min(max(t, 0.0), 1.0))
    flow_p = line_flow(target_line_u8, prev_line_u8, sigma, preset)
    flow_n = line_flow(target_line_u8, next_line_u8, sigma, preset)
    err_p = warp_consistency(target_line_u8, prev_line_u8, flow_p, sigma)
    err_n = warp_consistency(target_line_u8, next_line_u8, flow_n, sigma)
    # Temporal prior, additive: in flat areas both errors are ~0 and the nearer key must win
    # (motion since it is smaller); elsewhere the far key wins only where its warp is clearly more
    # consistent. Measured on the evaluation set (docs/evaluation.md): a multiplicative prior
    # lost 0.3-2 dB to single-key flowwarp, this one gains 0.3-0.6 dB over it.
    warp_p = warp_colors(prev_rgb, flow_p)
    warp_n = warp_colors(next_rgb, flow_n)
    return fuse_two(warp_p, err_p, warp_n, err_n, t)


def fuse_two(warp_prev: np.ndarray, err_prev: np.ndarray, warp_next: np.ndarray,
             err_next: np.ndarray, t: float) -> Propagation:
    """The two-key rule: per pixel, the warp whose line art agrees better with the target, with a
    prior towards the nearer key (``t`` in [0, 1]); confidence from the winner's error."""
    t = float(min(max(t, 0.0), 1.0))
    # Temporal prior, additive: in flat areas both errors are ~0 and the nearer key must win
    # (motion since it is smaller); elsewhere the far key wins only where its warp is clearly more
    # consistent. Measured on the evaluation set (docs/evaluation.md): a multiplicative prior
    # lost 0.3-2 dB to single-key flowwarp, this one gains 0.3-0.6 dB over it.
    choose_next = (err_next + TEMPORAL_PRIOR * (1.0 - t)) < (err_prev + TEMPORAL_PRIOR * t)
    rgb = np.where(choose_next[..., None], warp_next, warp_prev)
    err = np.where(choose_next, err_next, err_prev)
    confidence = (1.0 / (1.0 + (err / CONSISTENCY_SCALE) ** 2)).astype(np.float32)
    return Propagation(rgb=np.ascontiguousarray(rgb, dtype=np.uint8), confidence=confidence,
                       choice=choose_next.astype(np.uint8),
                       warp_prev=np.ascontiguousarray(warp_prev), warp_next=np.ascontiguousarray(warp_next))
