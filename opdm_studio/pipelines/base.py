"""What every pipeline shares: the frame's inputs, its guess, the working-size geometry, the cancel
token and the loop that drives a DDIM generator.

A *pipeline* colours one drawing from its two keyframes and returns a full-resolution guess
(colour + confidence) before snapping; the engine snaps it to the palette and puts the original
lines on top. Pipelines are generators: they yield ``(step, steps)`` after every step (a
:class:`Step`, which also says whether it was a sampler step or a step of adapting the network to
the keys; the engine turns that into progress) and return the :class:`Guess` (``StopIteration.value``).
"""
from __future__ import annotations

import math
import threading
from collections.abc import Callable, Generator, Hashable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import cv2
import numpy as np

from opdm_studio.errors import Cancelled

#: Network inputs are padded to multiples of this (four 2x downsamplings).
SIZE_MULTIPLE = 16


class CancelToken:
    """Thread-safe stop flag: the GUI or a signal handler sets it, the work checks it between steps."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        """Ask the work to stop at the next check."""
        self._event.set()

    @property
    def cancelled(self) -> bool:
        """True once :meth:`cancel` was called."""
        return self._event.is_set()

    def raise_if_cancelled(self) -> None:
        """Raise :class:`Cancelled` if the work should stop."""
        if self._event.is_set():
            raise Cancelled("stopped by the user; finished frames are kept")


def gated_correction(correction: Any, confidence: Any, gate: str, strength: float,
                     clip: Callable[[Any, float, float], Any]) -> Any:
    """The part of the network's correction the refine pipeline adds to the flow's propagation:
    ``correction`` times the gate (``"confidence"``: 1 - the warp's confidence, clipped to [0, 1];
    ``"none"``: everywhere) and the spec's ``strength``. Arithmetic only, so the pipeline (numpy,
    ``clip=np.clip``) and the refine objective it is trained and adapted on (torch,
    ``clip=torch.clamp``) apply one definition; ``confidence`` broadcasts against ``correction``."""
    if gate == "confidence":
        correction = correction * clip(1.0 - confidence, 0.0, 1.0)
    elif gate != "none":
        raise ValueError(f"unknown gate {gate!r}: use none or confidence")
    if strength != 1.0:
        correction = correction * strength
    return correction


class Step(tuple):
    """``(step, steps)`` as a pipeline yields it, with its ``phase``: "sample" (a sampler step) or
    "adapt" (a step of adapting the network to the key interval, before its first frame samples).
    A plain 2-tuple to everything that unpacks it."""

    phase: str

    def __new__(cls, step: int, steps: int, phase: str = "sample") -> Step:
        obj = super().__new__(cls, (int(step), int(steps)))
        obj.phase = phase
        return obj


def step_phase(step: tuple[int, int]) -> str:
    """The phase of a yielded step ("sample" for a plain tuple)."""
    return getattr(step, "phase", "sample")


@dataclass(frozen=True)
class Interval:
    """The key interval a frame sits in: the drawings from the previous key to the next, so flow
    can be chained through the in-betweens (:class:`~opdm_studio.imaging.chain.ChainPropagator`)."""

    key: Hashable                                 # identity of these drawings (the pipelines' cache key)
    load: Callable[[], Sequence[np.ndarray]]      # the drawings, previous key first, next key last
    position: int                                 # the target's index among them (0 < position < last)
    length: int                                   # how many drawings: last index + 1
    origin: int = 0                               # the previous key's index in its cut (shared pair flows)


@dataclass(frozen=True)
class FrameInputs:
    """One drawing to colour and its two keyframes, all at the drawing's full resolution."""

    line: np.ndarray        # uint8 (H, W): the drawing, 255 paper / 0 ink
    prev_rgb: np.ndarray    # uint8 (H, W, 3): previous keyframe's colours
    next_rgb: np.ndarray    # uint8 (H, W, 3): next keyframe's colours
    prev_line: np.ndarray   # uint8 (H, W): previous keyframe's drawing
    next_line: np.ndarray   # uint8 (H, W): next keyframe's drawing
    t: float = 0.5          # position between the keys in [0, 1]
    seed: int = 0           # noise seed of this frame
    pair: Hashable = None   # identity of the key pair (pipelines cache per-pair work under it)
    interval: Interval | None = None   # the drawings between the keys, where known (chained flow)
    paint: np.ndarray | None = None    # uint8 (K, 3): the key pair's paint colours, where known
    #: Called with a first picture of the frame (uint8 (H, W, 3)) where the pipeline has one long
    #: before its guess (the flow's propagation, before the network adapts to the keys).
    preview: Callable[[np.ndarray], None] | None = None


