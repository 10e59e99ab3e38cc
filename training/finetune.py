"""Fine-tuning runs as the app's wizard keeps them (Qt-free; the wizard adapts this to its pages
and a worker thread).

A run folder holds ``wizard.json``: the run's name, data, status and its *phases*, each the
TrainConfig of one trainer run in a subfolder. From a preset: stage 1 (``align``) then stage 2;
from a model: one phase whose objective follows the model (a refine model keeps refining, the
export keeps its inference spec). Phases train in order and resume after a restart; the finished
run installs as an fp16 model.
"""
from __future__ import annotations

import json
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from opdm_studio.fileio import write_text_atomic
from training.config import TrainConfig, TrainEvent
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
    runs = [p for p in root.iterdir() if p.is_dir() and read_state(p).get("status") not in (None, "installed")]
    return sorted(runs, key=lambda p: p.stat().st_mtime, reverse=True)


def plan_run(run_dir: Path, data: Path, start: str, steps: int, batch: int, size: int, device: str,
             lr: float) -> dict[str, Any]:
    """Create the run folder and its record; ``start`` is a model path or ``preset:NAME``."""
    common = dict(data=str(data), size=size, batch=batch, device=device, workers=0, progress=False,
                  log_every=5, val_frames=4, ckpt_every=max(10, min(200, steps // 10)),
                  val_every=max(10, min(200, steps // 10)))
    phases = []
    if start.startswith("preset:"):
        phases.append({"name": "align", "config": TrainConfig(
            **common, out=str(run_dir / "align"), objective="align", preset=start[7:],
            steps=max(1, steps // 4), lr=1e-4).__dict__})
        init = str(run_dir / "align")
    else:
        init = start
    phases.append({"name": "train", "config": TrainConfig(
        **common, out=str(run_dir / "train"), objective="auto", init=init, steps=steps, lr=lr).__dict__})
    state = {"name": run_dir.name, "data": str(data), "status": "new", "phases": phases, "done": []}
    write_state(run_dir, state)
    return state


def train_phases(run_dir: Path, callback: Callable[[TrainEvent], None] | None = None,
                 stop: threading.Event | None = None) -> str:
    """Train the phases not done yet, each resuming its own checkpoint; "finished", or "paused"
    when ``stop`` interrupted one (it checkpointed and resumes next time)."""
    for ph in read_state(run_dir)["phases"]:
        if ph["name"] in read_state(run_dir).get("done", []):
            continue
        cfg = TrainConfig.from_dict(ph["config"])
        cfg.resume = latest_checkpoint(cfg.out) is not None
        ev = run(cfg, callback=callback, stop=stop)
        if ev.status != "finished":
            return "paused"
        st = read_state(run_dir)
        update_state(run_dir, done=st.get("done", []) + [ph["name"]])
    return "finished"


def install_run(run_dir: Path, dst: Path) -> Path:
    """Export the finished run's last phase to ``dst`` and mark the run installed."""
    st = read_state(run_dir)
    last = st["phases"][-1]["name"]
    out = export_model(run_dir / last, dst, name=st["name"], extra={"finetuned_on": st.get("data", "")})
    update_state(run_dir, status="installed", model=str(out))
    return out


def log_records(run_dir: Path) -> list[dict[str, Any]]:
    """The log records of every phase, in phase order (for one loss curve)."""
    from training.plots import read_log
    recs: list[dict[str, Any]] = []
    for ph in read_state(run_dir).get("phases", []):
        recs += read_log(run_dir / ph["name"] / "log.jsonl")
    return recs
