"""Training state on disk: the EMA, training checkpoints (model, EMA, optimizer, step, RNG, the
run's options and the inference spec it trains for), and what a checkpoint says about its model.

A training checkpoint is one safetensors file (no pickle) whose header has
``format = opdm-studio-training``; a run folder keeps the last few in ``checkpoints/``.
"""
from __future__ import annotations

import contextlib
import json
import random
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn

from opdm_studio.errors import CheckpointError
from opdm_studio.fileio import atomic_path
from training.config import TrainConfig

if TYPE_CHECKING:
    from opdm_studio.core.config import InferenceSpec, ModelConfig

TRAIN_FORMAT = "opdm-studio-training"
TRAIN_FORMAT_VERSION = 1
KEEP_CHECKPOINTS = 3


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


def rng_state() -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """The torch / CUDA / numpy / Python RNG states as tensors and JSON-able metadata."""
    tensors = {"rng.torch": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        tensors["rng.cuda"] = torch.cuda.get_rng_state()
    np_state = np.random.get_state()
    assert isinstance(np_state, tuple)   # the legacy (MT19937) state: a tuple, never a dict here
    meta = {"numpy": [np_state[0], np_state[1].tolist(), *np_state[2:]],
            "python": json.loads(json.dumps(random.getstate()))}
    return tensors, meta


def set_rng_state(tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> None:
    """Inverse of :func:`rng_state`."""
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
                        step: int, model_cfg: ModelConfig, train_cfg: TrainConfig,
                        extra: dict[str, Any] | None = None) -> Path:
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
    rng_t, rng_meta = rng_state()
    tensors.update(rng_t)
    meta = {"format": TRAIN_FORMAT, "format_version": str(TRAIN_FORMAT_VERSION), "step": str(step),
            "config": model_cfg.to_json(), "train_config": train_cfg.to_json(),
            "optim_groups": json.dumps(osd["param_groups"]), "optim_scalars": json.dumps(scalars),
            "rng": json.dumps(rng_meta), "extra": json.dumps(extra or {})}
    if train_cfg.inference is not None:
        meta["inference"] = json.dumps(train_cfg.inference, sort_keys=True)
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


def read_training_header(path: Path) -> dict[str, str]:
    """The header metadata of a training checkpoint, without loading its tensors."""
    from safetensors import safe_open
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
    except Exception as exc:
        raise CheckpointError(f"{path}: not a readable checkpoint ({exc})") from exc
    if meta.get("format") != TRAIN_FORMAT:
        raise CheckpointError(f"{path}: not a training checkpoint (format {meta.get('format')!r})")
    return meta


def restore_training_state(path: Path, model: nn.Module, ema: EMA, opt: torch.optim.Optimizer,
                           device: torch.device) -> int:
    """Load model, EMA, optimizer and RNG from a training checkpoint; return its step."""
    tensors, meta = read_training_state(path)
    model.load_state_dict({k[6:]: v for k, v in tensors.items() if k.startswith("model.")})
    ema.shadow = {k[4:]: v.to(device).float() for k, v in tensors.items() if k.startswith("ema.")}
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
    set_rng_state(tensors, json.loads(meta.get("rng", "{}")))
    return int(meta["step"])


def is_training_checkpoint(path: str | Path) -> bool:
    """True for files written by :func:`save_training_state`."""
    try:
        read_training_header(Path(path))
    except CheckpointError:
        return False
    return True


def checkpoints_of(run_dir: str | Path) -> list[Path]:
    """The run's training checkpoints, oldest first."""
    d = Path(run_dir) / "checkpoints"
    return sorted(d.glob("step_*.safetensors")) if d.is_dir() else []


def latest_checkpoint(run_dir: str | Path) -> Path | None:
    """The checkpoint with the highest step in ``run_dir/checkpoints`` (None if there is none)."""
    ckpts = checkpoints_of(run_dir)
    return ckpts[-1] if ckpts else None


def prune_checkpoints(run_dir: Path, keep: int = KEEP_CHECKPOINTS) -> None:
    """Delete all but the newest ``keep`` checkpoints."""
    for p in checkpoints_of(run_dir)[:-keep]:
        p.unlink(missing_ok=True)


def resolve_checkpoint(path: str | Path) -> Path:
    """A checkpoint file, or a run folder meaning its latest checkpoint."""
    path = Path(path)
    if path.is_dir():
        last = latest_checkpoint(path)
        if last is None:
            raise CheckpointError(f"{path}: this run folder holds no checkpoint yet")
        return last
    if not path.is_file():
        raise CheckpointError(f"{path}: checkpoint not found")
    return path


def model_config_of(path: str | Path) -> ModelConfig:
    """The ModelConfig stored in an inference or training checkpoint (or a run folder's latest)."""
    from opdm_studio.core.checkpoint_info import read_checkpoint_info
    from opdm_studio.core.config import ModelConfig
    path = resolve_checkpoint(path)
    if is_training_checkpoint(path):
        return ModelConfig.from_json(read_training_header(path)["config"])
    return read_checkpoint_info(path).config


def inference_spec_of(path: str | Path) -> InferenceSpec:
    """How the model in an inference or training checkpoint (or a run folder) samples."""
    from opdm_studio.core.checkpoint_info import read_checkpoint_info
    from opdm_studio.core.config import InferenceSpec, ModelConfig
    path = resolve_checkpoint(path)
    if not is_training_checkpoint(path):
        return read_checkpoint_info(path).inference
    meta = read_training_header(path)
    try:
        if "inference" in meta:
            return InferenceSpec.from_json(meta["inference"])
        # Runs from before the spec had its own entry kept it in the model config.
        cfg = ModelConfig.from_json(meta["config"])
        return InferenceSpec.from_legacy(cfg.extra.get("inference"), cfg.timesteps)
    except ValueError as exc:
        raise CheckpointError(f"{path}: {exc}") from None


def train_config_of(path: str | Path) -> TrainConfig:
    """The run options stored in a training checkpoint (or a run folder's latest)."""
    meta = read_training_header(resolve_checkpoint(path))
    return TrainConfig.from_dict(json.loads(meta.get("train_config", "{}")))


def load_model_weights(model: nn.Module, path: str | Path, use_ema: bool = True) -> dict[str, Any]:
    """Load weights from an inference checkpoint, a training checkpoint or a run folder into ``model``.

    Returns the source's metadata (for a training checkpoint: its step and run options).
    """
    path = resolve_checkpoint(path)
    if is_training_checkpoint(path):
        tensors, meta = read_training_state(path)
        prefix = "ema." if use_ema and any(k.startswith("ema.") for k in tensors) else "model."
        sd = {k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)}
        # EMA holds only floating tensors; integer buffers come from the model copy.
        sd.update({k[6:]: v for k, v in tensors.items() if k.startswith("model.") and k[6:] not in sd})
        own = model.state_dict()
        model.load_state_dict({k: v.to(own[k].dtype) for k, v in sd.items() if k in own}, strict=True)
        return {"step": int(meta.get("step", 0)), "train_config": json.loads(meta.get("train_config", "{}")),
                "extra": json.loads(meta.get("extra", "{}"))}
    from opdm_studio.core.checkpoint import load_checkpoint
    ckpt = load_checkpoint(path, device="cpu")
    model.load_state_dict(ckpt.model.state_dict(), strict=True)
    return dict(ckpt.metadata or {})