@dataclass
class Guess:
    """A pipeline's full-resolution colour guess, before snapping."""

    rgb: np.ndarray                        # uint8 (H, W, 3)
    confidence: np.ndarray | None = None   # float32 (H, W) in [0, 1] where the pipeline knows it
    #: uint8 (H, W, 3): the keys' warp the network corrected (the refine pipeline), where there
    #: is one: with exact-paint keys the paint decision keeps its paint in small regions it fills
    #: with one paint (:func:`~opdm_studio.imaging.paint_tracks.warped_paint`).
    base: np.ndarray | None = None


class Pipeline(Protocol):
    """One way of colouring a frame (see the module doc)."""

    def __call__(self, inputs: FrameInputs, cancel: CancelToken | None = None
                 ) -> Generator[tuple[int, int], None, Guess]:
        """Colour ``inputs``: yields ``(step, steps)``, returns the :class:`Guess`."""
        ...

    def reset(self) -> None:
        """Forget per-key-pair caches (the keys' images may have changed)."""
        ...


def working_geometry(width: int, height: int, short_side: int = 224,
                     multiple: int = SIZE_MULTIPLE) -> tuple[int, int, int, int]:
    """(rw, rh, pw, ph): resized size keeping aspect with short side ``short_side``, and the
    padded size (multiples of ``multiple``) the network runs at."""
    scale = short_side / float(min(width, height))
    rw = max(1, int(round(width * scale)))
    rh = max(1, int(round(height * scale)))
    pw = int(math.ceil(rw / multiple) * multiple)
    ph = int(math.ceil(rh / multiple) * multiple)
    return rw, rh, pw, ph


def resize(img: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize to (w, h) with area averaging when shrinking (keeps thin lines as gray)."""
    h, w = img.shape[:2]
    if (w, h) == size:
        return img
    interp = cv2.INTER_AREA if size[0] < w else cv2.INTER_CUBIC
    return cv2.resize(img, size, interpolation=interp)


def pad(img: np.ndarray, pw: int, ph: int, value: int | None) -> np.ndarray:
    """Pad right/bottom to (pw, ph): constant ``value`` (paper) or edge replication (colours)."""
    h, w = img.shape[:2]
    if (w, h) == (pw, ph):
        return img
    if value is None:
        return cv2.copyMakeBorder(img, 0, ph - h, 0, pw - w, cv2.BORDER_REPLICATE)
    return cv2.copyMakeBorder(img, 0, ph - h, 0, pw - w, cv2.BORDER_CONSTANT, value=value)


#: Frames whose short side is at most this many times the flow size keep their flow at full
#: resolution: a small reduction saves little time but blurs thin lines (a 612 px clip, flow at
#: 540 instead of 612: -0.76 dB at G=8, -1.07 at G=16, docs/model.md).
FLOW_SIZE_SLACK = 1.25


def flow_size_of(width: int, height: int, flow_size: int) -> tuple[int, int] | None:
    """The reduced (w, h) at which flow runs for big frames, or None to run at full size
    (frames up to ``FLOW_SIZE_SLACK`` x ``flow_size`` on the short side run at full size too)."""
    if not flow_size or min(width, height) <= flow_size * FLOW_SIZE_SLACK:
        return None
    scale = flow_size / float(min(width, height))
    return max(1, int(round(width * scale))), max(1, int(round(height * scale)))


def drive_sampler(sampler: Iterator[Any], device: Any, dtype: Any,
                  cancel: CancelToken | None) -> Generator[tuple[int, int], None, Any]:
    """Step a DDIM generator under inference mode, yield (step, total) after each step and check
    the cancel token between steps; return the last x0 prediction.

    Inference mode / autocast cover only the sampler's own work: the caller's code between steps
    must not run under them.
    """
    from opdm_studio.core.device import inference
    x0 = None
    while True:
        with inference(device, dtype):
            try:
                step = next(sampler)
            except StopIteration:
                break
        x0 = step.x0
        yield Step(step.index + 1, step.total)
        if cancel is not None and step.index + 1 < step.total:
            cancel.raise_if_cancelled()
    if x0 is None:
        raise RuntimeError("the sampler made no step")
    return x0
