"""Entry point of the built (frozen) app: the `opdm-studio` command line, and a few Python switches.

``opdm-studio [COMMAND] ...`` is the same command line as the installed ``opdm-studio``;
the GUI opens without arguments. Also understood, because the app runs itself through
``sys.executable`` (the GUI benchmark, torch's data-loader workers) and there is no Python:

- ``opdm-studio -m MODULE [ARGS]`` and ``opdm-studio -c CODE [ARGS]`` as with ``python``;
- ``opdm-studio --smoke-test DIR [...]``: the GUI check of ``packaging/opdm_smoke.py``
  (open the sample cut, colour a range with the flow method, save a screenshot).

On Windows the windowed executable ``OPDM Studio.exe`` always opens the GUI.
"""
from __future__ import annotations

import multiprocessing
import runpy
import sys
from pathlib import Path

GUI_EXECUTABLE = "opdm studio"   # the windowed executable's name (Windows), lower case


def main() -> int:
    """Dispatch the process's arguments; returns the exit status."""
    multiprocessing.freeze_support()   # spawned workers re-run this executable
    argv = sys.argv[1:]
    if len(argv) >= 2 and argv[0] == "-m":
        sys.argv = [argv[1], *argv[2:]]
        runpy.run_module(argv[1], run_name="__main__", alter_sys=True)
        return 0
    if len(argv) >= 2 and argv[0] == "-c":
        sys.argv = ["-c", *argv[2:]]
        exec(compile(argv[1], "<string>", "exec"), {"__name__": "__main__"})  # noqa: S102 - as python -c
        return 0
    if argv[:1] == ["--smoke-test"]:
        import opdm_smoke
        return opdm_smoke.main(argv[1:])
    from opdm_studio.cli import gui_main
    from opdm_studio.cli import main as cli_main
    if Path(sys.executable).stem.lower() == GUI_EXECUTABLE:
        return gui_main()
    return cli_main(argv)


if __name__ == "__main__":
    sys.exit(main())
