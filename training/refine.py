"""Issue 9: train OPDM as a *refiner* of line-art flow propagation (what ships as the default model).

A small network trained for an hour on a CPU cannot learn correspondence from scratch, so the
shipped model gets it from optical flow and learns only the correction:

- references: the two keyframes *flow-warped onto the target* (``imaging.flow.propagate_two``),
  so the reference encoder and the Offset-Adapter see keys already aligned and learn the residual
  displacement where the flow is wrong;
- start: the two-key propagation (``propagate_two``'s result) noised to a small timestep
  ``t in [t_min, t_max]`` instead of pure noise at T-1 (refinement rather than generation), one
  DDIM step back to x0 -- exactly what the engine runs at inference (``steps`` = 1);
- loss: L1 weighted up where the warp is inconsistent with the target's lines (occlusions,
  disocclusions: ``1 + w_occlusion * (1 - confidence)``) + (1 - SSIM), on the step's output;
- data: synthetic cuts (``training.synth``) whose line art is extracted from the colour frames
  exactly as the evaluation protocol does (``extract_lines`` + ``line_mask_from_darkness``, a
  binary 0/255 drawing), flow computed at the cut's size and everything then area-resized to the
  working size, as the engine does with real frames.

The model config carries ``extra["inference"] = {"mode": "refine", ...}``; the engine reads it and
runs this mode (``opdm_studio.engine.refine``); models without it keep the paper's sampling.

Run folder: ``log.jsonl``, ``run.json``, ``checkpoints/step_NNNNNN.safetensors`` (the same training
checkpoint format as ``python -m training train``, so ``python -m training export`` works).

    python -m training refine --out runs/refine1 --minutes 55 --size 128 --batch 4
"""
from __future__ import annotations

import argparse
import json
import os
import queue
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import cv2
import numpy as np
import torch
from torch import nn

from opdm_studio.core.config import ModelConfig
from opdm_studio.errors import TrainingDataError
from training.losses import content_loss, psnr

#: What the engine runs for a model trained here (stored in ModelConfig.extra["inference"]).
DEFAULT_INFERENCE: dict[str, Any] = {"mode": "refine", "refs": "flow-warped", "t_start": 30,
                                     "steps": 1, "gate": "confidence"}


def refine_config(inference: dict[str, Any] | None = None, base: int = 24) -> ModelConfig:
    """The OPDM config trained here: the paper's architecture (U-Net + reference encoder +
    Offset-Adapter), narrowed so that an hour of 2-core CPU time trains it a few thousand steps."""
    return ModelConfig(name="refine-small", base_channels=base, channel_mult=(1, 2, 4, 8),
                       num_res_blocks=1, mid_channels=0, mid_blocks=1, norm_groups=8,
                       ref_blocks=1, ref_channels=(0, 0, 0, 0), offset_kernel=3, offset_channels=16,
                       offset_blocks=1, offset_feat_channels=8, image_size=224, timesteps=500,
                       sampling_steps=1,
                       extra={"inference": dict(inference or DEFAULT_INFERENCE)}).validate()


# --------------------------------------------------------------------------------------------
# data
# --------------------------------------------------------------------------------------------
def protocol_drawing(rgb: np.ndarray) -> np.ndarray:
    """Binary line drawing (0 ink / 255 paper) of a colour frame, as the evaluation protocol makes it."""
    from opdm_studio.imaging.lineart import extract_lines, line_mask_from_darkness
    return np.where(line_mask_from_darkness(extract_lines(rgb)), 0, 255).astype(np.uint8)


@dataclass
class RefineItem:
    """One training example at the working size (uint8 images, float confidence)."""

    line: np.ndarray         # (S, S) uint8
    warp_prev: np.ndarray    # (S, S, 3)
    warp_next: np.ndarray    # (S, S, 3)
    prop: np.ndarray         # (S, S, 3)
    target: np.ndarray       # (S, S, 3)
    confidence: np.ndarray   # (S, S) float32


