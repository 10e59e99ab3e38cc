"""`python -m training export RUN OUT.safetensors`: a training run -> the fp16 inference checkpoint
the app loads, with the inference spec the run trained for (a refine run's export runs the refine
pipeline, a stage-2 run's the paper's sampling)."""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import torch

from opdm_studio.errors import CheckpointError, ExportError
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


def main(argv: list[str]) -> int:
    """`python -m training export RUN_OR_CKPT OUT.safetensors [--raw] [--fp32] [--force]`."""
    ap = argparse.ArgumentParser(prog="python -m training export",
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
