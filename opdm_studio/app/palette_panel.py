"""The palette panel: the cut's swatches (taken from the keyframes' paint), the current swatch of
the fill tool, and the palette edits (add, rename, recolour, delete, import / export).

Every edit goes through ``edit(text, change)`` (the window's undoable edit of the fixes and the
palette, :class:`~opdm_studio.app.fixing.FixTool`), so it can be undone; the panel itself only
shows the document's palette and asks the questions an edit needs.
"""
from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QT_TRANSLATE_NOOP, QSize, Qt, Signal
from PySide6.QtGui import QColor, QIcon, QPainter, QPen, QPixmap
from PySide6.QtWidgets import (
    QCheckBox,
    QColorDialog,
    QFileDialog,
    QGridLayout,
    QInputDialog,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from opdm_studio.app.i18n import translate
from opdm_studio.app.theme import icon
from opdm_studio.engine.swatches import DELETED_RGB, RGB, Swatch, hex_of

IdRole = Qt.ItemDataRole.UserRole + 1
ANYWAY = QT_TRANSLATE_NOOP("PalettePanel", "Delete anyway (its regions show red)")


def swatch_icon(rgb: RGB, deleted: bool = False, size: int = 22) -> QIcon:
    """A square of the swatch's colour (red with a cross when deleted)."""
    pm = QPixmap(size, size)
    pm.fill(QColor(*(DELETED_RGB if deleted else rgb)))
    p = QPainter(pm)
    p.setPen(QPen(QColor(20, 20, 20), 1))
    p.drawRect(0, 0, size - 1, size - 1)
    if deleted:
        p.setPen(QPen(QColor(255, 255, 255), 2))
        p.drawLine(4, 4, size - 5, size - 5)
        p.drawLine(size - 5, 4, 4, size - 5)
    p.end()
    return QIcon(pm)


class PalettePanel(QWidget):
    """Swatch list, the current swatch, the palette's buttons and the carrying switch."""

    swatchChosen = Signal(str)          # the fill tool's current swatch changed

    def __init__(self, edit: Callable[[str, Callable[[], object]], None],
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("palettePanel")
        self._edit = edit
        self.doc = None
        self.list = QListWidget()
        self.list.setObjectName("swatchList")
        self.list.setIconSize(QSize(22, 22))
        self.list.currentItemChanged.connect(self._on_current)
        self.list.itemDoubleClicked.connect(lambda _item: self.recolour_dialog())
        self.current_label = QLabel(self.tr("No swatch"))
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
                (self.import_button, self.import_dialog, self.tr("Read a GIMP .gpl or JSON palette")),
                (self.export_button, self.export_dialog, self.tr("Write the palette as .gpl or .json"))):
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
        lay = QVBoxLayout(self)
        lay.addWidget(self.current_label)
        lay.addWidget(self.list, 1)
        lay.addLayout(grid)
        lay.addWidget(self.carry)
        lay.addWidget(hint)

    # ------------------------------------------------------------------ showing

    def set_document(self, doc) -> None:
        """Show the swatches of ``doc`` (None clears)."""
        self.doc = doc
        self.refresh()

    def refresh(self) -> None:
        """Rebuild the list from the document's palette, keeping the current swatch."""
        keep = self.current_swatch()
        self.list.blockSignals(True)
        self.list.clear()
        if self.doc is not None:
            pal = self.doc.palette
            for s in pal.swatches:
                if s.deleted and s.replaced_by is not None:
                    continue            # its regions show its replacement: nothing to see here
                item = QListWidgetItem(swatch_icon(s.rgb, s.deleted), self._text(s))
                item.setData(IdRole, s.id)
                item.setToolTip(self._tooltip(s))
                if s.deleted:
                    item.setForeground(QColor(150, 150, 150))
                self.list.addItem(item)
        self.list.blockSignals(False)
        live = [self.list.item(n).data(IdRole) for n in range(self.list.count())
                if not self.doc.palette.get(self.list.item(n).data(IdRole)).deleted] if self.doc else []
        self.set_current(keep if keep in live else (live[0] if live else None), emit=keep not in live)
        has = self.doc is not None
        for b in (self.add_button, self.import_button, self.export_button):
            b.setEnabled(has)

    @staticmethod
    def _text(s: Swatch) -> str:
        return f"{s.name}  {hex_of(s.rgb)}" + ("  " + translate("PalettePanel", "(deleted)") if s.deleted else "")

    @staticmethod
    def _tooltip(s: Swatch) -> str:
        where = (translate("PalettePanel", "painted in the keyframes") if s.in_keys else
                 translate("PalettePanel", "added"))
        text = translate("PalettePanel", "{name}: {hex} ({where}; id {id})").format(
            name=s.name, hex=hex_of(s.rgb), where=where, id=s.id)
        if s.rgb != s.source:
            text += translate("PalettePanel", "; the regions painted {hex} show this colour").format(
                hex=hex_of(s.source))
        if s.deleted:
            text += translate("PalettePanel", "; deleted: its regions show red until they are painted again")
        return text

    def current_swatch(self) -> str | None:
        """Id of the current swatch (None without one)."""
        item = self.list.currentItem()
        return None if item is None else item.data(IdRole)

    def set_current(self, swatch_id: str | None, emit: bool = True) -> None:
        """Make ``swatch_id`` the current swatch (the fill tool paints with it)."""
        for n in range(self.list.count()):
            if self.list.item(n).data(IdRole) == swatch_id:
                self.list.blockSignals(True)
                self.list.setCurrentRow(n)
                self.list.blockSignals(False)
                break
        else:
            self.list.setCurrentRow(-1)
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
                name=s.name, hex=hex_of(s.rgb)))
        for b in (self.recolour_button, self.rename_button, self.delete_button):
            b.setEnabled(s is not None and not s.deleted)
        if emit and sid is not None:
            self.swatchChosen.emit(sid)

    # ------------------------------------------------------------------ edits (undoable)

    def add_swatch(self, rgb: RGB, name: str | None = None) -> None:
        """Add a swatch and make it current."""
        made: list[str] = []
        self._edit(self.tr("Add swatch {name}").format(name=name or hex_of(rgb)),
                   lambda: made.append(self.doc.palette.add(rgb, name).id))
        if made:
            self.set_current(made[0])

    def recolour(self, swatch_id: str, rgb: RGB) -> None:
        """Change a swatch's colour (every region painted with it follows)."""
        s = self.doc.palette.get(swatch_id)
        self._edit(self.tr("Recolour {name} to {hex}").format(name=s.name, hex=hex_of(rgb)),
                   lambda: self.doc.palette.recolour(swatch_id, rgb))

    def rename(self, swatch_id: str, name: str) -> None:
        """Rename a swatch."""
        s = self.doc.palette.get(swatch_id)
        self._edit(self.tr("Rename {name} to {new}").format(name=s.name, new=name),
                   lambda: self.doc.palette.rename(swatch_id, name))

    def delete(self, swatch_id: str, replacement: str | None = None, force: bool = False) -> None:
        """Delete a swatch (refused while used unless replaced, or ``force``: shown red)."""
        doc = self.doc
        s = doc.palette.get(swatch_id)

        def change() -> None:
            doc.palette.delete(swatch_id, doc.hints.count_swatch(swatch_id), replacement, force)
            if replacement is not None:
                doc.hints.replace_swatch(swatch_id, replacement)
        text = (self.tr("Delete swatch {name}, replaced by {other}").format(
            name=s.name, other=doc.palette.get(replacement).name) if replacement else
            self.tr("Delete swatch {name}").format(name=s.name))
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
        s = self.doc.palette.get(sid)
        c = QColorDialog.getColor(QColor(*s.rgb), self, self.tr("Colour of {name}").format(name=s.name))
        if c.isValid():
            self.recolour(sid, (c.red(), c.green(), c.blue()))

    def rename_dialog(self) -> None:
        """Rename the current swatch."""
        sid = self.current_swatch()
        if self.doc is None or sid is None:
            return
        s = self.doc.palette.get(sid)
        name, ok = QInputDialog.getText(self, self.tr("Rename swatch"), self.tr("Name:"), text=s.name)
        if ok and name.strip() and name.strip() != s.name:
            self.rename(sid, name.strip())

    def delete_dialog(self) -> None:
        """Delete the current swatch; when it is used, ask for a replacement (or red)."""
        sid = self.current_swatch()
        if self.doc is None or sid is None:
            return
        s = self.doc.palette.get(sid)
        if not s.in_keys and not self.doc.hints.count_swatch(sid):
            self.delete(sid)
            return
        others = [x for x in self.doc.palette.live() if x.id != sid]
        anyway = self.tr(ANYWAY)
        choices = [self.tr("Replace with {name} {hex}").format(name=x.name, hex=hex_of(x.rgb))
                   for x in others] + [anyway]
        answer, ok = QInputDialog.getItem(
            self, self.tr("Delete swatch"), self.tr("{name} is used by the keyframes' paint or by fixes. "
                                                    "Its regions:").format(name=s.name), choices, 0, False)
        if not ok:
            return
        if answer == anyway:
            self.delete(sid, force=True)
        else:
            self.delete(sid, replacement=others[choices.index(answer)].id)

    def import_dialog(self) -> None:
        """Read a palette file: swatches of the same name take its colours, others are added."""
        if self.doc is None:
            return
        path, _ = QFileDialog.getOpenFileName(self, self.tr("Import a palette"), "",
                                              self.tr("Palettes (*.gpl *.json)"))
        if path:
            self._edit(self.tr("Import palette"), lambda: self.doc.palette.import_file(path))

    def export_dialog(self) -> None:
        """Write the palette as a GIMP .gpl or a JSON palette."""
        if self.doc is None:
            return
        path, _ = QFileDialog.getSaveFileName(self, self.tr("Export the palette"), f"{self.doc.name}.gpl",
                                              self.tr("GIMP palette (*.gpl);;JSON palette (*.json)"))
        if path:
            self.doc.palette.export_file(path)
