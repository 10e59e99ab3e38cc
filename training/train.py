"""Stage 2 (paper section 3.3-3.4) and the training loop shared with stage 1 (training/align.py).

Read top to bottom: :class:`TrainConfig` (every option, saved as ``run.json`` in the run folder),
the stage-2 objective :class:`DiffusionObjective` (x0 prediction, noise MSE + content + perceptual,
joint diffusion-reverse chain with gradient checkpointing), then :func:`run` -- data, model,
optimizer, EMA, resume, the step loop with gradient accumulation, checkpoints, validation, logs.

Multi-process: under ``torchrun --nproc_per_node N`` (RANK/WORLD_SIZE in the environment) the
objective is wrapped in DistributedDataParallel (nccl on CUDA, gloo on CPU), each rank reads its
share of the data through :class:`training.data.KeyedDistributedSampler`, and rank 0 alone writes
checkpoints, logs and images.

Run folder layout::

    run.json                 the TrainConfig and the model config
    log.jsonl                one JSON object per logged step / validation
    loss.png                 the loss curve
    samples/latest.png       the last validation grid (also samples/step_NNNNNN.png)
    checkpoints/step_NNNNNN.safetensors   training state (model, EMA, optimizer, step, RNG)
"""
from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import math
import os
import random
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np
import torch
import torch.distributed as dist
from torch import nn
from torch.utils.checkpoint import checkpoint as grad_checkpoint
from torch.utils.data import DataLoader

from opdm_studio.errors import CheckpointError, TrainingDataError
from opdm_studio.fileio import atomic_path, write_text_atomic
from training import data as tdata
from training.losses import (LossWeights, content_loss, load_vgg19, noise_loss, perceptual_loss, psnr,
                             ssim)

TRAIN_FORMAT = "opdm-studio-training"
TRAIN_FORMAT_VERSION = 1
KEEP_CHECKPOINTS = 3


# --------------------------------------------------------------------------------------------
# configuration
# --------------------------------------------------------------------------------------------
@dataclass
class TrainConfig:
    """Every option of a training run (stage ``align`` or ``train``); saved as run.json."""

    data: str = ""                    # cuts folder, or synth:N
    out: str = ""                     # run folder
    stage: str = "train"              # "align" (stage 1) or "train" (stage 2)
    preset: str = "small"             # model preset when not starting from --init
    init: str | None = None           # model or training checkpoint to start from
    size: int = 0                     # working size (0 = the model config's image_size)
    steps: int = 1000                 # optimizer steps in total (a resumed run continues to this)
    batch: int = 1                    # per process, per micro-step
    accum: int = 1                    # gradient accumulation micro-steps
    lr: float = 1e-5                  # paper: 1e-5 stage 2, 1e-4 stage 1
    ema: float = 0.999
    max_grad_norm: float = 1.0
    gap_min: int = 2
    gap_max: int = tdata.MAX_GAP
    augment: bool = True
    workers: int = 2
    device: str = "auto"
    dtype: str = "auto"
    seed: int = 0
    ckpt_every: int = 500
    val_every: int = 500
    log_every: int = 10
    val_frames: int = 4
    val_fraction: float = 0.1
    synth_frames: int = 24            # frames per synthetic cut (data synth:N)
    synth_size: int = 256             # size of synthetic cuts before resizing to the working size
    # --- stage 2 -------------------------------------------------------------------------
    joint: bool = True                # joint diffusion-reverse chain with content/perceptual losses
    chain_steps: int = 10             # DDIM steps of that chain (paper: 10 sampling steps)
    grad_ckpt: bool = True            # torch.utils.checkpoint per chain step
    vgg: str | None = None            # VGG19 weights file; None = perceptual term off
    w_noise: float = 1.0
    w_content: float = 1.0
    w_perceptual: float = 0.1
    snr_clamp: float = 5.0
    # --- issue 9 hooks (defaults = the paper) --------------------------------------------
    flow_warp: bool = False           # compute flow-warped keys (data) ...
    warp_start: float = 0.0           # ... and start the chain from the noised warp at t = warp_start*T
    w_occlusion: float = 0.0          # extra L1 weight where the flow warp is inconsistent
    resume: bool = False
    progress: bool = True

    def weights(self) -> LossWeights:
        """λ of Eq. 10 and the optional extras."""
        return LossWeights(noise=self.w_noise, content=self.w_content, perceptual=self.w_perceptual,
                           occlusion=self.w_occlusion, snr_clamp=self.snr_clamp)

    def to_json(self) -> str:
        """JSON text (sorted keys)."""
        return json.dumps(dataclasses.asdict(self), sort_keys=True, indent=1)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "TrainConfig":
        """Inverse of asdict; unknown keys (a newer version's options) are ignored."""
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})


@dataclass
class TrainEvent:
    """Progress report of :func:`run` to a callback (CLI bar, wizard plot)."""

    step: int
    total: int
    losses: dict[str, float] = field(default_factory=dict)
    val: dict[str, float] | None = None
    sample: Path | None = None
    checkpoint: Path | None = None
    status: str = "running"          # running | paused | finished


