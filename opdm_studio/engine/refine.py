"""Refine mode of the OPDM network (issue 9): correct the flow propagation instead of generating.

A model whose config carries ``extra["inference"] = {"mode": "refine", "refs": "flow-warped",
"t_start": T0, "steps": S, "gate": "none" | "confidence"}`` (the shipped default, trained by
``training/refine.py``) is run like this for one frame:

1. line-art optical flow warps both keyframes onto the drawing and picks, per pixel, the better
   warp (``imaging.refine.flow_references`` = ``propagate_two`` plus the two single-key warps), at
   the drawing's resolution (or ``settings.flow_size`` for big frames, as the ``flow`` method);
2. at the working size (short side 224), the network gets the drawing, the two *warped* keys as its
   references (F_r and the Offset-Adapter's F_o) and starts DDIM from the propagation noised to
   ``t_start``, ``steps`` steps back to x0;
3. only its correction ``x0 - propagation`` (at 224, multiplied by the gate: 1 - warp confidence
   for ``"confidence"``) is upsampled and added to the full-resolution propagation, so the result
   keeps the native-resolution detail of the warp; snapping and the original lines follow as for
   any guess (:meth:`FrameColorizer.finish`).

Models without that entry keep the paper's plain sampling from pure noise.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generator

import cv2
import numpy as np

from opdm_studio.errors import CheckpointError

GATES = ("none", "confidence")


@dataclass(frozen=True)
class RefineMode:
    """Validated refine-mode parameters of a model (from its config's ``extra["inference"]``)."""

    t_start: int
    steps: int
    gate: str = "confidence"
    refs: str = "flow-warped"


def refine_mode_of(model: Any) -> RefineMode | None:
    """The model's refine mode, or None when it samples as in the paper.

    Raises :class:`CheckpointError` when the entry exists but cannot be run (a newer or damaged
    model file), rather than silently colouring with the wrong procedure.
    """
    return refine_mode_of_config(getattr(model, "config", None))


def refine_mode_of_config(cfg: Any) -> RefineMode | None:
    """:func:`refine_mode_of` for a model config (e.g. read from a file's header, without torch)."""
    extra = getattr(cfg, "extra", None) or {}
    inf = extra.get("inference") if isinstance(extra, dict) else None
    if inf is None:
        return None
    name = getattr(cfg, "name", "this model")
    if not isinstance(inf, dict) or inf.get("mode") not in ("refine", "sample"):
        raise CheckpointError(f"model {name!r}: unknown inference mode {inf!r}; "
                              "a newer OPDM Studio may be needed")
    if inf["mode"] == "sample":
        return None
    T = int(getattr(cfg, "timesteps", 500))
    try:
        mode = RefineMode(t_start=int(inf.get("t_start", 30)), steps=int(inf.get("steps", 1)),
                          gate=str(inf.get("gate", "confidence")), refs=str(inf.get("refs", "flow-warped")))
    except (TypeError, ValueError):
        raise CheckpointError(f"model {name!r}: bad refine settings {inf!r}") from None
    if not (0 <= mode.t_start < T and mode.steps >= 1 and mode.gate in GATES
            and mode.refs == "flow-warped"):
        raise CheckpointError(f"model {name!r}: refine settings out of range {inf!r}")
    return mode


def iter_refine_guess(fc: Any, mode: RefineMode, line_u8: np.ndarray, prev_rgb: np.ndarray,
                      next_rgb: np.ndarray, prev_line: np.ndarray, next_line: np.ndarray, t: float,
                      cancel: Any, seed: int) -> Generator[tuple[int, int], None, np.ndarray]:
    """Full-resolution guess of one frame in refine mode; yields ``(step, steps)``.

    ``fc`` is the :class:`~opdm_studio.engine.colorizer.FrameColorizer` (model, device, dtype,
    schedule and settings come from it).
    """
    from opdm_studio.core.device import inference, prepare_inputs
    from opdm_studio.core.diffusion import ddim_sample
    from opdm_studio.engine.colorizer import _pad, _resize, drive_sampler, working_geometry
    from opdm_studio.imaging.refine import flow_references
    torch = fc._torch["torch"]
    device, dtype, diff = fc._torch["device"], fc._torch["dtype"], fc._torch["diff"]
    h, w = line_u8.shape[:2]

    # 1. Flow at full resolution, or at flow_size for big frames (as the `flow` method).
    size = fc.settings.flow_size
    if size and min(w, h) > size:
        scale = size / float(min(w, h))
        fsz = (max(1, int(round(w * scale))), max(1, int(round(h * scale))))
        refs = flow_references(_resize(line_u8, fsz), _resize(prev_rgb, fsz), _resize(prev_line, fsz),
                               _resize(next_rgb, fsz), _resize(next_line, fsz), t)
        prop_full = cv2.resize(refs.rgb, (w, h), interpolation=cv2.INTER_LINEAR)
    else:
        refs = flow_references(line_u8, prev_rgb, prev_line, next_rgb, next_line, t)
        prop_full = refs.rgb
    if cancel is not None:
        cancel.raise_if_cancelled()

    # 2. The network at the working size: warped keys as references, noised propagation as start.
    rw, rh, pw, ph = working_geometry(w, h, fc.settings.working_size)

    def small(img: np.ndarray, pad_value: int | None) -> np.ndarray:
        return _pad(_resize(img, (rw, rh)), pw, ph, pad_value)

    def to_tensor(img: np.ndarray) -> Any:
        arr = img.astype(np.float32) / 127.5 - 1.0
        arr = arr[None, None] if arr.ndim == 2 else arr.transpose(2, 0, 1)[None]
        return prepare_inputs(torch.from_numpy(np.ascontiguousarray(arr)), device, dtype)

    prop_small = small(refs.rgb, None)
    line_t = to_tensor(small(line_u8, 255))
    prev_t, next_t = to_tensor(small(refs.warp_prev, None)), to_tensor(small(refs.warp_next, None))
    prop_t = to_tensor(prop_small)
    model = fc.model
    with inference(device, dtype):
        cond = model.encode_conditions(line_t, prev_t, next_t)
    gen = torch.Generator(device="cpu").manual_seed(int(seed))
    sampler = ddim_sample(model, diff, line_t, prev_t, next_t, steps=mode.steps, generator=gen,
                          cond=cond, x_init=prop_t.float(), t_start=mode.t_start)
    x0 = yield from drive_sampler(sampler, device, dtype, cancel)
    with inference(device, dtype):
        out = ((x0[0].float().clamp(-1, 1) + 1.0) * 127.5).permute(1, 2, 0).cpu().numpy()

    # 3. Only the correction travels back to full resolution (the warp keeps its native detail).
    corr = out[:rh, :rw] - prop_small[:rh, :rw].astype(np.float32)
    if mode.gate == "confidence":
        conf = _resize(refs.confidence, (rw, rh))
        corr *= np.clip(1.0 - conf, 0.0, 1.0)[..., None]
    corr_full = cv2.resize(np.ascontiguousarray(corr), (w, h), interpolation=cv2.INTER_LINEAR)
    return np.clip(prop_full.astype(np.float32) + corr_full + 0.5, 0, 255).astype(np.uint8)
