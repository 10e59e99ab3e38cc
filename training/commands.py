"""`python -m training align ...` and `python -m training train ...`: the trainer's command line.

``align`` trains stage 1 (the offset estimators). ``train`` trains the objective the model runs:
a new model (``--preset``) or a paper-sampling ``--init`` model trains stage 2 (``paper``), a refine
model (such as the shipped default) trains the ``refine`` objective, and the export keeps the
model's inference spec. ``--objective`` overrides the choice.
"""
from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from collections.abc import Iterator, Sized
from contextlib import contextmanager
from pathlib import Path
from typing import Any, cast

from opdm_studio.cli_args import (
    Parser,
    UsageError,
    count,
    float_in,
    int_in,
    int_pair,
    multiple_of,
    positive_float,
    positive_int,
)
from training.config import TrainConfig, TrainEvent
from training.objectives import resolve_defaults
from training.trainer import build_model, fine_tunes, finish_distributed, make_datasets, resolve_objective, run

EXIT_STOPPED = 130


# The value types of the options (opdm_studio.cli_args: one line and exit 2 for a bad value).
_SIZE = multiple_of(16, 32, 2048, "--size", zero="the model's working size")
_CROP = multiple_of(16, 16, 2048, "--crop", zero="the whole view")
_FLOW_SIZE = int_in(0, 8192, "--flow-size")
_WEIGHT = float_in(0.0, 1e6, "a loss weight")
DEVICES = ("auto", "cpu", "cuda", "mps")
DTYPES = ("auto", "fp32", "bf16", "fp16")


def add_common_args(ap: argparse.ArgumentParser, defaults: TrainConfig) -> None:
    """Options of every training command (data, run folder, model, length, optimizer, logging)."""
    ap.add_argument("data", help="folder of finished cuts (one subfolder per cut), or synth:N")
    ap.add_argument("--out", required=True, help="run folder (checkpoints, logs, samples)")
    ap.add_argument("--preset", default=defaults.preset, help="new model preset: tiny, small, paper, refine-small")
    ap.add_argument("--init", default=None, help="start from this model, training checkpoint or run folder")
    ap.add_argument("--size", type=_SIZE, default=defaults.size,
                    help="working size, a multiple of 16 (default: the model's, 224)")
    ap.set_defaults(untimed_steps=defaults.steps)
    ap.add_argument("--steps", type=count, default=None,
                    help=f"optimizer steps in total (0 = no cap; default {defaults.steps}, none with --minutes)")
    ap.add_argument("--minutes", type=float_in(0.0, 1e6, "--minutes", open_lo=True), default=None,
                    help="wall-clock budget: stop with a checkpoint when it is spent (--steps stays a cap)")
    ap.add_argument("--batch", type=int_in(0, 4096, "--batch"), default=defaults.batch,
                    help="0 = the objective's default")
    ap.add_argument("--crop", type=_CROP, default=defaults.crop,
                    help="train on CROP px squares of the working-size view, a multiple of 16 (0 = whole; "
                         "default: the objective's)")
    ap.add_argument("--accum", type=int_in(1, 1024, "--accum"), default=1,
                    help="gradient accumulation micro-steps")
    ap.add_argument("--lr", type=float_in(0.0, 1.0, "--lr"), default=defaults.lr,
                    help="0 = the objective's default")
    ap.add_argument("--l2sp", type=float_in(0.0, 1e6, "--l2sp"), default=defaults.l2sp,
                    help="L2-SP weight pulling the weights to the --init model's (0 = off; default 0.01 when "
                         "fine-tuning a model on its own objective)")
    ap.add_argument("--synth-ratio", type=float_in(0.0, 1.0, "--synth-ratio", open_hi=True), default=0.0,
                    help="share of synthetic items mixed into a cuts folder's (0 to below 1)")
    ap.add_argument("--flow-size", type=_FLOW_SIZE, default=defaults.flow_size,
                    help="short side the flow of big frames runs at, as the engine's (0 = full resolution)")
    ap.add_argument("--ema", type=float_in(0.0, 1.0, "--ema", open_hi=True), default=defaults.ema)
    ap.add_argument("--gap", type=int_pair(1, 1000, "--gap", "2,16"),
                    default=(defaults.gap_min, defaults.gap_max), help="key gap range MIN,MAX")
    ap.add_argument("--no-augment", action="store_true")
    ap.add_argument("--workers", type=int_in(0, 64, "--workers"), default=defaults.workers)
    ap.add_argument("--device", default="auto", choices=DEVICES)
    ap.add_argument("--dtype", default="auto", choices=DTYPES)
    ap.add_argument("--seed", type=count, default=0)
    ap.add_argument("--ckpt-every", type=positive_int, default=defaults.ckpt_every,
                    help="checkpoint every N steps")
    ap.add_argument("--ckpt-minutes", type=float_in(0.0, 1e6, "--ckpt-minutes"), default=None,
                    help="also checkpoint (and validate) every N minutes (0 = by steps only; default 5 "
                         "with --minutes)")
    ap.add_argument("--val-every", type=count, default=defaults.val_every,
                    help="validate every N steps, at the end and at timed checkpoints (0 = never)")
    ap.add_argument("--log-every", type=positive_int, default=defaults.log_every)
    ap.add_argument("--val-frames", type=int_in(0, 256, "--val-frames"), default=defaults.val_frames)
    ap.add_argument("--synth-frames", type=int_in(3, 1000, "--synth-frames"), default=defaults.synth_frames)
    ap.add_argument("--synth-size", type=int_in(32, 4096, "--synth-size"), default=defaults.synth_size)
    ap.add_argument("--resume", action="store_true", help="continue the run in --out from its last checkpoint")
    ap.add_argument("--no-progress", action="store_true")


