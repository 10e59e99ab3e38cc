"""`python -m training align|train|refine|export|check|bench ...` (also `opdm-studio train ...`)."""
from __future__ import annotations

import importlib
import sys

from opdm_studio.errors import OPDMError

COMMANDS = {
    "check": ("training.check", "check a folder of finished cuts and show what training would use"),
    "align": ("training.commands:align_main", "stage 1: train the offset estimators, then freeze them"),
    "train": ("training.commands:train_main",
              "train or fine-tune (--init MODEL) on the objective the model runs; --minutes N budget"),
    "refine": ("training.refine", "the default model's recipe: OPDM refining flow propagation, synthetic data"),
    "export": ("training.export", "write an fp16 inference checkpoint the app loads (keeps the inference spec)"),
    "bench": ("training.bench", "measure training steps per second (small and paper presets)"),
}

USAGE = "usage: python -m training COMMAND [ARGS...]\n\ncommands:\n" + "\n".join(
    f"  {k:<8} {h}" for k, (_, h) in COMMANDS.items()) + "\n\n`COMMAND --help` shows its options."


def main(argv: list[str] | None = None) -> int:
    """Dispatch to the subcommand's ``main(argv)``; user errors print one line and return 2."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in ("-h", "--help"):
        print(USAGE)
        return 0
    if not argv or argv[0] not in COMMANDS:
        what = f"unknown command {argv[0]!r}" if argv else "no command given"
        print(f"training: error: {what}; the commands are {', '.join(COMMANDS)} (see "
              "`python -m training --help`)", file=sys.stderr)
        return 2
    module, _, attr = COMMANDS[argv[0]][0].partition(":")
    fn = getattr(importlib.import_module(module), attr or "main")
    try:
        return int(fn(argv[1:]) or 0)
    except OPDMError as exc:
        print(f"training {argv[0]}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"training {argv[0]}: stopped by the user", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
