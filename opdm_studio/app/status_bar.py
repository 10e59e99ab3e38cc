"""The main window's status bar: message, picked colour, job progress, colouring method; and
the sentences it says about the cut, a frame's result and the colouring network."""
from __future__ import annotations

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QLabel, QProgressBar, QStatusBar

from opdm_studio.app.i18n import translate
from opdm_studio.app.worker import Progress
from opdm_studio.engine.network import NetworkStatus


def format_eta(seconds: float | None) -> str:
    """"ETA 1:05" / "ETA 42 s" ("" while unknown)."""
    if seconds is None:
        return ""
    seconds = int(round(seconds))
    if seconds >= 60:
        return translate("status_bar", "ETA {time}").format(time=f"{seconds // 60}:{seconds % 60:02d}")
    return translate("status_bar", "ETA {seconds} s").format(seconds=seconds)


def sampling_text(network: NetworkStatus) -> str:
    """What the model runs, in a few words: "10 steps", "refines the flow preview · 1 step · adapts
    to each key interval"."""
    steps = (translate("status_bar", "1 step") if network.steps == 1 else
             translate("status_bar", "{n} steps").format(n=network.steps))
    if not network.refines:
        return steps
    text = translate("status_bar", "refines the flow preview · {steps}").format(steps=steps)
    if network.adapts:
        text += " · " + translate("status_bar", "adapts to each key interval")
    return text


def network_text(network: NetworkStatus) -> str:
    """The network's status in a sentence (status bar tooltip, settings dialog, about box)."""
    if network.usable:
        return translate("status_bar", "Model: {name} ({sampling})").format(
            name=network.model, sampling=sampling_text(network))
    if network.problem == "missing":
        return translate("status_bar", "No OPDM model is installed: colouring uses the fast flow preview. To "
                                       "get one: fine-tune one on your finished cuts (Tools > Fine-tune "
                                       "wizard), or choose a checkpoint file in Tools > Settings.")
    return translate("status_bar", "The chosen model cannot be used ({reason}); colouring uses the flow "
                                   "preview.").format(reason=network.problem)


def cut_summary(doc) -> str:
    """One line about the open cut: frames, keyframes, coloured frames, project folder, warnings."""
    done = sum(1 for i in range(doc.n_frames) if doc.has_result(i))
    text = translate("status_bar", "{cut}: {frames} frames, {keys} keyframes, {done} coloured. Project: "
                                   "{project}.").format(cut=doc.name, frames=doc.n_frames,
                                                        keys=len(doc.keys()), done=done,
                                                        project=doc.project.root)
    if doc.cut.warnings:   # the cut reader's warnings (English, like the engine's messages)
        text += " " + translate("status_bar", "Warnings: {list}").format(list="; ".join(doc.cut.warnings))
    return text


def result_summary(doc, i: int) -> str:
    """What the status line says about frame ``i``'s result: confidence, regions to review, out
    of date ("" for a keyframe or a frame without a result)."""
    info = doc.result_info(i)
    if info is None or info.status == "keyframe":
        return ""
    text = ""
    if info.confidence is not None:
        text += " · " + translate("status_bar", "confidence {value}").format(value=f"{info.confidence:.2f}")
    if info.flagged:
        text += " · " + translate("status_bar", "{n} region(s) to review").format(n=info.flagged)
    if doc.is_outdated(i):
        text += " · " + translate("status_bar", "out of date: other keys or settings, Colorize redoes it")
    return text


class StatusBar:
    """The widgets of the window's status bar and what they show (adds them to ``bar``)."""

    def __init__(self, bar: QStatusBar) -> None:
        self.message = QLabel("")
        self.swatch = QLabel("")
        self.swatch.setMinimumWidth(0)
        self.method_label = QLabel("")
        self.method_label.setStyleSheet("color: #c0c4c9; padding: 0 6px;")
        self.progress = QProgressBar()
        self.progress.setMaximumWidth(240)
        self.progress.setRange(0, 1000)
        self.progress.setVisible(False)
        self.eta = QLabel("")
        bar.addWidget(self.message, 1)
        bar.addPermanentWidget(self.swatch)
        bar.addPermanentWidget(self.progress)
        bar.addPermanentWidget(self.eta)
        bar.addPermanentWidget(self.method_label)

    def say(self, text: str, timeout_ms: int = 0) -> None:
        """Show ``text`` (cleared after ``timeout_ms`` unless replaced meanwhile)."""
        self.message.setText(text)
        if timeout_ms:
            # The label is the timer's context: the call is dropped if the window is gone by then.
            def clear() -> None:
                if self.message.text() == text:
                    self.message.setText("")
            QTimer.singleShot(timeout_ms, self.message, clear)

    def show_swatch(self, rgb: tuple[int, int, int], name: str = "") -> str:
        """Show a colour as a chip (the current swatch, or a picked colour), with the swatch's
        name when it is one; returns its hex code."""
        r, g, b = rgb
        hexc = f"#{r:02x}{g:02x}{b:02x}"
        self.swatch.setText(f"  {name}  {hexc}  " if name else f"  {hexc}  ")
        fg = "#000" if (r * 299 + g * 587 + b * 114) / 1000 > 128 else "#fff"
        self.swatch.setStyleSheet(f"background: {hexc}; color: {fg}; border: 1px solid #555;")
        return hexc

    def clear_swatch(self) -> None:
        """No chip (no cut open, or its palette has no swatch)."""
        self.swatch.setText("")
        self.swatch.setStyleSheet("")

    def show_method(self, method: str, network: NetworkStatus) -> None:
        """Say which method colouring uses now (and why not OPDM, if so)."""
        if method == "model":
            text = f"OPDM · {sampling_text(network)}"
        elif not network.usable:
            # Say it where the user looks while colouring, not only once at start-up.
            text = translate("StatusBar", "Flow preview · no OPDM model installed (see Tools > Settings)")
        else:
            text = translate("StatusBar", "Flow preview")
        self.method_label.setText(text)
        self.method_label.setToolTip(network_text(network))

    def job_started(self) -> None:
        """A background job starts: show an empty progress bar."""
        self.progress.setValue(0)
        self.progress.setVisible(True)
        self.eta.setText(translate("StatusBar", "starting..."))

    def job_progress(self, p: Progress) -> None:
        """Show a job's throttled progress (bar, frames, ETA, message)."""
        self.progress.setValue(int(p.fraction * 1000))
        self.progress.setFormat(f"{p.done}/{p.total}")
        self.eta.setText(format_eta(p.eta_s))
        if p.message:
            self.say(p.message)

    def job_ended(self) -> None:
        """The job is over: hide the progress bar."""
        self.progress.setVisible(False)
        self.eta.setText("")
