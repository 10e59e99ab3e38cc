"""Pipelines: the spec picks the pipeline; flow, opdm and refine colour one frame each."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch

from opdm_studio.core.config import InferenceSpec, ModelConfig
from opdm_studio.core.model import OPDM
from opdm_studio.engine.frame import FrameColorizer
from opdm_studio.engine.project import ColorizeSettings
from opdm_studio.imaging.flow import propagate_two
from opdm_studio.imaging.lineart import extract_lines, line_mask_from_darkness
from opdm_studio.pipelines import make_pipeline
from opdm_studio.pipelines.base import FrameInputs
from opdm_studio.pipelines.flow import FlowPipeline
from opdm_studio.pipelines.opdm import OPDMPipeline
from opdm_studio.pipelines.refine import RefinePipeline
from tests.pipelines.helpers import drain

REFINE = InferenceSpec.refine(t_start=20, steps=1, gate="confidence")


def _drawing(rgb: np.ndarray) -> np.ndarray:
    return np.where(line_mask_from_darkness(extract_lines(rgb)), 0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def triplet():
    """Keys 0 and 6 and target 3 of a small synthetic cut, with extracted line art."""
    from opdm_studio.synth.cut import generate_cut
    cut = generate_cut(7, (96, 80), seed=3)
    colors = [cut.colors[i] for i in (0, 3, 6)]
    return colors, [_drawing(c) for c in colors]


def _tiny() -> OPDM:
    torch.manual_seed(0)
    return OPDM(ModelConfig.preset("tiny")).eval()


def _run(pipeline, inputs):
    return drain(pipeline(inputs))


def test_propagation_carries_both_single_key_warps(triplet):
    (pc, _, nc), (pl, tl, nl) = triplet
    prop = propagate_two(tl, pc, pl, nc, nl, t=0.4)
    assert prop.warp_prev.shape == pc.shape and prop.warp_next.dtype == np.uint8
    # Each pixel of the blend comes from one of the two single-key warps, as `choice` says.
    from_prev = np.all(prop.rgb == prop.warp_prev, axis=2)
    from_next = np.all(prop.rgb == prop.warp_next, axis=2)
    assert np.all(from_prev | from_next)
    assert np.all(from_next[prop.choice == 1])


def test_the_spec_picks_the_pipeline():
    model = _tiny()
    assert isinstance(make_pipeline("flow"), FlowPipeline)
    assert isinstance(make_pipeline("model", None, model, "cpu", torch.float32), OPDMPipeline)
    assert isinstance(make_pipeline("model", InferenceSpec.paper(), model, "cpu", torch.float32), OPDMPipeline)
    assert isinstance(make_pipeline("model", REFINE, model, "cpu", torch.float32), RefinePipeline)
    with pytest.raises(ValueError, match="needs a model"):
        make_pipeline("model")
    with pytest.raises(ValueError, match="unknown colouring method"):
        make_pipeline("paint")
    with pytest.raises(ValueError, match="t_start"):    # beyond the model's 500 timesteps
        make_pipeline("model", InferenceSpec.refine(t_start=900), model, "cpu", torch.float32)


def test_flow_pipeline_is_propagate_two(triplet):
    (pc, _, nc), (pl, tl, nl) = triplet
    guess, steps = _run(FlowPipeline(), FrameInputs(tl, pc, nc, pl, nl, t=0.3, pair="a"))
    prop = propagate_two(tl, pc, pl, nc, nl, t=0.3)
    assert steps == [(1, 1)]
    assert np.array_equal(guess.rgb, prop.rgb) and np.array_equal(guess.confidence, prop.confidence)
    # At a reduced flow size the guess is the small propagation upsampled (same size as the drawing).
    small, _ = _run(FlowPipeline(flow_size=40), FrameInputs(tl, pc, nc, pl, nl, t=0.3, pair="a"))
    assert small.rgb.shape == tl.shape + (3,) and small.confidence.shape == tl.shape


def test_opdm_pipeline_runs_the_users_steps_and_is_seeded(triplet):
    (pc, _, nc), (pl, tl, nl) = triplet
    pipe = make_pipeline("model", None, _tiny(), torch.device("cpu"), torch.float32, working_size=64, steps=3)
    a, steps = _run(pipe, FrameInputs(tl, pc, nc, pl, nl, seed=5, pair="p"))
    b, _ = _run(pipe, FrameInputs(tl, pc, nc, pl, nl, seed=5, pair="p"))
    c, _ = _run(pipe, FrameInputs(tl, pc, nc, pl, nl, seed=6, pair="p"))
    assert steps == [(1, 3), (2, 3), (3, 3)]
    assert a.rgb.shape == tl.shape + (3,) and a.rgb.dtype == np.uint8
    assert np.array_equal(a.rgb, b.rgb) and not np.array_equal(a.rgb, c.rgb)


@pytest.mark.parametrize("gate", ["none", "confidence"])
def test_refine_with_identity_network_returns_the_propagation(triplet, gate, monkeypatch):
    """A network that returns its start image unchanged adds no correction: the guess is exactly
    the native-resolution propagation (the composition of the pipeline, not the weights)."""
    (pc, _, nc), (pl, tl, nl) = triplet
    captured = {}
    import opdm_studio.pipelines.refine as R
    real = R.ddim_sample

    def spy(model_, diff, line, prev, next_, **kw):
        captured["x_init"] = kw["x_init"]
        return real(model_, diff, line, prev, next_, **kw)

    monkeypatch.setattr(R, "ddim_sample", spy)
    fc = FrameColorizer("model", model=_tiny(), settings=ColorizeSettings(snap="off", dtype="fp32"),
                        spec=InferenceSpec.refine(t_start=20, gate=gate))
    monkeypatch.setattr(fc.model, "denoise", lambda x_t, t, line, cond: captured["x_init"].to(x_t.dtype))
    guess = fc.colorize(tl, pc, nc, pl, nl, t=0.5).raw
    prop = propagate_two(tl, pc, pl, nc, nl, t=0.5).rgb
    assert guess.shape == prop.shape
    assert np.abs(guess.astype(int) - prop.astype(int)).max() <= 1


def test_refine_colours_at_native_size_in_its_own_steps(triplet):
    (pc, tc, nc), (pl, tl, nl) = triplet
    fc = FrameColorizer("model", model=_tiny(), spec=REFINE,
                        settings=ColorizeSettings(snap="auto", working_size=64, steps=7))
    steps = []
    out = fc.colorize(tl, pc, nc, pl, nl, t=0.5, on_step=lambda j, k: steps.append((j, k)))
    assert out.composite.shape == tc.shape and out.composite.dtype == np.uint8
    assert steps == [(1, 1)]                       # the spec's steps, not the user's 7


def test_prepared_model_is_a_copy():
    """Colouring never changes the caller's network (the cache hands out prepared copies)."""
    model = _tiny()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    fc = FrameColorizer("model", model=model, settings=ColorizeSettings(dtype="fp32"))
    assert fc.model is not model
    assert all(type(m).__module__.startswith(("torch.", "opdm_studio.core.unet", "opdm_studio.core.model",
                                              "opdm_studio.core.reference", "opdm_studio.core.offsets"))
               for m in model.modules())
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_finish_without_line_colours_keeps_the_guess_on_ink(triplet):
    """Bare drawings (extracted line art) get the keys' line colour carried by the guess, not black."""
    (pc, _, nc), (pl, tl, nl) = triplet
    fc = FrameColorizer("flow", settings=ColorizeSettings(method="flow", snap="off"))
    out = fc.colorize(tl, pc, nc, pl, nl, t=0.5)
    ink = tl == 0
    assert ink.any()
    assert np.array_equal(out.composite[ink], out.raw[ink])
    black = np.repeat(tl[..., None], 3, axis=2)
    out2 = fc.colorize(tl, pc, nc, pl, nl, t=0.5, line_rgb=black)
    assert (out2.composite[ink] == 0).all()


