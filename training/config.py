"""The options of a training run (:class:`TrainConfig`, saved in run.json and in every training
checkpoint) and the progress report the trainer sends to its caller (:class:`TrainEvent`)."""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from opdm_studio.core.config import REFINE_T_MAX, REFINE_T_MIN, REFINE_W_OCCLUSION, REFINE_W_RAW
from opdm_studio.imaging.flow import FLOW_SIZE

#: Objectives a run can train (training/objectives.py); "auto" follows the --init model's spec.
OBJECTIVE_NAMES = ("align", "paper", "refine")
#: The on-the-fly synthetic data of the refine recipe (training/refine_data.py).
SYNTH_REFINE = "synth-refine"
#: Key gap of the paper's protocol: keys up to 16 frames apart.
MAX_GAP = 16
# Runs written before objectives existed named the stage instead.
_LEGACY_STAGES = {"align": "align", "train": "paper", "refine": "refine"}


@dataclass
class TrainConfig:
    """Every option of a training run; saved as run.json and inside every training checkpoint."""

    data: str = ""                    # cuts folder, synth:N, or synth-refine
    out: str = ""                     # run folder
    objective: str = "auto"           # align | paper | refine | auto (what the --init model runs)
    preset: str = "small"             # model preset when not starting from --init (or refine-small)
    init: str | None = None           # model, training checkpoint or run folder to start from
    width: int = 0                    # base width of a new model (0 = the preset's)
    size: int = 0                     # working size (0 = the model config's image_size)
    crop: int = -1                    # train on crops of the working-size view (0 = whole; -1 = objective's)
    steps: int = 1000                 # optimizer steps in total, a cap (0 = none: --minutes decides)
    minutes: float = 0.0              # wall-clock budget of this invocation (0 = none)
    batch: int = 0                    # per process, per micro-step (0 = the objective's default)
    accum: int = 1                    # gradient accumulation micro-steps
    lr: float = 0.0                   # 0 = the objective's (paper: 1e-5 stage 2, 1e-4 stage 1)
    l2sp: float = -1.0                # L2-SP pull to the --init weights (0 = off; < 0 = objective's)
    synth_ratio: float = 0.0          # share of synthetic items mixed into a cuts folder's
    flow_size: int = FLOW_SIZE        # short side of the flow of big frames (the engine's)
    ema: float = 0.999
    max_grad_norm: float = 1.0
    gap_min: int = 2
    gap_max: int = MAX_GAP
    augment: bool = True
    workers: int = 2
    device: str = "auto"
    dtype: str = "auto"
    seed: int = 0
    ckpt_every: int = 500             # checkpoint every N steps ...
    ckpt_minutes: float = 0.0         # ... and every N minutes (0 = by steps only)
    val_every: int = 500              # validate every N steps, at the end and at timed checkpoints (0 = never)
    log_every: int = 10
    val_frames: int = 4
    val_fraction: float = 0.1
    synth_frames: int = 24            # frames per synthetic cut (data synth:N)
    synth_size: int = 256             # size of synthetic cuts before resizing to the working size
    # --- paper (stage 2) ---------------------------------------------------------------------
    joint: bool = True                # joint diffusion-reverse chain with content/perceptual losses
    chain_steps: int = 10             # DDIM steps of that chain (paper: 10 sampling steps)
    grad_ckpt: bool = True            # torch.utils.checkpoint per chain step
    vgg: str | None = None            # VGG19 weights file; None = perceptual term off
    w_noise: float = 1.0
    w_content: float = 1.0
    w_perceptual: float = 0.1
    snr_clamp: float = 5.0
    # --- refine ------------------------------------------------------------------------------
    t_min: int = REFINE_T_MIN         # the propagation is noised to t ~ U[t_min, t_max]
    t_max: int = REFINE_T_MAX
    gate: str = "confidence"          # gate of a new refine spec (an --init spec keeps its own)
    refs: str = "chain-warped"        # references of a new refine spec (chain-warped | flow-warped)
    w_occlusion: float = REFINE_W_OCCLUSION   # L1 weight 1 + w * (1 - warp confidence)
    w_raw: float = REFINE_W_RAW       # plain L1 of the ungated output
    # --- resolved at the start of a run --------------------------------------------------------
    inference: dict[str, Any] | None = None   # the InferenceSpec the exported model gets
    resume: bool = False
    progress: bool = True

    def to_json(self) -> str:
        """JSON text (sorted keys)."""
        return json.dumps(dataclasses.asdict(self), sort_keys=True, indent=1)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrainConfig:
        """Inverse of asdict; unknown keys (a newer version's options) are ignored."""
        d = dict(d)
        if "objective" not in d and d.get("stage") in _LEGACY_STAGES:
            d["objective"] = _LEGACY_STAGES[d["stage"]]
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})

    def replace(self, **changes: Any) -> TrainConfig:
        """A copy with some options changed."""
        return dataclasses.replace(self, **changes)


@dataclass
class TrainEvent:
    """Progress report of the trainer to a callback (CLI, wizard plot)."""

    step: int
    total: int                       # the step cap (0 = none)
    losses: dict[str, float] = field(default_factory=dict)
    val: dict[str, float] | None = None
    sample: Path | None = None
    checkpoint: Path | None = None
    status: str = "running"          # running | paused | finished | budget
