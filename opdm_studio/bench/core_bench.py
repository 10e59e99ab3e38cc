"""`opdm-studio bench [--preset NAME] [--json]`: speed of the OPDM network on this machine.

For each preset: parameters, GFLOPs per denoising step (counted with FlopCounterMode), seconds per
step (cached path: U-Net only) and per frame (a whole DDIM run: references + conditions + steps),
the naive per-frame time (every step recomputes references and offsets) and the cache speedup,
for fp32 and, where it is fast (CUDA, AMX CPUs), bf16. Throughput is compared with this machine's
matrix-multiply peak for the same dtype, measured in the same run (other programs may share the
CPU, so every time is the minimum of a few repeats and the ratio is what to compare).
"""
from __future__ import annotations

import datetime as _dt
import json
import os
import platform
import sys
import time
from collections.abc import Callable
from functools import partial
from typing import Any

import torch
from torch.utils.flop_counter import FlopCounterMode

from opdm_studio.bench import cpu_name
from opdm_studio.cli_args import Parser, int_in, multiple_of, positive_int
from opdm_studio.core.config import ModelConfig
from opdm_studio.core.device import (
    autocast,
    cpu_fast_bf16,
    cpu_has_amx,
    cpu_has_avx512_bf16,
    pick_device,
    pick_dtype,
    prepare_for_inference,
    prepare_inputs,
)
from opdm_studio.core.diffusion import GaussianDiffusion, ddim_sample
from opdm_studio.core.model import OPDM
from opdm_studio.errors import ProjectError

DTYPE_NAMES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}

# Speed targets (224x224, 10 steps, best dtype; docs/benchmarks.md).
TARGETS = {"paper_params_min": 190e6, "paper_params_max": 220e6, "small_frame_s": 1.0,
           "paper_frame_s": 7.0, "paper_peak_fraction": 0.5, "cache_speedup": 1.3}


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


#: "wall": elapsed time. "cpu": this process's CPU time, used with one thread on a shared
#: machine: it does not count the time other programs hold the cores (wall time does).
CLOCK = {"name": "wall"}


def _now() -> float:
    return time.process_time() if CLOCK["name"] == "cpu" else time.perf_counter()


def best_time(fn: Callable[[], Any], repeats: int, device: torch.device, warmup: int = 1) -> float:
    """Minimum time of ``repeats`` calls after ``warmup`` calls (robust to a shared CPU)."""
    for _ in range(warmup):
        fn()
    _sync(device)
    times = []
    for _ in range(max(1, repeats)):
        t0 = _now()
        fn()
        _sync(device)
        times.append(_now() - t0)
    return min(times)


def matmul_peak(dtype: torch.dtype, device: torch.device, repeats: int = 5,
                sizes: tuple[int, ...] = (1024, 2048, 3072)) -> float:
    """Best matmul throughput (FLOP/s) for dtype: square products of a few sizes, best of repeats."""
    best = 0.0
    with torch.inference_mode():
        for n in sizes:
            a = torch.randn(n, n, device=device).to(dtype)
            b = torch.randn(n, n, device=device).to(dtype)
            s = best_time(partial(torch.mm, a, b), repeats, device)
            best = max(best, 2 * n ** 3 / s)
    return best


def count_flops(fn: Callable[[], Any]) -> int:
    """FLOPs of one call (multiply-add = 2), by torch's FlopCounterMode."""
    with torch.inference_mode(), FlopCounterMode(display=False) as counter:
        fn()
    return int(counter.get_total_flops())


