"""The `opdm-studio` command: gui (default), colorize, export, evaluate, bench, train.

Each subcommand lives in the module that owns the work and exposes ``main(argv) -> int``;
this file only dispatches, so ``opdm-studio --help`` stays fast and the layers stay apart.
User errors (:class:`opdm_studio.errors.OPDMError`) print one line and exit with status 2;
Ctrl-C exits with 130 after the command has cleaned up.
"""
from __future__ import annotations

import importlib
import sys

from opdm_studio import __version__
from opdm_studio.errors import OPDMError

# name -> (module, help line)
COMMANDS: dict[str, tuple[str, str]] = {
    "gui": ("opdm_studio.app.launch", "open the desktop application (default)"),
    "colorize": ("opdm_studio.engine.commands:colorize_main", "colour a cut between keyframes"),
    "export": ("opdm_studio.engine.commands:export_main", "re-export the stored results of a project"),
    "evaluate": ("opdm_studio.engine.evaluate_cmd", "run the evaluation protocol on clip folders"),
    "bench": ("opdm_studio.bench", "measure speed of the network, imaging, cut colouring, GUI"),
    "train": ("training.__main__", "train or fine-tune a model (same as python -m training)"),
}

USAGE = "usage: opdm-studio [COMMAND] [ARGS...]\n\ncommands:\n" + "\n".join(
    f"  {name:<10} {help_}" for name, (_, help_) in COMMANDS.items()
) + "\n\n`opdm-studio COMMAND --help` shows a command's options."


def _load(target: str):
    module, _, attr = target.partition(":")
    return getattr(importlib.import_module(module), attr or "main")


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in ("-h", "--help"):
        print(USAGE)
        return 0
    if argv and argv[0] == "--version":
        print(f"opdm-studio {__version__}")
        return 0
    if not argv or argv[0] not in COMMANDS:
        # `opdm-studio` and `opdm-studio path/to/cut` open the GUI.
        command, rest = "gui", argv
    else:
        command, rest = argv[0], argv[1:]
    try:
        return int(_load(COMMANDS[command][0])(rest) or 0)
    except OPDMError as exc:
        print(f"opdm-studio {command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"opdm-studio {command}: stopped by the user", file=sys.stderr)
        return 130


def gui_main() -> int:
    """Entry point of the GUI script (no console on Windows)."""
    return main(["gui", *sys.argv[1:]])


if __name__ == "__main__":
    sys.exit(main())
