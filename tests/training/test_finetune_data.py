"""Fine-tuning data and regularisation: the engine's resizes for flow-warped triplets, synthetic
cuts mixed in (--synth-ratio), L2-SP towards the start weights, and the defaults that follow the
objective."""
from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
import torch

from opdm_studio.core.config import InferenceSpec
from opdm_studio.imaging.flow import FLOW_SIZE
from training.config import TrainConfig
from training.triplets import AugmentConfig, MixedDataset, TripletDataset, flow_warped_views


def _frames(size: int, n: int = 3) -> list[tuple[np.ndarray, np.ndarray]]:
    out = []
    for i in range(n):
        img = np.full((size, size, 3), 240, np.uint8)
        line = np.full((size, size), 255, np.uint8)
        c = (size // 3 + i * size // 20, size // 2)
        cv2.circle(img, c, size // 5, (200, 40, 40), -1)
        for t, col in ((img, (0, 0, 0)), (line, 0)):
            cv2.circle(t, c, size // 5, col, max(1, size // 100))
        out.append((img, line))
    return out


@pytest.mark.parametrize("native", [300, 1200])
def test_flow_warped_views_are_what_the_refine_pipeline_feeds_the_network(native):
    """Flow at the drawing's size (or the engine's flow size for big frames), then the pipeline's
    resize to the working geometry: the same pixels the engine's network sees."""
    from opdm_studio.engine.settings import ColorizeSettings
    from opdm_studio.pipelines.base import FrameInputs, resize
    from opdm_studio.pipelines.flow import FlowPipeline
    assert ColorizeSettings().flow_size == FLOW_SIZE == TrainConfig().flow_size   # training's flow is the engine's
    (pr, pl), (tr, tl), (nr, nl) = _frames(native)
    views = flow_warped_views(tl, pr, pl, nr, nl, 0.5, 64, FLOW_SIZE, AugmentConfig.off(),
                              np.random.default_rng(0), target=tr)
    prop, small = FlowPipeline(FLOW_SIZE).propagate(FrameInputs(tl, pr, nr, pl, nl, t=0.5))
    assert (small is None) == (native <= FLOW_SIZE)
    assert np.array_equal(views["line"], resize(tl, (64, 64)))
    assert np.array_equal(views["target"], resize(tr, (64, 64)))
    assert np.array_equal(views["prop"], resize(prop.rgb, (64, 64)))
    assert np.array_equal(views["prev"], resize(prop.warp_prev, (64, 64)))
    assert np.allclose(views["confidence"], resize(prop.confidence.astype(np.float32), (64, 64)))


@pytest.mark.parametrize("native", [300, 1200])
def test_chain_warped_views_are_what_a_chained_refine_pipeline_feeds_the_network(native):
    """refs="chain-warped": the flow chained through the in-between drawings at the engine's flow
    size, with the refine pipeline's confidence (the keys' agreement left out)."""
    from opdm_studio.pipelines.base import FrameInputs, Interval, resize
    from opdm_studio.pipelines.flow import FlowPipeline
    frames = _frames(native, n=5)
    lines = [f[1] for f in frames]
    (pr, pl), (tr, tl), (nr, nl) = frames[0], frames[2], frames[4]
    views = flow_warped_views(tl, pr, pl, nr, nl, 0.5, 64, FLOW_SIZE, AugmentConfig.off(),
                              np.random.default_rng(0), target=tr, between=lines[1:4], position=2)
    interval = Interval(key="k", load=lambda: lines, position=2, length=5)
    pipe = FlowPipeline(FLOW_SIZE, chain=True, agreement=False)
    prop, _ = pipe.propagate(FrameInputs(tl, pr, nr, pl, nl, t=0.5, interval=interval))
    assert np.array_equal(views["prop"], resize(prop.rgb, (64, 64)))
    assert np.array_equal(views["next"], resize(prop.warp_next, (64, 64)))
    assert np.allclose(views["confidence"], resize(prop.confidence.astype(np.float32), (64, 64)))
    direct = flow_warped_views(tl, pr, pl, nr, nl, 0.5, 64, FLOW_SIZE, AugmentConfig.off(),
                               np.random.default_rng(0), target=tr)
    assert not np.allclose(direct["confidence"], views["confidence"])   # a different warp


def test_a_new_refine_model_trains_on_chained_references(toy_cuts):
    from training.data import scan_cuts
    from training.objectives import RefineObjective
    from training.refine_data import SynthRefineDataset
    spec = RefineObjective.inference_spec(TrainConfig(), None)
    assert spec.refs == "chain-warped"
    ds = TripletDataset(scan_cuts(toy_cuts).cuts, size=32, refs=spec.refs, augment=AugmentConfig.off())
    assert set(ds[3]) >= {"prev", "next", "prop", "confidence"}
    synth = SynthRefineDataset(size=32, seed=3, cut_size=(64, 80), frames=8, uses=2, refs=spec.refs)
    direct = SynthRefineDataset(size=32, seed=3, cut_size=(64, 80), frames=8, uses=2, refs="flow-warped")
    a, b = synth[1], direct[1]
    assert torch.equal(a["target"], b["target"]) and torch.equal(a["line"], b["line"])
    with pytest.raises(ValueError, match="refs"):
        SynthRefineDataset(size=32, refs="raw")


def test_crops_keep_the_working_scale(toy_cuts):
    from training.data import scan_cuts
    cuts = scan_cuts(toy_cuts).cuts
    whole = TripletDataset(cuts, size=64, refs="flow-warped", augment=AugmentConfig.off())
    part = TripletDataset(cuts, size=64, refs="flow-warped", augment=AugmentConfig.off(), crop=32)
    a, b = whole[5], part[5]
    assert b["prop"].shape == (3, 32, 32)
    # The crop is a window of the whole working-size view (64 px cuts: geometry 64 x 64).
    found = any(torch.equal(a["prop"][:, y:y + 32, x:x + 32], b["prop"]) for y in range(33) for x in range(33))
    assert found
    with pytest.raises(ValueError, match="crop"):
        TripletDataset(cuts, size=64, crop=40)


def test_synthetic_items_are_mixed_in_by_key(toy_cuts):
    from training.data import scan_cuts
    from training.refine_data import SynthRefineDataset
    real = TripletDataset(scan_cuts(toy_cuts).cuts, size=32, refs="flow-warped")
    synth = SynthRefineDataset(size=32, seed=3, cut_size=(64, 80), frames=8, uses=1)
    mix = MixedDataset(real, synth, 0.3, seed=1)
    picks = [mix.is_synthetic(k) for k in range(400)]
    assert 0.2 < np.mean(picks) < 0.4 and len(mix) == len(real)
    k = picks.index(True)
    assert torch.equal(mix[k]["target"], synth[k]["target"])
    k = picks.index(False)
    assert torch.equal(mix[k]["target"], real[k]["target"])
    assert [MixedDataset(real, synth, 0.3, seed=1).is_synthetic(i) for i in range(50)] == picks[:50]
    assert not any(MixedDataset(real, synth, 0.0).is_synthetic(i) for i in range(50))


def test_l2sp_is_zero_at_the_start_and_pulls_back():
    from torch import nn

    from training.losses import L2SP
    torch.manual_seed(0)
    net = nn.Linear(4, 3)
    start = {k: v.detach().clone() for k, v in net.named_parameters()}
    reg = L2SP(dict(net.named_parameters()), start, weight=0.5)
    assert float(reg()) == 0.0 and reg.distance() == 0.0
    with torch.no_grad():
        net.weight.add_(1.0)
    assert float(reg()) == pytest.approx(0.5 * 0.5 * 12)
    reg().backward()
    assert torch.allclose(net.weight.grad, torch.full_like(net.weight, 0.5))   # towards the start
    assert reg.distance() == pytest.approx((12 / 15) ** 0.5)


def test_fine_tuning_defaults_follow_the_objective(toy_cuts, tmp_path, capsys):
    """A refine model fine-tunes with the refine recipe's batch / crop / lr and L2-SP on; the
    penalty and the distance from the start weights are logged; --synth-ratio mixes synthetic cuts."""
    from opdm_studio.core.checkpoint import save_checkpoint
    from opdm_studio.core.model import OPDM
    from training.__main__ import main as training_main
    from training.objectives import FINETUNE_L2SP, resolve_defaults
    from training.plots import read_log
    from training.refine import refine_config
    from training.trainer import fine_tunes
    torch.manual_seed(0)
    start = save_checkpoint(tmp_path / "s.safetensors", OPDM(refine_config(base=8).replace(image_size=32)),
                            inference=InferenceSpec.refine(t_start=30, steps=1))
    run = tmp_path / "ft"
    assert training_main(["train", str(toy_cuts), "--init", str(start), "--out", str(run), "--steps", "2",
                          "--workers", "0", "--device", "cpu", "--dtype", "fp32", "--synth-ratio", "0.5",
                          "--no-progress"]) == 0
    assert "lr 0.0002, batch 4, crop 128, L2-SP 0.01" in capsys.readouterr().out
    tc = json.loads((run / "run.json").read_text())["train_config"]
    assert (tc["lr"], tc["batch"], tc["l2sp"], tc["synth_ratio"]) == (2e-4, 4, FINETUNE_L2SP, 0.5)
    logged = [r for r in read_log(run / "log.jsonl") if "loss" in r]
    assert logged[-1]["l2sp"] > 0 and logged[-1]["l2sp_rms"] > 0
    # Stage 2 after stage 1 starts from the align run's weights but is not a fine-tuning.
    align = tmp_path / "al"
    from training.trainer import run as train
    train(TrainConfig(data=str(toy_cuts), out=str(align), objective="align", preset="tiny", size=32, steps=1,
                      workers=0, device="cpu", dtype="fp32", val_frames=0, progress=False))
    cfg = TrainConfig(init=str(align))
    assert not fine_tunes(cfg, "paper") and fine_tunes(TrainConfig(init=str(start)), "refine")
    assert resolve_defaults(cfg, "paper", False).l2sp == 0 and resolve_defaults(cfg, "paper", False).lr == 1e-5
    assert resolve_defaults(cfg.replace(lr=3e-5, l2sp=0.0), "refine", True).lr == 3e-5
