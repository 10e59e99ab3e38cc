"""The one training loop, for every objective (training/objectives.py).

Read :func:`run` top to bottom: process group, the objective and the spec the model is trained
for, model (a preset, ``--init`` weights or the checkpoint being resumed), data, optimizer, EMA,
exact resume, then the step loop -- gradient accumulation, non-finite steps skipped, EMA,
log.jsonl, validation with the EMA weights, atomic checkpoints every N steps (and every N
minutes), a wall-clock budget (``minutes``: stop cleanly with a checkpoint when it is spent;
``steps`` stays a cap) and a stop event (the wizard's pause).

Multi-process: under ``torchrun --nproc_per_node N`` (RANK/WORLD_SIZE in the environment) the
objective is wrapped in DistributedDataParallel (nccl on CUDA, gloo on CPU), each rank reads its
share of the data through :class:`training.triplets.KeyedDistributedSampler`, every rank takes
the same decisions (skip a step, checkpoint, stop) and rank 0 alone writes files.

Run folder layout::

    run.json                 the TrainConfig, the model config and the data (written atomically)
    log.jsonl                one JSON object per logged step / validation / skipped step
    loss.png                 the loss curve
    samples/latest.png       the last validation grid (also samples/step_NNNNNN.png)
    checkpoints/step_NNNNNN.safetensors   training state (model, EMA, optimizer, step, RNG, spec)
"""
from __future__ import annotations

import contextlib
import json
import math
import os
import threading
import time
from collections.abc import Callable, Sized
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import torch
import torch.distributed as dist
from torch import nn
from torch.utils.data import DataLoader, Dataset

from opdm_studio.core.config import InferenceSpec, ModelConfig
from opdm_studio.errors import TrainingDataError
from opdm_studio.fileio import write_text_atomic
from training import triplets
from training.config import MAX_GAP, SYNTH_REFINE, TrainConfig, TrainEvent
from training.data import open_data, split_holdout
from training.losses import L2SP
from training.objectives import OBJECTIVES, choose_objective, make_objective, preset_config, resolve_defaults
from training.plots import append_log, plot_loss_curve, read_log, save_png_atomic
from training.state import (
    EMA,
    inference_spec_of,
    is_training_checkpoint,
    latest_checkpoint,
    load_model_weights,
    model_config_of,
    prune_checkpoints,
    resolve_checkpoint,
    restore_training_state,
    save_training_state,
    train_config_of,
)

if TYPE_CHECKING:
    from opdm_studio.core.diffusion import GaussianDiffusion
    from opdm_studio.core.model import OPDM

MAX_SKIPPED_IN_A_ROW = 20   # non-finite steps in a row before the run gives up


