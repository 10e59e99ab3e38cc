"""`python -m training bench`: training steps per second of each objective per preset.

Each measurement builds the preset, runs ``--warmup`` steps (oneDNN builds its kernels on the
first calls), then times ``--steps`` full optimizer steps (forward, backward, Adam) on random
triplets of the working size. Stage 2 (``train``, the paper objective) runs the joint
diffusion-reverse chain with ``--chain-steps`` DDIM steps and gradient checkpointing, as training
does; ``refine`` is one step from the noised propagation.
"""
from __future__ import annotations

import json
import platform
import time

import torch

from opdm_studio.cli_args import Parser, int_in, multiple_of
from opdm_studio.core.config import ModelConfig
from training.commands import DEVICES, DTYPES, check_device
from training.config import TrainConfig
from training.estimate import timed_steps
from training.objectives import OBJECTIVES

#: Bench stage names -> objectives ("train" is stage 2, the paper objective).
STAGES = {"align": "align", "train": "paper", "refine": "refine"}


def bench_preset(preset: str, size: int, batch: int, steps: int, warmup: int, chain_steps: int,
                 device: str = "auto", dtype: str = "auto", stage: str = "train") -> dict:
    """Seconds per optimizer step and steps per second for one preset and stage."""
    from opdm_studio.core.config import ModelConfig
    from opdm_studio.core.device import pick_device, pick_dtype
    from opdm_studio.core.diffusion import GaussianDiffusion
    from opdm_studio.core.model import OPDM
    dev = pick_device(device)
    dt = pick_dtype(dev, dtype)
    torch.manual_seed(0)
    mcfg = ModelConfig.preset(preset)
    model = OPDM(mcfg)
    diff = GaussianDiffusion.from_config(mcfg).to(dev)
    cfg = TrainConfig(chain_steps=chain_steps)
    kind = OBJECTIVES[STAGES[stage]]
    obj = kind(model, diff, cfg, kind.inference_spec(cfg, None))
    params = obj.trainable()
    model.to(dev).train()
    opt = torch.optim.Adam(params, lr=1e-5)
    g = torch.Generator().manual_seed(0)
    n = batch
    data = {k: (torch.rand((n, c, size, size), generator=g) * 2 - 1).to(dev)
            for k, c in (("line", 1), ("prev", 3), ("target", 3), ("next", 3))}
    if stage == "refine":   # the flow propagation and its confidence
        data["prop"] = (torch.rand((n, 3, size, size), generator=g) * 2 - 1).to(dev)
        data["confidence"] = torch.rand((n, 1, size, size), generator=g).to(dev)
    sec = timed_steps(obj, opt, lambda _i: data, dev, dt, steps, warmup)
    return {"preset": preset, "stage": stage, "params_M": round(model.num_parameters() / 1e6, 2),
            "size": size, "batch": batch_size(data), "chain_steps": chain_steps if stage == "train" else 0,
            "device": str(dev), "dtype": str(dt).replace("torch.", ""), "median_s_per_step": round(sec, 3),
            "steps_per_s": round(1.0 / sec, 4), "measured_steps": steps}


def batch_size(batch: dict) -> int:
    """Batch size of a batch dict."""
    return int(next(iter(batch.values())).shape[0])


def main(argv: list[str]) -> int:
    """Print a table (or JSON lines) of training speed."""
    ap = Parser(prog="python -m training bench", description=__doc__)
    ap.add_argument("--preset", action="append", choices=ModelConfig.preset_names(), help="preset(s) to measure (default: small and paper)")
    ap.add_argument("--stage", action="append", choices=tuple(STAGES), help="default: align and train")
    ap.add_argument("--size", type=multiple_of(16, 32, 2048, "--size"), default=224)
    ap.add_argument("--batch", type=int_in(1, 256, "--batch"), default=1)
    ap.add_argument("--steps", type=int_in(1, 10000, "--steps"), default=3)
    ap.add_argument("--warmup", type=int_in(0, 1000, "--warmup"), default=1)
    ap.add_argument("--chain-steps", type=int_in(1, 100, "--chain-steps"), default=10)
    ap.add_argument("--device", default="auto", choices=DEVICES)
    ap.add_argument("--dtype", default="auto", choices=DTYPES)
    ap.add_argument("--json", action="store_true")
    ns = ap.parse_args(argv)
    check_device(ns.device, ns.dtype)
    presets = ns.preset or ["small", "paper"]
    stages = ns.stage or ["align", "train"]
    if not ns.json:
        print(f"# {time.strftime('%Y-%m-%d %H:%M')} {platform.processor() or platform.machine()}, "
              f"{torch.get_num_threads()} threads, torch {torch.__version__}")
        print(f"{'preset':<7} {'stage':<6} {'params':>8} {'size':>5} {'batch':>5} {'chain':>5} "
              f"{'dtype':>9} {'s/step':>8} {'steps/s':>8}")
    for p in presets:
        for st in stages:
            r = bench_preset(p, ns.size, ns.batch, ns.steps, ns.warmup, ns.chain_steps, ns.device, ns.dtype, st)
            if ns.json:
                print(json.dumps(r))
            else:
                print(f"{p:<7} {st:<6} {r['params_M']:>7}M {ns.size:>5} {ns.batch:>5} {r['chain_steps']:>5} "
                      f"{r['dtype']:>9} {r['median_s_per_step']:>8} {r['steps_per_s']:>8}", flush=True)
    return 0
