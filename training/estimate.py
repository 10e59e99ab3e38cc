"""What a time budget buys on this machine: a short timing of real training steps.

:func:`measure_step_seconds` builds the run a fine-tuning would train (the objective the start
model runs, its defaults, the studio's cuts through the data path training uses, data loaded in
the same thread) and times a few optimizer steps after one warm-up step (oneDNN builds its kernels
on the first calls). The wizard turns that into the expected number of steps of a budget, and
labels the from-scratch presets with what the paper's schedule would take here.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch

from training.config import TrainConfig

#: The paper's schedule (section 4.1): 150 000 stage-2 iterations (about 3 days on an A40).
PAPER_STEPS = 150_000


@dataclass
class StepTiming:
    """Seconds per optimizer step of one configuration, measured here."""

    seconds: float          # median of the timed steps (data loading included)
    objective: str
    batch: int
    size: int
    crop: int
    device: str

    def steps_in(self, minutes: float) -> int:
        """Optimizer steps a budget of ``minutes`` gives at this speed."""
        return int(minutes * 60 / max(self.seconds, 1e-6))


def timed_steps(objective: torch.nn.Module, opt: torch.optim.Optimizer,
                batch_at: Callable[[int], dict[str, torch.Tensor]], device: torch.device,
                dtype: torch.dtype, steps: int, warmup: int = 1, seed: int = 0,
                stop: threading.Event | None = None,
                on_step: Callable[[int], None] | None = None) -> float:
    """Median seconds of ``steps`` full optimizer steps (batch, forward, backward, update) after
    ``warmup`` untimed ones; ``batch_at(i)`` gives step i's batch (its loading is timed too).

    Raises :class:`InterruptedError` when ``stop`` is set between steps.
    """
    from opdm_studio.core.device import autocast
    from training.trainer import step_generator
    times = []
    for i in range(warmup + steps):
        if stop is not None and stop.is_set():
            raise InterruptedError("timing stopped")
        t0 = time.perf_counter()
        batch = batch_at(i)
        with autocast(device, dtype):
            loss = objective(batch, step_generator(seed, i, 0, 0, device))["loss"]
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        if device.type == "cuda":
            torch.cuda.synchronize()
        if i >= warmup:
            times.append(time.perf_counter() - t0)
        if on_step is not None:
            on_step(i + 1)
    return sorted(times)[len(times) // 2]


def measure_step_seconds(cfg: TrainConfig, steps: int = 2, warmup: int = 1,
                         stop: threading.Event | None = None,
                         on_step: Callable[[int], None] | None = None) -> StepTiming:
    """Time ``steps`` optimizer steps of the run ``cfg`` describes (no files written).

    Raises :class:`InterruptedError` when ``stop`` is set between steps.
    """
    from opdm_studio.core.device import pick_device, pick_dtype
    from training.objectives import make_objective, resolve_defaults
    from training.trainer import (
        build_model,
        fine_tunes,
        make_datasets,
        resolve_objective,
        to_device,
    )
    from training.triplets import collate
    device = torch.device(pick_device(cfg.device))
    dtype = pick_dtype(device, cfg.dtype)
    name, spec = resolve_objective(cfg, None)
    cfg = resolve_defaults(cfg.replace(objective=name, inference=spec.to_dict(), val_frames=0), name,
                           fine_tunes(cfg, name))
    model, mcfg, diffusion = build_model(cfg)
    objective = make_objective(name, model, diffusion, cfg, spec)
    params = objective.trainable()
    objective.to(device)
    size = cfg.size or mcfg.image_size
    train_ds, _, _ = make_datasets(cfg, size, objective.refs)
    opt = torch.optim.Adam(params, lr=cfg.lr)
    model.train()

    def batch_at(i: int) -> dict[str, torch.Tensor]:
        return to_device(collate([train_ds[i * cfg.batch + k] for k in range(cfg.batch)]), device)

    seconds = timed_steps(objective, opt, batch_at, device, dtype, steps, warmup, cfg.seed, stop, on_step)
    crop = cfg.crop if 0 < cfg.crop < size else size
    return StepTiming(seconds, name, cfg.batch, size, crop, str(device))


def duration_text(seconds: float) -> str:
    """A duration a person reads at a glance: 40 s, 12 min, 3.5 h, 9 days."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    if seconds < 48 * 3600:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.0f} days"
