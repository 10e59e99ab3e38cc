"""`python -m training export RUN OUT.safetensors`: a training run -> the fp16 inference checkpoint
the app loads, with the inference spec the run trained for (a refine run's export runs the refine
pipeline, a stage-2 run's the paper's sampling)."""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import torch

from opdm_studio.cli_args import Parser
from opdm_studio.errors import CheckpointError, ExportError
from opdm_studio.guard import Protected, check_may_write
from training.state import (
    inference_spec_of,
    is_training_checkpoint,
    load_model_weights,
    model_config_of,
    read_training_header,
    resolve_checkpoint,
)


def export_model(src: str | Path, dst: str | Path, use_ema: bool = True, fp16: bool = True,
                 name: str | None = None, overwrite: bool = False, extra: dict[str, Any] | None = None) -> Path:
    """Write the (EMA) weights of a training checkpoint or run folder as an inference checkpoint.

    The file is written under a temporary name and renamed; an existing ``dst`` is an ExportError
    unless ``overwrite``. The checkpoint's inference spec is the one the run trained for.
    """
    from opdm_studio.core.checkpoint import save_checkpoint
    from opdm_studio.core.model import OPDM
    src_path = resolve_checkpoint(src)
    dst = Path(dst)
    check_may_write(dst, export_protected(src, src_path), "model file",
                    "choose another file, e.g. in the models folder")
    if dst.exists() and not overwrite:
        raise ExportError(f"{dst}: a model with this name already exists; choose another name")
    mcfg = model_config_of(src_path)
    spec = inference_spec_of(src_path)
    model = OPDM(mcfg)
    info = load_model_weights(model, src_path, use_ema=use_ema)
    meta: dict[str, Any] = {"name": name or dst.stem, "exported": time.strftime("%Y-%m-%d %H:%M:%S"),
                            "source": str(src_path), "weights": "ema" if use_ema else "raw"}
    if is_training_checkpoint(src_path):
        hdr = read_training_header(src_path)
        tc = json.loads(hdr.get("train_config", "{}"))
        meta.update({"training_steps": int(hdr.get("step", 0)),
                     "objective": tc.get("objective") or json.loads(hdr.get("extra", "{}")).get("stage"),
                     "data": tc.get("data"), "working_size": tc.get("size") or mcfg.image_size,
                     "lr": tc.get("lr"), "batch": tc.get("batch"), "init": tc.get("init")})
    else:
        meta.update({k: v for k, v in info.items() if isinstance(v, (str, int, float, bool))})
    meta.update(extra or {})
    # save_checkpoint itself writes through a temporary name and renames into place.
    try:
        save_checkpoint(dst, model.eval(), metadata=meta, dtype=torch.float16 if fp16 else None,
                        overwrite=overwrite, inference=spec)
    except CheckpointError as exc:
        raise ExportError(f"{dst}: cannot write the model ({exc})") from exc
    return dst


def export_protected(src: str | Path, src_path: Path) -> list[Protected]:
    """What an export never replaces: the checkpoint it reads, the run's checkpoints (``--resume``
    needs them) and the folder of the run's training data."""
    out = [Protected("training checkpoint being exported", src_path, "self")]
    run = Path(src) if Path(src).is_dir() else src_path.parent.parent
    if (run / "checkpoints").is_dir():
        out.append(Protected("checkpoint folder of the run", run / "checkpoints"))
    if is_training_checkpoint(src_path):
        try:
            data = json.loads(read_training_header(src_path).get("train_config", "{}")).get("data")
        except (ValueError, AttributeError):
            data = None
        if isinstance(data, str) and data and Path(data).is_dir():
            out.append(Protected("training data of the run", Path(data)))
    return out


def main(argv: list[str]) -> int:
    """`python -m training export RUN_OR_CKPT OUT.safetensors [--raw] [--fp32] [--force]`."""
    ap = Parser(prog="python -m training export",
                                 description="Write an fp16 inference checkpoint from a training run.")
    ap.add_argument("source", help="run folder (its latest checkpoint) or a training checkpoint")
    ap.add_argument("out", help="output .safetensors (e.g. into the models folder)")
    ap.add_argument("--raw", action="store_true", help="export the raw weights instead of the EMA")
    ap.add_argument("--fp32", action="store_true", help="keep float32 weights")
    ap.add_argument("--name", default=None, help="model name stored in the metadata")
    ap.add_argument("--force", action="store_true", help="replace an existing output file")
    ns = ap.parse_args(argv)
    out = export_model(ns.source, ns.out, use_ema=not ns.raw, fp16=not ns.fp32, name=ns.name, overwrite=ns.force)
    print(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB, {inference_spec_of(out).pipeline} pipeline)")
    return 0