class RefineData:
    """Endless stream of refine examples from synthetic cuts (cuts regenerated as it goes)."""

    def __init__(self, size: int = 128, seed: int = 0, gap: tuple[int, int] = (3, 16),
                 cut_size: tuple[int, int] = (224, 320), frames: int = 24, uses_per_cut: int = 24) -> None:
        self.size, self.gap, self.frames, self.uses = size, gap, frames, uses_per_cut
        self.cut_size = cut_size
        self.rng = np.random.default_rng(seed)
        self._cut: Any = None
        self._lines: list[np.ndarray] = []
        self._left = 0

    def _new_cut(self) -> None:
        from training.synth import generate_cut
        lo, hi = self.cut_size
        w, h = (int(self.rng.integers(lo, hi + 1)) for _ in range(2))
        cut = generate_cut(self.frames, (w, h), seed=int(self.rng.integers(0, 2 ** 31 - 1)),
                           background="flat" if self.rng.random() < 0.7 else "gradient")
        self._cut = cut.colors
        self._lines = [protocol_drawing(c) for c in cut.colors]
        self._left = self.uses

    def item(self) -> RefineItem:
        """One (target, prev key, next key) example with its flow references, at the working size."""
        from opdm_studio.imaging.flow import propagate_two
        if self._left <= 0 or self._cut is None:
            self._new_cut()
        self._left -= 1
        rng, n = self.rng, len(self._cut)
        g = int(rng.integers(self.gap[0], min(self.gap[1], n - 1) + 1))
        p = int(rng.integers(0, n - g))
        q = p + g
        j = int(rng.integers(p + 1, q))
        if rng.random() < 0.5:   # time runs both ways in a cut: keys swap roles
            p, q = q, p
        colors = [self._cut[p], self._cut[j], self._cut[q]]
        lines = [self._lines[p], self._lines[j], self._lines[q]]
        refs = propagate_two(lines[1], colors[0], lines[0], colors[2], lines[2],
                               t=abs(j - p) / float(abs(q - p)))
        # Flow at the cut's size, then everything area-resized: what the engine does with frames.
        h, w = lines[1].shape
        scale = self.size / float(min(w, h)) * float(rng.uniform(1.0, 1.25))
        rw, rh = max(self.size, int(round(w * scale))), max(self.size, int(round(h * scale)))
        x0 = int(rng.integers(0, rw - self.size + 1))
        y0 = int(rng.integers(0, rh - self.size + 1))

        def fit(img: np.ndarray) -> np.ndarray:
            out = cv2.resize(img, (rw, rh), interpolation=cv2.INTER_AREA)
            return np.ascontiguousarray(out[y0:y0 + self.size, x0:x0 + self.size])

        return RefineItem(line=fit(lines[1]), warp_prev=fit(refs.warp_prev), warp_next=fit(refs.warp_next),
                          prop=fit(refs.rgb), target=fit(colors[1]), confidence=fit(refs.confidence))

    def batch(self, n: int) -> dict[str, torch.Tensor]:
        """``n`` items as tensors in [-1, 1] (line (n,1,S,S), colours (n,3,S,S), confidence (n,1,S,S))."""
        items = [self.item() for _ in range(n)]

        def col(name: str) -> torch.Tensor:
            a = np.stack([getattr(it, name) for it in items]).astype(np.float32) / 127.5 - 1.0
            return torch.from_numpy(a).permute(0, 3, 1, 2).contiguous()

        line = np.stack([it.line for it in items]).astype(np.float32)[:, None] / 127.5 - 1.0
        conf = np.stack([it.confidence for it in items]).astype(np.float32)[:, None]
        return {"line": torch.from_numpy(line), "prev": col("warp_prev"), "next": col("warp_next"),
                "prop": col("prop"), "target": col("target"), "confidence": torch.from_numpy(conf)}


