"""Model files: one .safetensors file with the weights and, in its header metadata, the format
name, format version, the model config (JSON) and free-form metadata (JSON).

Never unpickles anything: a model file from another studio cannot run code. Every problem a
user can meet (missing, not a model file, truncated, another format or a newer version, a config
that does not fit its weights) raises :class:`opdm_studio.errors.CheckpointError` naming the file.
"""
from __future__ import annotations

import json
import os
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open
from safetensors.torch import save_file

from opdm_studio.core.config import ModelConfig
from opdm_studio.core.model import OPDM
from opdm_studio.errors import CheckpointError
from opdm_studio.fileio import atomic_path

FORMAT_NAME = "opdm-studio-checkpoint"
FORMAT_VERSION = 1
_MAX_HEADER = 100 * 1024 * 1024   # safetensors' own limit for the JSON header
_DTYPE_SIZES = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1,
                "U8": 1, "BOOL": 1}


@dataclass
class CheckpointInfo:
    """What a model file says about itself, read from its header only (no weights loaded)."""

    path: Path
    format: str
    format_version: int
    config: ModelConfig
    metadata: dict[str, Any] = field(default_factory=dict)
    num_parameters: int = 0
    dtype: str = "F32"
    file_size: int = 0


def save_checkpoint(path: str | os.PathLike, model: OPDM, metadata: dict[str, Any] | None = None,
                    dtype: torch.dtype | None = None, overwrite: bool = True) -> Path:
    """Write model + config + metadata to one .safetensors file atomically; return its path.

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
    header = {"format": FORMAT_NAME, "format_version": str(FORMAT_VERSION),
              "config": model.config.to_json(), "metadata": meta_json}
    folder = path.parent if str(path.parent) else Path(".")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with atomic_path(path) as tmp:
            save_file(tensors, str(tmp), metadata=header)
    except OSError as exc:
        raise CheckpointError(f"{path}: could not write the model file ({exc.strerror or exc})") from None
    return path


def _read_header(path: Path) -> tuple[dict[str, Any], int]:
    """Parse and sanity-check the safetensors header; returns (header, file size)."""
    if not path.exists():
        raise CheckpointError(f"{path}: model file not found")
    if not path.is_file():
        raise CheckpointError(f"{path}: is a folder, not a model file")
    size = path.stat().st_size
    try:
        with open(path, "rb") as f:
            head = f.read(8)
            if len(head) < 8:
                raise CheckpointError(f"{path}: not a model file (empty or only {len(head)} bytes)")
            (n,) = struct.unpack("<Q", head)
            if n <= 1 or n > _MAX_HEADER:
                raise CheckpointError(f"{path}: not a model file (not in safetensors format)")
            if 8 + n > size:
                raise CheckpointError(f"{path}: the model file is truncated (incomplete download or copy?)")
            raw = f.read(n)
    except OSError as exc:
        raise CheckpointError(f"{path}: cannot read the model file ({exc.strerror or exc})") from None
    try:
        header = json.loads(raw.decode("utf-8"))
        if not isinstance(header, dict):
            raise ValueError
    except (UnicodeDecodeError, ValueError):
        raise CheckpointError(f"{path}: not a model file (not in safetensors format)") from None
    end = 0
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        try:
            lo, hi = entry["data_offsets"]
            end = max(end, int(hi))
        except (TypeError, KeyError, ValueError):
            raise CheckpointError(f"{path}: the model file is damaged (bad entry for {name!r})") from None
    if 8 + n + end > size:
        raise CheckpointError(f"{path}: the model file is truncated (incomplete download or copy?): "
                              f"{size} bytes instead of {8 + n + end}")
    return header, size


def _check_meta(path: Path, header: dict[str, Any]) -> tuple[int, ModelConfig, dict[str, Any]]:
    meta = header.get("__metadata__") or {}
    fmt = meta.get("format")
    if fmt != FORMAT_NAME:
        what = f"format {fmt!r}" if fmt else "no format name"
        raise CheckpointError(f"{path}: not an OPDM Studio model ({what}; expected {FORMAT_NAME!r})")
    try:
        version = int(meta.get("format_version", ""))
    except ValueError:
        raise CheckpointError(f"{path}: the model file has no valid format version") from None
    if version > FORMAT_VERSION:
        raise CheckpointError(f"{path}: written by a newer OPDM Studio (model format {version}, this "
                              f"version reads up to {FORMAT_VERSION}); please update OPDM Studio")
    if version < 1:
        raise CheckpointError(f"{path}: unknown model format version {version}")
    if "config" not in meta:
        raise CheckpointError(f"{path}: the model file has no model configuration")
    try:
        cfg = ModelConfig.from_json(meta["config"])
    except ValueError as exc:
        raise CheckpointError(f"{path}: the model configuration is invalid ({exc})") from None
    try:
        user = json.loads(meta.get("metadata", "{}"))
        if not isinstance(user, dict):
            raise ValueError
    except ValueError:
        raise CheckpointError(f"{path}: the model file's metadata is not valid JSON") from None
    return version, cfg, user


def read_checkpoint_info(path: str | os.PathLike) -> CheckpointInfo:
    """Format, version, config and metadata of a model file, without loading the weights."""
    path = Path(path)
    header, size = _read_header(path)
    version, cfg, user = _check_meta(path, header)
    tensors = {k: v for k, v in header.items() if k != "__metadata__"}
    nparams = 0
    dtypes = set()
    for entry in tensors.values():
        n = 1
        for d in entry.get("shape", []):
            n *= int(d)
        nparams += n
        dtypes.add(entry.get("dtype", "?"))
    return CheckpointInfo(path=path, format=FORMAT_NAME, format_version=version, config=cfg,
                          metadata=user, num_parameters=nparams, dtype="/".join(sorted(dtypes)),
                          file_size=size)


def load_checkpoint(path: str | os.PathLike, device: str | torch.device = "cpu"
                    ) -> tuple[OPDM, ModelConfig, dict[str, Any]]:
    """Load a model file: (model in eval mode on device, its config, its metadata)."""
    path = Path(path)
    header, _ = _read_header(path)
    _, cfg, user = _check_meta(path, header)
    model = OPDM(cfg)
    expected = {k: tuple(v.shape) for k, v in model.state_dict().items()}
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
    model.load_state_dict(state, strict=True)
    return model.to(device).eval(), cfg, user
