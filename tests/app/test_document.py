"""The Qt-free document: the app's colouring choices become the project's settings (no Qt here)."""
from __future__ import annotations

from dataclasses import dataclass

import pytest

from opdm_studio.app.document import Document
from opdm_studio.errors import ProjectError

from .conftest import write_cut


@dataclass
class Choices:
    """What the settings dialog stores (AppSettings has the same fields)."""

    model: str = "default"
    steps: int = 10
    device: str = "auto"
    working_size: int = 224
    snapping: str = "auto"
    gap: int = 3


@pytest.fixture
def doc(tmp_path) -> Document:
    return Document.open(write_cut(tmp_path / "cut", n=4, size=32))


def test_apply_settings_maps_the_app_choices_onto_the_project(doc):
    before = doc.project.settings
    before.seed, before.layers, before.template = 7, ["composite", "lines"], "{cut}_{frame:03d}.png"
    s = doc.apply_settings(Choices(model="/models/mine.safetensors", steps=4, device="cpu",
                                   working_size=128, snapping="all", gap=5), method="model")
    assert s is doc.project.settings
    assert (s.method, s.model, s.steps, s.device, s.working_size, s.snap, s.gap) == \
        ("model", "/models/mine.safetensors", 4, "cpu", 128, "all", 5)
    # What the app does not edit is kept.
    assert (s.seed, s.layers, s.template) == (7, ["composite", "lines"], "{cut}_{frame:03d}.png")


def test_apply_settings_default_model_and_flow_fallback(doc):
    s = doc.apply_settings(Choices(), method="flow")
    assert s.model is None and s.method == "flow"   # None: the engine's shipped default model


def test_apply_settings_refuses_a_bad_value_and_keeps_the_old_settings(doc):
    good = doc.apply_settings(Choices(gap=2), method="flow")
    with pytest.raises(ProjectError, match="snap"):
        doc.apply_settings(Choices(snapping="sometimes"), method="flow")
    assert doc.project.settings is good and good.snap == "auto" and good.gap == 2


def test_summaries(qapp, doc):
    from opdm_studio.app.status_bar import cut_summary, result_summary
    assert cut_summary(doc).startswith("cut: 4 frames, 2 keyframes, 0 coloured. Project: ")
    assert result_summary(doc, 0) == "" and result_summary(doc, 1) == ""   # a key; no result yet