def batch_stream(data: RefineData, n: int, depth: int = 4) -> Iterator[dict[str, torch.Tensor]]:
    """Batches made in a background thread (OpenCV releases the GIL) while the network trains."""
    q: "queue.Queue[Any]" = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def work() -> None:
        cv2.setNumThreads(1)
        while not stop.is_set():
            try:
                b = data.batch(n)
            except Exception as exc:  # surface data errors in the training thread
                q.put(exc)
                return
            while not stop.is_set():
                try:
                    q.put(b, timeout=0.5)
                    break
                except queue.Full:
                    continue

    th = threading.Thread(target=work, daemon=True, name="refine-data")
    th.start()
    try:
        while True:
            b = q.get()
            if isinstance(b, Exception):
                raise b
            yield b
    finally:
        stop.set()


# --------------------------------------------------------------------------------------------
# objective
# --------------------------------------------------------------------------------------------
def gate_of(confidence: torch.Tensor, mode: str) -> torch.Tensor | None:
    """Where the network's correction applies: None (everywhere) or (1 - confidence) of the warp."""
    if mode == "none":
        return None
    if mode == "confidence":
        return (1.0 - confidence).clamp(0, 1)
    raise ValueError(f"unknown gate {mode!r}: use none or confidence")


class RefineObjective(nn.Module):
    """One DDIM step from the propagation noised to t ~ U[t_min, t_max]; weighted L1 + (1 - SSIM)
    of the gated composite ``prop + gate * (x0_hat - prop)`` the engine shows (gate "confidence")."""

    def __init__(self, model: nn.Module, diffusion: nn.Module, t_range: tuple[int, int] = (10, 60),
                 w_occlusion: float = 2.0, gate: str = "confidence", w_raw: float = 0.1) -> None:
        super().__init__()
        self.model, self.diffusion = model, diffusion
        self.t_range, self.w_occlusion = t_range, w_occlusion
        self.gate, self.w_raw = gate, w_raw

    def forward(self, batch: dict[str, torch.Tensor], gen: torch.Generator) -> dict[str, torch.Tensor]:
        """Losses of one batch (``loss`` = the total)."""
        line, prev, nxt, prop, x0 = (batch[k] for k in ("line", "prev", "next", "prop", "target"))
        b = x0.shape[0]
        t = torch.randint(self.t_range[0], self.t_range[1] + 1, (b,), generator=gen)
        noise = torch.randn(x0.shape, generator=gen)
        x_t = self.diffusion.q_sample(prop, t, noise)
        cond = self.model.encode_conditions(line, prev, nxt)
        y = self.model.denoise(x_t, t, line, cond).float()
        weight = 1.0 + self.w_occlusion * (1.0 - batch["confidence"])
        out: dict[str, torch.Tensor] = {}
        gate = gate_of(batch["confidence"], self.gate)
        if gate is not None:
            # Judge what the engine shows: the propagation, corrected where its warp is doubtful.
            # A small ungated L1 keeps the raw output sensible where the gate is ~0.
            composite = prop + gate * (y - prop)
            out["content"] = content_loss(composite, x0, weight)
            out["raw_l1"] = (y - x0.float()).abs().mean()
            out["loss"] = out["content"] + self.w_raw * out["raw_l1"]
        else:
            out["content"] = content_loss(y, x0, weight)
            out["loss"] = out["content"]
        return out


# --------------------------------------------------------------------------------------------
# the loop
# --------------------------------------------------------------------------------------------
@torch.no_grad()
def validate(model: nn.Module, diffusion: nn.Module, batch: dict[str, torch.Tensor],
             t_start: int, seed: int = 0) -> dict[str, float]:
    """PSNR of the propagation, the refined output and the confidence-gated output on held-back items."""
    g = torch.Generator().manual_seed(seed)
    prop, x0 = batch["prop"], batch["target"]
    noise = torch.randn(x0.shape, generator=g)
    t = torch.full((x0.shape[0],), int(t_start))
    x_t = diffusion.q_sample(prop, t, noise)
    cond = model.encode_conditions(batch["line"], batch["prev"], batch["next"])
    y = model.denoise(x_t, t, batch["line"], cond).float().clamp(-1, 1)
    gated = prop + gate_of(batch["confidence"], "confidence") * (y - prop)
    return {"val_prop": float(psnr(prop, x0).mean()), "val_refined": float(psnr(y, x0).mean()),
            "val_gated": float(psnr(gated, x0).mean())}