def add_objective_args(ap: argparse.ArgumentParser, d: TrainConfig) -> None:
    """Options of the paper (stage 2) and refine objectives."""
    g = ap.add_argument_group("paper objective (stage 2)")
    g.add_argument("--no-joint", dest="joint", action="store_false",
                   help="content/perceptual losses on the one-step x0 instead of the DDIM chain")
    g.add_argument("--chain-steps", type=int_in(1, 100, "--chain-steps"), default=d.chain_steps)
    g.add_argument("--no-grad-ckpt", dest="grad_ckpt", action="store_false")
    g.add_argument("--vgg", default=None, help="VGG19 weights (.safetensors or torchvision .pth)")
    g.add_argument("--w-noise", type=_WEIGHT, default=d.w_noise)
    g.add_argument("--w-content", type=_WEIGHT, default=d.w_content)
    g.add_argument("--w-perceptual", type=_WEIGHT, default=d.w_perceptual)
    g.add_argument("--snr-clamp", type=positive_float, default=d.snr_clamp)
    g = ap.add_argument_group("refine objective")
    g.add_argument("--t-range", type=int_pair(0, 10000, "--t-range", "10,60"), default=(d.t_min, d.t_max),
                   help="timesteps MIN,MAX the flow propagation is noised to")
    g.add_argument("--gate", default=d.gate, choices=("confidence", "none"),
                   help="gate of a new refine model (an --init model keeps its own)")
    g.add_argument("--w-occlusion", type=_WEIGHT, default=d.w_occlusion,
                   help="L1 weight 1 + W * (1 - warp confidence)")
    g.add_argument("--w-raw", type=_WEIGHT, default=d.w_raw, help="weight of the ungated output's L1")


def check_device(device: str, dtype: str) -> None:
    """A one-line :class:`UsageError` when ``device`` / ``dtype`` cannot run here (no CUDA, no
    bf16 convolutions on this CPU), before any data is read or model built."""
    from opdm_studio.core.device import pick_device, pick_dtype
    try:
        pick_dtype(pick_device(device), dtype)
    except ValueError as exc:
        raise UsageError(f"--device {device} --dtype {dtype}: {exc}") from None


