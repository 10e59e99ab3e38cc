"""Acceptance tests of the training package: tiny model, 32-64 px toy cuts, CPU, fp32."""
from __future__ import annotations

import json
import os
import socket
from pathlib import Path

import numpy as np
import pytest
import torch

from opdm_studio.core.config import InferenceSpec
from opdm_studio.errors import TrainingDataError
from training import data as td
from training import triplets as tt
from training.config import TrainConfig
from training.objectives import AlignObjective, PaperObjective
from training.plots import read_log
from training.state import latest_checkpoint, read_training_state
from training.trainer import run, step_generator

SIZE = 32


def _model():
    from opdm_studio.core.config import ModelConfig
    from opdm_studio.core.diffusion import GaussianDiffusion
    from opdm_studio.core.model import OPDM
    torch.manual_seed(0)
    cfg = ModelConfig.preset("tiny").replace(image_size=SIZE)
    return OPDM(cfg), GaussianDiffusion.from_config(cfg)


def _cfg(data: Path, out: Path, **kw) -> TrainConfig:
    base = dict(data=str(data), out=str(out), objective="paper", preset="tiny", size=SIZE, steps=4, batch=2, lr=1e-3,
                workers=0, device="cpu", dtype="fp32", chain_steps=2, ckpt_every=2, val_every=2,
                log_every=1, val_frames=2, progress=False)
    base.update(kw)
    return TrainConfig(**base)


def test_dataset_triplets_are_consistent(toy_cuts):
    report = td.scan_cuts(toy_cuts)
    assert len(report.cuts) == 3 and report.n_frames == 24 and report.sizes == [(64, 64)]
    ds = tt.TripletDataset(report.cuts, size=SIZE, gap=(2, 16), seed=3)
    for key in range(10):
        ci, p, j, q, _ = ds.choose(key)
        assert 0 <= p < j < q < len(report.cuts[ci])
        assert 2 <= q - p <= 7
    a, b = ds[5], ds[5]
    assert set(a) >= {"line", "prev", "target", "next", "t"}
    assert a["target"].shape == (3, SIZE, SIZE) and a["line"].shape == (1, SIZE, SIZE)
    assert torch.equal(a["target"], b["target"])                  # the key fixes every choice
    assert not torch.equal(ds[5]["target"], ds[5 + len(ds)]["target"])  # new epoch, new augmentation
    assert float(a["line"].min()) < 0 < float(a["line"].max())    # ink and paper survive resizing


def test_lines_are_extracted_when_missing(tmp_path):
    from tests.training.conftest import write_toy_cuts
    root = write_toy_cuts(tmp_path / "c", n_cuts=1, with_lines=False)
    report = td.scan_cuts(root)
    line = report.cuts[0].line(0)
    assert line.dtype == np.uint8 and line.min() < 128 and line.max() > 200


def test_no_usable_cuts_gives_clear_message(tmp_path):
    (tmp_path / "empty_cut").mkdir()
    (tmp_path / "short" / "color").mkdir(parents=True)
    from PIL import Image
    for i in range(2):
        Image.new("RGB", (32, 32)).save(tmp_path / "short" / "color" / f"{i}.png")
    with pytest.raises(TrainingDataError, match="no usable cuts") as exc:
        td.scan_cuts(tmp_path)
    assert "at least 3" in str(exc.value)
    with pytest.raises(TrainingDataError, match="not a folder"):
        td.scan_cuts(tmp_path / "missing")


def _fixed_batch(toy_cuts):
    ds = tt.TripletDataset(td.scan_cuts(toy_cuts).cuts, size=SIZE, gap=(2, 4),
                           augment=tt.AugmentConfig.off())
    return tt.fixed_batch(ds, 2)


