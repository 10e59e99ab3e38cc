"""Which model colours a cut: the shipped default, a user checkpoint, or an installed named model.

- The shipped default is ``resources/models/default.safetensors`` (a later issue ships it). Until it
  exists, :class:`ModelNotInstalledError` says so and how to get one.
- A user checkpoint is any ``.safetensors`` file written by ``opdm-studio train``.
- Installed models live in ``paths.models_dir()`` (one ``NAME.safetensors`` each, e.g. written by
  the fine-tuning wizard) and are chosen by NAME.

Loaded models are cached (one at a time, so memory stays flat when the user switches models).
"""
from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from opdm_studio import paths
from opdm_studio.errors import CheckpointError, ModelNotInstalledError

DEFAULT_MODEL_NAME = "default"
CHECKPOINT_SUFFIX = ".safetensors"

HOW_TO_GET_A_MODEL = (
    "fine-tune one on your finished cuts with the wizard (Model > Fine-tune) or "
    "`opdm-studio train`, pass a checkpoint with --model PATH, or use --method flow, "
    "which needs no model")


@dataclass
class ModelInfo:
    """An installed model as listed for the user."""

    name: str
    path: Path
    size_bytes: int
    config: dict[str, Any] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)
    shipped: bool = False


def default_model_path() -> Path:
    """Where the shipped default model is (whether or not it exists yet)."""
    from opdm_studio.resources import resource_path
    return Path(str(resource_path("models", DEFAULT_MODEL_NAME + CHECKPOINT_SUFFIX)))


def _looks_like_path(choice: str) -> bool:
    return (os.sep in choice or "/" in choice or choice.endswith(CHECKPOINT_SUFFIX)
            or (os.altsep is not None and os.altsep in choice))


def resolve_model(choice: str | os.PathLike | None = None) -> Path:
    """The checkpoint file for a model choice: None/"default", a file path, or an installed name.

    Raises :class:`ModelNotInstalledError` when the choice names nothing installed and
    :class:`CheckpointError` for a path that does not exist.
    """
    if choice is None or str(choice) in ("", DEFAULT_MODEL_NAME):
        path = default_model_path()
        if path.is_file():
            return path
        user_default = paths.models_dir() / (DEFAULT_MODEL_NAME + CHECKPOINT_SUFFIX)
        if user_default.is_file():
            return user_default
        raise ModelNotInstalledError(f"no colouring model is installed yet; {HOW_TO_GET_A_MODEL}")
    text = str(choice)
    p = Path(text).expanduser()
    if p.is_file():
        return p
    if isinstance(choice, os.PathLike) or _looks_like_path(text):
        if p.is_dir():
            raise CheckpointError(f"{p} is a folder; pass the model's .safetensors file")
        raise CheckpointError(f"the model file {p} does not exist")
    installed = paths.models_dir() / (text + CHECKPOINT_SUFFIX)
    if installed.is_file():
        return installed
    names = [m.name for m in installed_models()]
    listed = f" (installed: {', '.join(names)})" if names else ""
    raise ModelNotInstalledError(f"no model named '{text}' is installed{listed}; {HOW_TO_GET_A_MODEL}")


def installed_models() -> list[ModelInfo]:
    """The shipped default (when present) and every ``*.safetensors`` in the models folder.

    Files whose header cannot be read are listed with an empty config so the user can see and
    remove them; they fail with a clear error only when loaded.
    """
    from opdm_studio.core.checkpoint_info import read_checkpoint_info   # header only, no torch
    out: list[ModelInfo] = []
    candidates: list[tuple[str, Path, bool]] = []
    shipped = default_model_path()
    if shipped.is_file():
        candidates.append((DEFAULT_MODEL_NAME, shipped, True))
    for p in sorted(paths.models_dir().glob("*" + CHECKPOINT_SUFFIX)):
        candidates.append((p.stem, p, False))
    for name, p, is_shipped in candidates:
        config: dict[str, Any] = {}
        meta: dict[str, Any] = {}
        try:
            info = read_checkpoint_info(p)
            config, meta = _info_parts(info)
        except CheckpointError:
            pass
        out.append(ModelInfo(name, p, p.stat().st_size, config, meta, is_shipped))
    return out


