"""The `opdm-studio` command: gui (default), colorize, export, evaluate, bench, train.

Each subcommand lives in the module that owns the work and exposes ``main(argv) -> int``;
this file only dispatches, so ``opdm-studio --help`` stays fast and the layers stay apart.
User errors (:class:`opdm_studio.errors.OPDMError`) print one line and exit with status 2;
Ctrl-C exits with 130 after the command has cleaned up. ``opdm-studio`` alone, or followed by a
folder, opens the GUI; any other word is an unknown command (the British spellings
``colourise`` / ``colorise`` / ``colourize`` name ``colorize``). The GUI needs a display: without
one (no ``DISPLAY`` / ``WAYLAND_DISPLAY`` on Linux) it says so in one line instead of letting Qt
abort.
"""
from __future__ import annotations

import importlib
import os
import sys

from opdm_studio import __version__
from opdm_studio.errors import OPDMError

# name -> (module, help line)
COMMANDS: dict[str, tuple[str, str]] = {
    "gui": ("opdm_studio.app.launch", "open the desktop application (default)"),
    "colorize": ("opdm_studio.engine.commands:colorize_main", "colour a cut between keyframes"),
    "export": ("opdm_studio.engine.commands:export_main", "re-export the stored results of a project"),
    "evaluate": ("opdm_studio.engine.evaluate_cmd", "run the evaluation protocol on clip folders"),
    "bench": ("opdm_studio.bench", "measure the network, imaging, cut colouring, GUI; clicks to fix a cut (--fixes)"),
    "train": ("training.__main__", "train or fine-tune a model (same as python -m training)"),
}

# Other spellings of a command's name.
ALIASES: dict[str, str] = {"colourise": "colorize", "colorise": "colorize",
                           "colourize": "colorize"}

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
    first = ALIASES.get(argv[0], argv[0]) if argv else None
    if first is None or (first not in COMMANDS and _opens_in_gui(first)):
        # `opdm-studio` and `opdm-studio path/to/cut` open the GUI.
        command, rest = "gui", argv
    elif first not in COMMANDS:
        print(f"opdm-studio: error: unknown command {argv[0]!r}; the commands are "
              f"{', '.join(COMMANDS)} (see `opdm-studio --help`)", file=sys.stderr)
        return 2
    else:
        command, rest = first, argv[1:]
    try:
        if command == "gui" and not {"-h", "--help"} & set(rest):
            _check_display()
        return int(_load(COMMANDS[command][0])(rest) or 0)
    except OPDMError as exc:
        print(f"opdm-studio {command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"opdm-studio {command}: stopped by the user", file=sys.stderr)
        return 130


def _opens_in_gui(arg: str) -> bool:
    """True for what the GUI takes as its first argument: an option or an existing path."""
    return arg.startswith("-") or os.path.exists(arg) or os.sep in arg or "/" in arg


def _check_display() -> None:
    """Raise a one-line user error when the GUI cannot open a window (Qt would abort)."""
    platform = os.environ.get("QT_QPA_PLATFORM", "")
    if not sys.platform.startswith("linux") or platform.split(":")[0] in (
            "offscreen", "minimal", "vnc", "eglfs", "linuxfb", "vkkhrdisplay"):
        return
    if os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"):
        return
    raise OPDMError("no display to open the window on (DISPLAY is not set): use the command "
                    "line (`opdm-studio colorize --help`), or start the app in a desktop session "
                    "or under xvfb-run")


def gui_main() -> int:
    """Entry point of the GUI script (no console on Windows)."""
    return main(["gui", *sys.argv[1:]])


if __name__ == "__main__":
    sys.exit(main())
