"""`python -m training align ...` and `python -m training train ...`: the trainer's command line.

``align`` trains stage 1 (the offset estimators). ``train`` trains the objective the model runs:
a new model (``--preset``) or a paper-sampling ``--init`` model trains stage 2 (``paper``), a refine
model (such as the shipped default) trains the ``refine`` objective, and the export keeps the
model's inference spec. ``--objective`` overrides the choice.
"""
from __future__ import annotations

import argparse
import os
from pathlib import Path

from opdm_studio.errors import TrainingDataError
from training.config import TrainConfig, TrainEvent
from training.objectives import resolve_defaults
from training.trainer import build_model, fine_tunes, finish_distributed, make_datasets, resolve_objective, run


def parse_pair(text: str, option: str, example: str) -> tuple[int, int]:
    """``"A,B"`` as two integers (TrainingDataError naming the option otherwise)."""
    try:
        a, b = (int(x) for x in text.split(","))
    except ValueError:
        raise TrainingDataError(f"{option} {text}: expected two numbers like {example}") from None
    return a, b


def add_common_args(ap: argparse.ArgumentParser, defaults: TrainConfig) -> None:
    """Options of every training command (data, run folder, model, length, optimizer, logging)."""
    ap.add_argument("data", help="folder of finished cuts (one subfolder per cut), or synth:N")
    ap.add_argument("--out", required=True, help="run folder (checkpoints, logs, samples)")
    ap.add_argument("--preset", default=defaults.preset, help="new model preset: tiny, small, paper, refine-small")
    ap.add_argument("--init", default=None, help="start from this model, training checkpoint or run folder")
    ap.add_argument("--size", type=int, default=defaults.size, help="working size (default: the model's, 224)")
    ap.set_defaults(untimed_steps=defaults.steps)
    ap.add_argument("--steps", type=int, default=None,
                    help=f"optimizer steps in total (0 = no cap; default {defaults.steps}, none with --minutes)")
    ap.add_argument("--minutes", type=float, default=0.0,
                    help="wall-clock budget: stop with a checkpoint when it is spent (--steps stays a cap)")
    ap.add_argument("--batch", type=int, default=defaults.batch, help="0 = the objective's default")
    ap.add_argument("--crop", type=int, default=defaults.crop,
                    help="train on CROP px squares of the working-size view (0 = whole; default: the objective's)")
    ap.add_argument("--accum", type=int, default=1, help="gradient accumulation micro-steps")
    ap.add_argument("--lr", type=float, default=defaults.lr, help="0 = the objective's default")
    ap.add_argument("--l2sp", type=float, default=defaults.l2sp,
                    help="L2-SP weight pulling the weights to the --init model's (0 = off; default 0.01 when "
                         "fine-tuning a model on its own objective)")
    ap.add_argument("--synth-ratio", type=float, default=0.0,
                    help="share of synthetic items mixed into a cuts folder's (0 to below 1)")
    ap.add_argument("--flow-size", type=int, default=defaults.flow_size,
                    help="short side the flow of big frames runs at, as the engine's (0 = full resolution)")
    ap.add_argument("--ema", type=float, default=defaults.ema)
    ap.add_argument("--gap", default=f"{defaults.gap_min},{defaults.gap_max}", help="key gap range MIN,MAX")
    ap.add_argument("--no-augment", action="store_true")
    ap.add_argument("--workers", type=int, default=defaults.workers)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--dtype", default="auto", help="auto, fp32, bf16, fp16")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--ckpt-every", type=int, default=defaults.ckpt_every, help="checkpoint every N steps")
    ap.add_argument("--ckpt-minutes", type=float, default=None,
                    help="also checkpoint (and validate) every N minutes (0 = by steps only; default 5 "
                         "with --minutes)")
    ap.add_argument("--val-every", type=int, default=defaults.val_every,
                    help="validate every N steps, at the end and at timed checkpoints (0 = never)")
    ap.add_argument("--log-every", type=int, default=defaults.log_every)
    ap.add_argument("--val-frames", type=int, default=defaults.val_frames)
    ap.add_argument("--synth-frames", type=int, default=defaults.synth_frames)
    ap.add_argument("--synth-size", type=int, default=defaults.synth_size)
    ap.add_argument("--resume", action="store_true", help="continue the run in --out from its last checkpoint")
    ap.add_argument("--no-progress", action="store_true")


def add_objective_args(ap: argparse.ArgumentParser, d: TrainConfig) -> None:
    """Options of the paper (stage 2) and refine objectives."""
    g = ap.add_argument_group("paper objective (stage 2)")
    g.add_argument("--no-joint", dest="joint", action="store_false",
                   help="content/perceptual losses on the one-step x0 instead of the DDIM chain")
    g.add_argument("--chain-steps", type=int, default=d.chain_steps)
    g.add_argument("--no-grad-ckpt", dest="grad_ckpt", action="store_false")
    g.add_argument("--vgg", default=None, help="VGG19 weights (.safetensors or torchvision .pth)")
    g.add_argument("--w-noise", type=float, default=d.w_noise)
    g.add_argument("--w-content", type=float, default=d.w_content)
    g.add_argument("--w-perceptual", type=float, default=d.w_perceptual)
    g.add_argument("--snr-clamp", type=float, default=d.snr_clamp)
    g = ap.add_argument_group("refine objective")
    g.add_argument("--t-range", default=f"{d.t_min},{d.t_max}",
                   help="timesteps MIN,MAX the flow propagation is noised to")
    g.add_argument("--gate", default=d.gate, choices=("confidence", "none"),
                   help="gate of a new refine model (an --init model keeps its own)")
    g.add_argument("--w-occlusion", type=float, default=d.w_occlusion,
                   help="L1 weight 1 + W * (1 - warp confidence)")
    g.add_argument("--w-raw", type=float, default=d.w_raw, help="weight of the ungated output's L1")