def train(out: Path, minutes: float, size: int = 128, batch: int = 4, lr: float = 2e-4,
          seed: int = 0, ckpt_minutes: float = 4.0, base: int = 24, w_occlusion: float = 2.0,
          t_range: tuple[int, int] = (10, 60), resume: bool = False, max_steps: int = 0,
          log=print) -> Path | None:
    """Train for ``minutes`` of wall time (or ``max_steps``); checkpoint every ``ckpt_minutes``."""
    from opdm_studio.core.device import autocast, pick_device, pick_dtype
    from opdm_studio.core.diffusion import GaussianDiffusion
    from opdm_studio.core.model import OPDM
    from training.train import (EMA, TrainConfig, _restore_optimizer, _set_rng_state, latest_checkpoint,
                                read_training_state, save_training_state)
    out = Path(out)
    device = pick_device("cpu")
    dtype = pick_dtype(device, "auto")
    ckpt = latest_checkpoint(out) if resume else None
    if not resume and latest_checkpoint(out) is not None:
        raise TrainingDataError(f"{out}: already holds a training run; use --resume to continue it "
                                "or choose another --out folder")
    torch.manual_seed(seed)
    if ckpt is not None:
        _, meta = read_training_state(ckpt)
        mcfg = ModelConfig.from_json(meta["config"])
    else:
        mcfg = refine_config(dict(DEFAULT_INFERENCE, t_start=int(np.mean(t_range))), base=base)
    model = OPDM(mcfg)
    diffusion = GaussianDiffusion.from_config(mcfg)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.0)
    ema = EMA(model, 0.995)
    tcfg = TrainConfig(data="synth-refine (training.synth, protocol line art)", out=str(out),
                       stage="refine", preset=mcfg.name, size=size, steps=max_steps, batch=batch,
                       lr=lr, ema=0.995, seed=seed, flow_warp=True,
                       warp_start=t_range[1] / (mcfg.timesteps - 1), w_occlusion=w_occlusion,
                       joint=True, chain_steps=1, w_noise=0.0, w_perceptual=0.0)
    step = 0
    if ckpt is not None:
        tensors, meta = read_training_state(ckpt)
        model.load_state_dict({k[6:]: v for k, v in tensors.items() if k.startswith("model.")})
        ema.shadow = {k[4:]: v.float() for k, v in tensors.items() if k.startswith("ema.")}
        _restore_optimizer(opt, tensors, meta)
        _set_rng_state(tensors, json.loads(meta.get("rng", "{}")))
        step = int(meta["step"])
    out.mkdir(parents=True, exist_ok=True)
    (out / "run.json").write_text(json.dumps({"model_config": mcfg.to_dict(), "size": size, "batch": batch,
                                              "lr": lr, "seed": seed, "w_occlusion": w_occlusion,
                                              "t_range": list(t_range)}, indent=1))
    objective = RefineObjective(model, diffusion, t_range, w_occlusion, mcfg.extra["inference"]["gate"])
    val_batch = RefineData(size=size, seed=seed + 10_000).batch(8)
    stream = batch_stream(RefineData(size=size, seed=seed + step), batch)
    t0 = last_ckpt = time.time()
    last: Path | None = ckpt
    model.train()
    logf = open(out / "log.jsonl", "a")
    skipped = 0
    try:
        while True:
            b = next(stream)
            gen = torch.Generator().manual_seed(seed * 1_000_003 + step)
            with autocast(device, dtype):
                losses = objective(b, gen)
            loss_v = float(losses["loss"].detach())
            if not np.isfinite(loss_v):
                # A rare non-finite batch (bf16 overflow) must not poison weights and EMA: skip it.
                opt.zero_grad(set_to_none=True)
                skipped += 1
                logf.write(json.dumps({"step": step, "skipped": skipped, "reason": "non-finite loss"}) + "\n")
                continue
            losses["loss"].backward()
            gn = float(torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0))
            if not np.isfinite(gn):
                opt.zero_grad(set_to_none=True)
                skipped += 1
                logf.write(json.dumps({"step": step, "skipped": skipped, "reason": "non-finite gradient"}) + "\n")
                continue
            opt.step()
            opt.zero_grad(set_to_none=True)
            step += 1
            ema.update(model, step)
            now = time.time()
            done = (now - t0) >= minutes * 60 or (max_steps and step >= max_steps)
            if step % 10 == 0 or step == 1:
                rec = {"step": step, "loss": round(loss_v, 5), "grad_norm": round(gn, 4),
                       "elapsed": round(now - t0, 1)}
                logf.write(json.dumps(rec) + "\n")
                logf.flush()
            if now - last_ckpt >= ckpt_minutes * 60 or done:
                model.eval()
                with ema.applied(model), autocast(device, dtype):
                    metrics = validate(model, diffusion, val_batch, mcfg.extra["inference"]["t_start"])
                model.train()
                last = save_training_state(out / "checkpoints" / f"step_{step:06d}.safetensors", model, ema,
                                           opt, step, mcfg, tcfg, {"stage": "refine"})
                rec = {"step": step, "checkpoint": str(last), "elapsed": round(now - t0, 1),
                       **{k: round(v, 3) for k, v in metrics.items()}}
                logf.write(json.dumps(rec) + "\n")
                logf.flush()
                log(json.dumps(rec))
                last_ckpt = time.time()
            if done:
                break
    finally:
        logf.close()
    return last