def config_from_args(ns: argparse.Namespace, objective: str) -> TrainConfig:
    """TrainConfig from parsed CLI options."""
    check_device(ns.device, ns.dtype)
    if ns.flow_size and ns.flow_size < 32:
        raise UsageError(f"--flow-size must be 0 (full resolution) or at least 32, not {ns.flow_size}")
    gmin, gmax = ns.gap
    minutes = ns.minutes or 0.0
    timed = minutes > 0
    steps = ns.steps if ns.steps is not None else (0 if timed else ns.untimed_steps)
    ckpt_minutes = ns.ckpt_minutes if ns.ckpt_minutes is not None else (min(5.0, minutes / 3) if timed else 0.0)
    cfg = TrainConfig(data=ns.data, out=ns.out, objective=objective, preset=ns.preset, init=ns.init,
                      size=ns.size, crop=ns.crop, steps=steps, minutes=minutes, batch=ns.batch,
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
        cfg.t_min, cfg.t_max = ns.t_range
    return cfg


@contextmanager
def stop_on_signals() -> Iterator[threading.Event]:
    """Ctrl-C or SIGTERM sets the yielded event: the run stops after the current step with a
    checkpoint (``--resume`` continues); a second Ctrl-C interrupts at once."""
    stop = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}

    def handler(_signum: int, _frame: Any) -> None:
        stop.set()
        print("\nstopping after the current step with a checkpoint (Ctrl-C again to abort now)...",
              file=sys.stderr, flush=True)
        signal.signal(signal.SIGINT, previous[signal.SIGINT])

    for sig in previous:
        signal.signal(sig, handler)
    try:
        yield stop
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def run_stoppable(cfg: TrainConfig) -> tuple[TrainEvent, bool]:
    """Run the trainer with Ctrl-C / SIGTERM stopping it cleanly; (end event, stopped by a signal)."""
    with stop_on_signals() as stop:
        ev = run(cfg, stop=stop)
    return ev, stop.is_set() and ev.status == "paused"


def report_end(ev: TrainEvent, cfg: TrainConfig, what: str, stopped: bool = False) -> None:
    """One line on rank 0 about how the run ended and where its checkpoints are."""
    if int(os.environ.get("RANK", "0")) != 0:
        return
    ckpts = Path(cfg.out) / "checkpoints"
    if stopped:
        print(f"{what} stopped by the user at step {ev.step}; checkpoint in {ckpts} (--resume "
              "continues)", file=sys.stderr)
        return
    if ev.status == "finished":
        print(f"{what} finished at step {ev.step}; checkpoints in {ckpts}")
    elif ev.status == "budget":
        print(f"{what}: the {cfg.minutes:g}-minute budget is spent at step {ev.step}; checkpoint in {ckpts} "
              "(--resume continues)")


def align_main(argv: list[str]) -> int:
    """`python -m training align DATA --out RUN ...`: stage 1."""
    d = TrainConfig(objective="align", lr=1e-4, batch=10, steps=0)
    ap = Parser(prog="python -m training align",
                                 description="Stage 1: train the offset estimators (then freeze them).")
    add_common_args(ap, d)
    ap.add_argument("--epochs", type=float_in(0.0, 1e6, "--epochs", open_lo=True), default=80.0,
                    help="training length in epochs over the training frames (paper: 80); --steps overrides")
    ns = ap.parse_args(argv)
    cfg = config_from_args(ns, "align")
    if cfg.steps <= 0 and cfg.minutes <= 0:
        # An epoch = every training frame once, over all processes.
        _, mcfg, _ = build_model(cfg)
        train_ds, _, _ = make_datasets(cfg, cfg.size or mcfg.image_size)
        per_step = max(1, cfg.batch) * cfg.accum * int(os.environ.get("WORLD_SIZE", "1"))
        cfg.steps = max(1, int(round(ns.epochs * len(cast(Sized, train_ds)) / per_step)))  # every dataset here has a length
    ev, stopped = run_stoppable(cfg)
    finish_distributed()
    report_end(ev, cfg, "stage 1", stopped)
    if ev.status == "finished" and int(os.environ.get("RANK", "0")) == 0:
        print(f"start stage 2 with --init {Path(cfg.out)} (offset estimators are frozen there)")
    return EXIT_STOPPED if stopped else 0


def train_main(argv: list[str]) -> int:
    """`python -m training train DATA --out RUN [--init MODEL] [--minutes N] ...`."""
    d = TrainConfig()
    ap = Parser(
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
    ev, stopped = run_stoppable(cfg)
    finish_distributed()
    report_end(ev, cfg, "training", stopped)
    return EXIT_STOPPED if stopped else 0