def test_flow_method_needs_no_torch():
    code = ("import sys; from opdm_studio.engine.frame import FrameColorizer; "
            "FrameColorizer('flow'); assert 'torch' not in sys.modules, 'torch imported'")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_flow_is_chained_through_the_interval_when_it_is_known():
    """With the key interval's drawings the flow pipeline chains the flow through them (computed
    once per interval); without, it matches the keys directly (propagate_two)."""
    from opdm_studio.imaging.chain import ChainPropagator
    from opdm_studio.pipelines.base import Interval
    from opdm_studio.synth.cut import generate_cut
    cut = generate_cut(7, (96, 80), seed=5)
    lines = [_drawing(c) for c in cut.colors]
    loads = []

    def load():
        loads.append(1)
        return lines

    pipe = FlowPipeline()
    for j in (2, 3, 4):
        inputs = FrameInputs(lines[j], cut.colors[0], cut.colors[6], lines[0], lines[6], t=j / 6,
                             pair="k", interval=Interval("cut", load, position=j, length=7))
        guess, _ = _run(pipe, inputs)
        want = ChainPropagator(lines).propagate(j, cut.colors[0], cut.colors[6])
        assert np.array_equal(guess.rgb, want.rgb)
    assert len(loads) == 1                                 # one propagator for the interval
    direct, _ = _run(FlowPipeline(chain=False), inputs)
    assert np.array_equal(direct.rgb, propagate_two(lines[4], cut.colors[0], lines[0], cut.colors[6],
                                                    lines[6], 4 / 6).rgb)


