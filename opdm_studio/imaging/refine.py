"""Inputs of the OPDM *refine* mode (issue 9): both keys warped onto the target, and their blend.

The shipped model does not colour from scratch: line-art optical flow
(:mod:`opdm_studio.imaging.flow`) brings each keyframe onto the target drawing, the network gets
those two flow-warped keys as its references and starts its reverse process from the noised
two-key propagation, and only corrects it. This module computes those inputs with numpy/OpenCV
only; the flows are computed once and give exactly :func:`~opdm_studio.imaging.flow.propagate_two`'s
result (tests check it), plus the two single-key warps the network uses as references.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from opdm_studio.imaging import flow as F


@dataclass
class FlowReferences:
    """Both keys warped onto the target and the per-pixel choice between them (uint8 RGB)."""

    warp_prev: np.ndarray    # uint8 (H, W, 3): previous key backward-warped along line-art flow
    warp_next: np.ndarray    # uint8 (H, W, 3): next key, likewise
    rgb: np.ndarray          # uint8 (H, W, 3): propagate_two's result (per pixel the better warp)
    confidence: np.ndarray   # float32 (H, W) in [0, 1]: how well the chosen warp explains the lines


def flow_references(target_line: np.ndarray, prev_rgb: np.ndarray, prev_line: np.ndarray,
                    next_rgb: np.ndarray, next_line: np.ndarray, t: float,
                    sigma: float = F.FLOW_SIGMA, preset: str = "medium") -> FlowReferences:
    """Warp both keys onto ``target_line`` and blend them as ``propagate_two`` does.

    Lines are uint8 drawings (255 paper, 0 ink) or float darkness; colours uint8 (H, W, 3), all
    the same size; ``t`` in [0, 1] is the target's position between the keys.
    """
    for name, img in (("prev_rgb", prev_rgb), ("next_rgb", next_rgb)):
        if img.ndim != 3 or img.shape[2] != 3 or img.dtype != np.uint8:
            raise ValueError(f"{name} must be uint8 (H, W, 3), got {img.dtype} {img.shape}")
    t = float(min(max(t, 0.0), 1.0))
    flow_p = F.line_flow(target_line, prev_line, sigma, preset)
    flow_n = F.line_flow(target_line, next_line, sigma, preset)
    err_p = F.warp_consistency(target_line, prev_line, flow_p, sigma)
    err_n = F.warp_consistency(target_line, next_line, flow_n, sigma)
    # Same decision rule and constants as propagate_two (kept equal by tests/imaging).
    choose_next = (err_n + F._TEMPORAL_PRIOR * (1.0 - t)) < (err_p + F._TEMPORAL_PRIOR * t)
    warp_p = F.warp_colors(prev_rgb, flow_p)
    warp_n = F.warp_colors(next_rgb, flow_n)
    rgb = np.where(choose_next[..., None], warp_n, warp_p)
    err = np.where(choose_next, err_n, err_p)
    confidence = (1.0 / (1.0 + (err / F._CONSISTENCY_SCALE) ** 2)).astype(np.float32)
    return FlowReferences(warp_prev=np.ascontiguousarray(warp_p), warp_next=np.ascontiguousarray(warp_n),
                          rgb=np.ascontiguousarray(rgb, dtype=np.uint8), confidence=confidence)
