"""Issue 9: flow references, the refine inference mode and the refiner's training loop."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from opdm_studio.core.config import ModelConfig
from opdm_studio.core.model import OPDM
from opdm_studio.engine.colorizer import FrameColorizer
from opdm_studio.engine.project import ColorizeSettings
from opdm_studio.engine.refine import RefineMode, refine_mode_of
from opdm_studio.errors import CheckpointError
from opdm_studio.imaging.flow import propagate_two
from opdm_studio.imaging.refine import flow_references
from training.refine import RefineData, protocol_drawing, refine_config, train


@pytest.fixture(scope="module")
def triplet():
    """Keys 0 and 6 and target 3 of a small synthetic cut, with protocol line art."""
    from training.synth import generate_cut
    cut = generate_cut(7, (96, 80), seed=3)
    colors = [cut.colors[i] for i in (0, 3, 6)]
    lines = [protocol_drawing(c) for c in colors]
    return colors, lines


def test_flow_references_match_propagate_two(triplet):
    (pc, tc, nc), (pl, tl, nl) = triplet
    refs = flow_references(tl, pc, pl, nc, nl, t=0.4)
    prop = propagate_two(tl, pc, pl, nc, nl, t=0.4)
    assert np.array_equal(refs.rgb, prop.rgb)
    assert np.allclose(refs.confidence, prop.confidence)
    assert refs.warp_prev.shape == pc.shape and refs.warp_next.dtype == np.uint8
    # Each pixel of the blend comes from one of the two single-key warps.
    from_prev = np.all(refs.rgb == refs.warp_prev, axis=2)
    from_next = np.all(refs.rgb == refs.warp_next, axis=2)
    assert np.all(from_prev | from_next)


def _tiny_refine(gate: str = "confidence") -> OPDM:
    cfg = ModelConfig.preset("tiny").replace(
        extra={"inference": {"mode": "refine", "refs": "flow-warped", "t_start": 20, "steps": 1,
                             "gate": gate}})
    torch.manual_seed(0)
    return OPDM(cfg).eval()


def test_refine_mode_parsing():
    assert refine_mode_of(OPDM(ModelConfig.preset("tiny"))) is None
    assert refine_mode_of(_tiny_refine()) == RefineMode(t_start=20, steps=1, gate="confidence")
    for bad in ({"mode": "dream"}, {"mode": "refine", "t_start": 10_000},
                {"mode": "refine", "gate": "maybe"}, {"mode": "refine", "steps": "many"}):
        m = OPDM(ModelConfig.preset("tiny").replace(extra={"inference": bad}))
        with pytest.raises(CheckpointError):
            refine_mode_of(m)


@pytest.mark.parametrize("gate", ["none", "confidence"])
def test_refine_with_identity_network_returns_the_propagation(triplet, gate, monkeypatch):
    """A network that returns the propagation unchanged adds no correction: the guess is exactly
    the native-resolution propagate_two result (the composition of the mode, not the weights)."""
    (pc, tc, nc), (pl, tl, nl) = triplet
    model = _tiny_refine(gate)
    captured = {}

    def identity_denoise(x_t, t, line, cond):
        return captured["x_init"].to(x_t.dtype)

    import opdm_studio.core.diffusion as D
    real = D.ddim_sample

    def spy(model_, diff, line, prev, next_, **kw):
        captured["x_init"] = kw["x_init"]
        return real(model_, diff, line, prev, next_, **kw)

    monkeypatch.setattr(D, "ddim_sample", spy)
    fc = FrameColorizer("opdm", model=model, settings=ColorizeSettings(snap="off", dtype="fp32"))
    monkeypatch.setattr(fc.model, "denoise", identity_denoise)
    guess = fc.colorize(tl, pc, nc, pl, nl, t=0.5).raw
    prop = propagate_two(tl, pc, pl, nc, nl, t=0.5).rgb
    assert guess.shape == prop.shape
    assert np.abs(guess.astype(int) - prop.astype(int)).max() <= 1


def test_refine_mode_colours_at_native_size(triplet):
    (pc, tc, nc), (pl, tl, nl) = triplet
    fc = FrameColorizer("opdm", model=_tiny_refine(), settings=ColorizeSettings(snap="auto", working_size=64))
    steps = []
    out = fc.colorize(tl, pc, nc, pl, nl, t=0.5, on_step=lambda j, k: steps.append((j, k)))
    assert out.composite.shape == tc.shape and out.composite.dtype == np.uint8
    assert steps == [(1, 1)]


def test_refine_data_items_are_consistent():
    d = RefineData(size=32, seed=1, cut_size=(64, 80), frames=8)
    b = d.batch(2)
    assert b["line"].shape == (2, 1, 32, 32) and b["prev"].shape == (2, 3, 32, 32)
    for k in ("line", "prev", "next", "prop", "target"):
        assert b[k].min() >= -1 and b[k].max() <= 1
    assert 0 <= float(b["confidence"].min()) and float(b["confidence"].max()) <= 1
    # Line art is the protocol's binary drawing before area resizing: ink exists.
    assert float(b["line"].min()) < 0


def test_train_export_and_load(tmp_path):
    from opdm_studio.engine.models import clear_model_cache, load_model
    from training.export import export_model
    run = tmp_path / "run"
    last = train(run, minutes=5, size=32, batch=1, base=8, max_steps=2, ckpt_minutes=100, log=lambda s: None)
    assert last is not None and last.is_file()
    dst = export_model(run, tmp_path / "m.safetensors")
    clear_model_cache()
    model, cfg, meta = load_model(dst)
    assert cfg.extra["inference"]["mode"] == "refine"
    assert refine_mode_of(model) is not None
    assert meta["training_steps"] == 2
    from opdm_studio.errors import TrainingDataError
    with pytest.raises(TrainingDataError, match="already holds"):   # never trains over a run
        train(run, minutes=1, size=32, batch=1, base=8, max_steps=1, log=lambda s: None)


def test_refine_config_is_small():
    m = OPDM(refine_config())
    assert m.num_parameters() < 15_000_000   # fp16 export well under 60 MB
    assert refine_mode_of(m) is not None


def test_finish_without_line_colours_keeps_the_guess_on_ink(triplet):
    """Bare drawings (extracted line art) get the keys' line colour carried by the guess, not black."""
    (pc, tc, nc), (pl, tl, nl) = triplet
    fc = FrameColorizer("flow", settings=ColorizeSettings(method="flow", snap="off"))
    out = fc.colorize(tl, pc, nc, pl, nl, t=0.5)
    ink = tl == 0
    assert ink.any()
    assert np.array_equal(out.composite[ink], out.raw[ink])
    # With the drawing's own line colours, the ink is drawn in them (black here).
    black = np.repeat(tl[..., None], 3, axis=2)
    out2 = fc.colorize(tl, pc, nc, pl, nl, t=0.5, line_rgb=black)
    assert (out2.composite[ink] == 0).all()
