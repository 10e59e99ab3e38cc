"""Model-file headers without torch: format, version, config, inference spec and metadata.

Format 2 stores the :class:`~opdm_studio.core.config.InferenceSpec` as its own header entry
(``inference``); format 1 files (written before it) kept it in ``config.extra["inference"]`` and
still load: the spec is read from there and removed from the config.

The app lists models and shows how each one colours at start-up; reading a header must not import
torch (seconds of start-up). :mod:`opdm_studio.core.checkpoint` builds on this to load and save.
"""
from __future__ import annotations

import dataclasses
import json
import os
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from opdm_studio.core.config import InferenceSpec, ModelConfig
from opdm_studio.errors import CheckpointError

FORMAT_NAME = "opdm-studio-checkpoint"
FORMAT_VERSION = 2
#: Oldest format version this version reads.
OLDEST_FORMAT_VERSION = 1
_MAX_HEADER = 100 * 1024 * 1024   # safetensors' own limit for the JSON header


@dataclass
class CheckpointInfo:
    """What a model file says about itself, read from its header only (no weights loaded)."""

    path: Path
    format: str
    format_version: int
    config: ModelConfig
    inference: InferenceSpec = field(default_factory=InferenceSpec)
    metadata: dict[str, Any] = field(default_factory=dict)
    num_parameters: int = 0
    dtype: str = "F32"


def read_header(path: Path) -> tuple[dict[str, Any], int]:
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


def check_metadata(path: Path, header: dict[str, Any]
                   ) -> tuple[int, ModelConfig, InferenceSpec, dict[str, Any]]:
    """Format version, config, inference spec and user metadata of a parsed header, or
    :class:`CheckpointError` naming the file."""
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
    if version < OLDEST_FORMAT_VERSION:
        raise CheckpointError(f"{path}: unknown model format version {version}")
    if "config" not in meta:
        raise CheckpointError(f"{path}: the model file has no model configuration")
    try:
        cfg = ModelConfig.from_json(meta["config"])
    except ValueError as exc:
        raise CheckpointError(f"{path}: the model configuration is invalid ({exc})") from None
    legacy = cfg.extra.get("inference")
    if legacy is not None:
        cfg = dataclasses.replace(cfg, extra={k: v for k, v in cfg.extra.items() if k != "inference"})
    try:
        if version >= 2 and "inference" in meta:
            spec = InferenceSpec.from_json(meta["inference"], cfg.timesteps)
        else:
            spec = InferenceSpec.from_legacy(legacy, cfg.timesteps)
    except ValueError as exc:
        raise CheckpointError(f"{path}: {exc}") from None
    try:
        user = json.loads(meta.get("metadata", "{}"))
        if not isinstance(user, dict):
            raise ValueError
    except ValueError:
        raise CheckpointError(f"{path}: the model file's metadata is not valid JSON") from None
    return version, cfg, spec, user


def read_checkpoint_info(path: str | os.PathLike) -> CheckpointInfo:
    """Format, version, config and metadata of a model file, without loading the weights."""
    path = Path(path)
    header, _ = read_header(path)
    version, cfg, spec, user = check_metadata(path, header)
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
                          inference=spec,
                          metadata=user, num_parameters=nparams, dtype="/".join(sorted(dtypes)))
