"""Which model colours a cut: the shipped default, a user checkpoint, or an installed named model.

- The shipped default is ``resources/models/default.safetensors``. Without it,
  :class:`ModelNotInstalledError` says so and how to get one.
- A user checkpoint is any ``.safetensors`` file written by ``opdm-studio train``.
- Installed models live in ``paths.models_dir()`` (one ``NAME.safetensors`` each, e.g. written by
  the fine-tuning wizard) and are chosen by NAME.

Loaded models are prepared for a device and dtype and cached per (file, device, dtype), a few at a
time, so memory stays bounded when the user switches models.
"""
from __future__ import annotations

import os
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from opdm_studio import paths
from opdm_studio.core.config import InferenceSpec, ModelConfig
from opdm_studio.errors import CheckpointError, ModelNotInstalledError, ProjectError

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
    from opdm_studio.core.checkpoint_info import (
        read_checkpoint_info,  # header only, no torch
    )
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
        out.append(ModelInfo(name, p, config, meta, is_shipped))
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


@dataclass(frozen=True)
class LoadedModel:
    """A network prepared for one device and dtype, with what its file says about it.

    Handed out by the cache and shared: nobody changes ``model`` after preparation (another
    device or dtype gets its own prepared copy).
    """

    model: Any                  # OPDM, eval mode, no grad, prepared (core.device.prepare_for_inference)
    config: ModelConfig
    inference: InferenceSpec    # which pipeline colours with it
    metadata: dict[str, Any]
    device: Any                 # torch.device
    dtype: Any                  # torch.dtype
    path: Path | None = None

    def matches(self, device: str, dtype: str) -> bool:
        """True when this model was prepared for the device/dtype that these settings pick."""
        return (self.device, self.dtype) == resolve_device(device, dtype)


def resolve_device(device: str = "auto", dtype: str = "auto") -> tuple[Any, Any]:
    """(torch.device, torch.dtype) for the user's settings; :class:`ProjectError` when this
    machine cannot run them (no GPU, no bf16 on this CPU)."""
    from opdm_studio.core.device import pick_device, pick_dtype
    try:
        dev = pick_device(device)
        return dev, pick_dtype(dev, dtype)
    except ValueError as exc:   # e.g. --device cuda on a machine without a GPU
        raise ProjectError(f"cannot colour with device {device!r} / dtype {dtype!r}: {exc}") from exc


def prepare_model(model: Any, spec: InferenceSpec | None = None, device: str = "auto",
                  dtype: str = "auto") -> LoadedModel:
    """A prepared copy of an in-memory network (tests, benchmarks); ``model`` is not changed."""
    from opdm_studio.core.device import prepare_for_inference
    dev, dt = resolve_device(device, dtype)
    cfg = model.config
    spec = (spec or InferenceSpec.paper()).validate(cfg.timesteps)
    return LoadedModel(prepare_for_inference(model, dev, dt), cfg, spec, {}, dev, dt)


#: Prepared models kept at once: the GUI's model and one other device/dtype, memory stays bounded.
CACHE_SIZE = 2
_cache_lock = threading.Lock()
_cache: OrderedDict[tuple[Any, ...], LoadedModel] = OrderedDict()


def load_model(path: str | os.PathLike, device: str = "auto", dtype: str = "auto") -> LoadedModel:
    """Load a checkpoint prepared for ``device``/``dtype`` (settings names); cached per
    (file version, device, dtype).

    Raises :class:`CheckpointError` for missing, corrupt or mismatched checkpoints and
    :class:`ProjectError` when this machine cannot run the device/dtype asked for.
    """
    from opdm_studio.core.checkpoint import load_checkpoint
    from opdm_studio.core.device import prepare_for_inference
    p = Path(path)
    try:
        st = p.stat()
    except OSError as exc:
        raise CheckpointError(f"the model file {p} cannot be read ({exc.strerror or exc})") from exc
    dev, dt = resolve_device(device, dtype)
    key = (str(p.resolve()), st.st_mtime_ns, st.st_size, str(dev), str(dt))
    with _cache_lock:
        if key in _cache:
            _cache.move_to_end(key)
            return _cache[key]
    try:
        ckpt = load_checkpoint(p, device="cpu")
    except CheckpointError:
        raise
    except (RuntimeError, ValueError, KeyError) as exc:
        # Shape mismatches and config errors from torch/safetensors: the file does not fit the code.
        raise CheckpointError(
            f"the model file {p} does not fit this version of OPDM Studio ({exc}); "
            "retrain it or use another model") from exc
    # The freshly loaded network is private to this entry: prepare it in place.
    model = prepare_for_inference(ckpt.model, dev, dt, inplace=True)
    value = LoadedModel(model, ckpt.config, ckpt.inference, dict(ckpt.metadata or {}), dev, dt, p)
    with _cache_lock:
        _cache[key] = value
        while len(_cache) > CACHE_SIZE:
            _cache.popitem(last=False)
    return value


def clear_model_cache() -> None:
    """Drop the cached models (e.g. after the user deleted or retrained one)."""
    with _cache_lock:
        _cache.clear()


_SPECS: dict[tuple[str, int, int], InferenceSpec | None] = {}


def inference_spec_of_file(path: str | os.PathLike) -> InferenceSpec | None:
    """The inference spec stored in a model file, or None for a file whose header cannot be read
    (loading it reports why). Reads the header only (no torch), once per file version."""
    from opdm_studio.core.checkpoint_info import read_checkpoint_info
    p = Path(path)
    try:
        st = p.stat()
    except OSError:
        return None
    key = (str(p), st.st_size, st.st_mtime_ns)
    if key not in _SPECS:
        try:
            _SPECS[key] = read_checkpoint_info(p).inference
        except CheckpointError:
            _SPECS[key] = None
    return _SPECS[key]
