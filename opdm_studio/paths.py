"""Where OPDM Studio keeps its own files (models, logs, caches): one façade over platformdirs."""
from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP_NAME = "OPDM Studio"
APP_AUTHOR = "OPDM Studio"


def _base(kind: str) -> Path:
    # OPDM_STUDIO_HOME puts everything under one folder: tests and portable installs use it.
    home = os.environ.get("OPDM_STUDIO_HOME")
    if home:
        return Path(home) / kind
    if kind == "data":
        return Path(platformdirs.user_data_dir(APP_NAME, APP_AUTHOR))
    if kind == "cache":
        return Path(platformdirs.user_cache_dir(APP_NAME, APP_AUTHOR))
    if kind == "logs":
        return Path(platformdirs.user_log_dir(APP_NAME, APP_AUTHOR))
    raise ValueError(kind)


def _ensure(p: Path) -> Path:
    p.mkdir(parents=True, exist_ok=True)
    return p


def data_dir() -> Path:
    """Per-user data folder."""
    return _ensure(_base("data"))


def models_dir() -> Path:
    """Folder of models installed by the user or by fine-tuning (one ``*.safetensors`` each)."""
    return _ensure(data_dir() / "models")


def training_runs_dir() -> Path:
    """Folder of fine-tuning runs started from the app (resumable)."""
    return _ensure(data_dir() / "training_runs")


def log_dir() -> Path:
    """Per-user log folder."""
    return _ensure(_base("logs"))


def log_file() -> Path:
    """The application log file."""
    return log_dir() / "opdm-studio.log"