# --------------------------------------------------------------------------------------------
# process group
# --------------------------------------------------------------------------------------------
@dataclass
class Dist:
    """This process's place in a (possibly single-process) group."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        """Rank 0 writes files."""
        return self.rank == 0

    def barrier(self) -> None:
        """Wait for every rank (no-op alone)."""
        if self.world > 1:
            dist.barrier()

    def any(self, flags: list[bool], device: torch.device) -> list[bool]:
        """Each flag true if it is true on any rank: every rank then takes the same decision."""
        if self.world <= 1:
            return flags
        t = torch.tensor([float(f) for f in flags], device=device)
        dist.all_reduce(t, op=dist.ReduceOp.MAX)
        return [bool(v) for v in t.tolist()]


def init_distributed(device_kind: str) -> Dist:
    """Join the torchrun group from the environment (nccl on CUDA, gloo on CPU), or run alone."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return Dist()
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device_kind == "cuda" else "gloo")
    return Dist(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", "0")))


def finish_distributed() -> None:
    """Leave the process group (end of a torchrun run)."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


# --------------------------------------------------------------------------------------------
# building blocks of a run
# --------------------------------------------------------------------------------------------
def resolve_objective(cfg: TrainConfig, resume_from: Path | None) -> tuple[str, InferenceSpec]:
    """The objective this run trains and the spec its export gets: a resumed run keeps its own;
    a new one follows ``cfg.objective`` ("auto": what the --init model's spec runs)."""
    if resume_from is not None:
        stored = train_config_of(resume_from)
        name = stored.objective if stored.objective in OBJECTIVES else "paper"
        if cfg.objective not in ("auto", name):
            raise TrainingDataError(f"{cfg.out}: this run trains the {name} objective, not {cfg.objective}; "
                                    "choose another --out folder")
        return name, inference_spec_of(resume_from)
    init_spec = inference_spec_of(cfg.init) if cfg.init else None
    name = choose_objective(cfg.objective, init_spec)
    return name, OBJECTIVES[name].inference_spec(cfg, init_spec)


def build_model(cfg: TrainConfig, from_checkpoint: Path | None = None) -> tuple[OPDM, ModelConfig, GaussianDiffusion]:
    """The OPDM network (a resumed run's architecture, --init weights or a new preset) and its
    diffusion schedule, on CPU."""
    from opdm_studio.core.diffusion import GaussianDiffusion
    from opdm_studio.core.model import OPDM
    if cfg.size % 16:
        raise TrainingDataError(f"working size {cfg.size} is not a multiple of 16")
    if from_checkpoint is not None:       # the weights come with the rest of the state
        mcfg = model_config_of(from_checkpoint)
        model = OPDM(mcfg)
    elif cfg.init:
        mcfg = model_config_of(cfg.init)
        model = OPDM(mcfg)
        load_model_weights(model, cfg.init)
    else:
        mcfg = preset_config(cfg.preset, cfg.width)
        model = OPDM(mcfg)
    return model, mcfg, GaussianDiffusion.from_config(mcfg)


def make_datasets(cfg: TrainConfig, size: int, refs: str = "raw") -> tuple[Dataset, Dataset | None, dict[str, Any]]:
    """Training and held-back validation data for ``cfg.data`` with the references an objective
    needs, and a description of the data for run.json.

    The data path: ``synth-refine`` is the refine recipe's on-the-fly synthetic data; a cuts
    folder or ``synth:N`` gives triplets (flow-warped for the refine objective), with a share
    ``cfg.synth_ratio`` of synthetic items mixed into the training items (validation stays real).
    Items are ``crop`` x ``crop`` px of the working-size view (``size``) when ``0 < crop < size``.
    """
    crop = cfg.crop if 0 < cfg.crop < size else 0
    if cfg.data == SYNTH_REFINE:
        if refs not in triplets.WARPED:
            raise TrainingDataError(f"{SYNTH_REFINE} data serves the refine objective only")
        from training.refine_data import SynthRefineDataset
        synth_train = SynthRefineDataset(size=size, seed=cfg.seed, crop=crop, refs=refs)
        synth_val = (SynthRefineDataset(size=size, seed=cfg.seed + 10_000, uses=1, refs=refs)
                     if cfg.val_frames > 0 else None)
        return synth_train, synth_val, {"root": SYNTH_REFINE, "cuts": "generated on the fly", "frames": None, "problems": []}
    report = open_data(cfg.data, synth_frames=cfg.synth_frames, synth_size=cfg.synth_size, seed=cfg.seed)
    train_cuts, val_cuts = split_holdout(report.cuts, cfg.val_fraction if cfg.val_frames > 0 else 0)
    aug = triplets.AugmentConfig() if cfg.augment else triplets.AugmentConfig.off()
    gap = (cfg.gap_min, max(cfg.gap_min, cfg.gap_max))
    train: Dataset = triplets.TripletDataset(train_cuts, size=size, gap=gap, augment=aug, seed=cfg.seed,
                                             refs=refs, flow_size=cfg.flow_size, crop=crop)
    if cfg.synth_ratio > 0:
        train = triplets.MixedDataset(train, synthetic_source(cfg, size, crop, refs), cfg.synth_ratio, cfg.seed)
    val: Dataset | None = None
    if val_cuts:
        val = triplets.TripletDataset(val_cuts, size=size, gap=gap, augment=triplets.AugmentConfig.off(),
                                      seed=cfg.seed + 1, refs=refs, flow_size=cfg.flow_size)
    info = {"root": str(report.root), "cuts": len(report.cuts), "frames": report.n_frames,
            "problems": report.problems[:50], "held_back": [c.name for c in val_cuts],
            "synth_ratio": cfg.synth_ratio}
    return train, val, info


def synthetic_source(cfg: TrainConfig, size: int, crop: int, refs: str) -> Dataset:
    """The synthetic items ``--synth-ratio`` mixes in: the refine recipe's data for the refine
    objective, synthetic-cut triplets otherwise."""
    if refs in triplets.WARPED:
        from training.refine_data import SynthRefineDataset
        # Mixed items are drawn at random keys: one generated cut per item (uses=1).
        return SynthRefineDataset(size=size, seed=cfg.seed + 20_000, uses=1, crop=crop, frames=MAX_GAP + 1,
                                  refs=refs)
    from training.data import synth_report
    rep = synth_report(100, cfg.synth_frames, cfg.synth_size, cfg.seed + 20_000)
    return triplets.TripletDataset(rep.cuts, size=size, gap=(cfg.gap_min, max(cfg.gap_min, cfg.gap_max)),
                                   seed=cfg.seed + 20_000, refs=refs, crop=crop)


def fine_tunes(cfg: TrainConfig, name: str) -> bool:
    """Whether the run starts from weights trained on its own objective (an installed model, or a
    run of the same objective) -- not stage 2 starting from stage 1's offset estimators."""
    if not cfg.init:
        return False
    if is_training_checkpoint(resolve_checkpoint(cfg.init)):
        return train_config_of(cfg.init).objective == name
    return True


def start_weights(model: nn.Module, cfg: TrainConfig, mcfg: ModelConfig) -> L2SP | None:
    """The L2-SP penalty towards the --init weights (read again, so a resumed run has them too)."""
    if cfg.l2sp <= 0 or not cfg.init:
        return None
    from opdm_studio.core.model import OPDM
    start = OPDM(mcfg)
    load_model_weights(start, cfg.init)
    named = {k: p for k, p in model.named_parameters() if p.requires_grad}
    return L2SP(named, dict(start.named_parameters()), cfg.l2sp)


def step_generator(seed: int, step: int, rank: int, micro: int, device: torch.device) -> torch.Generator:
    """The generator of one micro-step: noise depends on (seed, step, rank, micro) only."""
    g = torch.Generator(device=device)
    g.manual_seed(int(np.random.SeedSequence([seed, step, rank, micro]).generate_state(1, np.uint64)[0] >> 1))
    return g


def to_device(batch: dict[str, torch.Tensor], device: torch.device) -> dict[str, torch.Tensor]:
    """Move a batch dict to ``device``."""
    return {k: v.to(device, non_blocking=True) for k, v in batch.items()}


def _truncate_log(run_dir: Path, step: int) -> None:
    """On resume, drop log records past the checkpoint's step (they will be redone)."""
    p = run_dir / "log.jsonl"
    if p.is_file():
        keep = [r for r in read_log(p) if r.get("step", 0) <= step]
        write_text_atomic(p, "".join(json.dumps(r) + "\n" for r in keep))


# --------------------------------------------------------------------------------------------
# the loop
# --------------------------------------------------------------------------------------------
def run(cfg: TrainConfig, callback: Callable[[TrainEvent], None] | None = None,
        stop: threading.Event | None = None) -> TrainEvent:
    """Train until ``cfg.steps`` or the ``cfg.minutes`` budget (status "finished" / "budget"), or
    until ``stop`` is set (then checkpoint and return "paused"); a resumed run goes on from its
    last checkpoint."""
    clock = _Clock(time.monotonic())
    _check_length(cfg)
    s = _start(cfg)
    cfg = s.cfg                                   # with the objective's defaults filled in
    clock.deadline = clock.started + cfg.minutes * 60 if cfg.minutes > 0 else None
    bar = _progress_bar(s)
    clock.last_ckpt = clock.t_last = time.monotonic()
    skipped_in_a_row = 0
    event = TrainEvent(s.step, cfg.steps)
    it = iter(s.loader)
    s.model.train()
    try:
        while cfg.steps <= 0 or s.step < cfg.steps:
            sums, bad = _optimizer_step(s, it)
            skipped_in_a_row = skipped_in_a_row + 1 if bad else 0
            if skipped_in_a_row >= MAX_SKIPPED_IN_A_ROW:
                raise FloatingPointError(f"loss or gradient not finite for {skipped_in_a_row} steps in a "
                                         f"row at step {s.step}: {sums}")
            if not bad:
                s.ema.update(s.model, s.step)
            clock.steps_since += 1
            time_up, ckpt_due = _due(s, clock)
            stopping = stop is not None and stop.is_set()
            last = s.step == cfg.steps or time_up
            event = TrainEvent(s.step, cfg.steps, {} if bad else sums)
            if s.dd.main:
                _report(s, event, sums, bad, bar, clock, log_now=last or stopping,
                        validate_now=last or ckpt_due)
            if s.step % cfg.ckpt_every == 0 or last or stopping or ckpt_due:
                _checkpoint(s, event)
                clock.last_ckpt = time.monotonic()
            if callback is not None:
                callback(event)
            if time_up and s.step != cfg.steps:
                event.status = "budget"
                return event
            if stopping and not last:
                event.status = "paused"
                return event
    finally:
        if bar is not None:
            bar.close()
        del it
    event.status = "finished"
    if callback is not None:
        callback(event)
    return event


@dataclass
class _Session:
    """What one training run works with, set up by :func:`_start`; ``step`` counts optimizer steps."""

    cfg: TrainConfig
    name: str                     # the objective
    run_dir: Path
    dd: Dist
    device: torch.device
    dtype: torch.dtype
    model: nn.Module
    mcfg: ModelConfig
    objective: Any
    wrapped: nn.Module            # the objective, in DistributedDataParallel with several ranks
    params: list[nn.Parameter]
    l2sp: L2SP | None
    opt: torch.optim.Optimizer
    ema: EMA
    loader: DataLoader
    val_batch: dict[str, torch.Tensor] | None
    step: int


@dataclass
class _Clock:
    """The loop's times: the budget's deadline, the last timed checkpoint, the steps/s window,
    and ``now``: when this step's decisions were taken (its log record says the same time)."""

    started: float
    deadline: float | None = None
    last_ckpt: float = 0.0
    t_last: float = 0.0
    steps_since: int = 0
    now: float = 0.0


def _check_length(cfg: TrainConfig) -> None:
    if not cfg.out:
        raise TrainingDataError("no run folder given (--out)")
    if cfg.steps <= 0 and cfg.minutes <= 0:
        raise TrainingDataError("give the run a length: --steps N, --minutes N or both")


def _start(cfg: TrainConfig) -> _Session:
    """Process group and device; what is trained, from where; data, optimizer, EMA and the state
    of a resumed run; run.json written."""
    from opdm_studio.core.device import pick_device, pick_dtype
    run_dir = Path(cfg.out)
    device = torch.device(pick_device(cfg.device))
    dd = init_distributed(device.type)
    if device.type == "cuda" and dd.world > 1:
        device = torch.device("cuda", dd.local_rank)
        torch.cuda.set_device(device)
    dtype = pick_dtype(device, cfg.dtype)

    # What is trained, from where.
    ckpt = latest_checkpoint(run_dir) if cfg.resume else None
    if not cfg.resume and latest_checkpoint(run_dir) is not None:
        raise TrainingDataError(f"{run_dir}: already holds a training run; use --resume to continue it "
                                "or choose another --out folder")
    name, spec = resolve_objective(cfg, ckpt)
    cfg = resolve_defaults(cfg.replace(objective=name, inference=spec.to_dict()), name, fine_tunes(cfg, name))
    torch.manual_seed(cfg.seed)
    model, mcfg, diffusion = build_model(cfg, from_checkpoint=ckpt)
    objective = make_objective(name, model, diffusion, cfg, spec)
    params = objective.trainable()
    objective.to(device)
    l2sp = start_weights(model, cfg, mcfg)

    # Data, optimizer, EMA, and the state of a resumed run.
    size = cfg.size or mcfg.image_size
    train_ds, val_ds, data_info = make_datasets(cfg, size, objective.refs)
    opt = torch.optim.Adam(params, lr=cfg.lr)
    ema = EMA(model, cfg.ema)
    step = restore_training_state(ckpt, model, ema, opt, device) if ckpt is not None else 0
    if dd.main:
        run_dir.mkdir(parents=True, exist_ok=True)
        write_text_atomic(run_dir / "run.json", json.dumps(
            {"train_config": asdict(cfg), "model_config": mcfg.to_dict(), "data": data_info}, indent=1))
        _truncate_log(run_dir, step)
        for note in objective.notices:
            print(f"notice: {note}")
    wrapped: nn.Module = objective
    if dd.world > 1:
        from torch.nn.parallel import DistributedDataParallel as DDP
        wrapped = DDP(objective, device_ids=[device.index] if device.type == "cuda" else None)
    sampler = triplets.KeyedDistributedSampler(train_ds, num_replicas=dd.world, rank=dd.rank, seed=cfg.seed,
                                               shuffle=getattr(train_ds, "shuffle", True))
    loader = DataLoader(train_ds, batch_sampler=triplets.KeyBatches(sampler, cfg.batch, step * cfg.batch * cfg.accum),
                        num_workers=cfg.workers, collate_fn=triplets.collate,
                        worker_init_fn=triplets.worker_init if cfg.workers else None,
                        # fork after torch/OpenCV thread pools exist can deadlock a worker: spawn.
                        multiprocessing_context="spawn" if cfg.workers else None,
                        pin_memory=device.type == "cuda")
    val_batch = None
    if val_ds is not None and cfg.val_frames > 0 and dd.main:
        val_batch = to_device(triplets.fixed_batch(val_ds, min(cfg.val_frames, len(cast(Sized, val_ds)))), device)
    return _Session(cfg, name, run_dir, dd, device, dtype, model, mcfg, objective, wrapped, params, l2sp,
                    opt, ema, loader, val_batch, step)


def _progress_bar(s: _Session) -> Any:
    if not (s.cfg.progress and s.dd.main):
        return None
    from tqdm import tqdm
    return tqdm(total=s.cfg.steps or None, initial=s.step, desc=s.name, dynamic_ncols=True)


def _optimizer_step(s: _Session, it: Any) -> tuple[dict[str, float], bool]:
    """One optimizer step: accumulate micro-batches, clip, skip if anything is not finite.
    Returns the step's mean losses and whether it was skipped; ``s.step`` counts it either way."""
    from opdm_studio.core.device import autocast
    cfg = s.cfg
    sums: dict[str, float] = {}
    for micro in range(cfg.accum):
        batch = to_device(next(it), s.device)
        gen = step_generator(cfg.seed, s.step, s.dd.rank, micro, s.device)
        sync = contextlib.nullcontext()
        if s.dd.world > 1 and micro < cfg.accum - 1:
            sync = s.wrapped.no_sync()  # type: ignore[operator]
        with sync:
            with autocast(s.device, s.dtype):
                losses = s.wrapped(batch, gen)
            if s.l2sp is not None:
                losses["l2sp"] = s.l2sp()
                losses["loss"] = losses["loss"] + losses["l2sp"]
            (losses["loss"] / cfg.accum).backward()
        for k, v in losses.items():
            sums[k] = sums.get(k, 0.0) + float(v.detach()) / cfg.accum
    if s.l2sp is not None:
        sums["l2sp_rms"] = s.l2sp.distance()
    sums["grad_norm"] = float(torch.nn.utils.clip_grad_norm_(
        s.params, cfg.max_grad_norm if cfg.max_grad_norm > 0 else float("inf")))
    # A rare non-finite step (bf16 overflow) must not poison the weights and the EMA.
    (bad,) = s.dd.any([not all(math.isfinite(v) for v in sums.values())], s.device)
    if not bad:
        s.opt.step()
    s.opt.zero_grad(set_to_none=True)
    s.step += 1
    return sums, bad


def _due(s: _Session, clock: _Clock) -> tuple[bool, bool]:
    """Decisions every rank takes together: (budget spent, a timed checkpoint due)."""
    now = clock.now = time.monotonic()
    time_up, ckpt_due = s.dd.any([clock.deadline is not None and now >= clock.deadline,
                                  s.cfg.ckpt_minutes > 0 and now - clock.last_ckpt >= s.cfg.ckpt_minutes * 60],
                                 s.device)
    return time_up, ckpt_due


def _report(s: _Session, event: TrainEvent, sums: dict[str, float], bad: bool, bar: Any, clock: _Clock,
            log_now: bool, validate_now: bool) -> None:
    """Rank 0: the progress bar, log.jsonl (every ``log_every`` steps), validation with the EMA
    weights (every ``val_every`` steps) and its sample grid and loss curve."""
    from opdm_studio.core.device import autocast
    cfg, step, run_dir, now = s.cfg, s.step, s.run_dir, clock.now
    if bar is not None:
        bar.update(1)
        bar.set_postfix(loss=f"{sums['loss']:.4f}")
    if bad:
        append_log(run_dir, {"step": step, "skipped": "non-finite loss or gradient", "time": time.time()})
    elif step % cfg.log_every == 0 or step == 1 or log_now:
        rec = {"step": step, **{k: round(v, 6) for k, v in sums.items()},
               "lr": s.opt.param_groups[0]["lr"], "steps_per_s": round(clock.steps_since / (now - clock.t_last), 4),
               "elapsed": round(now - clock.started, 1), "time": time.time()}
        clock.t_last, clock.steps_since = now, 0
        append_log(run_dir, rec)
    if s.val_batch is not None and cfg.val_every > 0 and (step % cfg.val_every == 0 or validate_now):
        s.model.eval()
        with s.ema.applied(s.model), autocast(s.device, s.dtype):
            metrics, grid = s.objective.validate(s.val_batch, cfg.seed)
        s.model.train()
        save_png_atomic(grid, run_dir / "samples" / f"step_{step:06d}.png")
        event.sample = save_png_atomic(grid, run_dir / "samples" / "latest.png")
        event.val = metrics
        append_log(run_dir, {"step": step, **{k: round(v, 4) for k, v in metrics.items()}})
        plot_loss_curve(read_log(run_dir / "log.jsonl"), run_dir / "loss.png")


def _checkpoint(s: _Session, event: TrainEvent) -> None:
    """Rank 0 writes the training state (and prunes old ones, redraws the loss curve); all wait."""
    if s.dd.main:
        event.checkpoint = save_training_state(
            s.run_dir / "checkpoints" / f"step_{s.step:06d}.safetensors", s.model, s.ema, s.opt, s.step,
            s.mcfg, s.cfg, {"stage": s.name})
        prune_checkpoints(s.run_dir)
        plot_loss_curve(read_log(s.run_dir / "log.jsonl"), s.run_dir / "loss.png")
    s.dd.barrier()
