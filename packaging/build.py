"""Build OPDM Studio as a one-folder application for this platform: `python packaging/build.py`.

Makes (or reuses) a build virtual environment, installs the project and PyInstaller into it, runs
PyInstaller on ``packaging/opdm-studio.spec`` and prints the folder's size. The result runs
without Python: ``dist/opdm-studio/opdm-studio`` (``opdm-studio.exe`` on Windows, plus
``OPDM Studio.app`` on macOS). The same command builds on Linux, Windows and macOS (each builds
for its own platform; PyInstaller does not cross-build). Needs Python 3.11+ and the package index
while it builds; the built app needs no network.

Options: ``--torch-index URL`` installs torch from that index first (PyTorch's CPU index keeps a
Linux build small; a CUDA index makes a GPU build), ``--no-excludes`` builds without the
exclusions (to measure what they save), ``--fresh`` makes the build environment anew.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
import venv
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PYINSTALLER = "pyinstaller>=6.10,<7"
APP = "opdm-studio"


def _venv_python(env: Path) -> Path:
    return env / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def _run(cmd: list[str], **kw) -> None:
    print("+", " ".join(str(c) for c in cmd), flush=True)
    subprocess.run([str(c) for c in cmd], check=True, **kw)


def folder_size(path: Path) -> int:
    """Bytes of all files under ``path`` (links not followed)."""
    return sum(p.lstat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def biggest(path: Path, depth: int = 3, n: int = 15) -> list[tuple[int, str]]:
    """The ``n`` biggest folders / files ``depth`` levels below ``path``: (bytes, relative path)."""
    sizes: dict[str, int] = {}
    for p in path.rglob("*"):
        if p.is_file() and not p.is_symlink():
            rel = p.relative_to(path).parts
            key = "/".join(rel[:depth])
            sizes[key] = sizes.get(key, 0) + p.lstat().st_size
    return sorted(((v, k) for k, v in sizes.items()), reverse=True)[:n]


def setup_env(env: Path, torch_index: str | None, fresh: bool) -> Path:
    """The build environment's Python, with torch, the project (not editable) and PyInstaller."""
    if fresh and env.exists():
        shutil.rmtree(env)
    py = _venv_python(env)
    if not py.exists():
        print(f"making the build environment {env}", flush=True)
        venv.EnvBuilder(with_pip=True, clear=True).create(env)
    pip = [py, "-m", "pip", "install", "--disable-pip-version-check"]
    if torch_index:
        _run([*pip, "torch>=2.4,<2.14", "--index-url", torch_index])
    # Not editable: the app's resources are the package `opdm_studio.resources` only when installed.
    _run([*pip, ROOT, PYINSTALLER])
    _run([*pip, "--no-deps", "--force-reinstall", ROOT])   # the current source, even at the same version
    return py


def main(argv: list[str] | None = None) -> int:
    """Build the one-folder app; returns the exit status."""
    parser = argparse.ArgumentParser(prog="python packaging/build.py", description=__doc__.split("\n")[0])
    parser.add_argument("--env", type=Path, default=ROOT / "build" / "packaging" / "venv",
                        help="build environment (default build/packaging/venv; made if missing)")
    parser.add_argument("--dist", type=Path, default=ROOT / "dist", help="output folder (default dist/)")
    parser.add_argument("--torch-index", metavar="URL", help="install torch from this package index first")
    parser.add_argument("--no-excludes", action="store_true", help="keep everything PyInstaller finds")
    parser.add_argument("--fresh", action="store_true", help="make the build environment anew")
    parser.add_argument("--skip-install", action="store_true", help="use the build environment as it is")
    args = parser.parse_args(argv)
    if sys.version_info < (3, 11):  # noqa: UP036 - a user may start it with an older Python
        print("build.py needs Python 3.11 or newer", file=sys.stderr)
        return 2

    t0 = time.perf_counter()
    env = args.env.resolve()
    py = _venv_python(env) if args.skip_install else setup_env(env, args.torch_index, args.fresh)
    work = ROOT / "build" / "packaging" / "work"
    dist = args.dist.resolve()
    environ = dict(os.environ, OPDM_PACKAGING_EXCLUDES="0" if args.no_excludes else "1")
    work.mkdir(parents=True, exist_ok=True)
    # Not from ROOT: its opdm_studio/ (without the resources package) would shadow the installed one.
    _run([py, "-m", "PyInstaller", HERE / "opdm-studio.spec", "--noconfirm",
          "--distpath", dist, "--workpath", work], cwd=work, env=environ)

    folder = dist / APP
    size = folder_size(folder)
    info = {"folder": str(folder), "bytes": size, "excludes": not args.no_excludes,
            "platform": sys.platform, "build_seconds": round(time.perf_counter() - t0, 1)}
    (dist / f"{APP}-build.json").write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
    print(f"\nbuilt {folder}: {size / 2**20:.0f} MiB in {info['build_seconds']:.0f} s; biggest parts:")
    for n, rel in biggest(folder):
        print(f"  {n / 2**20:8.1f} MiB  {rel}")
    exe = folder / (APP + ".exe" if os.name == "nt" else APP)
    print(f"\nrun it: {exe}   check it: python packaging/check.py {folder}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
