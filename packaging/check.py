"""Check a built app folder: `python packaging/check.py [dist/opdm-studio]` (any Python 3.11+).

Runs the built executable as a user would, each time in a private home folder, and fails
(exit status 1) on the first thing that does not work:

1. ``opdm-studio --version``;
2. start time: ``opdm-studio gui --bench-ready`` (first start, the sample cut opens) ``--runs``
   times, seconds from process start to a shown, responsive window;
3. ``opdm-studio colorize SAMPLE --method flow`` on the first range of the bundled sample cut
   (between its first two keyframes), and ``--method opdm`` with the shipped model on two frames
   (skip with ``--no-model``);
4. ``opdm-studio --smoke-test``: the main window opens the sample cut, colours that range with the
   flow method and saves a screenshot.

Offscreen on Linux unless a display is set (then the windows are real: run it under ``xvfb-run``
to look at them). Writes ``OUT/check.json`` (default OUT: ``build/packaging/check``) and prints it.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
APP = "opdm-studio"


class CheckFailed(Exception):
    """One step of the check did not work."""


def executable(folder: Path) -> Path:
    """The console executable inside a built folder (or a macOS .app bundle)."""
    names = [APP + ".exe", APP] if os.name == "nt" else [APP, "Contents/MacOS/" + APP]
    for name in names:
        if (folder / name).is_file():
            return folder / name
    raise CheckFailed(f"no {APP} executable in {folder}")


def sample_cut(folder: Path) -> Path:
    """The bundled sample cut inside a built folder."""
    for p in folder.rglob("sample_cut"):
        if p.is_dir() and p.parent.name == "resources" and (p / "lineart").is_dir():
            return p
    raise CheckFailed(f"no sample cut in {folder}")


def _env(home: Path) -> dict[str, str]:
    env = dict(os.environ, OPDM_STUDIO_HOME=str(home))
    if sys.platform.startswith("linux") and not (env.get("DISPLAY") or env.get("WAYLAND_DISPLAY")):
        env["QT_QPA_PLATFORM"] = "offscreen"
    return env


def run(cmd: list[str | Path], home: Path, timeout: float) -> tuple[str, float]:
    """Run one command of the built app; its output and seconds, or CheckFailed."""
    t0 = time.perf_counter()
    try:
        proc = subprocess.run([str(c) for c in cmd], env=_env(home), capture_output=True, text=True,
                              timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        raise CheckFailed(f"{Path(str(cmd[0])).name} {' '.join(map(str, cmd[1:]))}: no result after "
                          f"{timeout:.0f} s") from exc
    seconds = time.perf_counter() - t0
    if proc.returncode != 0:
        raise CheckFailed(f"{' '.join(map(str, cmd[1:]))}: exit {proc.returncode}\n"
                          f"{(proc.stdout + proc.stderr)[-3000:]}")
    return proc.stdout + proc.stderr, seconds


def start_seconds(exe: Path, home: Path) -> float:
    """Seconds from process start to the marker the window prints once it is shown and responsive."""
    t0 = time.perf_counter()
    proc = subprocess.Popen([str(exe), "gui", "--bench-ready"], env=_env(home), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    ready = None
    for line in proc.stdout:
        if line.startswith("OPDM-READY"):
            ready = time.perf_counter() - t0
            break
    try:
        _, err = proc.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate()
    if ready is None:
        raise CheckFailed(f"the window did not start (exit {proc.returncode}): {err[-3000:]}")
    return ready


def check(folder: Path, out: Path, runs: int, model: bool) -> dict:
    """Run every step; the report (raises CheckFailed at the first failure)."""
    exe = executable(folder)
    sample = sample_cut(folder)
    keys = sorted(int(p.stem) for p in (sample / "color").glob("*.png"))
    lo, hi = keys[0], keys[1]
    report: dict = {"folder": str(folder), "executable": str(exe)}

    text, _ = run([exe, "--version"], out / "home-version", 120)
    report["version"] = text.strip()

    starts = [start_seconds(exe, out / f"home-start{i}") for i in range(runs)]
    report["start_s"] = {"runs": [round(s, 2) for s in starts], "first": round(starts[0], 2),
                         "median": round(statistics.median(starts), 2)}

    flow_out = out / "colorize-flow"
    _, seconds = run([exe, "colorize", sample, "--keys", f"{lo},{hi}", "--frames", f"{lo}-{hi}",
                      "--method", "flow", "--out", flow_out, "--overwrite", "--force", "-q"],
                     out / "home-flow", 600)
    made = sorted(flow_out.glob("*.png"))   # one composite per frame, keyframes included
    if len(made) != hi - lo + 1:
        raise CheckFailed(f"colorize --method flow wrote {len(made)} frames, not {hi - lo + 1}")
    report["colorize_flow"] = {"frames": [lo, hi], "files": len(made), "seconds": round(seconds, 1)}

    if model:
        model_out = out / "colorize-opdm"
        mid = (lo + hi) // 2
        _, seconds = run([exe, "colorize", sample, "--keys", f"{lo},{hi}", "--frames", f"{mid}-{mid + 1}",
                          "--method", "opdm", "--device", "cpu", "--out", model_out, "--psd",
                          "--overwrite", "--force", "-q"], out / "home-opdm", 600)
        psds = sorted(model_out.glob("*.psd"))
        if len(psds) != 2:
            raise CheckFailed(f"colorize --method opdm --psd wrote {len(psds)} PSD files, not 2")
        report["colorize_opdm"] = {"frames": [mid, mid + 1], "psd_files": len(psds), "seconds": round(seconds, 1)}

    text, seconds = run([exe, "--smoke-test", out / "gui", "--frames", f"{lo}-{hi}"], out / "home-gui", 900)
    smoke = json.loads((out / "gui" / "smoke.json").read_text(encoding="utf-8"))
    if not smoke.get("ok") or not smoke.get("frozen"):
        raise CheckFailed(f"GUI smoke test: {smoke}")
    report["gui_smoke"] = smoke
    return report


def main(argv: list[str] | None = None) -> int:
    """Check the folder; 0 when every step worked."""
    parser = argparse.ArgumentParser(prog="python packaging/check.py", description=__doc__.split("\n")[0])
    parser.add_argument("folder", nargs="?", type=Path, default=ROOT / "dist" / APP,
                        help="built app folder (default dist/opdm-studio)")
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "packaging" / "check",
                        help="folder for outputs and private homes (default build/packaging/check)")
    parser.add_argument("--runs", type=int, default=3, help="start-time runs (default 3)")
    parser.add_argument("--no-model", action="store_true", help="skip colouring with the shipped model")
    args = parser.parse_args(argv)
    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    try:
        report = check(args.folder.resolve(), out, max(1, args.runs), not args.no_model)
    except CheckFailed as exc:
        print(f"check failed: {exc}", file=sys.stderr)
        return 1
    report["check_seconds"] = round(time.perf_counter() - t0, 1)
    (out / "check.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(report, indent=2))
    print(f"check passed: {report['folder']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
