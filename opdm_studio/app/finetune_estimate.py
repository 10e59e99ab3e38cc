"""The fine-tune wizard's time estimates: a short timing of real training steps on this machine
(``training.estimate``), in a background thread, for the chosen start model and for the
from-scratch presets, and the texts the settings page shows."""
from __future__ import annotations

import logging
import threading
from typing import Any

from PySide6.QtCore import QT_TRANSLATE_NOOP, QObject, Signal, SignalInstance

from opdm_studio.app.i18n import translate
from training.config import TrainConfig
from training.estimate import PAPER_STEPS, StepTiming, measure_step_seconds

log = logging.getLogger("opdm_studio.app.finetune_estimate")

#: The presets a new model can start from (stage 1 + stage 2 from random weights).
PRESETS = ("small", "tiny")


class StepTimer(QObject):
    """Measures seconds per training step in a daemon thread; answers by signals.

    A new :meth:`request` drops what was queued before; measurements run one at a time (two at
    once would slow each other down and both would be wrong). Give it no Qt parent: its thread
    holds it until the measurement in progress ends, even after the page is gone.
    """

    measured = Signal(str, object)     # key, StepTiming
    failed = Signal(str, str)          # key, message

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []

    def request(self, jobs: list[tuple[str, TrainConfig, int]]) -> None:
        """Measure ``(key, config, timed steps)`` in order, after one warm-up step each."""
        self._stop.set()
        self._stop = threading.Event()
        t = threading.Thread(target=self._run, args=(jobs, self._stop), daemon=True, name="step-timer")
        self._threads = [x for x in self._threads if x.is_alive()] + [t]
        t.start()

    def cancel(self) -> None:
        """Stop measuring at the next step (does not wait)."""
        self._stop.set()

    def wait(self, timeout: float | None = None) -> None:
        """Wait for the measuring threads to end (tests, app exit)."""
        for t in self._threads:
            t.join(timeout)

    def _run(self, jobs: list[tuple[str, TrainConfig, int]], stop: threading.Event) -> None:
        with self._lock:
            for key, cfg, steps in jobs:
                if stop.is_set():
                    return
                try:
                    timing = measure_step_seconds(cfg, steps=steps, stop=stop)
                except InterruptedError:
                    return
                except Exception as exc:   # shown on the page, never fatal
                    log.warning("timing %s failed: %s", key, exc)
                    self._emit(self.failed, key, str(exc), stop)
                    continue
                self._emit(self.measured, key, timing, stop)

    @staticmethod
    def _emit(signal: SignalInstance, key: str, value: object, stop: threading.Event) -> None:
        if stop.is_set():
            return
        try:
            signal.emit(key, value)
        except RuntimeError:          # the page was closed meanwhile
            pass


def duration_text(seconds: float) -> str:
    """A duration a person reads at a glance: 40 s, 12 min, 3.5 h, 9 days."""
    if seconds < 90:
        return translate("finetune_estimate", "{n} s").format(n=f"{seconds:.0f}")
    if seconds < 90 * 60:
        return translate("finetune_estimate", "{n} min").format(n=f"{seconds / 60:.0f}")
    if seconds < 48 * 3600:
        return translate("finetune_estimate", "{n} h").format(n=f"{seconds / 3600:.1f}")
    return translate("finetune_estimate", "{n} days").format(n=f"{seconds / 86400:.0f}")


#: What each training objective teaches, in words (not its code name).
OBJECTIVE_TEXT: dict[str, Any] = {"align": QT_TRANSLATE_NOOP("finetune_estimate", "learning to follow the drawings' motion"),
                  "paper": QT_TRANSLATE_NOOP("finetune_estimate", "learning to colour from the keys"),
                  "refine": QT_TRANSLATE_NOOP("finetune_estimate", "learning to correct the flow preview's colours")}


def objective_text(objective: str) -> str:
    """A training objective in the interface language, in a colourist's words."""
    return translate("finetune_estimate", OBJECTIVE_TEXT[objective]) if objective in OBJECTIVE_TEXT else objective


def expected_text(t: StepTiming, minutes: float) -> str:
    """What a budget gives at the measured speed, for the settings page."""
    crop = (translate("finetune_estimate", "{crop} px crops of the {size} px working size").format(
        crop=t.crop, size=t.size) if t.crop < t.size else f"{t.size} px")
    return translate("finetune_estimate", "Measured on this machine: {seconds} s per training step ({objective}, "
                                          "batch {batch}, {crop}, {device}), so about <b>{steps} steps</b> in "
                                          "{minutes} min. Another program using the processor makes it "
                                          "fewer.").format(
        seconds=f"{t.seconds:.1f}", objective=objective_text(t.objective), batch=t.batch, crop=crop, device=t.device,
        steps=t.steps_in(minutes), minutes=f"{minutes:g}")


def preset_label(preset: str, t: StepTiming | None = None, failed: str = "") -> str:
    """The start-model list's entry of a from-scratch preset, with its time here once measured."""
    head = translate("finetune_estimate", "New {preset} model from scratch (stage 1 + stage 2)").format(
        preset=preset)
    if failed:
        return translate("finetune_estimate", "{head}: its speed could not be measured ({reason})").format(
            head=head, reason=failed)
    if t is None:
        return translate("finetune_estimate", "{head}: measuring its speed on this machine...").format(head=head)
    return translate("finetune_estimate", "{head}: {seconds} s per step here; the paper's {steps} steps would "
                                          "take about {duration}").format(
        head=head, seconds=f"{t.seconds:.0f}", steps=f"{PAPER_STEPS:,}",
        duration=duration_text(t.seconds * PAPER_STEPS))
