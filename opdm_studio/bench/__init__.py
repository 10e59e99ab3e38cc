"""`opdm-studio bench`: speed figures for the network, imaging, a whole cut and the GUI.

Flags pick the part: none (or ``--preset``) benches the network (core_bench), ``--imaging`` the
region finding + snapping, ``--cut`` colouring a synthetic 1080p cut end to end, ``--fixes`` the clicks a
colourist needs to fix a coloured cut with and without carrying fixes, ``--gui`` the
application's start-up time and event-loop latency. ``--json`` prints machine-readable output.
"""
from __future__ import annotations

import importlib
import platform

PARTS = {
    "--imaging": "opdm_studio.bench.imaging_bench",
    "--cut": "opdm_studio.bench.cut_bench",
    "--fixes": "opdm_studio.bench.fixes_bench",
    "--gui": "opdm_studio.app.gui_bench",  # Qt code lives in app
}


PARTS_HELP = """parts (each has its own --help):
  (none)     the network: seconds per step and per frame, share of the matmul peak
  --imaging  region finding + palette snapping on a 1080p frame (--real: on real frames)
  --cut      a synthetic 1080p cut end to end (--long: 600 frames, memory)
  --fixes    clicks a colourist needs to fix coloured synthetic cuts, with and without
             carrying fixes to the neighbouring frames
  --gui      start-up time and event-loop stalls of the window
"""


def cpu_name() -> str:
    """The CPU's model name (from /proc/cpuinfo on Linux): every benchmark figure is quoted with it."""
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def main(argv: list[str]) -> int:
    """Dispatch to the benchmark module selected by its flag (network by default)."""
    if {"-h", "--help"} & set(argv) and not any(flag in argv for flag in PARTS):
        print(PARTS_HELP)
    for flag, module in PARTS.items():
        if flag in argv:
            rest = [a for a in argv if a != flag]
            return int(importlib.import_module(module).main(rest) or 0)
    return int(importlib.import_module("opdm_studio.bench.core_bench").main(argv) or 0)