def test_stage1_reduces_alignment_loss(toy_cuts):
    model, diff = _model()
    obj = AlignObjective(model, diff, TrainConfig(), InferenceSpec.paper())
    params = obj.trainable()
    assert params and all(p.requires_grad for p in params)
    assert not any(p.requires_grad for p in model.unet.parameters())
    batch = _fixed_batch(toy_cuts)
    opt = torch.optim.Adam(params, lr=2e-3)
    losses = []
    for _ in range(10):
        loss = obj(batch)["loss"]
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.85 * losses[0]


def test_stage2_reduces_loss(toy_cuts):
    model, diff = _model()
    obj = PaperObjective(model, diff, TrainConfig(chain_steps=2), InferenceSpec.paper())
    params = obj.trainable()
    assert not any(p.requires_grad for p in model.offset_estimator_parameters())
    batch = _fixed_batch(toy_cuts)
    opt = torch.optim.Adam(params, lr=2e-3)
    first = last = None
    for _ in range(10):
        # The same noise every step: on a fixed batch the loss must then fall steadily.
        out = obj(batch, step_generator(0, 0, 0, 0, torch.device("cpu")))
        opt.zero_grad()
        out["loss"].backward()
        opt.step()
        first = out["loss"].item() if first is None else first
        last = out["loss"].item()
    assert last < 0.8 * first


def test_resume_matches_uninterrupted_run(toy_cuts, tmp_path):
    straight = run(_cfg(toy_cuts, tmp_path / "a", steps=4))
    assert straight.status == "finished"
    run(_cfg(toy_cuts, tmp_path / "b", steps=2))
    resumed = run(_cfg(toy_cuts, tmp_path / "b", steps=4, resume=True))
    assert resumed.step == 4
    ta, _ = read_training_state(latest_checkpoint(tmp_path / "a"))
    tb, _ = read_training_state(latest_checkpoint(tmp_path / "b"))
    for k in ta:
        if k.startswith(("model.", "ema.", "optim.")):
            torch.testing.assert_close(ta[k], tb[k], rtol=1e-5, atol=1e-6, msg=k)
    # Run folder outputs: log without duplicated steps, loss curve, samples, config.
    steps = [r["step"] for r in read_log(tmp_path / "b" / "log.jsonl") if "loss" in r]
    assert steps == [1, 2, 3, 4]
    assert (tmp_path / "b" / "loss.png").is_file() and (tmp_path / "b" / "samples" / "latest.png").is_file()
    assert json.loads((tmp_path / "b" / "run.json").read_text())["train_config"]["steps"] == 4
    with pytest.raises(TrainingDataError, match="--resume"):
        run(_cfg(toy_cuts, tmp_path / "b", steps=6))


def test_stage1_then_stage2_then_export(toy_cuts, tmp_path):
    from opdm_studio.core.checkpoint import load_checkpoint
    from training.export import export_model
    ev = run(_cfg(toy_cuts, tmp_path / "s1", objective="align", steps=2, lr=1e-4))
    assert ev.status == "finished"
    log = read_log(tmp_path / "s1" / "log.jsonl")
    assert any("val_psnr_unaligned" in r for r in log)
    assert all("l1_unaligned" in r for r in log if "loss" in r)
    # Stage 2 from the stage-1 run: "auto" follows its (paper) spec.
    ev = run(_cfg(toy_cuts, tmp_path / "s2", objective="auto", init=str(tmp_path / "s1"), steps=2))
    assert ev.status == "finished"
    out = export_model(tmp_path / "s2", tmp_path / "model.safetensors", name="toy")
    model, cfg, meta, spec = load_checkpoint(out, device="cpu")
    assert cfg.name == "tiny" and meta.get("training_steps") == 2 and meta.get("objective") == "paper"
    assert spec == InferenceSpec.paper()
    assert next(model.parameters()).dtype in (torch.float16, torch.float32)
    with pytest.raises(Exception, match="already exists"):
        export_model(tmp_path / "s2", out)


