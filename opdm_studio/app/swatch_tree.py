"""The palette's swatches as a colourist reads a colour model (色指定): grouped per character or
part, each paint's normal / shadow / highlight together, names in the interface's language.

:func:`swatch_label` is how every window text names a swatch: a name the palette made itself
("Colour 3") is said in the interface's language, a tone too; names a person or a colour
model gave are shown as they are. :class:`SwatchTree` is the palette panel's list.
"""
from __future__ import annotations

from PySide6.QtCore import QT_TRANSLATE_NOOP, QSize, Qt
from PySide6.QtGui import QColor, QFont, QIcon, QPainter, QPen, QPixmap
from PySide6.QtWidgets import QTreeWidget, QTreeWidgetItem, QWidget

from opdm_studio.app.i18n import translate
from opdm_studio.engine.swatches import AUTO_NAME, DELETED_RGB, RGB, Swatch, SwatchPalette, hex_of

IdRole = Qt.ItemDataRole.UserRole + 1
#: The tones of a paint set as the interface says them.
TONE_TEXT = {"": QT_TRANSLATE_NOOP("SwatchTree", "normal"),
             "shadow": QT_TRANSLATE_NOOP("SwatchTree", "shadow"),
             "highlight": QT_TRANSLATE_NOOP("SwatchTree", "highlight")}
TONE_ORDER = {"": 0, "shadow": 1, "highlight": 2}


def tone_text(tone: str) -> str:
    """A tone in the interface's language ("" = normal)."""
    return translate("SwatchTree", TONE_TEXT[tone if tone in TONE_TEXT else ""])


def swatch_name(s: Swatch) -> str:
    """The swatch's own name in the interface's language ("Colour 3" = 色 3 in Japanese)."""
    m = AUTO_NAME.match(s.name)
    return translate("SwatchTree", "Colour {n}").format(n=m.group(1)) if m else s.name


def swatch_label(s: Swatch) -> str:
    """How the window names a swatch: group / name / tone (the parts it has)."""
    parts = [s.group, swatch_name(s)] + ([tone_text(s.tone)] if s.tone else [])
    return " / ".join(p for p in parts if p)


def swatch_icon(rgb: RGB, deleted: bool = False, size: int = 22, tones: tuple[RGB, ...] = ()) -> QIcon:
    """A square of the swatch's colour (red with a cross when deleted); ``tones``: the shadow /
    highlight of its set, shown as a strip along its right side."""
    pm = QPixmap(size, size)
    pm.fill(QColor(*(DELETED_RGB if deleted else rgb)))
    p = QPainter(pm)
    strip = size // 3
    for n, t in enumerate(tones):
        h = size // len(tones)
        p.fillRect(size - strip, n * h, strip, h if n < len(tones) - 1 else size - n * h, QColor(*t))
    p.setPen(QPen(QColor(20, 20, 20), 1))
    p.drawRect(0, 0, size - 1, size - 1)
    if deleted:
        p.setPen(QPen(QColor(255, 255, 255), 2))
        p.drawLine(4, 4, size - 5, size - 5)
        p.drawLine(size - 5, 4, 4, size - 5)
    p.end()
    return QIcon(pm)


def swatch_tooltip(s: Swatch, palette: SwatchPalette) -> str:
    """What a swatch is: where its colour comes from, what it shows, what merged into it."""
    where = (translate("PalettePanel", "painted in the keyframes") if s.in_keys else
             translate("PalettePanel", "added"))
    text = translate("PalettePanel", "{name}: {hex} ({where}; id {id})").format(
        name=swatch_label(s), hex=hex_of(s.rgb), where=where, id=s.id)
    if s.rgb != s.source:
        text += translate("PalettePanel", "; the regions painted {hex} show this colour").format(
            hex=hex_of(s.source))
    merged = palette.merged_into(s.id)
    if merged:
        text += translate("SwatchTree", "; also stands for {n} near-identical key colour(s): {list}").format(
            n=len(merged), list=" ".join(hex_of(m.source) for m in merged[:12]) + (" ..." if len(merged) > 12 else ""))
    if s.deleted:
        text += translate("PalettePanel", "; deleted: its regions show red until they are painted again")
    return text