def config_from_args(ns: argparse.Namespace, objective: str) -> TrainConfig:
    """TrainConfig from parsed CLI options."""
    gmin, gmax = parse_pair(ns.gap, "--gap", "2,16")
    timed = ns.minutes > 0
    steps = ns.steps if ns.steps is not None else (0 if timed else ns.untimed_steps)
    ckpt_minutes = ns.ckpt_minutes if ns.ckpt_minutes is not None else (min(5.0, ns.minutes / 3) if timed else 0.0)
    cfg = TrainConfig(data=ns.data, out=ns.out, objective=objective, preset=ns.preset, init=ns.init,
                      size=ns.size, crop=ns.crop, steps=steps, minutes=ns.minutes, batch=ns.batch,
                      accum=ns.accum, lr=ns.lr, l2sp=ns.l2sp, synth_ratio=ns.synth_ratio,
                      flow_size=ns.flow_size, ema=ns.ema, gap_min=gmin, gap_max=gmax, augment=not ns.no_augment,
                      workers=ns.workers, device=ns.device, dtype=ns.dtype, seed=ns.seed,
                      ckpt_every=ns.ckpt_every, ckpt_minutes=ckpt_minutes, val_every=ns.val_every,
                      log_every=ns.log_every, val_frames=ns.val_frames, synth_frames=ns.synth_frames,
                      synth_size=ns.synth_size, resume=ns.resume, progress=not ns.no_progress)
    for k in ("joint", "chain_steps", "grad_ckpt", "vgg", "w_noise", "w_content", "w_perceptual",
              "snr_clamp", "gate", "w_occlusion", "w_raw"):
        if hasattr(ns, k):
            setattr(cfg, k, getattr(ns, k))
    if hasattr(ns, "t_range"):
        cfg.t_min, cfg.t_max = parse_pair(ns.t_range, "--t-range", "10,60")
    return cfg


def report_end(ev: TrainEvent, cfg: TrainConfig, what: str) -> None:
    """One line on rank 0 about how the run ended and where its checkpoints are."""
    if int(os.environ.get("RANK", "0")) != 0:
        return
    ckpts = Path(cfg.out) / "checkpoints"
    if ev.status == "finished":
        print(f"{what} finished at step {ev.step}; checkpoints in {ckpts}")
    elif ev.status == "budget":
        print(f"{what}: the {cfg.minutes:g}-minute budget is spent at step {ev.step}; checkpoint in {ckpts} "
              "(--resume continues)")


def align_main(argv: list[str]) -> int:
    """`python -m training align DATA --out RUN ...`: stage 1."""
    d = TrainConfig(objective="align", lr=1e-4, batch=10, steps=0)
    ap = argparse.ArgumentParser(prog="python -m training align",
                                 description="Stage 1: train the offset estimators (then freeze them).")
    add_common_args(ap, d)
    ap.add_argument("--epochs", type=float, default=80.0,
                    help="training length in epochs over the training frames (paper: 80); --steps overrides")
    ns = ap.parse_args(argv)
    cfg = config_from_args(ns, "align")
    if cfg.steps <= 0 and cfg.minutes <= 0:
        # An epoch = every training frame once, over all processes.
        _, mcfg, _ = build_model(cfg)
        train_ds, _, _ = make_datasets(cfg, cfg.size or mcfg.image_size)
        per_step = max(1, cfg.batch) * cfg.accum * int(os.environ.get("WORLD_SIZE", "1"))
        cfg.steps = max(1, int(round(ns.epochs * len(train_ds) / per_step)))
    ev = run(cfg)
    finish_distributed()
    report_end(ev, cfg, "stage 1")
    if ev.status == "finished" and int(os.environ.get("RANK", "0")) == 0:
        print(f"start stage 2 with --init {Path(cfg.out)} (offset estimators are frozen there)")
    return 0


def train_main(argv: list[str]) -> int:
    """`python -m training train DATA --out RUN [--init MODEL] [--minutes N] ...`."""
    d = TrainConfig()
    ap = argparse.ArgumentParser(
        prog="python -m training train",
        description="Train or fine-tune OPDM on the objective the model runs: stage 2 (x0 prediction, "
                    "joint diffusion-reverse) for a new or paper-sampling model, the refine objective for "
                    "a refine model such as the shipped default. The export keeps the model's inference spec.")
    add_common_args(ap, d)
    ap.add_argument("--objective", default="auto", choices=("auto", "paper", "refine"),
                    help="auto (default): what the --init model runs; paper for a new model")
    add_objective_args(ap, d)
    ns = ap.parse_args(argv)
    cfg = config_from_args(ns, ns.objective)
    if not cfg.resume and int(os.environ.get("RANK", "0")) == 0:
        name, spec = resolve_objective(cfg, None)
        r = resolve_defaults(cfg, name, fine_tunes(cfg, name))
        print(f"objective: {name} (the exported model samples with the {spec.pipeline} pipeline); "
              f"lr {r.lr:g}, batch {r.batch}, crop {r.crop or 'none'}, L2-SP {r.l2sp:g}, "
              f"synthetic share {r.synth_ratio:g}")
    ev = run(cfg)
    finish_distributed()
    report_end(ev, cfg, "training")
    return 0