def test_refine_references_follow_the_spec():
    """A model trained on directly matched warps keeps getting them; chain-warped specs chain."""
    model = _tiny()
    direct = make_pipeline("model", REFINE, model, torch.device("cpu"), torch.float32)
    chained = make_pipeline("model", InferenceSpec.refine(t_start=20, refs="chain-warped"), model,
                            torch.device("cpu"), torch.float32)
    assert not direct.flow.chain and chained.flow.chain
    with pytest.raises(ValueError):
        InferenceSpec.refine(t_start=20, refs="raw").validate()


def test_flow_runs_at_full_size_unless_the_frame_is_much_bigger_than_the_flow_size():
    from opdm_studio.pipelines.base import FLOW_SIZE_SLACK, flow_size_of
    assert flow_size_of(1104, 612, 540) is None            # 1.13x: thin lines kept
    assert flow_size_of(1920, 1080, 540) == (960, 540)       # 2x: the flow runs at 540
    assert flow_size_of(960, int(540 * FLOW_SIZE_SLACK) + 1, 540) is not None
    assert flow_size_of(1920, 1080, 0) is None


def test_the_specs_strength_scales_the_networks_correction(triplet):
    """strength 0.5 adds half of the gated correction to the same propagation."""
    (pc, _, nc), (pl, tl, nl) = triplet
    model = _tiny()
    outs = {}
    for strength in (1.0, 0.5):
        spec = InferenceSpec.refine(t_start=20, gate="none", strength=strength)
        pipe = make_pipeline("model", spec, model, torch.device("cpu"), torch.float32, working_size=64)
        outs[strength], _ = _run(pipe, FrameInputs(tl, pc, nc, pl, nl, t=0.5, seed=1, pair="s"))
    prop = propagate_two(tl, pc, pl, nc, nl, t=0.5).rgb.astype(np.float32)
    full = outs[1.0].rgb.astype(np.float32) - prop
    half = outs[0.5].rgb.astype(np.float32) - prop
    inside = ((outs[1.0].rgb > 0) & (outs[1.0].rgb < 255)).all(axis=2)   # not clipped
    assert np.abs(full[inside]).mean() > 2.0
    assert np.abs(half[inside] - 0.5 * full[inside]).max() <= 1.01   # rounding of each result
    for bad in (0.0, 1.5, True, "half"):
        with pytest.raises(ValueError, match="strength"):
            InferenceSpec.refine(t_start=20, strength=bad).validate()
    with pytest.raises(ValueError, match="whole output"):
        InferenceSpec(strength=0.5).validate()
