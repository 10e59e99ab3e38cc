"""Fixtures of the engine tests: tiny synthetic cuts (72x40: non-square, not a multiple of 16)
and a tiny OPDM checkpoint saved in a temporary folder."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from opdm_studio.engine.project import ColorizeSettings

W, H = 72, 40


@pytest.fixture(autouse=True)
def _without_shipped_model(request, monkeypatch, tmp_path_factory):
    """Engine tests run as on an install without resources/models/default.safetensors (issue 9
    ships one): what they check must not depend on the shipped weights; mark a test
    `shipped_model` to keep them."""
    if request.node.get_closest_marker("shipped_model"):
        return
    import opdm_studio.engine.models as models
    absent = tmp_path_factory.mktemp("no_default") / "default.safetensors"
    monkeypatch.setattr(models, "default_model_path", lambda: absent)


def make_cut(folder: Path, n_frames: int = 10, seed: int = 3, holds: bool = True,
             colors_for: list[int] | None = None):
    """Write a synthetic cut (``folder/lineart`` + ``folder/color``) and return the SynthCut."""
    from opdm_studio.synth.cut import write_cut
    return write_cut(folder, n_frames=n_frames, size=(W, H), seed=seed, keyframes=colors_for,
                     holds=holds)


@pytest.fixture
def cut_dir(tmp_path: Path) -> Path:
    """A 10-frame cut with held drawings; every frame has a colour file (keys chosen per test)."""
    make_cut(tmp_path / "cut")
    return tmp_path / "cut"


@pytest.fixture
def cut_noholds(tmp_path: Path) -> Path:
    """A 10-frame cut where every frame is a new drawing."""
    make_cut(tmp_path / "cut", holds=False)
    return tmp_path / "cut"


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory) -> Path:
    """A randomly initialised tiny OPDM saved as a checkpoint (weights fixed by a seed)."""
    import torch

    from opdm_studio.core.checkpoint import save_checkpoint
    from opdm_studio.core.config import ModelConfig
    from opdm_studio.core.model import OPDM
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("models") / "tiny.safetensors"
    save_checkpoint(path, OPDM(ModelConfig.preset("tiny")), metadata={"note": "test"})
    return path


@pytest.fixture
def fast_settings(tiny_checkpoint: Path) -> ColorizeSettings:
    """Settings that run the tiny model in a blink: 2 steps, 32 px working size, fp32 CPU."""
    return ColorizeSettings(method="model", model=str(tiny_checkpoint), steps=2, working_size=32,
                            device="cpu", dtype="fp32", layers=["composite", "color", "lines"])


def read_png(path: Path) -> np.ndarray:
    """Pixels of a PNG as written (RGB, RGBA or gray)."""
    from opdm_studio.imaging.cut import read_image
    return read_image(path, mode="raw")