def _info_parts(info: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """Config and metadata dicts out of whatever read_checkpoint_info returns."""
    if isinstance(info, dict):
        cfg = info.get("config", {})
        meta = info.get("metadata", {})
    else:
        cfg = getattr(info, "config", {})
        meta = getattr(info, "metadata", {})
    if hasattr(cfg, "to_dict"):
        cfg = cfg.to_dict()
    return dict(cfg or {}), dict(meta or {})


_cache_lock = threading.Lock()
_cache: dict[str, Any] = {}


def load_model(path: str | os.PathLike, device: Any = "cpu") -> tuple[Any, Any, dict[str, Any]]:
    """Load a checkpoint as ``(model, config, metadata)`` in eval mode on ``device``; cached.

    The cache holds one model: loading another replaces it. Raises :class:`CheckpointError` for
    missing, corrupt or mismatched checkpoints.
    """
    from opdm_studio.core.checkpoint import load_checkpoint
    p = Path(path)
    try:
        st = p.stat()
    except OSError as exc:
        raise CheckpointError(f"the model file {p} cannot be read ({exc.strerror or exc})") from exc
    key = (str(p.resolve()), st.st_mtime_ns, st.st_size, str(device))
    with _cache_lock:
        if _cache.get("key") == key:
            return _cache["value"]
        _cache.clear()   # free the previous model before loading the next
    try:
        model, cfg, meta = load_checkpoint(p, device=device)
    except CheckpointError:
        raise
    except (RuntimeError, ValueError, KeyError) as exc:
        # Shape mismatches and config errors from torch/safetensors: the file does not fit the code.
        raise CheckpointError(
            f"the model file {p} does not fit this version of OPDM Studio ({exc}); "
            "retrain it or use another model") from exc
    model.eval()
    for param in model.parameters():
        param.requires_grad_(False)
    value = (model, cfg, dict(meta or {}))
    with _cache_lock:
        _cache["key"] = key
        _cache["value"] = value
    return value


def clear_model_cache() -> None:
    """Drop the cached model (e.g. after the user deleted or retrained it)."""
    with _cache_lock:
        _cache.clear()


_REFINE_MODES: dict[tuple[str, int, int], Any] = {}


def refine_mode_of_file(path: str | os.PathLike) -> Any:
    """The refine mode (:class:`~opdm_studio.engine.refine.RefineMode`) stored in a model file, or
    None for a plain model or a file whose header cannot be read (loading it reports why).

    Reads the header only (no torch), once per file version.
    """
    from opdm_studio.core.checkpoint_info import read_checkpoint_info
    from opdm_studio.engine.refine import refine_mode_of_config
    p = Path(path)
    try:
        st = p.stat()
    except OSError:
        return None
    key = (str(p), st.st_size, st.st_mtime_ns)
    if key not in _REFINE_MODES:
        try:
            _REFINE_MODES[key] = refine_mode_of_config(read_checkpoint_info(p).config)
        except CheckpointError:
            _REFINE_MODES[key] = None
    return _REFINE_MODES[key]


def sampling_summary(path: str | os.PathLike, steps: int) -> str:
    """How a model file colours, in a few words for the status bar, read from its header only.

    ``steps`` is the user's DDIM steps setting, which a refine-mode model (the shipped default)
    does not use: it runs the steps stored in the model.
    """
    mode = refine_mode_of_file(path)
    if mode is not None:
        return f"refines the flow preview · {mode.steps} step{'s' if mode.steps != 1 else ''}"
    return f"{steps} step{'s' if steps != 1 else ''}"