# --------------------------------------------------------------------------------------------
# process group
# --------------------------------------------------------------------------------------------
@dataclass
class Dist:
    """This process's place in a (possibly single-process) group."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        """Rank 0 writes files."""
        return self.rank == 0

    def barrier(self) -> None:
        """Wait for every rank (no-op alone)."""
        if self.world > 1:
            dist.barrier()


def finish_distributed() -> None:
    """Leave the process group (end of a torchrun run)."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def init_distributed(device_kind: str) -> Dist:
    """Join the torchrun group from the environment (nccl on CUDA, gloo on CPU), or run alone."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return Dist()
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device_kind == "cuda" else "gloo")
    return Dist(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", "0")))


# --------------------------------------------------------------------------------------------
# diffusion helpers (differentiable DDIM for the joint chain)
# --------------------------------------------------------------------------------------------


class DiffusionObjective(nn.Module):
    """Stage 2: Eq. 10 on a batch; returns a dict of losses with the total under "loss".

    Wraps the model so that DistributedDataParallel sees the whole computation as one forward.
    """

    def __init__(self, model: nn.Module, diffusion: nn.Module, cfg: TrainConfig,
                 vgg: nn.Module | None = None) -> None:
        super().__init__()
        self.model = model
        self.diffusion = diffusion
        self.cfg = cfg
        self.w = cfg.weights()
        self.vgg = vgg

    def _denoise(self, x_t: torch.Tensor, t: torch.Tensor, line: torch.Tensor, cond: Any) -> torch.Tensor:
        if self.cfg.grad_ckpt and torch.is_grad_enabled():
            # Recompute activations in backward: memory stays that of one step whatever the chain.
            return grad_checkpoint(self.model.denoise, x_t, t, line, cond, use_reentrant=False)
        return self.model.denoise(x_t, t, line, cond)

    def forward(self, batch: dict[str, torch.Tensor], gen: torch.Generator) -> dict[str, torch.Tensor]:
        """Losses of one micro-batch; ``gen`` draws timesteps and noise (exact resume)."""
        x0, line, prev, nxt = batch["target"], batch["line"], batch["prev"], batch["next"]
        b, dev = x0.shape[0], x0.device
        T = self.diffusion.T
        abar = self.diffusion.alphas_cumprod
        cond = self.model.encode_conditions(line, prev, nxt)
        out: dict[str, torch.Tensor] = {}

        # Noise term: one random timestep per image, the network predicts x0.
        t = torch.randint(0, T, (b,), generator=gen, device=dev)
        noise = torch.randn(x0.shape, generator=gen, device=dev)
        x_t = self.diffusion.q_sample(x0, t, noise)
        x0_hat = self.model.denoise(x_t, t, line, cond)
        out["noise"] = noise_loss(x0_hat, x0, x_t, noise, abar[t], self.w.snr_clamp)

        # Joint diffusion-reverse: forward-diffuse, run the short DDIM chain with gradients and
        # judge its output -- what the user will actually see at inference.
        if self.cfg.joint and self.cfg.chain_steps > 0:
            start = x0
            t_start = None
            if self.cfg.warp_start > 0 and "warp" in batch:
                # Refinement instead of generation (issue 9): start from the noised flow warp.
                start = batch["warp"]
                t_start = int(self.cfg.warp_start * (T - 1))
            # The same timesteps the sampler uses at inference (core ddim_timesteps).
            ts = self.diffusion.ddim_timesteps(self.cfg.chain_steps, t_start)
            eps = torch.randn(x0.shape, generator=gen, device=dev)
            x = self.diffusion.q_sample(start, torch.full((b,), ts[0], device=dev, dtype=torch.long), eps)
            y = x0_hat
            for i, ti in enumerate(ts):
                tt = torch.full((b,), ti, device=dev, dtype=torch.long)
                y = self._denoise(x, tt, line, cond)
                if i + 1 < len(ts):
                    x = self.diffusion.ddim_step(x, y, ti, ts[i + 1])
        else:
            y = x0_hat
        weight = None
        if self.w.occlusion > 0 and "occlusion" in batch:
            weight = 1.0 + self.w.occlusion * batch["occlusion"]
        out["content"] = content_loss(y, x0, weight)
        if self.vgg is not None and self.w.perceptual > 0:
            out["perceptual"] = perceptual_loss(self.vgg, y, x0)
        total = self.w.noise * out["noise"] + self.w.content * out["content"]
        if "perceptual" in out:
            total = total + self.w.perceptual * out["perceptual"]
        out["loss"] = total
        return out


# --------------------------------------------------------------------------------------------
# EMA, checkpoints
# --------------------------------------------------------------------------------------------
class EMA:
    """Exponential moving average of the floating-point parameters (fp32 shadow copies)."""

    def __init__(self, model: nn.Module, decay: float) -> None:
        self.decay = decay
        self.shadow = {k: v.detach().float().clone() for k, v in model.state_dict().items()
                       if v.is_floating_point()}

    @torch.no_grad()
    def update(self, model: nn.Module, step: int) -> None:
        """shadow = d * shadow + (1 - d) * param, with a warm-up so early steps are not frozen in."""
        d = min(self.decay, (1 + step) / (10 + step))
        for k, v in model.state_dict().items():
            if k in self.shadow:
                self.shadow[k].mul_(d).add_(v.detach().float(), alpha=1 - d)

    @contextlib.contextmanager
    def applied(self, model: nn.Module) -> Iterator[None]:
        """Temporarily load the EMA weights into ``model``."""
        backup = {k: v.detach().clone() for k, v in model.state_dict().items() if k in self.shadow}
        model.load_state_dict({k: v.to(backup[k].dtype) for k, v in self.shadow.items()}, strict=False)
        try:
            yield
        finally:
            model.load_state_dict(backup, strict=False)


def _rng_state() -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    tensors = {"rng.torch": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        tensors["rng.cuda"] = torch.cuda.get_rng_state()
    np_state = np.random.get_state()
    meta = {"numpy": [np_state[0], np_state[1].tolist(), *np_state[2:]],
            "python": json.loads(json.dumps(random.getstate()))}
    return tensors, meta


def _set_rng_state(tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> None:
    if "rng.torch" in tensors:
        torch.set_rng_state(tensors["rng.torch"])
    if "rng.cuda" in tensors and torch.cuda.is_available():
        torch.cuda.set_rng_state(tensors["rng.cuda"])
    if "numpy" in meta:
        s = meta["numpy"]
        np.random.set_state((s[0], np.array(s[1], dtype=np.uint32), *s[2:]))
    if "python" in meta:
        p = meta["python"]
        random.setstate((p[0], tuple(p[1]), p[2]))


def save_training_state(path: Path, model: nn.Module, ema: EMA | None, opt: torch.optim.Optimizer,
                        step: int, model_cfg: Any, train_cfg: TrainConfig, extra: dict | None = None) -> Path:
    """Write model + EMA + optimizer + step + RNG to one safetensors file (atomic, no pickle)."""
    from safetensors.torch import save_file
    tensors: dict[str, torch.Tensor] = {}
    for k, v in model.state_dict().items():
        tensors[f"model.{k}"] = v.detach().cpu().contiguous()
    if ema is not None:
        for k, v in ema.shadow.items():
            tensors[f"ema.{k}"] = v.detach().cpu().contiguous()
    osd = opt.state_dict()
    scalars: dict[str, dict[str, Any]] = {}
    for pid, st in osd["state"].items():
        for key, val in st.items():
            if torch.is_tensor(val) and val.dim() > 0:
                tensors[f"optim.{pid}.{key}"] = val.detach().cpu().contiguous()
            else:
                scalars.setdefault(str(pid), {})[key] = float(val.item() if torch.is_tensor(val) else val)
    rng_t, rng_meta = _rng_state()
    tensors.update(rng_t)
    meta = {"format": TRAIN_FORMAT, "format_version": str(TRAIN_FORMAT_VERSION), "step": str(step),
            "config": model_cfg.to_json(), "train_config": train_cfg.to_json(),
            "optim_groups": json.dumps(osd["param_groups"]), "optim_scalars": json.dumps(scalars),
            "rng": json.dumps(rng_meta), "extra": json.dumps(extra or {})}
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata=meta)
    return path


def read_training_state(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """Tensors and header metadata of a training checkpoint (CheckpointError if it is not one)."""
    from safetensors import safe_open
    from safetensors.torch import load_file
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
        tensors = load_file(str(path))
    except Exception as exc:
        raise CheckpointError(f"{path}: not a readable checkpoint ({exc})") from exc
    if meta.get("format") != TRAIN_FORMAT:
        raise CheckpointError(f"{path}: not a training checkpoint (format {meta.get('format')!r})")
    return tensors, meta


def is_training_checkpoint(path: str | Path) -> bool:
    """True for files written by :func:`save_training_state`."""
    from safetensors import safe_open
    try:
        with safe_open(str(path), framework="pt") as f:
            return (f.metadata() or {}).get("format") == TRAIN_FORMAT
    except Exception:
        return False


def latest_checkpoint(run_dir: str | Path) -> Path | None:
    """The checkpoint with the highest step in ``run_dir/checkpoints`` (None if there is none)."""
    d = Path(run_dir) / "checkpoints"
    if not d.is_dir():
        return None
    ckpts = sorted(d.glob("step_*.safetensors"))
    return ckpts[-1] if ckpts else None


def _restore_optimizer(opt: torch.optim.Optimizer, tensors: dict[str, torch.Tensor], meta: dict[str, str]) -> None:
    groups = json.loads(meta["optim_groups"])
    scalars = json.loads(meta["optim_scalars"])
    state: dict[int, dict[str, Any]] = {}
    for k, v in tensors.items():
        if k.startswith("optim."):
            _, pid, key = k.split(".", 2)
            state.setdefault(int(pid), {})[key] = v
    for pid, d in scalars.items():
        for key, val in d.items():
            # Adam keeps "step" as a float tensor; restore it the same way.
            state.setdefault(int(pid), {})[key] = torch.tensor(val, dtype=torch.float32)
    opt.load_state_dict({"state": state, "param_groups": groups})


def load_model_weights(model: nn.Module, path: str | Path, use_ema: bool = True) -> dict[str, Any]:
    """Load weights from an inference checkpoint, a training checkpoint or a run folder into ``model``."""
    path = resolve_checkpoint(path)
    if is_training_checkpoint(path):
        tensors, meta = read_training_state(path)
        prefix = "ema." if use_ema and any(k.startswith("ema.") for k in tensors) else "model."
        sd = {k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)}
        # EMA holds only floating tensors; integer buffers come from the model copy.
        sd.update({k[6:]: v for k, v in tensors.items() if k.startswith("model.") and k[6:] not in sd})
        own = model.state_dict()
        model.load_state_dict({k: v.to(own[k].dtype) for k, v in sd.items() if k in own}, strict=True)
        return {"step": int(meta.get("step", 0)), "train_config": json.loads(meta.get("train_config", "{}"))}
    from opdm_studio.core.checkpoint import load_checkpoint
    src, _, meta, _spec = load_checkpoint(path, device="cpu")
    model.load_state_dict(src.state_dict(), strict=True)
    return dict(meta or {})


def resolve_checkpoint(path: str | Path) -> Path:
    """A checkpoint file, or a run folder meaning its latest checkpoint."""
    path = Path(path)
    if path.is_dir():
        last = latest_checkpoint(path)
        if last is None:
            raise CheckpointError(f"{path}: this run folder holds no checkpoint yet")
        return last
    return path


def model_config_of(path: str | Path):
    """The ModelConfig stored in an inference or training checkpoint (or a run folder's latest)."""
    from opdm_studio.core.config import ModelConfig
    path = resolve_checkpoint(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: checkpoint not found")
    if is_training_checkpoint(path):
        _, meta = read_training_state(path)
        return ModelConfig.from_json(meta["config"])
    from opdm_studio.core.checkpoint import read_checkpoint_info
    info = read_checkpoint_info(path)
    cfg = info.get("config") if isinstance(info, dict) else getattr(info, "config", None)
    if isinstance(cfg, str):
        cfg = ModelConfig.from_json(cfg)
    elif isinstance(cfg, dict):
        cfg = ModelConfig.from_dict(cfg)
    if cfg is None:
        raise CheckpointError(f"{path}: no model config in this checkpoint")
    return cfg


# --------------------------------------------------------------------------------------------
# images: sample grid and loss curve (PIL only)
# --------------------------------------------------------------------------------------------
def save_png_atomic(img: np.ndarray, path: Path) -> Path:
    """Write an RGB uint8 image to ``path`` through a temporary file."""
    from PIL import Image
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        Image.fromarray(img).save(tmp, format="PNG")
    return path


def make_grid(rows: list[list[torch.Tensor]], pad: int = 2) -> np.ndarray:
    """Rows of (C,H,W) tensors in [-1, 1] as one uint8 RGB image with white padding."""
    tiles = [[tdata.tensor_to_rgb(t) for t in r] for r in rows]
    h, w = tiles[0][0].shape[:2]
    ncol = max(len(r) for r in tiles)
    out = np.full((len(tiles) * (h + pad) + pad, ncol * (w + pad) + pad, 3), 255, np.uint8)
    for i, r in enumerate(tiles):
        for j, t in enumerate(r):
            y, x = pad + i * (h + pad), pad + j * (w + pad)
            out[y:y + h, x:x + w] = t
    return out


def read_log(path: str | Path) -> list[dict[str, Any]]:
    """Records of a log.jsonl (a torn last line is skipped)."""
    out = []
    p = Path(path)
    if not p.is_file():
        return out
    for line in p.read_text().splitlines():
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return out


def _smooth(ys: list[float]) -> list[float]:
    """Exponential moving average (heavier for long series), as the curves are drawn."""
    out, acc = [], ys[0]
    beta = 0.9 if len(ys) > 20 else 0.5
    for y in ys:
        acc = beta * acc + (1 - beta) * y
        out.append(acc)
    return out


def _series(records: list[dict[str, Any]], key: str, positive: bool = False) -> list[tuple[int, float]]:
    return [(int(r["step"]), float(r[key])) for r in records
            if r.get(key) is not None and math.isfinite(r[key]) and (r[key] > 0 or not positive)]


def plot_loss_curve(records: list[dict[str, Any]], path: Path | None = None, size: tuple[int, int] = (640, 420),
                    key: str = "loss") -> np.ndarray:
    """Draw the run's curves; optionally save the PNG.

    Top: the training loss (raw and smoothed, log scale); a stage-1 log also gets the level-0
    alignment L1 and the L1 of the unaligned keys (what doing nothing scores), smoothed. Bottom
    (when the log has validation records): validation PSNR per evaluation, and the unaligned keys'
    PSNR for stage 1. Axes are labelled in the quantities' own units.
    """
    from PIL import Image, ImageDraw
    w, h = size
    img = Image.new("RGB", size, (255, 255, 255))
    d = ImageDraw.Draw(img)
    vals = _series(records, "val_psnr")
    ref_vals = _series(records, "val_psnr_unaligned")
    left, right = 56, 12
    split = int(h * 0.62) if vals else h
    top, bottom = 14, split - 30

    def frame(y_top: int, y_bottom: int) -> None:
        d.rectangle([left, y_top, w - right, y_bottom], outline=(120, 120, 120))

    pts = _series(records, key, positive=True)
    extra = [(name, _series(records, name, positive=True), colour)
             for name, colour in (("l1_level0", (0, 140, 120)), ("l1_unaligned", (130, 130, 130)))]
    extra = [e for e in extra if e[1]] if all(e[1] for e in extra) else []
    frame(top, bottom)
    steps_all = [p[0] for p in pts] + [v[0] for v in vals]
    if steps_all:
        x0, x1 = min(steps_all), max(max(steps_all), min(steps_all) + 1)
        sx = lambda x: left + (x - x0) / (x1 - x0) * (w - left - right)  # noqa: E731
        d.text((left, h - 16), f"step {x0}", fill=(60, 60, 60))
        d.text((w - right - 90, h - 16), f"step {x1}", fill=(60, 60, 60))
    if pts:
        all_y = [math.log10(y) for _, y in pts] + [math.log10(y) for _, s, _ in extra for _, y in s]
        y0, y1 = min(all_y), max(all_y)
        if y1 - y0 < 1e-6:
            y0, y1 = y0 - 0.5, y1 + 0.5
        sy = lambda y: top + (y1 - y) / (y1 - y0) * (bottom - top)  # noqa: E731
        for k in range(5):  # gridlines with labels in the loss's own units
            yv = y0 + (y1 - y0) * k / 4
            yy = sy(yv)
            d.line([left, yy, w - right, yy], fill=(230, 230, 230))
            d.text((4, yy - 6), f"{10 ** yv:.3g}", fill=(60, 60, 60))
        xs = [p[0] for p in pts]
        ys = [math.log10(p[1]) for p in pts]
        raw = [(sx(x), sy(y)) for x, y in zip(xs, ys)]
        if len(raw) > 1:
            d.line(raw, fill=(170, 190, 230), width=1)
        sm = [(sx(x), sy(y)) for x, y in zip(xs, _smooth(ys))]
        if len(sm) > 1:
            d.line(sm, fill=(20, 70, 200), width=2)
        else:
            d.ellipse([sm[0][0] - 2, sm[0][1] - 2, sm[0][0] + 2, sm[0][1] + 2], fill=(20, 70, 200))
        legend = [(f"{key} (log scale), smoothed", (20, 70, 200))]
        for name, series, colour in extra:
            ys_e = _smooth([math.log10(y) for _, y in series])
            line = [(sx(x), sy(y)) for (x, _), y in zip(series, ys_e)]
            if len(line) > 1:
                d.line(line, fill=colour, width=2)
            legend.append((name + (" (keys as they are)" if name == "l1_unaligned" else ""), colour))
        for k, (text, colour) in enumerate(legend):
            d.text((left + 6, top + 2 + 12 * k), text, fill=colour)
    if vals:
        vt, vb = split + 8, h - 24
        frame(vt, vb)
        ys_v = [v for _, v in vals] + [v for _, v in ref_vals]
        v0, v1 = min(ys_v), max(ys_v)
        if v1 - v0 < 0.2:
            v0, v1 = v0 - 0.1, v1 + 0.1
        sv = lambda y: vt + (v1 - y) / (v1 - v0) * (vb - vt)  # noqa: E731
        for k in range(3):
            yv = v0 + (v1 - v0) * k / 2
            d.line([left, sv(yv), w - right, sv(yv)], fill=(230, 230, 230))
            d.text((4, sv(yv) - 6), f"{yv:.2f}", fill=(60, 60, 60))
        for series, colour in ((ref_vals, (130, 130, 130)), (vals, (200, 80, 20))):
            line = [(sx(x), sv(y)) for x, y in series]
            if len(line) > 1:
                d.line(line, fill=colour, width=2)
            for x, y in line:
                d.ellipse([x - 2, y - 2, x + 2, y + 2], fill=colour)
        d.text((left + 6, vt + 2), f"validation PSNR (dB), last {vals[-1][1]:.2f}", fill=(200, 80, 20))
        if ref_vals:
            d.text((left + 6, vt + 14), f"unaligned keys {ref_vals[-1][1]:.2f}", fill=(130, 130, 130))
    arr = np.asarray(img)
    if path is not None:
        save_png_atomic(arr, path)
    return arr


# --------------------------------------------------------------------------------------------
# building blocks of a run
# --------------------------------------------------------------------------------------------
def build_model(cfg: TrainConfig, from_checkpoint: Path | None = None):
    """The OPDM network (from --init or the preset) and its diffusion schedule, on CPU.

    With ``from_checkpoint`` (a resume) only the architecture is built, from that checkpoint's config.
    """
    from opdm_studio.core.config import ModelConfig
    from opdm_studio.core.diffusion import GaussianDiffusion
    from opdm_studio.core.model import OPDM
    if from_checkpoint is not None:
        mcfg = model_config_of(from_checkpoint)
        model = OPDM(mcfg)
    elif cfg.init:
        mcfg = model_config_of(cfg.init)
        model = OPDM(mcfg)
        load_model_weights(model, cfg.init)
    else:
        mcfg = ModelConfig.preset(cfg.preset)
        model = OPDM(mcfg)
    if cfg.size:
        if cfg.size % 16:
            raise TrainingDataError(f"working size {cfg.size} is not a multiple of 16")
    return model, mcfg, GaussianDiffusion.from_config(mcfg)


def make_datasets(cfg: TrainConfig, size: int) -> tuple[tdata.TripletDataset, tdata.TripletDataset | None, tdata.DataReport]:
    """Training and held-back validation triplet datasets for ``cfg.data``."""
    report = tdata.open_data(cfg.data, synth_frames=cfg.synth_frames, synth_size=cfg.synth_size, seed=cfg.seed)
    train_cuts, val_cuts = tdata.split_holdout(report.cuts, cfg.val_fraction if cfg.val_frames > 0 else 0)
    aug = tdata.AugmentConfig() if cfg.augment else tdata.AugmentConfig.off()
    gap = (cfg.gap_min, max(cfg.gap_min, cfg.gap_max))
    train = tdata.TripletDataset(train_cuts, size=size, gap=gap, augment=aug, seed=cfg.seed,
                                 flow_warp=cfg.flow_warp)
    val = None
    if val_cuts:
        val = tdata.TripletDataset(val_cuts, size=size, gap=gap, augment=tdata.AugmentConfig.off(),
                                   seed=cfg.seed + 1, flow_warp=cfg.flow_warp)
    return train, val, report


class KeyBatches:
    """Infinite stream of per-rank batches of item keys, positioned at an optimizer step."""

    def __init__(self, sampler: tdata.KeyedDistributedSampler, batch: int, start_sample: int) -> None:
        self.sampler, self.batch = sampler, batch
        n = sampler.num_samples
        self.epoch, self.start = divmod(start_sample, n)

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


def step_generator(seed: int, step: int, rank: int, micro: int, device: torch.device) -> torch.Generator:
    """The generator of one micro-step: noise depends on (seed, step, rank, micro) only."""
    g = torch.Generator(device=device)
    g.manual_seed(int(np.random.SeedSequence([seed, step, rank, micro]).generate_state(1, np.uint64)[0] >> 1))
    return g


def to_device(batch: dict[str, torch.Tensor], device: torch.device) -> dict[str, torch.Tensor]:
    """Move a batch dict to ``device``."""
    return {k: v.to(device, non_blocking=True) for k, v in batch.items()}


class Stage:
    """What differs between stage 1 and stage 2: objective, trainable params, validation."""

    name = "train"

    def prepare(self, model: nn.Module) -> list[nn.Parameter]:
        """Set requires_grad; return the parameters to optimise."""
        model.freeze_offset_estimators(True)
        return [p for p in model.parameters() if p.requires_grad]

    def objective(self, model: nn.Module, diffusion: nn.Module, cfg: TrainConfig, device: torch.device) -> nn.Module:
        """The module whose forward(batch, gen) returns the loss dict."""
        vgg = None
        if cfg.vgg and cfg.w_perceptual > 0:
            vgg = load_vgg19(cfg.vgg, device)
        elif cfg.w_perceptual > 0 and int(os.environ.get("RANK", "0")) == 0:
            print("notice: no VGG19 weights given (--vgg FILE); the perceptual loss term is off")
        return DiffusionObjective(model, diffusion, cfg, vgg)

    @torch.no_grad()
    def validate(self, model: nn.Module, diffusion: nn.Module, batch: dict[str, torch.Tensor],
                 cfg: TrainConfig, device: torch.device) -> tuple[dict[str, float], np.ndarray]:
        """PSNR/SSIM of DDIM samples on held-back frames and a grid (line|prev|next|pred|target)."""
        from opdm_studio.core.diffusion import ddim_sample
        g = torch.Generator(device=device).manual_seed(cfg.seed)
        x_init = t_start = None
        if cfg.warp_start > 0 and "warp" in batch:
            x_init, t_start = batch["warp"], int(cfg.warp_start * (diffusion.T - 1))
        pred = None
        for st in ddim_sample(model, diffusion, batch["line"], batch["prev"], batch["next"],
                              steps=max(1, cfg.chain_steps), eta=0.0, generator=g,
                              x_init=x_init, t_start=t_start):
            pred = st.x0
        pred = pred.float().clamp(-1, 1)
        tgt = batch["target"].float()
        metrics = {"val_psnr": float(psnr(pred, tgt).mean()), "val_ssim": float(ssim(pred, tgt))}
        rows = [[batch["line"][i], batch["prev"][i], batch["next"][i], pred[i], tgt[i]]
                for i in range(pred.shape[0])]
        return metrics, make_grid(rows)


def _write_run_json(run_dir: Path, cfg: TrainConfig, mcfg: Any, report: tdata.DataReport) -> None:
    meta = {"train_config": dataclasses.asdict(cfg), "model_config": mcfg.to_dict(),
            "data": {"root": str(report.root), "cuts": len(report.cuts), "frames": report.n_frames,
                     "problems": report.problems[:50]}}
    write_text_atomic(run_dir / "run.json", json.dumps(meta, indent=1))


def _append_log(run_dir: Path, record: dict[str, Any]) -> None:
    with open(run_dir / "log.jsonl", "a") as f:
        f.write(json.dumps(record) + "\n")


def _truncate_log(run_dir: Path, step: int) -> None:
    """On resume, drop log records past the checkpoint's step (they will be redone)."""
    p = run_dir / "log.jsonl"
    if not p.is_file():
        return
    keep = [r for r in read_log(p) if r.get("step", 0) <= step]
    write_text_atomic(p, "".join(json.dumps(r) + "\n" for r in keep))


# --------------------------------------------------------------------------------------------
# the loop
# --------------------------------------------------------------------------------------------
def run(cfg: TrainConfig, stage: Stage | None = None, callback: Callable[[TrainEvent], None] | None = None,
        stop: threading.Event | None = None) -> TrainEvent:
    """Train until ``cfg.steps`` (or ``stop`` is set: then checkpoint and return "paused")."""
    from opdm_studio.core.device import autocast, pick_device, pick_dtype
    stage = stage or Stage()
    device = pick_device(cfg.device)
    device = torch.device(device) if not isinstance(device, torch.device) else device
    dd = init_distributed(device.type)
    if device.type == "cuda" and dd.world > 1:
        device = torch.device("cuda", dd.local_rank)
        torch.cuda.set_device(device)
    dtype = pick_dtype(device, cfg.dtype)
    run_dir = Path(cfg.out)
    if not cfg.out:
        raise TrainingDataError("no run folder given (--out)")

    ckpt = latest_checkpoint(run_dir) if cfg.resume else None
    if not cfg.resume and latest_checkpoint(run_dir) is not None:
        raise TrainingDataError(f"{run_dir}: already holds a training run; use --resume to continue it "
                                "or choose another --out folder")
    torch.manual_seed(cfg.seed)
    # Resuming needs no --init weights (the checkpoint has them), only the config.
    model, mcfg, diffusion = build_model(cfg, from_checkpoint=ckpt)
    size = cfg.size or mcfg.image_size
    train_ds, val_ds, report = make_datasets(cfg, size)
    params = stage.prepare(model)
    model.to(device)
    diffusion.to(device)
    opt = torch.optim.Adam(params, lr=cfg.lr)
    ema = EMA(model, cfg.ema)
    step = 0
    if ckpt is not None:
        tensors, meta = read_training_state(ckpt)
        model.load_state_dict({k[6:]: v for k, v in tensors.items() if k.startswith("model.")})
        ema.shadow = {k[4:]: v.to(device).float() for k, v in tensors.items() if k.startswith("ema.")}
        _restore_optimizer(opt, tensors, meta)
        _set_rng_state(tensors, json.loads(meta.get("rng", "{}")))
        step = int(meta["step"])
    if dd.main:
        run_dir.mkdir(parents=True, exist_ok=True)
        _write_run_json(run_dir, cfg, mcfg, report)
        _truncate_log(run_dir, step)
    objective = stage.objective(model, diffusion, cfg, device)
    wrapped: nn.Module = objective
    if dd.world > 1:
        from torch.nn.parallel import DistributedDataParallel as DDP
        wrapped = DDP(objective, device_ids=[device.index] if device.type == "cuda" else None)

    sampler = tdata.KeyedDistributedSampler(train_ds, num_replicas=dd.world, rank=dd.rank, seed=cfg.seed)
    per_step = cfg.batch * cfg.accum
    loader = DataLoader(train_ds, batch_sampler=KeyBatches(sampler, cfg.batch, step * per_step),
                        num_workers=cfg.workers, collate_fn=tdata.collate,
                        worker_init_fn=tdata.worker_init if cfg.workers else None,
                        # fork after torch/OpenCV thread pools exist can deadlock a worker: spawn.
                        multiprocessing_context="spawn" if cfg.workers else None,
                        pin_memory=device.type == "cuda")
    val_batch = None
    if val_ds is not None and cfg.val_frames > 0 and dd.main:
        val_batch = to_device(tdata.fixed_batch(val_ds, min(cfg.val_frames, len(val_ds))), device)

    bar = None
    if cfg.progress and dd.main:
        from tqdm import tqdm
        bar = tqdm(total=cfg.steps, initial=step, desc=stage.name, dynamic_ncols=True)
    it = iter(loader)
    t_last, steps_since = time.perf_counter(), 0
    event = TrainEvent(step, cfg.steps)
    model.train()
    try:
        while step < cfg.steps:
            sums: dict[str, float] = {}
            for micro in range(cfg.accum):
                batch = to_device(next(it), device)
                gen = step_generator(cfg.seed, step, dd.rank, micro, device)
                sync = contextlib.nullcontext()
                if dd.world > 1 and micro < cfg.accum - 1:
                    sync = wrapped.no_sync()  # type: ignore[union-attr]
                with sync:
                    with autocast(device, dtype):
                        losses = wrapped(batch, gen)
                    (losses["loss"] / cfg.accum).backward()
                for k, v in losses.items():
                    sums[k] = sums.get(k, 0.0) + float(v.detach()) / cfg.accum
            if cfg.max_grad_norm > 0:
                gn = torch.nn.utils.clip_grad_norm_(params, cfg.max_grad_norm)
                sums["grad_norm"] = float(gn)
            opt.step()
            opt.zero_grad(set_to_none=True)
            step += 1
            ema.update(model, step)
            steps_since += 1
            if not all(math.isfinite(v) for v in sums.values()):
                raise FloatingPointError(f"loss is not finite at step {step}: {sums}")
            event = TrainEvent(step, cfg.steps, sums)
            if dd.main:
                if bar is not None:
                    bar.update(1)
                    bar.set_postfix(loss=f"{sums['loss']:.4f}")
                if step % cfg.log_every == 0 or step == cfg.steps or step == 1:
                    now = time.perf_counter()
                    rec = {"step": step, **{k: round(v, 6) for k, v in sums.items()},
                           "lr": opt.param_groups[0]["lr"], "steps_per_s": round(steps_since / (now - t_last), 4),
                           "time": time.time()}
                    t_last, steps_since = now, 0
                    _append_log(run_dir, rec)
                if val_batch is not None and cfg.val_every > 0 and (step % cfg.val_every == 0 or step == cfg.steps):
                    model.eval()
                    with ema.applied(model), autocast(device, dtype):
                        metrics, grid = stage.validate(model, diffusion, val_batch, cfg, device)
                    model.train()
                    save_png_atomic(grid, run_dir / "samples" / f"step_{step:06d}.png")
                    event.sample = save_png_atomic(grid, run_dir / "samples" / "latest.png")
                    event.val = metrics
                    _append_log(run_dir, {"step": step, **{k: round(v, 4) for k, v in metrics.items()}})
                    plot_loss_curve(read_log(run_dir / "log.jsonl"), run_dir / "loss.png")
            stopping = stop is not None and stop.is_set()
            if step % cfg.ckpt_every == 0 or step == cfg.steps or stopping:
                if dd.main:
                    event.checkpoint = save_training_state(
                        run_dir / "checkpoints" / f"step_{step:06d}.safetensors", model, ema, opt, step,
                        mcfg, cfg, {"stage": stage.name})
                    _prune_checkpoints(run_dir)
                    plot_loss_curve(read_log(run_dir / "log.jsonl"), run_dir / "loss.png")
                dd.barrier()
            if callback is not None:
                callback(event)
            if stopping and step < cfg.steps:
                event.status = "paused"
                return event
    finally:
        if bar is not None:
            bar.close()
        del it
    event.status = "finished"
    if callback is not None:
        callback(event)
    return event


def _prune_checkpoints(run_dir: Path) -> None:
    ckpts = sorted((run_dir / "checkpoints").glob("step_*.safetensors"))
    for p in ckpts[:-KEEP_CHECKPOINTS]:
        p.unlink(missing_ok=True)


# --------------------------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------------------------
def add_common_args(ap: argparse.ArgumentParser, defaults: TrainConfig) -> None:
    """Options shared by `align` and `train`."""
    ap.add_argument("data", help="folder of finished cuts (one subfolder per cut), or synth:N")
    ap.add_argument("--out", required=True, help="run folder (checkpoints, logs, samples)")
    ap.add_argument("--preset", default=defaults.preset, help="model preset: tiny, small, paper")
    ap.add_argument("--init", default=None, help="start from this model or training checkpoint")
    ap.add_argument("--size", type=int, default=0, help="working size (default: the model's, 224)")
    ap.add_argument("--steps", type=int, default=defaults.steps)
    ap.add_argument("--batch", type=int, default=defaults.batch)
    ap.add_argument("--accum", type=int, default=1, help="gradient accumulation micro-steps")
    ap.add_argument("--lr", type=float, default=defaults.lr)
    ap.add_argument("--ema", type=float, default=defaults.ema)
    ap.add_argument("--gap", default=f"{defaults.gap_min},{defaults.gap_max}", help="key gap range MIN,MAX")
    ap.add_argument("--no-augment", action="store_true")
    ap.add_argument("--workers", type=int, default=defaults.workers)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--dtype", default="auto", help="auto, fp32, bf16, fp16")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--ckpt-every", type=int, default=defaults.ckpt_every)
    ap.add_argument("--val-every", type=int, default=defaults.val_every)
    ap.add_argument("--log-every", type=int, default=defaults.log_every)
    ap.add_argument("--val-frames", type=int, default=defaults.val_frames)
    ap.add_argument("--synth-frames", type=int, default=defaults.synth_frames)
    ap.add_argument("--synth-size", type=int, default=defaults.synth_size)
    ap.add_argument("--flow-warp", action="store_true", help="(issue 9) compute flow-warped keys per item")
    ap.add_argument("--resume", action="store_true", help="continue the run in --out from its last checkpoint")
    ap.add_argument("--no-progress", action="store_true")


def config_from_args(ns: argparse.Namespace, stage: str) -> TrainConfig:
    """TrainConfig from parsed CLI options."""
    try:
        gmin, gmax = (int(x) for x in ns.gap.split(","))
    except ValueError:
        raise TrainingDataError(f"--gap {ns.gap}: expected MIN,MAX like 2,16") from None
    cfg = TrainConfig(data=ns.data, out=ns.out, stage=stage, preset=ns.preset, init=ns.init, size=ns.size,
                      steps=ns.steps, batch=ns.batch, accum=ns.accum, lr=ns.lr, ema=ns.ema, gap_min=gmin,
                      gap_max=gmax, augment=not ns.no_augment, workers=ns.workers, device=ns.device,
                      dtype=ns.dtype, seed=ns.seed, ckpt_every=ns.ckpt_every, val_every=ns.val_every,
                      log_every=ns.log_every, val_frames=ns.val_frames, synth_frames=ns.synth_frames,
                      synth_size=ns.synth_size, flow_warp=ns.flow_warp, resume=ns.resume,
                      progress=not ns.no_progress)
    for k in ("joint", "chain_steps", "grad_ckpt", "vgg", "w_noise", "w_content", "w_perceptual",
              "snr_clamp", "warp_start", "w_occlusion"):
        if hasattr(ns, k):
            setattr(cfg, k, getattr(ns, k))
    return cfg


def main(argv: list[str]) -> int:
    """`python -m training train DATA --out RUN ...`: stage 2."""
    d = TrainConfig()
    ap = argparse.ArgumentParser(prog="python -m training train",
                                 description="Stage 2: train OPDM (x0 prediction, joint diffusion-reverse).")
    add_common_args(ap, d)
    ap.add_argument("--no-joint", dest="joint", action="store_false",
                    help="content/perceptual losses on the one-step x0 instead of the DDIM chain")
    ap.add_argument("--chain-steps", type=int, default=d.chain_steps)
    ap.add_argument("--no-grad-ckpt", dest="grad_ckpt", action="store_false")
    ap.add_argument("--vgg", default=None, help="VGG19 weights (.safetensors or torchvision .pth)")
    ap.add_argument("--w-noise", type=float, default=d.w_noise)
    ap.add_argument("--w-content", type=float, default=d.w_content)
    ap.add_argument("--w-perceptual", type=float, default=d.w_perceptual)
    ap.add_argument("--snr-clamp", type=float, default=d.snr_clamp)
    ap.add_argument("--warp-start", type=float, default=0.0,
                    help="(issue 9) start the chain from the flow warp noised to this fraction of T")
    ap.add_argument("--w-occlusion", type=float, default=0.0, help="(issue 9) extra loss weight on occlusions")
    ns = ap.parse_args(argv)
    cfg = config_from_args(ns, "train")
    if cfg.warp_start > 0 or cfg.w_occlusion > 0:
        cfg.flow_warp = True
    ev = run(cfg)
    finish_distributed()
    if ev.status == "finished" and int(os.environ.get("RANK", "0")) == 0:
        print(f"finished at step {ev.step}; checkpoints in {Path(cfg.out) / 'checkpoints'}")
    return 0
