"""Fine-tuning runs as the app's wizard keeps them (Qt-free; the wizard adapts this to its pages
and a worker thread).

A run folder holds ``wizard.json``: the run's name, data, start, budget (minutes of training),
status and its *phases*, each the TrainConfig of one trainer run in a subfolder with its share of
the budget and the time it has spent. From a preset: stage 1 (``align``) then stage 2; from a
model: one phase whose objective follows the model (a refine model keeps refining, the export
keeps its inference spec). Phases train in order and resume after a restart with what is left of
their minutes. A finished run is compared with its start model on frames held back from the cuts
(training/compare.py); it is installed as an fp16 model only when the user accepts it.

Status: new -> running <-> paused / cancelled -> finished -> installed | rejected.
"""
from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from opdm_studio.fileio import write_text_atomic
from training.compare import Comparison
from training.config import TrainConfig, TrainEvent
from training.data import CutSource, open_data, split_holdout
from training.export import export_model
from training.state import latest_checkpoint
from training.trainer import run

STATE_FILE = "wizard.json"


def read_state(run_dir: Path) -> dict[str, Any]:
    """The record of a run (empty if missing or torn)."""
    try:
        return json.loads((run_dir / STATE_FILE).read_text())
    except (OSError, json.JSONDecodeError):
        return {}


def write_state(run_dir: Path, state: dict[str, Any]) -> None:
    """Write the run record atomically."""
    run_dir.mkdir(parents=True, exist_ok=True)
    write_text_atomic(run_dir / STATE_FILE, json.dumps(state, indent=1))


def update_state(run_dir: Path, **changes: Any) -> dict[str, Any]:
    """Change some fields of the run record; return the new record."""
    st = read_state(run_dir)
    st.update(changes)
    write_state(run_dir, st)
    return st


def unfinished_runs(root: Path) -> list[Path]:
    """Runs under ``root`` that were not installed yet (newest first)."""
    runs = [p for p in root.iterdir()
            if p.is_dir() and read_state(p).get("status") not in (None, "installed", "rejected")]
    return sorted(runs, key=lambda p: p.stat().st_mtime, reverse=True)


#: Share of a from-scratch budget that stage 1 (the offset estimators) gets; stage 2 gets the rest.
ALIGN_SHARE = 0.25
#: Validation every this many minutes at most (and at the end): "every few minutes".
VAL_MINUTES = 5.0
#: Frames held back from the studio's cuts for validation and the before / after comparison.
HOLDOUT_FRACTION = 0.2


def plan_run(run_dir: Path, data: Path, start: str, minutes: float, size: int = 0, device: str = "auto",
             batch: int = 0, lr: float = 0.0, compare_with: str | None = None) -> dict[str, Any]:
    """Create the run folder and its record; ``start`` is a model path or ``preset:NAME``.

    The run trains for ``minutes`` of training time in all (pauses do not count): a model keeps
    its objective in one phase; a preset gets stage 1 (a quarter) then stage 2. Validation runs
    every few minutes on frames held back from the cuts. ``batch`` / ``lr`` 0 = the objective's.
    The finished model is compared with ``compare_with`` (default: the start model; a preset has
    none, the app passes its default model).
    """
    val_minutes = max(0.05, min(VAL_MINUTES, minutes / 6))
    common: dict[str, Any] = dict(data=str(data), size=size, batch=batch, lr=lr, device=device, workers=0, progress=False,
                  steps=0, log_every=5, val_frames=4, val_fraction=HOLDOUT_FRACTION, ckpt_every=10 ** 9,
                  ckpt_minutes=val_minutes, val_every=10 ** 9)
    phases = []
    if start.startswith("preset:"):
        phases.append({"name": "align", "minutes": minutes * ALIGN_SHARE, "spent_s": 0.0,
                       "config": asdict(TrainConfig(**common, out=str(run_dir / "align"), objective="align",
                                                    preset=start[7:]))})
        init, left = str(run_dir / "align"), minutes * (1 - ALIGN_SHARE)
    else:
        init, left = start, minutes
    phases.append({"name": "train", "minutes": left, "spent_s": 0.0, "config": asdict(TrainConfig(
        **common, out=str(run_dir / "train"), objective="auto", init=init))})
    if compare_with is None and not start.startswith("preset:"):
        compare_with = start
    state = {"name": run_dir.name, "data": str(data), "start": start, "compare_with": compare_with or "",
             "minutes": minutes, "status": "new",
             "phases": phases, "done": []}
    write_state(run_dir, state)
    return state


def spent_minutes(run_dir: Path) -> float:
    """Training minutes spent so far over every phase."""
    return sum(float(ph.get("spent_s", 0.0)) for ph in read_state(run_dir).get("phases", [])) / 60


