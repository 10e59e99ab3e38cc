"""The palette panel: the cut's colour model (its swatches, taken from the keyframes' paint and
named by the cut's colour model, grouped per character or part with each paint's shadow and
highlight: :mod:`~opdm_studio.app.swatch_tree`), the current swatch of the fill tool, the
tolerance that merges near-identical key colours, and the palette edits (add, rename, recolour,
delete, import / export).

Every edit goes through ``edit(text, change)`` (the window's undoable edit of the fixes and the
palette, :class:`~opdm_studio.app.fixing.FixTool`), so it can be undone; the panel itself only
shows the document's palette and asks the questions an edit needs.
"""
from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QT_TRANSLATE_NOOP, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QCheckBox,
    QColorDialog,
    QDoubleSpinBox,
    QFileDialog,
    QGridLayout,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from opdm_studio.app.document import Document
from opdm_studio.app.swatch_tree import IdRole, SwatchTree, swatch_label, swatch_name
from opdm_studio.app.theme import icon
from opdm_studio.engine.swatches import RGB, Swatch, hex_of

ANYWAY = QT_TRANSLATE_NOOP("PalettePanel", "Delete anyway (its regions show red)")


class PalettePanel(QWidget):
    """Swatch list, the current swatch, the palette's buttons and the carrying switch."""

    swatchChosen = Signal(str)          # the fill tool's current swatch changed

    def __init__(self, edit: Callable[[str, Callable[[], object]], None],
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("palettePanel")
        self._edit = edit
        self.doc: Document | None = None
        self.list = SwatchTree()
        self.list.currentItemChanged.connect(self._on_current)
        self.list.itemDoubleClicked.connect(lambda item, _col: self.recolour_dialog() if item.data(0, IdRole) else None)
        self.current_label = QLabel(self.tr("No swatch"))
        self.model_label = QLabel("")
        self.model_label.setWordWrap(True)
        self.model_label.setStyleSheet("color: #9aa0a6;")
        self.tolerance = QDoubleSpinBox()
        self.tolerance.setObjectName("mergeTolerance")
        self.tolerance.setRange(0.0, 30.0)
        self.tolerance.setDecimals(1)
        self.tolerance.setSingleStep(1.0)
        self.tolerance.setKeyboardTracking(False)        # one merge when the number is typed
        self.tolerance.setPrefix("ΔE ≤ ")
        self.tolerance.setToolTip(self.tr("Key colours closer than this are one swatch (the colours "
                                          "compressed or scanned keys show for one paint); 0 keeps "
                                          "every key colour apart. About 2 is just seen side by side."))
        self.tolerance.valueChanged.connect(self._tolerance_changed)
        self.merge_label = QLabel("")
        self.carry = QCheckBox(self.tr("Carry fixes to the neighbouring frames"))
        self.carry.setChecked(True)
        self.carry.setToolTip(self.tr("A fill also paints the same region in the frames before and after, "
                                      "up to the keyframes (it stops where the region is not found)"))
        self.add_button = QPushButton(icon("mdi6.plus"), self.tr("Add"))
        self.recolour_button = QPushButton(icon("mdi6.palette"), self.tr("Colour"))
        self.rename_button = QPushButton(icon("mdi6.rename-box"), self.tr("Rename"))
        self.delete_button = QPushButton(icon("mdi6.delete"), self.tr("Delete"))
        self.import_button = QPushButton(icon("mdi6.import"), self.tr("Import"))
        self.export_button = QPushButton(icon("mdi6.export"), self.tr("Export"))
        for b, slot, tip in (
                (self.add_button, self.add_dialog, self.tr("Add a swatch")),
                (self.recolour_button, self.recolour_dialog,
                 self.tr("Change the colour: every region painted with it changes, in every frame")),
                (self.rename_button, self.rename_dialog, self.tr("Rename the swatch")),
                (self.delete_button, self.delete_dialog, self.tr("Delete the swatch (refused while it is "
                                                                 "used, unless another one replaces it)")),
                (self.import_button, self.import_dialog,
                 self.tr("Read a colour model: a GIMP .gpl, a JSON palette or a CSV (names, "
                         "characters, normal / shadow / highlight)")),
                (self.export_button, self.export_dialog,
                 self.tr("Write the colour model as .gpl, .json or .csv (names, groups and tones kept)"))):
            b.setToolTip(tip)
            b.clicked.connect(slot)
        grid = QGridLayout()
        for n, b in enumerate((self.add_button, self.recolour_button, self.rename_button,
                               self.delete_button, self.import_button, self.export_button)):
            grid.addWidget(b, n // 3, n % 3)
        hint = QLabel(self.tr("Fill tool (B): click a region to give it the current swatch; Alt-click "
                              "picks a swatch from the frame. N jumps to the next flagged region."))
        hint.setWordWrap(True)
        hint.setStyleSheet("color: #9aa0a6;")
        merge = QHBoxLayout()
        merge.addWidget(QLabel(self.tr("Merge near-identical key colours:")))
        merge.addWidget(self.tolerance)
        lay = QVBoxLayout(self)
        lay.addWidget(self.current_label)
        lay.addWidget(self.model_label)
        lay.addWidget(self.list, 1)
        lay.addLayout(merge)
        lay.addWidget(self.merge_label)
        lay.addLayout(grid)
        lay.addWidget(self.carry)
        lay.addWidget(hint)

    # ------------------------------------------------------------------ showing

    def set_document(self, doc: Document | None) -> None:
        """Show the swatches of ``doc`` (None clears)."""
        self.doc = doc
        self.refresh()

    def _open(self) -> Document:
        """The open cut (the palette's edits are enabled only while one is open)."""
        assert self.doc is not None
        return self.doc

    def refresh(self) -> None:
        """Rebuild the list from the document's palette, keeping the current swatch."""
        keep = self.current_swatch()
        pal = self.doc.palette if self.doc is not None else None
        self.list.show_palette(pal)
        live = [it.data(0, IdRole) for it in self.list.swatch_items()
                if pal is not None and not pal.get(it.data(0, IdRole)).deleted]
        self.set_current(keep if keep in live else (live[0] if live else None), emit=keep not in live)
        has = pal is not None
        for b in (self.add_button, self.import_button, self.export_button, self.tolerance):
            b.setEnabled(has)
        self.tolerance.blockSignals(True)
        self.tolerance.setValue(pal.tolerance if pal is not None else 0.0)
        self.tolerance.blockSignals(False)
        keys: list[Swatch] = [s for s in pal.swatches if s.in_keys] if pal is not None else []
        shown = sum(1 for s in keys if not s.merged)
        self.merge_label.setText(self.tr("{keys} key colours in {swatches} swatches").format(
            keys=len(keys), swatches=shown) if keys else "")
        self.model_label.setText(self.tr("Colour model: {file}").format(file=pal.model) if pal and pal.model else "")
        self.model_label.setVisible(bool(pal and pal.model))

    def current_swatch(self) -> str | None:
        """Id of the current swatch (None without one)."""
        return self.list.current_swatch()

    def set_current(self, swatch_id: str | None, emit: bool = True) -> None:
        """Make ``swatch_id`` the current swatch (the fill tool paints with it)."""
        self.list.select(swatch_id)
        self._show_current(emit)

    def _on_current(self, *_args) -> None:
        self._show_current(True)

    def _show_current(self, emit: bool) -> None:
        sid = self.current_swatch()
        s = self.doc.palette.find(sid) if self.doc is not None and sid else None
        if s is None:
            self.current_label.setText(self.tr("No swatch: colour a keyframe, or add one"))
        else:
            self.current_label.setText(self.tr("Current swatch: <b>{name}</b> {hex}").format(
                name=swatch_label(s), hex=hex_of(s.rgb)))
        for b in (self.recolour_button, self.rename_button, self.delete_button):
            b.setEnabled(s is not None and not s.deleted)
        if emit and sid is not None:
            self.swatchChosen.emit(sid)

    # ------------------------------------------------------------------ edits (undoable)

    def add_swatch(self, rgb: RGB, name: str | None = None) -> None:
        """Add a swatch and make it current."""
        made: list[str] = []
        self._edit(self.tr("Add swatch {name}").format(name=name or hex_of(rgb)),
                   lambda: made.append(self._open().palette.add(rgb, name).id))
        if made:
            self.set_current(made[0])

    def recolour(self, swatch_id: str, rgb: RGB) -> None:
        """Change a swatch's colour (every region painted with it follows)."""
        s = self._open().palette.get(swatch_id)
        self._edit(self.tr("Recolour {name} to {hex}").format(name=swatch_label(s), hex=hex_of(rgb)),
                   lambda: self._open().palette.recolour(swatch_id, rgb))

    def rename(self, swatch_id: str, name: str) -> None:
        """Rename a swatch."""
        s = self._open().palette.get(swatch_id)
        self._edit(self.tr("Rename {name} to {new}").format(name=swatch_label(s), new=name),
                   lambda: self._open().palette.rename(swatch_id, name))

    def delete(self, swatch_id: str, replacement: str | None = None, force: bool = False) -> None:
        """Delete a swatch (refused while used unless replaced, or ``force``: shown red)."""
        doc = self._open()
        s = doc.palette.get(swatch_id)

        def change() -> None:
            doc.palette.delete(swatch_id, doc.hints.count_swatch(swatch_id), replacement, force)
            if replacement is not None:
                doc.hints.replace_swatch(swatch_id, replacement)
        text = (self.tr("Delete swatch {name}, replaced by {other}").format(
            name=swatch_label(s), other=swatch_label(doc.palette.get(replacement))) if replacement else
            self.tr("Delete swatch {name}").format(name=swatch_label(s)))
        self._edit(text, change)

    # ------------------------------------------------------------------ dialogs

    def add_dialog(self) -> None:
        """Pick a colour and add it as a swatch."""
        if self.doc is None:
            return
        c = QColorDialog.getColor(QColor(200, 200, 200), self, self.tr("New swatch"))
        if c.isValid():
            name, ok = QInputDialog.getText(self, self.tr("New swatch"), self.tr("Name:"), text=c.name())
            if ok:
                self.add_swatch((c.red(), c.green(), c.blue()), name.strip() or None)

    def recolour_dialog(self) -> None:
        """Choose the current swatch's new colour."""
        sid = self.current_swatch()
        if self.doc is None or sid is None:
            return
        s = self._open().palette.get(sid)
        c = QColorDialog.getColor(QColor(*s.rgb), self, self.tr("Colour of {name}").format(name=swatch_label(s)))
        if c.isValid():
            self.recolour(sid, (c.red(), c.green(), c.blue()))

    def rename_dialog(self) -> None:
        """Rename the current swatch."""
        sid = self.current_swatch()
        if self.doc is None or sid is None:
            return
        s = self._open().palette.get(sid)
        name, ok = QInputDialog.getText(self, self.tr("Rename swatch"), self.tr("Name:"), text=swatch_name(s))
        if ok and name.strip() and name.strip() != s.name:
            self.rename(sid, name.strip())

    def delete_dialog(self) -> None:
        """Delete the current swatch; when it is used, ask for a replacement (or red)."""
        sid = self.current_swatch()
        if self.doc is None or sid is None:
            return
        s = self._open().palette.get(sid)
        if not s.in_keys and not self._open().hints.count_swatch(sid):
            self.delete(sid)
            return
        others = [x for x in self._open().palette.live() if x.id != sid]
        anyway = self.tr(ANYWAY)  # type: ignore[arg-type]  # (PySide6 types QT_TRANSLATE_NOOP as object)
        choices = [self.tr("Replace with {name} {hex}").format(name=swatch_label(x), hex=hex_of(x.rgb))
                   for x in others] + [anyway]
        answer, ok = QInputDialog.getItem(
            self, self.tr("Delete swatch"), self.tr("{name} is used by the keyframes' paint or by fixes. "
                                                    "Its regions:").format(name=swatch_label(s)), choices, 0, False)
        if not ok:
            return
        if answer == anyway:
            self.delete(sid, force=True)
        else:
            self.delete(sid, replacement=others[choices.index(answer)].id)

    def import_dialog(self) -> None:
        """Read a colour model: swatches of the same name take its colours, swatches the palette
        named itself take the names of the model's colours nearest theirs, others are added."""
        if self.doc is None:
            return
        path, _ = QFileDialog.getOpenFileName(self, self.tr("Import a colour model"), "",
                                              self.tr("Colour models (*.gpl *.json *.csv)"))
        if path:
            self._edit(self.tr("Import colour model"), lambda: self._open().palette.import_file(path))

    def export_dialog(self) -> None:
        """Write the palette as a GIMP .gpl or a JSON palette."""
        if self.doc is None:
            return
        path, _ = QFileDialog.getSaveFileName(self, self.tr("Export the colour model"), f"{self._open().name}.gpl",
                                              self.tr("GIMP palette (*.gpl);;JSON palette (*.json);;CSV colour "
                                                      "model (*.csv)"))
        if path:
            self._open().palette.export_file(path)

    def _tolerance_changed(self, value: float) -> None:
        pal = self.doc.palette if self.doc is not None else None
        if pal is None or abs(value - pal.tolerance) < 1e-9:
            return
        self._edit(self.tr("Merge near-identical key colours (ΔE ≤ {value})").format(value=f"{value:g}"),
                   lambda: pal.merge(value))
