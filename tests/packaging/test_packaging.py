"""The packaging recipe (packaging/): its GUI smoke check from source, and the built app when present.

The built-app test runs ``packaging/check.py`` on ``dist/opdm-studio`` (or ``OPDM_FROZEN_APP``)
and is skipped when no app has been built: building takes minutes (``python packaging/build.py``).
"""
from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGING = ROOT / "packaging"
BUILT = Path(os.environ.get("OPDM_FROZEN_APP", ROOT / "dist" / "opdm-studio"))


def _load(name: str):
    spec = importlib.util.spec_from_file_location(f"opdm_packaging_{name}", PACKAGING / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_recipe_files_are_there():
    for name in ("build.py", "opdm-studio.spec", "entry.py", "opdm_smoke.py", "check.py"):
        assert (PACKAGING / name).is_file(), name
    spec = (PACKAGING / "opdm-studio.spec").read_text(encoding="utf-8")
    assert "opdm_studio.resources" in spec and "opdm_smoke" in spec


def test_gui_smoke_check_runs_from_source(tmp_path):
    """The smoke module the built app carries works with today's window (a few flow frames)."""
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    proc = subprocess.run([sys.executable, str(PACKAGING / "opdm_smoke.py"), str(tmp_path), "--frames", "0-2",
                           "--timeout", "240"], env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = json.loads((tmp_path / "smoke.json").read_text(encoding="utf-8"))
    assert report["ok"] and report["method"] == "flow" and report["coloured"] == 3
    assert (tmp_path / "screenshot.png").stat().st_size > 10_000


def test_entry_dispatches_like_python(monkeypatch, capsys):
    """`opdm-studio -c CODE` and `-m MODULE` run as with python (the app re-runs itself that way)."""
    entry = _load("entry")
    monkeypatch.setattr(sys, "argv", ["opdm-studio", "-c", "import sys; print('args', sys.argv[1:])", "x"])
    assert entry.main() == 0
    assert "args ['x']" in capsys.readouterr().out
    monkeypatch.setattr(sys, "argv", ["opdm-studio", "--version"])
    assert entry.main() == 0
    assert "opdm-studio" in capsys.readouterr().out


@pytest.mark.skipif(not BUILT.is_dir(), reason=f"no built app at {BUILT} (python packaging/build.py)")
def test_built_app_passes_the_check(tmp_path):
    """The built app: --version, start, colorize (flow and the shipped model), GUI smoke test."""
    check = _load("check")
    assert check.main([str(BUILT), "--out", str(tmp_path), "--runs", "1"]) == 0
    report = json.loads((tmp_path / "check.json").read_text(encoding="utf-8"))
    assert report["gui_smoke"]["frozen"] and report["colorize_flow"]["files"] > 2
