"""What the colouring network can do now: the chosen model's status, and its preloading.

No Qt here: the app's window says a :class:`NetworkStatus` in words (``status_bar.network_text``,
in the interface language) in its status bar and settings dialog.
"""
from __future__ import annotations

import logging
import sys
import threading
from dataclasses import dataclass

from opdm_studio.errors import ModelNotInstalledError, OPDMError

log = logging.getLogger("opdm_studio.engine.network")


def model_path_choice(choice: str) -> str | None:
    """The engine's model argument for a settings choice: None for "default", else the path."""
    return None if choice == "default" else choice


@dataclass(frozen=True)
class NetworkStatus:
    """Whether the chosen OPDM model can colour, and what it runs."""

    usable: bool            # False: colouring falls back to the flow preview
    model: str = ""         # the model file's name
    problem: str = ""       # why it cannot colour: "missing" (none installed), else the engine's reason
    steps: int = 0          # the sampling steps it runs
    refines: bool = False   # a refine-mode model (it refines the flow preview, in its own steps)
    adapts: bool = False    # it adapts a copy of itself to each key interval's keys first


def network_status(model: str, steps: int) -> NetworkStatus:
    """The status of the model chosen in the settings (``"default"`` or a checkpoint path)."""
    from opdm_studio.engine.models import inference_spec_of_file, resolve_model
    try:
        path = resolve_model(model_path_choice(model))
    except ModelNotInstalledError:
        return NetworkStatus(False, problem="missing")
    except OPDMError as exc:
        return NetworkStatus(False, problem=str(exc))
    # A refine model runs the steps of its spec, not the setting.
    spec = inference_spec_of_file(path)
    if spec is not None and spec.pipeline == "refine":
        return NetworkStatus(True, path.name, steps=spec.steps or 1, refines=True,
                             adapts=spec.adapt_per_frame > 0)
    return NetworkStatus(True, path.name, steps=(spec.steps if spec is not None else None) or steps)


def preload_model(choice: str) -> None:
    """Import torch and load the chosen model into the engine's cache (a background thread)."""
    try:
        import opdm_studio.core.diffusion  # noqa: F401  (imports torch)
        import opdm_studio.core.model  # noqa: F401
        from opdm_studio.engine.models import load_model, resolve_model
        load_model(resolve_model(model_path_choice(choice)))
    except Exception:  # the first colouring reports the real problem in a dialog
        log.exception("preloading the model failed")


class ModelPreloader:
    """Imports torch and loads the chosen model in a background thread, once.

    Both take seconds and hold Python's GIL in parts: done while the user looks at the cut, not
    in the worker at the first Ctrl+Enter (which froze the window for 0.2-0.4 s in the GUI
    benchmark).
    """

    def __init__(self, wanted: bool) -> None:
        self.pending = wanted and "torch" not in sys.modules   # planned, not started yet
        self._thread: threading.Thread | None = None

    def start(self, choice: str) -> None:
        """Start loading the model ``choice`` (no-op if torch is already there or it started)."""
        self.pending = False
        if "torch" in sys.modules or self._thread is not None:
            return
        self._thread = threading.Thread(target=preload_model, args=(choice,),
                                        name="opdm-preload", daemon=True)
        self._thread.start()

    def done(self) -> bool:
        """True once the planned preload (if any) has finished."""
        if self.pending:
            return False
        return self._thread is None or not self._thread.is_alive()
