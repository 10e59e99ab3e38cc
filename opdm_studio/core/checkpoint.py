"""Model files: one .safetensors file with the weights and, in its header metadata, the format
name, format version, the model config (JSON), the inference spec (JSON: which pipeline colours
with it) and free-form metadata (JSON).

Never unpickles anything: a model file from another studio cannot run code. Every problem a
user can meet (missing, not a model file, truncated, another format or a newer version, a config
that does not fit its weights) raises :class:`opdm_studio.errors.CheckpointError` naming the file.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, NamedTuple

import torch
from safetensors import safe_open
from safetensors.torch import save_file

from opdm_studio.core.checkpoint_info import (  # noqa: F401
    FORMAT_NAME,
    FORMAT_VERSION,
    CheckpointInfo,
    check_metadata,
    read_checkpoint_info,
    read_header,
)
from opdm_studio.core.config import InferenceSpec, ModelConfig
from opdm_studio.core.model import OPDM
from opdm_studio.errors import CheckpointError
from opdm_studio.fileio import atomic_path


class Checkpoint(NamedTuple):
    """A loaded model file."""

    model: OPDM                 # eval mode, on the device asked for
    config: ModelConfig
    metadata: dict[str, Any]
    inference: InferenceSpec    # how it colours (the pipeline and its settings)


def save_checkpoint(path: str | os.PathLike, model: OPDM, metadata: dict[str, Any] | None = None,
                    dtype: torch.dtype | None = None, overwrite: bool = True,
                    inference: InferenceSpec | None = None) -> Path:
    """Write model + config + inference spec + metadata to one .safetensors file atomically.

    ``inference`` defaults to the paper's sampling. Returns the path.

    ``dtype=torch.float16`` (or bfloat16) exports smaller weights; loading casts them back.
    With ``overwrite=False`` an existing file raises CheckpointError instead of being replaced.
    """
    path = Path(path)
    if not overwrite and path.exists():
        raise CheckpointError(f"{path}: a file with this name already exists; choose another name")
    meta_json = json.dumps(metadata or {}, sort_keys=True)   # TypeError: programming error
    tensors = {}
    for name, tensor in model.state_dict().items():
        t = tensor.detach().to("cpu")
        if dtype is not None and t.is_floating_point():
            t = t.to(dtype)
        elif t.is_floating_point() and t.dtype != torch.float32:
            t = t.float()               # a model running in bf16 still saves full precision
        tensors[name] = t.contiguous()
    cfg = model.config
    if "inference" in cfg.extra:   # a format-1 style config: the spec moves to its own entry
        if inference is None:
            inference = InferenceSpec.from_legacy(cfg.extra["inference"], cfg.timesteps)
        cfg = cfg.replace(extra={k: v for k, v in cfg.extra.items() if k != "inference"})
    spec = (inference or InferenceSpec.paper()).validate(cfg.timesteps)
    header = {"format": FORMAT_NAME, "format_version": str(FORMAT_VERSION),
              "config": cfg.to_json(), "inference": spec.to_json(), "metadata": meta_json}
    folder = path.parent if str(path.parent) else Path(".")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with atomic_path(path) as tmp:
            save_file(tensors, str(tmp), metadata=header)
    except OSError as exc:
        raise CheckpointError(f"{path}: could not write the model file ({exc.strerror or exc})") from None
    return path


def load_checkpoint(path: str | os.PathLike, device: str | torch.device = "cpu") -> Checkpoint:
    """Load a model file: the model in eval mode on ``device``, its config, metadata and spec."""
    path = Path(path)
    header, _ = read_header(path)
    _, cfg, spec, user = check_metadata(path, header)
    # Names and shapes from a skeleton without storage: a tiny file claiming a huge config is
    # refused before gigabytes of weights are allocated for it.
    with torch.device("meta"):
        skeleton = OPDM(cfg)
    expected = {k: tuple(v.shape) for k, v in skeleton.state_dict().items()}
    del skeleton
    found = {k: tuple(v.get("shape", ())) for k, v in header.items() if k != "__metadata__"}
    missing = sorted(set(expected) - set(found))
    unexpected = sorted(set(found) - set(expected))
    if missing:
        raise CheckpointError(f"{path}: the weights do not match the model configuration: "
                              f"{len(missing)} missing tensor(s), e.g. {', '.join(missing[:3])}")
    if unexpected:
        raise CheckpointError(f"{path}: the weights do not match the model configuration: "
                              f"{len(unexpected)} unexpected tensor(s), e.g. {', '.join(unexpected[:3])}")
    wrong = [k for k in expected if expected[k] != found[k]]
    if wrong:
        k = wrong[0]
        raise CheckpointError(f"{path}: the weights do not match the model configuration: "
                              f"{k} has shape {list(found[k])}, expected {list(expected[k])}"
                              + (f" (and {len(wrong) - 1} more)" if len(wrong) > 1 else ""))
    for k, entry in header.items():
        if k != "__metadata__" and entry.get("dtype") not in ("F32", "F16", "BF16", "F64"):
            raise CheckpointError(f"{path}: tensor {k} has unsupported type {entry.get('dtype')}")
    state = {}
    try:
        with safe_open(str(path), framework="pt", device="cpu") as f:
            for k in expected:
                t = f.get_tensor(k)
                if not torch.isfinite(t).all():
                    raise CheckpointError(f"{path}: the model file is damaged ({k} holds NaN or infinite values)")
                state[k] = t.float()
    except CheckpointError:
        raise
    except Exception as exc:  # safetensors raises its own error type for damaged files
        raise CheckpointError(f"{path}: the model file is damaged ({exc})") from None
    model = OPDM(cfg)
    model.load_state_dict(state, strict=True)
    return Checkpoint(model.to(device).eval(), cfg, user, spec)
