"""What the colouring network can do now: the chosen model's status, and its preloading.

No Qt here: the window shows a :class:`NetworkStatus` in its status bar and settings dialog.
"""
from __future__ import annotations

import logging
import sys
import threading
from dataclasses import dataclass

from opdm_studio.errors import ModelNotInstalledError, OPDMError

log = logging.getLogger("opdm_studio.app")


def model_path_choice(choice: str) -> str | None:
    """The engine's model argument for a settings choice: None for "default", else the path."""
    return None if choice == "default" else choice


@dataclass(frozen=True)
class NetworkStatus:
    """Whether the chosen OPDM model can colour, in words, and what it runs."""

    usable: bool        # False: colouring falls back to the flow preview
    text: str           # sentence for the status bar tooltip and the settings dialog
    sampling: str = ""  # what the model runs: "10 steps", or a refine-mode model's own steps


def network_status(model: str, steps: int) -> NetworkStatus:
    """The status of the model chosen in the settings (``"default"`` or a checkpoint path)."""
    from opdm_studio.engine.models import HOW_TO_GET_A_MODEL, resolve_model, sampling_summary
    try:
        path = resolve_model(model_path_choice(model))
    except ModelNotInstalledError:
        return NetworkStatus(False, "No OPDM model is installed: colouring uses the fast flow "
                                    "preview. To get one: " + HOW_TO_GET_A_MODEL + ".")
    except OPDMError as exc:
        return NetworkStatus(False, f"The chosen model cannot be used ({exc}); colouring uses "
                                    "the flow preview.")
    sampling = sampling_summary(path, steps)
    return NetworkStatus(True, f"Model: {path.name} ({sampling})", sampling)


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