def _add_spent(run_dir: Path, name: str, seconds: float) -> None:
    st = read_state(run_dir)
    for ph in st["phases"]:
        if ph["name"] == name:
            ph["spent_s"] = float(ph.get("spent_s", 0.0)) + seconds
    write_state(run_dir, st)


def train_phases(run_dir: Path, callback: Callable[[TrainEvent], None] | None = None,
                 stop: threading.Event | None = None, on_phase: Callable[[str, int, int], None] | None = None) -> str:
    """Train the phases not done yet, each resuming its own checkpoint and getting what is left
    of its minutes; "finished", or "paused" when ``stop`` interrupted one (it checkpointed and
    resumes next time). Training time is recorded at every checkpoint, so a run killed with the
    app loses at most the time since its last checkpoint. ``on_phase(name, index, count)`` is
    told when a phase starts."""
    phases = read_state(run_dir)["phases"]
    for index, ph in enumerate(phases):
        if ph["name"] in read_state(run_dir).get("done", []):
            continue
        if on_phase is not None:
            on_phase(ph["name"], index, len(phases))
        cfg = TrainConfig.from_dict(ph["config"])
        cfg.resume = latest_checkpoint(cfg.out) is not None
        if "minutes" not in ph:        # a run planned in steps (before budgets): the steps decide
            ph["minutes"], cfg.minutes = float("inf"), 0.0
        left = float(ph["minutes"]) - float(ph.get("spent_s", 0.0)) / 60
        status = "budget"
        if left > 0 or not cfg.resume:
            # At least one step, so a phase always leaves a checkpoint behind.
            cfg.minutes = max(left, 1e-3) if left != float("inf") else 0.0
            mark = [time.monotonic()]

            def on_event(ev: TrainEvent, name: str = ph["name"], mark: list[float] = mark) -> None:
                if ev.checkpoint is not None:
                    now = time.monotonic()
                    _add_spent(run_dir, name, now - mark[0])
                    mark[0] = now
                if callback is not None:
                    callback(ev)

            ev = run(cfg, callback=on_event, stop=stop)
            _add_spent(run_dir, ph["name"], time.monotonic() - mark[0])
            status = ev.status
        if status not in ("finished", "budget"):
            return "paused"
        st = read_state(run_dir)
        update_state(run_dir, done=st.get("done", []) + [ph["name"]])
    return "finished"


def held_back_cuts(run_dir: Path) -> list[CutSource]:
    """The frames the run held back from the studio's cuts (validation, the comparison)."""
    cfg = TrainConfig.from_dict(read_state(run_dir)["phases"][-1]["config"])
    report = open_data(cfg.data, synth_frames=cfg.synth_frames, synth_size=cfg.synth_size, seed=cfg.seed)
    return split_holdout(report.cuts, cfg.val_fraction)[1]


def compare_run(run_dir: Path, should_stop: Callable[[], bool] | None = None) -> Comparison | None:
    """Start model against the fine-tuned model on the held-back frames (comparison.json / .png
    in the run folder); None when nothing was held back or the run started from a preset."""
    from training.compare import compare_models
    st = read_state(run_dir)
    cuts = held_back_cuts(run_dir)
    if not cuts:
        return None
    cfg = TrainConfig.from_dict(st["phases"][-1]["config"])
    tuned = run_dir / "candidate.safetensors"
    if not tuned.exists():
        export_model(run_dir / st["phases"][-1]["name"], tuned, name=st["name"])
    start = st.get("compare_with") or str(tuned)   # nothing to compare with: itself
    return compare_models(start, tuned, cuts, run_dir, device=cfg.device, working_size=cfg.size or 224,
                          flow_size=cfg.flow_size, should_stop=should_stop)


def install_run(run_dir: Path, dst: Path) -> Path:
    """Install the accepted run: export its last phase to ``dst``, mark the run installed."""
    st = read_state(run_dir)
    last = st["phases"][-1]["name"]
    out = export_model(run_dir / last, dst, name=st["name"], extra={"finetuned_on": st.get("data", "")})
    update_state(run_dir, status="installed", model=str(out))
    return out


def reject_run(run_dir: Path) -> None:
    """The user kept the start model: nothing is installed and the run is not offered again."""
    (run_dir / "candidate.safetensors").unlink(missing_ok=True)
    update_state(run_dir, status="rejected")


def log_records(run_dir: Path) -> list[dict[str, Any]]:
    """The log records of every phase, in phase order (for one loss curve)."""
    from training.plots import read_log
    recs: list[dict[str, Any]] = []
    for ph in read_state(run_dir).get("phases", []):
        recs += read_log(run_dir / ph["name"] / "log.jsonl")
    return recs