DATA_NOTE = ("synthetic cuts generated on the fly by training/synth.py (procedural characters, "
             "houses, shading with trace lines, holds, pans, occlusion; code of this project, no "
             "third-party images); line art extracted from the synthetic colour frames with "
             "imaging.lineart.extract_lines + line_mask_from_darkness (the evaluation protocol's)")


def export_refiner(src: str | Path, dst: str | Path, command: str = "", overwrite: bool = False,
                   extra: dict[str, Any] | None = None) -> Path:
    """fp16 inference checkpoint of a refiner run (EMA weights) with data/licence/command metadata."""
    from training.export import export_model
    meta = {"data": DATA_NOTE, "data_licence": "generated by this project's code (same licence)",
            "training_command": command, "mode": "refine (see opdm_studio/engine/refine.py)"}
    meta.update(extra or {})
    return export_model(src, dst, use_ema=True, fp16=True, name=Path(dst).stem, overwrite=overwrite,
                        extra=meta)


def main(argv: list[str] | None = None) -> int:
    """`python -m training.refine --out RUN --minutes M`: train the flow refiner (issue 9)."""
    ap = argparse.ArgumentParser(prog="python -m training refine", description=__doc__.split("\n")[0])
    ap.add_argument("--out", required=True, help="run folder")
    ap.add_argument("--minutes", type=float, default=55.0, help="wall-clock training budget")
    ap.add_argument("--max-steps", type=int, default=0)
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--lr", type=float, default=2e-4)
    ap.add_argument("--base", type=int, default=24, help="U-Net base width")
    ap.add_argument("--w-occlusion", type=float, default=2.0)
    ap.add_argument("--t-range", default="10,60", help="timesteps the propagation is noised to")
    ap.add_argument("--ckpt-minutes", type=float, default=4.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0 = default)")
    ap.add_argument("--resume", action="store_true")
    ns = ap.parse_args(argv)
    if ns.threads:
        torch.set_num_threads(ns.threads)
    lo, hi = (int(x) for x in ns.t_range.split(","))
    last = train(Path(ns.out), ns.minutes, ns.size, ns.batch, ns.lr, ns.seed, ns.ckpt_minutes, ns.base,
                 ns.w_occlusion, (lo, hi), ns.resume, ns.max_steps)
    print(f"last checkpoint: {last}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