def machine_info() -> dict[str, Any]:
    """CPU, core count, bf16 matrix instructions (AMX, AVX512-BF16), torch version: the context a
    figure needs."""
    cpu = cpu_name()
    return {"cpu": cpu, "cores": os.cpu_count(), "torch_threads": torch.get_num_threads(),
            "amx": cpu_has_amx(), "avx512_bf16": cpu_has_avx512_bf16(), "torch": torch.__version__,
            "python": platform.python_version(),
            "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None}


def _timings(model: Any, diff: GaussianDiffusion, inputs: tuple[torch.Tensor, ...], device: torch.device,
             dtype: torch.dtype, steps: int, repeats: int) -> tuple[float, float, float, float, float]:
    """(step, naive step, references, conditions, frame) seconds of a prepared model."""
    xi, li, pi, ni = (prepare_inputs(t, device, dtype) for t in inputs)
    with torch.inference_mode(), autocast(device, dtype):
        r = model.encode_references(pi, ni)
        c = model.encode_conditions(li, pi, ni, refs=r)
        t_step = best_time(lambda: model.denoise(xi, 100, li, c), repeats, device)
        t_naive = best_time(lambda: model(xi, 100, li, pi, ni), repeats, device)
        t_refs = best_time(lambda: model.encode_references(pi, ni), repeats, device)
        t_cond = best_time(lambda: model.encode_conditions(li, pi, ni, refs=r), repeats, device)

        def frame() -> None:
            gen = torch.Generator(device=device).manual_seed(0)
            for _ in ddim_sample(model, diff, li, pi, ni, steps=steps, generator=gen):
                pass

        t_frame = best_time(frame, max(1, repeats // 2), device, warmup=0)
    return t_step, t_naive, t_refs, t_cond, t_frame


def bench_preset(name: str, device: torch.device, dtypes: list[str], size: int, steps: int,
                 repeats: int, peaks: dict[str, float], log: Callable[[str], None]) -> dict[str, Any]:
    """All figures for one preset."""
    cfg = ModelConfig.preset(name)
    torch.manual_seed(0)
    base = OPDM(cfg).eval()
    g = torch.Generator().manual_seed(0)
    x_t, prev, nxt = (torch.rand(1, 3, size, size, generator=g) * 2 - 1 for _ in range(3))
    line = torch.rand(1, 1, size, size, generator=g) * 2 - 1
    with torch.inference_mode():
        refs = base.encode_references(prev, nxt)
        cond = base.encode_conditions(line, prev, nxt, refs=refs)
    flops_step = count_flops(lambda: base.denoise(x_t, 100, line, cond))
    flops_refs = count_flops(lambda: base.encode_references(prev, nxt))
    flops_offsets = count_flops(lambda: base.encode_offsets(line, prev, nxt))
    out: dict[str, Any] = {
        "preset": name, "params": base.num_parameters(), "size": size, "steps": steps,
        "gflop_step": flops_step / 1e9, "gflop_references": flops_refs / 1e9,
        "gflop_offsets": flops_offsets / 1e9, "results": []}
    diff = GaussianDiffusion.from_config(cfg).to(device)
    for dname in dtypes:
        dtype = DTYPE_NAMES[dname]
        log(f"  {name} {dname}: measuring...")
        model = prepare_for_inference(base, device, dtype)
        t_step, t_naive, t_refs, t_cond, t_frame = _timings(model, diff, (x_t, line, prev, nxt), device,
                                                             dtype, steps, repeats)
        del model
        peak = peaks.get(dname, 0.0)
        res = {
            "dtype": dname,
            "step_s": t_step,
            "frame_s": t_frame,                                   # refs + conditions + steps, measured
            "frame_shared_refs_s": t_cond + steps * t_step,       # later frames of the same key pair
            "references_s": t_refs,
            "conditions_s": t_cond,
            "naive_step_s": t_naive,
            "naive_frame_s": steps * t_naive,
            "cache_speedup": steps * t_naive / t_frame,
            "tflops": flops_step / t_step / 1e12,
            "peak_tflops": peak / 1e12,
            "peak_fraction": (flops_step / t_step) / peak if peak else None,
        }
        out["results"].append(res)
        log(f"  {name} {dname}: {t_step:.3f} s/step, {t_frame:.2f} s/frame, "
            f"speedup {res['cache_speedup']:.2f}x, {res['tflops']:.2f} TFLOP/s")
    best = min(out["results"], key=lambda r: r["frame_s"])
    out["best_dtype"] = best["dtype"]
    return out


def check_targets(presets: list[dict[str, Any]]) -> dict[str, Any]:
    """The issue's acceptance numbers, evaluated on the best dtype of each preset present."""
    by = {p["preset"]: p for p in presets}
    checks: dict[str, Any] = {}

    def best(p: dict[str, Any]) -> dict[str, Any]:
        return next(r for r in p["results"] if r["dtype"] == p["best_dtype"])

    if "paper" in by:
        p, b = by["paper"], best(by["paper"])
        checks["paper_params_in_range"] = TARGETS["paper_params_min"] <= p["params"] <= TARGETS["paper_params_max"]
        checks["paper_frame_s_le_7"] = b["frame_s"] <= TARGETS["paper_frame_s"]
        checks["paper_peak_fraction_ge_0.5"] = (b["peak_fraction"] or 0) >= TARGETS["paper_peak_fraction"]
    if "small" in by:
        checks["small_frame_s_le_1"] = best(by["small"])["frame_s"] <= TARGETS["small_frame_s"]
    for name, p in by.items():
        checks[f"{name}_cache_speedup_ge_1.3"] = best(p)["cache_speedup"] >= TARGETS["cache_speedup"]
    return checks


def _loadavg() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except (OSError, AttributeError):
        return None


def format_table(report: dict[str, Any]) -> str:
    """Human-readable table of a report."""
    head = (f"{'preset':<7} {'params':>8} {'GFLOP/step':>10} {'dtype':>5} {'s/step':>7} {'s/frame':>8} "
            f"{'naive s/frame':>13} {'cache x':>7} {'TFLOP/s':>7} {'% peak':>6}")
    lines = [head, "-" * len(head)]
    for p in report["presets"]:
        for r in p["results"]:
            frac = f"{100 * r['peak_fraction']:.0f}%" if r["peak_fraction"] else "-"
            lines.append(f"{p['preset']:<7} {p['params'] / 1e6:>7.1f}M {p['gflop_step']:>10.1f} "
                         f"{r['dtype']:>5} {r['step_s']:>7.3f} {r['frame_s']:>8.2f} "
                         f"{r['naive_frame_s']:>13.2f} {r['cache_speedup']:>6.2f}x {r['tflops']:>7.2f} {frac:>6}")
    peaks = ", ".join(f"{k} {v / 1e12:.2f} TFLOP/s" for k, v in report["peak_flops"].items())
    m = report["machine"]
    lines.append("")
    lines.append(f"{report['size']}x{report['size']}, {report['steps']} DDIM steps; s/frame = one whole "
                 f"DDIM run incl. reference + offset encoding; matmul peak: {peaks}")
    lines.append(f"machine: {m['cpu']}, {m['cores']} cores, {m['torch_threads']} torch threads, "
                 f"AMX {'yes' if m['amx'] else 'no'}, AVX512-BF16 {'yes' if m.get('avx512_bf16') else 'no'}, "
                 f"torch {m['torch']}; {report['date']}; "
                 f"clock {report['clock']}; load average {report['load_average']}")
    if report.get("checks"):
        lines.append("targets: " + ", ".join(f"{k} {'ok' if v else 'MISSED'}" for k, v in report["checks"].items()))
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    """Run the network benchmark; print a table or JSON."""
    ap = Parser(prog="opdm-studio bench", description=__doc__.splitlines()[0])
    ap.add_argument("--preset", action="append", choices=ModelConfig.preset_names(),
                    help="preset to measure (repeatable; default: all)")
    ap.add_argument("--json", action="store_true", help="print JSON instead of a table")
    ap.add_argument("--size", type=multiple_of(16, 16, 2048, "--size"), default=224, help="image size (multiple of 16), default 224")
    ap.add_argument("--steps", type=int_in(1, 1000, "--steps"), default=10, help="DDIM steps per frame, default 10")
    ap.add_argument("--repeats", type=int_in(1, 1000, "--repeats"), default=3, help="timed repeats per figure (minimum kept)")
    ap.add_argument("--dtype", action="append", choices=list(DTYPE_NAMES),
                    help="dtype(s) to measure (default: fp32, plus bf16 where supported)")
    ap.add_argument("--device", default="auto", help="auto, cpu, cuda or mps")
    ap.add_argument("--threads", type=positive_int, default=0,
                    help="torch threads (default: torch's choice)")
    ap.add_argument("--clock", choices=["wall", "cpu"], default="wall",
                    help="wall: elapsed time (default); cpu: process CPU time with 1 thread, "
                         "for a machine that other programs keep busy (figures are per core)")
    ap.add_argument("--peak-size", type=int_in(16, 8192, "--peak-size"), action="append",
                    help="matrix size(s) for the matmul peak (default 1024, 2048, 3072)")
    args = ap.parse_args(argv)
    try:
        device = pick_device(args.device)
    except ValueError as exc:
        raise ProjectError(f"cannot benchmark on {args.device!r}: {exc}") from None
    CLOCK["name"] = args.clock
    if args.clock == "cpu":
        if device.type != "cpu":
            ap.error("--clock cpu measures the CPU only")
        args.threads = 1          # CPU time of several threads would count their spin-waits
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    dtypes = args.dtype or (["fp32", "bf16"] if device.type == "cuda" or cpu_fast_bf16() else ["fp32"])
    for d in dtypes:        # an explicit bf16 on a CPU that cannot run it: one line, not a crawl
        try:
            pick_dtype(device, d)
        except ValueError as exc:
            raise ProjectError(f"cannot benchmark {d} on {device}: {exc}") from None
    presets = args.preset or ["tiny", "small", "paper"]
    log = (lambda s: print(s, file=sys.stderr, flush=True))
    log(f"opdm-studio bench: presets {', '.join(presets)}; dtypes {', '.join(dtypes)}; device {device}")
    sizes = tuple(args.peak_size or (1024, 2048, 3072))
    peaks = {d: matmul_peak(DTYPE_NAMES[d], device, sizes=sizes) for d in dtypes}
    results = []
    for name in presets:
        results.append(bench_preset(name, device, dtypes, args.size, args.steps, args.repeats, peaks, log))
        # Re-measure the peak after each preset and keep the best: load from other programs only
        # ever lowers it, so the maximum is the closest to the machine's real peak.
        for d in dtypes:
            peaks[d] = max(peaks[d], matmul_peak(DTYPE_NAMES[d], device, repeats=3, sizes=sizes))
    for p in results:                       # fractions against the final (best) peak
        for r in p["results"]:
            peak = peaks[r["dtype"]]
            r["peak_tflops"] = peak / 1e12
            r["peak_fraction"] = r["tflops"] * 1e12 / peak if peak else None
    m_info = machine_info()
    report = {
        "date": _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "clock": args.clock, "load_average": _loadavg(),
        "machine": m_info, "device": str(device), "size": args.size, "steps": args.steps,
        "repeats": args.repeats, "peak_flops": peaks, "presets": results,
        "checks": check_targets(results) if args.size == 224 and args.steps == 10 else {},
    }
    print(json.dumps(report, indent=2) if args.json else format_table(report))
    return 0
