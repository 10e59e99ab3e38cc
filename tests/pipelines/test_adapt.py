"""Adapting the refine network to a key interval's own keys (spec ``adapt_per_frame``: steps per
in-between drawing of the interval)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from opdm_studio.core.config import InferenceSpec, ModelConfig
from opdm_studio.core.device import prepare_for_inference
from opdm_studio.core.diffusion import GaussianDiffusion
from opdm_studio.core.model import OPDM
from opdm_studio.errors import Cancelled
from opdm_studio.imaging.chain import ChainPropagator
from opdm_studio.pipelines import make_pipeline
from opdm_studio.pipelines.adapt import adapt, forget_adapted, refine_loss
from opdm_studio.pipelines.base import CancelToken, FrameInputs, Interval
from tests.conftest import requires_bf16
from tests.pipelines.helpers import drain

CPU = torch.device("cpu")


def _spec(per_frame: int = 1, gate: str = "confidence") -> InferenceSpec:
    return InferenceSpec.refine(t_start=20, gate=gate, refs="chain-warped", strength=1.0,
                                adapt_per_frame=per_frame)


@pytest.fixture(scope="module")
def cut():
    from opdm_studio.synth.cut import generate_cut
    return generate_cut(6, (96, 64), seed=3)


def _model() -> torch.nn.Module:
    torch.manual_seed(0)
    return prepare_for_inference(OPDM(ModelConfig.preset("tiny")), CPU, torch.float32)


def _inputs(cut, pos: int, key: str = "cut") -> FrameInputs:
    lines = list(cut.lines)
    return FrameInputs(lines[pos], cut.colors[0], cut.colors[5], lines[0], lines[5], t=pos / 5,
                       pair=key, interval=Interval(key, lambda: lines, position=pos, length=6))


def _run(pipeline, inputs, cancel=None):
    return drain(pipeline(inputs, cancel))


def _item(cut, size: int = 32) -> dict[str, torch.Tensor]:
    def t(img, channels):
        x = torch.from_numpy(img[:size, :size].astype(np.float32) / 127.5 - 1.0)
        return x[None, None] if channels == 1 else x.permute(2, 0, 1)[None]
    warped = t(cut.colors[0], 3)
    return {"line": t(cut.lines[5], 1), "prev": warped, "next": warped, "prop": warped,
            "target": t(cut.colors[5], 3), "confidence": torch.full((1, 1, size, size), 0.2)}


def test_the_spec_validates_adapt_per_frame():
    assert InferenceSpec.from_json(_spec(40).to_json()) == _spec(40)
    assert InferenceSpec.from_dict({"pipeline": "refine", "steps": 1, "t_start": 20,
                                    "refs": "chain-warped"}).adapt_per_frame == 0   # older files
    for bad in (-1, 1.5, True, "40"):
        with pytest.raises(ValueError, match="adapt_per_frame"):
            _spec(bad).validate()    # type: ignore[arg-type]
    with pytest.raises(ValueError, match="chain-warped"):
        InferenceSpec.refine(t_start=20, refs="flow-warped", adapt_per_frame=5).validate()
    with pytest.raises(ValueError, match="no adaptation"):
        InferenceSpec(adapt_per_frame=5).validate()


def test_chain_carries_each_key_onto_the_other_keys_drawing(cut):
    lines = list(cut.lines)
    chain = ChainPropagator(lines)
    warp, conf = chain.across(0, cut.colors[0])
    assert warp.shape == cut.colors[5].shape and conf.shape == lines[5].shape
    assert 0.0 <= conf.min() and conf.max() <= 1.0
    # Carrying the previous key's colours onto the next key's drawing gets most of it right,
    # better than the previous key as it is.
    right = np.abs(warp.astype(int) - cut.colors[5]).sum(axis=2) < 30
    as_is = np.abs(cut.colors[0].astype(int) - cut.colors[5]).sum(axis=2) < 30
    assert right.mean() > 0.8 and right.mean() > as_is.mean()
    back, _ = chain.across(-1, cut.colors[5])
    assert (np.abs(back.astype(int) - cut.colors[0]).sum(axis=2) < 30).mean() > 0.8


def test_adapting_fits_the_pairs_and_leaves_the_shared_model_alone(cut):
    model = _model()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    diffusion = GaussianDiffusion.from_config(model.config)
    spec = _spec()
    item = _item(cut)

    def loss_of(net) -> float:
        with torch.no_grad():
            return float(np.mean([refine_loss(net, diffusion, spec, item,
                                              torch.Generator().manual_seed(s))["loss"] for s in range(4)]))

    def run(steps: int, seed: int = 0):
        return drain(adapt(model, diffusion, spec, [item], steps, CPU, torch.float32, seed=seed))

    adapted, done = run(30)
    assert done == list(range(1, 31))
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert not any(p.requires_grad for p in adapted.parameters())
    assert loss_of(adapted) < 0.9 * loss_of(model)
    again, _ = run(30)
    assert all(torch.equal(a, b) for a, b in zip(adapted.state_dict().values(),
                                                 again.state_dict().values(), strict=True))
    with pytest.raises(ValueError, match="pair"):
        next(adapt(model, diffusion, spec, [], 3, CPU, torch.float32))


def test_refine_adapts_once_per_interval_and_reports_the_steps(cut):
    model = _model()
    pipe = make_pipeline("model", _spec(1, "none"), model, CPU, torch.float32, working_size=64)
    first, steps = _run(pipe, _inputs(cut, 1))
    assert steps == [(1, 5), (2, 5), (3, 5), (4, 5), (1, 1)]   # 1 step per in-between (4)
    _, steps = _run(pipe, _inputs(cut, 2))
    assert steps == [(1, 1)]                                  # the interval's copy is kept
    _, steps = _run(pipe, _inputs(cut, 2, key="another interval"))
    assert steps == [(1, 1)]             # the same drawings and keys: the copy kept by content
    pipe.reset()
    forget_adapted()
    _, steps = _run(pipe, _inputs(cut, 2, key="another interval"))
    assert steps[0] == (1, 5)
    # The adapted copy colours differently from the shipped network (same propagation, same seed).
    plain = make_pipeline("model", _spec(0, "none"), model, CPU, torch.float32, working_size=64)
    unadapted, steps = _run(plain, _inputs(cut, 1))
    assert steps == [(1, 1)] and not np.array_equal(first.rgb, unadapted.rgb)
    # Without the interval there is nothing to adapt on: the network as shipped.
    lines = list(cut.lines)
    bare = FrameInputs(lines[1], cut.colors[0], cut.colors[5], lines[0], lines[5], t=0.2, pair="b")
    _, steps = _run(pipe, bare)
    assert steps == [(1, 1)]


def test_a_cancel_during_adaptation_stops_it(cut):
    pipe = make_pipeline("model", _spec(2), _model(), CPU, torch.float32, working_size=64)
    cancel = CancelToken()
    gen = pipe(_inputs(cut, 1), cancel)
    assert next(gen) == (1, 9)
    cancel.cancel()
    with pytest.raises(Cancelled):
        next(gen)
    cancel = CancelToken()
    _, steps = _run(pipe, _inputs(cut, 1), cancel)          # starts over: nothing half-adapted kept
    assert steps[0] == (1, 9) and steps[-1] == (1, 1)


def test_nearest_paint_takes_close_colours_only():
    from opdm_studio.imaging.palette import PaintLookup
    paint = np.array([[200, 40, 40], [40, 40, 200], [44, 44, 196]], np.uint8)
    px = np.array([[190, 50, 45], [120, 40, 120], [41, 41, 199], [0, 255, 0]], np.float32)
    assert PaintLookup(paint).snap(px, reach=48.0) == 2
    assert px.tolist() == [[200, 40, 40], [120, 40, 120], [40, 40, 200], [0, 255, 0]]
    assert PaintLookup(np.zeros((0, 3), np.uint8)).snap(px, reach=48.0) == 0
    # The table's pick is the exact nearest paint wherever the two nearest are not almost tied.
    rng = np.random.default_rng(0)
    pal = rng.integers(0, 256, (40, 3)).astype(np.uint8)
    colours = rng.uniform(0, 255, (5000, 3)).astype(np.float32)
    d = np.sqrt(((colours[:, None] - pal[None].astype(np.float32)) ** 2).sum(axis=2))
    order = np.sort(d, axis=1)
    clear = order[:, 1] - order[:, 0] > 6.0                    # more than a cell's diagonal
    snapped = colours.copy()
    PaintLookup(pal).snap(snapped, reach=1000.0)
    assert np.array_equal(snapped[clear], pal[np.argmin(d, axis=1)][clear].astype(np.float32))


def test_refine_puts_the_pixels_it_moved_on_a_close_paint(cut):
    """Given the keys' paint, every pixel the network's correction moved is either exactly one of
    the paints or further than PAINT_REACH from all of them; without it, blends stay."""
    from opdm_studio.pipelines.refine import PAINT_MOVED, PAINT_REACH
    model = _model()
    pipe = make_pipeline("model", _spec(0, "none"), model, CPU, torch.float32, working_size=64)
    from opdm_studio.imaging.lineart import line_mask_from_drawing
    from opdm_studio.imaging.palette import key_pair_palette
    paint = key_pair_palette(cut.colors[0], line_mask_from_drawing(cut.lines[0]), cut.colors[5],
                             line_mask_from_drawing(cut.lines[5])).colors
    plain, _ = _run(pipe, _inputs(cut, 2))
    pipe.reset()
    inputs = _inputs(cut, 2)
    painted, _ = _run(pipe, FrameInputs(**{**inputs.__dict__, "paint": paint}))
    prop, _ = pipe.flow.propagate(inputs)
    change = np.abs(plain.rgb.astype(int) - prop.rgb).max(axis=2)
    moved, still = change > PAINT_MOVED + 1, change < PAINT_MOVED - 1     # (rounding either side)
    assert moved.mean() > 0.05                                # the random network moves plenty
    out = painted.rgb[moved].astype(np.float32)
    d = np.sqrt(((out[:, None] - paint[None].astype(np.float32)) ** 2).sum(axis=2)).min(axis=1)
    assert np.all((d == 0) | (d >= PAINT_REACH - 1))
    assert (d == 0).mean() > 0.1 and not np.array_equal(plain.rgb, painted.rgb)
    assert np.array_equal(painted.rgb[still], plain.rgb[still])   # barely corrected: as it was


@requires_bf16
def test_a_bf16_model_is_adapted_in_fp32_and_colours_in_bf16(cut):
    """A network prepared in bf16 (CPUs with bf16 convolutions) adapts a fp32 copy and gets it
    back in bf16; the shared bf16 network is untouched."""
    torch.manual_seed(0)
    model = prepare_for_inference(OPDM(ModelConfig.preset("tiny")), CPU, torch.bfloat16)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    pipe = make_pipeline("model", _spec(1), model, CPU, torch.bfloat16, working_size=64)
    guess, steps = _run(pipe, _inputs(cut, 1))
    assert steps[0] == (1, 5) and guess.rgb.shape == cut.colors[1].shape
    assert next(pipe._adapted[1].parameters()).dtype == torch.bfloat16
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_a_frame_shows_its_propagation_while_the_network_adapts(cut):
    from dataclasses import replace

    from opdm_studio.pipelines.base import step_phase
    pipe = make_pipeline("model", _spec(1, "none"), _model(), CPU, torch.float32, working_size=64)
    shown: list[np.ndarray] = []
    gen = pipe(replace(_inputs(cut, 1), preview=shown.append))
    first = next(gen)
    # Before the first adaptation step is over, the frame already has a picture: the flow's.
    assert step_phase(first) == "adapt" and len(shown) == 1
    assert shown[0].shape == cut.colors[0].shape and shown[0].dtype == np.uint8
    guess, phases = drain(gen)
    assert [step_phase(s) for s in phases] == ["adapt"] * 3 + ["sample"]
    # The next frame of the interval needs no adaptation: its guess comes soon, no early picture.
    _run(pipe, replace(_inputs(cut, 2), preview=shown.append))
    assert len(shown) == 1


def test_the_adaptations_adam_steps_exactly_as_torchs(monkeypatch):
    """The adaptation's own Adam (no torch._dynamo import on first use) gives the weights
    torch.optim.Adam gives, bit for bit."""
    import opdm_studio.pipelines.adapt as adapt_module
    torch.manual_seed(0)
    model = OPDM(ModelConfig.preset("tiny"))
    diffusion = GaussianDiffusion.from_config(model.config)
    g = torch.Generator().manual_seed(1)
    items = []
    for _ in range(2):
        warp = torch.rand(1, 3, 48, 64, generator=g) * 2 - 1
        items.append({"line": torch.rand(1, 1, 48, 64, generator=g) * 2 - 1, "prev": warp,
                      "next": warp, "prop": warp, "target": torch.rand(1, 3, 48, 64, generator=g) * 2 - 1,
                      "confidence": torch.rand(1, 1, 48, 64, generator=g)})

    def weights() -> dict[str, torch.Tensor]:
        net, _ = drain(adapt(model, diffusion, _spec(1), items, 4, CPU, torch.float32))
        return {k: v.clone() for k, v in net.state_dict().items()}

    ours = weights()
    monkeypatch.setattr(adapt_module, "Adam", lambda params, lr: torch.optim.Adam(params, lr=lr))
    theirs = weights()
    assert all(torch.equal(ours[k], theirs[k]) for k in ours)
    assert any(not torch.equal(ours[k], v) for k, v in model.state_dict().items())   # it learnt


def _pairs(seed: int) -> list[dict[str, torch.Tensor]]:
    g = torch.Generator().manual_seed(seed)
    warp = torch.rand(1, 3, 48, 64, generator=g) * 2 - 1
    return [{"line": torch.rand(1, 1, 48, 64, generator=g) * 2 - 1, "prev": warp, "next": warp,
             "prop": warp, "target": torch.rand(1, 3, 48, 64, generator=g) * 2 - 1,
             "confidence": torch.rand(1, 1, 48, 64, generator=g)}]


def test_an_adapted_copy_is_kept_for_the_same_pairs_and_only_those():
    """Colouring more of a key interval later needs no second adaptation: the same model, pairs
    and steps give the kept copy at once; other pairs, another model, or an adaptation stopped
    half-way are adapted afresh."""
    torch.manual_seed(0)
    model = OPDM(ModelConfig.preset("tiny"))
    diffusion = GaussianDiffusion.from_config(model.config)
    first, steps = drain(adapt(model, diffusion, _spec(1), _pairs(1), 3, CPU, torch.float32))
    assert steps == [1, 2, 3]
    again, steps = drain(adapt(model, diffusion, _spec(1), _pairs(1), 3, CPU, torch.float32))
    assert again is first and steps == []
    other, steps = drain(adapt(model, diffusion, _spec(1), _pairs(2), 3, CPU, torch.float32))
    assert other is not first and steps == [1, 2, 3]
    _, steps = drain(adapt(model, diffusion, _spec(1), _pairs(1), 4, CPU, torch.float32))
    assert steps == [1, 2, 3, 4]
    twin = OPDM(ModelConfig.preset("tiny"))
    twin.load_state_dict(model.state_dict())
    _, steps = drain(adapt(twin, diffusion, _spec(1), _pairs(1), 3, CPU, torch.float32))
    assert steps == [1, 2, 3]
    stopped = adapt(model, diffusion, _spec(1), _pairs(3), 3, CPU, torch.float32)
    next(stopped)
    stopped.close()                                   # cancelled after one step
    _, steps = drain(adapt(model, diffusion, _spec(1), _pairs(3), 3, CPU, torch.float32))
    assert steps == [1, 2, 3]