def _ddp_worker(rank: int, world: int, port: int, cfg: TrainConfig) -> None:
    os.environ.update(RANK=str(rank), WORLD_SIZE=str(world), LOCAL_RANK=str(rank),
                      MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    run(cfg)
    import torch.distributed as dist
    dist.destroy_process_group()


def test_two_process_gloo_ddp(toy_cuts, tmp_path):
    import torch.multiprocessing as mp
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cfg = _cfg(toy_cuts, tmp_path / "ddp", steps=2, ckpt_every=100, val_every=0)
    mp.spawn(_ddp_worker, args=(2, port, cfg), nprocs=2, join=True)
    ckpts = list((tmp_path / "ddp" / "checkpoints").glob("*.safetensors"))
    assert [p.name for p in ckpts] == ["step_000002.safetensors"]
    steps = [r["step"] for r in read_log(tmp_path / "ddp" / "log.jsonl")]
    assert steps == [1, 2]   # rank 0 alone writes the log


def test_stage1_validation_starts_at_the_unaligned_score(toy_cuts):
    """Zero offsets at initialisation: the aligned keys are the keys, so both PSNRs agree (pooled
    over the batch, so a held frame's exact key cannot swamp the mean)."""
    model, diffusion = _model()
    report = td.scan_cuts(toy_cuts)
    ds = tt.TripletDataset(report.cuts, size=SIZE, gap=(2, 6), seed=1)
    batch = tt.fixed_batch(ds, 3)
    metrics, grid = AlignObjective(model, diffusion, TrainConfig(), InferenceSpec.paper()).validate(batch)
    assert metrics["val_psnr"] == pytest.approx(metrics["val_psnr_unaligned"], abs=1e-4)
    assert np.isfinite(metrics["val_psnr"]) and grid.ndim == 3


def test_loss_curve_draws_validation_and_the_unaligned_reference():
    from training.plots import plot_loss_curve

    def has(img, rgb):
        return bool(np.any(np.all(img == np.array(rgb, np.uint8), axis=2)))
    stage2 = [{"step": s, "loss": 1.0 / s} for s in range(1, 30)]
    img = plot_loss_curve(stage2)
    assert img.shape == (420, 640, 3) and has(img, (20, 70, 200))
    assert not has(img, (200, 80, 20)) and not has(img, (0, 140, 120))    # no validation, no stage 1
    stage1 = [{"step": s, "loss": 0.1 - s / 1e3, "l1_level0": 0.12 - s / 1e3, "l1_unaligned": 0.12}
              for s in range(1, 30)]
    stage1 += [{"step": 10, "val_psnr": 17.0, "val_psnr_unaligned": 16.5},
               {"step": 20, "val_psnr": 17.4, "val_psnr_unaligned": 16.5}]
    img = plot_loss_curve(stage1, size=(560, 240))
    assert img.shape == (240, 560, 3)
    assert has(img, (200, 80, 20)) and has(img, (0, 140, 120)) and has(img, (130, 130, 130))


def test_ssim_stays_float32_under_bf16_autocast():
    """Under CPU bf16 autocast the SSIM blurs ran in bf16 and variances cancelled to <= 0: stage 2
    stopped with a content loss of -inf. SSIM must match its fp32 value there."""
    from training.losses import ssim
    g = torch.Generator().manual_seed(0)
    a = torch.rand(2, 3, 64, 64, generator=g) * 2 - 1
    b = (a + 0.01 * torch.randn(2, 3, 64, 64, generator=g)).clamp(-1, 1)
    flat = torch.full((1, 3, 32, 32), 0.7)                       # zero variance, as flat paint
    ref = ssim(a, b)
    with torch.autocast(device_type="cpu", dtype=torch.bfloat16):
        got = ssim(a, b)
        got_flat = ssim(flat, flat)
    assert got.dtype == torch.float32
    torch.testing.assert_close(got, ref)
    assert torch.isfinite(got_flat) and abs(float(got_flat) - 1.0) < 1e-5