def paint_sets(palette: SwatchPalette) -> list[tuple[str, list[list[Swatch]]]]:
    """The swatches shown, as (group, [paint set]) in the order they first appear; a paint set
    is a part's swatches, normal first, then shadow and highlight. Swatches merged into another,
    or deleted with a replacement, are not shown (their regions show the other swatch)."""
    groups: dict[str, dict[str, list[Swatch]]] = {}
    for s in palette.swatches:
        if s.deleted and s.replaced_by is not None:
            continue
        key = s.name if s.group or s.tone else f"\0{s.id}"     # an ungrouped, plain paint: its own set
        groups.setdefault(s.group, {}).setdefault(key, []).append(s)
    out = []
    for g, sets in groups.items():
        out.append((g, [sorted(v, key=lambda s: TONE_ORDER.get(s.tone, 3)) for v in sets.values()]))
    return out


class SwatchTree(QTreeWidget):
    """The swatches grouped per character or part, each paint with its shadow and highlight
    under it (see the module doc); items of swatches carry their id (``IdRole``)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("swatchList")
        self.setHeaderHidden(True)
        self.setIconSize(QSize(22, 22))
        self.setIndentation(14)
        self.setUniformRowHeights(True)

    def show_palette(self, palette: SwatchPalette | None) -> None:
        """Rebuild the items from ``palette`` (None: empty)."""
        self.blockSignals(True)
        self.clear()
        if palette is not None:
            self._add_sets(palette)
        self.expandAll()
        self.blockSignals(False)

    def _add_sets(self, palette: SwatchPalette) -> None:
        """The items of ``palette``'s paint sets, under their group titles."""
        for group, sets in paint_sets(palette):
            parent = self.invisibleRootItem()
            if group:
                head = QTreeWidgetItem([group])
                font = QFont(head.font(0))
                font.setBold(True)
                head.setFont(0, font)
                head.setFlags(Qt.ItemFlag.ItemIsEnabled)
                self.addTopLevelItem(head)
                parent = head
            for paint in sets:
                first = self._item(paint[0], palette, lead=True,
                                   tones=tuple(palette.shown_rgb(s) for s in paint[1:]))
                parent.addChild(first)
                for s in paint[1:]:
                    first.addChild(self._item(s, palette, lead=False))

    @staticmethod
    def _item(s: Swatch, palette: SwatchPalette, lead: bool, tones: tuple[RGB, ...] = ()) -> QTreeWidgetItem:
        if lead:
            name = swatch_name(s) + (" / " + tone_text(s.tone) if s.tone else "")
        else:
            name = tone_text(s.tone)
        text = f"{name}  {hex_of(s.rgb)}"
        merged = len(palette.merged_into(s.id))
        if merged:
            text += "  +" + str(merged)
        if s.deleted:
            text += "  " + translate("PalettePanel", "(deleted)")
        item = QTreeWidgetItem([text])
        item.setIcon(0, swatch_icon(s.rgb, s.deleted, tones=tones))
        item.setData(0, IdRole, s.id)
        item.setToolTip(0, swatch_tooltip(s, palette))
        if s.deleted:
            item.setForeground(0, QColor(150, 150, 150))
        return item

    def swatch_items(self) -> list[QTreeWidgetItem]:
        """The items of swatches, in display order (group titles left out)."""
        out: list[QTreeWidgetItem] = []

        def walk(item: QTreeWidgetItem) -> None:
            for n in range(item.childCount()):
                child = item.child(n)
                if child is None:
                    continue
                if child.data(0, IdRole):
                    out.append(child)
                walk(child)
        walk(self.invisibleRootItem())
        return out

    def count(self) -> int:
        """How many swatches are shown."""
        return len(self.swatch_items())

    def current_swatch(self) -> str | None:
        """Id of the selected swatch (None without one)."""
        item = self.currentItem()
        return None if item is None else item.data(0, IdRole) or None

    def select(self, swatch_id: str | None) -> None:
        """Select the item of ``swatch_id`` (none when it is not shown), without signals."""
        self.blockSignals(True)
        hit = next((it for it in self.swatch_items() if it.data(0, IdRole) == swatch_id), None)
        self.setCurrentItem(hit) if hit is not None else self.setCurrentItem(None)  # type: ignore[call-overload]  # (Qt takes None: no current item)
        if hit is None:
            self.clearSelection()
        else:
            self.scrollToItem(hit)
        self.blockSignals(False)
