"""The project's palette: swatches with an identity, as a colour department's palette has them.

Every swatch has an id, a name and its current colour, and remembers the paint colour it stands
for in the pixels (its *source*): the keyframes' flat paint, which the model's results and the
hints are stored in. Changing a swatch's colour therefore changes every region painted with it
in every frame when a frame is shown or exported (:func:`~opdm_studio.engine.hints.paint_regions`),
without touching a stored result or the colourist's paint files. A deleted swatch that is still
in use shows red, as in Toon Boom Harmony, unless it was deleted with a replacement.

Plain data (no images): :mod:`opdm_studio.engine.fixes` reads the keyframes' paint into it
(:meth:`SwatchPalette.sync`); the project saves it (:meth:`SwatchPalette.to_dict`). GIMP ``.gpl``
and a JSON palette file are read and written here too.
"""
from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from opdm_studio.errors import ProjectError
from opdm_studio.fileio import write_text_atomic

RGB = tuple[int, int, int]
#: How regions painted with a deleted swatch show (Harmony's convention).
DELETED_RGB: RGB = (255, 0, 0)
JSON_FORMAT = "opdm-studio-palette"


def _rgb(value: Iterable[Any]) -> RGB:
    vals = [int(v) for v in value]
    if len(vals) != 3 or any(not 0 <= v <= 255 for v in vals):
        raise ValueError(f"not an RGB colour: {vals}")
    return vals[0], vals[1], vals[2]


def hex_of(rgb: RGB) -> str:
    """``#rrggbb`` of a colour."""
    return "#{:02x}{:02x}{:02x}".format(*rgb)


def pack(rgb: RGB) -> int:
    """A colour as one integer (0xRRGGBB), as the region code packs pixels."""
    return (int(rgb[0]) << 16) | (int(rgb[1]) << 8) | int(rgb[2])


@dataclass
class Swatch:
    """One paint colour of the palette.

    ``source`` the colour it has in the pixels (the keyframes' paint; for an added swatch its
    first colour); ``rgb`` its colour now; ``in_keys`` whether some keyframe is painted with it;
    ``deleted`` / ``replaced_by`` what became of it.
    """

    id: str
    name: str
    rgb: RGB
    source: RGB
    in_keys: bool = False
    deleted: bool = False
    replaced_by: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON form."""
        d = asdict(self)
        d["rgb"], d["source"] = list(self.rgb), list(self.source)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Swatch:
        """Inverse of :meth:`to_dict`."""
        return cls(str(d["id"]), str(d.get("name", d["id"])), _rgb(d["rgb"]),
                   _rgb(d.get("source", d["rgb"])), bool(d.get("in_keys", False)),
                   bool(d.get("deleted", False)), d.get("replaced_by"))


@dataclass
class SwatchPalette:
    """The swatches of a project, in display order (see the module doc)."""

    swatches: list[Swatch] = field(default_factory=list)
    next_id: int = 1

    # ------------------------------------------------------------------ lookups

    def __len__(self) -> int:
        return len(self.live())

    def live(self) -> list[Swatch]:
        """The swatches not deleted, in display order."""
        return [s for s in self.swatches if not s.deleted]

    def get(self, swatch_id: str) -> Swatch:
        """The swatch ``swatch_id`` (deleted ones too); ProjectError if there is none."""
        for s in self.swatches:
            if s.id == swatch_id:
                return s
        raise ProjectError(f"the palette has no swatch {swatch_id!r}")

    def find(self, swatch_id: str | None) -> Swatch | None:
        """The swatch ``swatch_id`` or None."""
        return next((s for s in self.swatches if s.id == swatch_id), None)

    def by_source(self, rgb: RGB) -> Swatch | None:
        """The swatch whose pixels have colour ``rgb`` (None if no swatch stands for it)."""
        rgb = _rgb(rgb)
        return next((s for s in self.swatches if s.source == rgb), None)

    def shown_rgb(self, swatch: Swatch) -> RGB:
        """The colour a swatch's regions show: its own, its replacement's, or red if deleted."""
        seen = set()
        s = swatch
        while s.deleted:
            if s.replaced_by is None or s.replaced_by in seen:
                return DELETED_RGB
            seen.add(s.id)
            nxt = self.find(s.replaced_by)
            if nxt is None:
                return DELETED_RGB
            s = nxt
        return s.rgb

    def resolve(self, swatch_id: str) -> Swatch:
        """The live swatch that ``swatch_id`` stands for now (following replacements)."""
        s = self.get(swatch_id)
        seen = {s.id}
        while s.deleted and s.replaced_by is not None and s.replaced_by not in seen:
            s = self.get(s.replaced_by)
            seen.add(s.id)
        return s

    def colour_map(self) -> dict[int, RGB]:
        """Packed source colour -> colour shown, for every swatch whose regions change colour."""
        out = {}
        for s in self.swatches:
            shown = self.shown_rgb(s)
            if shown != s.source:
                out[pack(s.source)] = shown
        return out

    # ------------------------------------------------------------------ edits

    def _new_id(self) -> str:
        taken = {s.id for s in self.swatches}
        while f"s{self.next_id}" in taken:
            self.next_id += 1
        sid = f"s{self.next_id}"
        self.next_id += 1
        return sid

    def _new_name(self) -> str:
        names = {s.name for s in self.swatches}
        n = len(self.swatches) + 1
        while f"Colour {n}" in names:
            n += 1
        return f"Colour {n}"

    def sync(self, key_colours: Iterable[RGB]) -> list[Swatch]:
        """Add a swatch for every keyframe paint colour that has none yet, and note which
        swatches the keyframes use (``in_keys``); returns the swatches added."""
        colours = [_rgb(c) for c in key_colours]
        used = set(colours)
        added = []
        for s in self.swatches:
            s.in_keys = s.source in used
        for c in colours:
            if self.by_source(c) is None:
                s = Swatch(self._new_id(), self._new_name(), c, c, in_keys=True)
                self.swatches.append(s)
                added.append(s)
        return added

    def add(self, rgb: RGB, name: str | None = None) -> Swatch:
        """A new swatch of colour ``rgb`` (refused when a live swatch already has that colour)."""
        rgb = _rgb(rgb)
        same = next((s for s in self.live() if s.rgb == rgb), None)
        if same is not None:
            raise ProjectError(f"{hex_of(rgb)} is already the swatch {same.name!r}")
        old = self.by_source(rgb)
        if old is not None and old.deleted:
            # The colour's pixels keep their identity: bring the deleted swatch back.
            old.deleted, old.replaced_by, old.rgb = False, None, rgb
            old.name = name or old.name
            return old
        if old is not None:
            raise ProjectError(f"{hex_of(rgb)} is what the swatch {old.name!r} was painted with; "
                               "pick another colour or recolour that swatch back")
        s = Swatch(self._new_id(), name or self._new_name(), rgb, rgb)
        self.swatches.append(s)
        return s

    def rename(self, swatch_id: str, name: str) -> Swatch:
        """Give a swatch another name."""
        name = name.strip()
        if not name:
            raise ProjectError("a swatch needs a name")
        s = self.get(swatch_id)
        s.name = name
        return s

    def recolour(self, swatch_id: str, rgb: RGB) -> Swatch:
        """Give a swatch another colour: every region painted with it follows."""
        s = self.get(swatch_id)
        if s.deleted:
            raise ProjectError(f"the swatch {s.name!r} is deleted")
        s.rgb = _rgb(rgb)
        return s

    def delete(self, swatch_id: str, in_use: int = 0, replacement: str | None = None,
               force: bool = False) -> Swatch:
        """Delete a swatch. ``in_use``: how many fixes paint with it (keyframe paint counts
        too). A swatch in use is refused unless a ``replacement`` takes its regions, or
        ``force``: then its regions show red until they are painted again."""
        s = self.get(swatch_id)
        used = in_use > 0 or s.in_keys
        if replacement is not None:
            rep = self.get(replacement)
            if rep.deleted or rep.id == s.id:
                raise ProjectError("choose a live swatch, other than the deleted one, as the "
                                   "replacement")
        elif used and not force:
            what = []
            if s.in_keys:
                what.append("the keyframes' paint")
            if in_use:
                what.append(f"{in_use} fix(es)")
            raise ProjectError(f"the swatch {s.name!r} is used by {' and '.join(what)}: choose a "
                               "replacement swatch, or delete it anyway (its regions show red)")
        s.deleted, s.replaced_by = True, replacement
        return s

    # ------------------------------------------------------------------ copies and files

    def copy(self) -> SwatchPalette:
        """An independent copy (undo snapshots)."""
        return copy.deepcopy(self)

    def to_dict(self) -> dict[str, Any]:
        """JSON form (saved in the project file)."""
        return {"next_id": self.next_id, "swatches": [s.to_dict() for s in self.swatches]}

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None) -> SwatchPalette:
        """Inverse of :meth:`to_dict` (None or {} = an empty palette)."""
        if not d:
            return cls()
        pal = cls([Swatch.from_dict(x) for x in d.get("swatches", [])], int(d.get("next_id", 1)))
        ids = [s.id for s in pal.swatches]
        if len(set(ids)) != len(ids):
            raise ValueError("two swatches share an id")
        return pal

    def export_file(self, path: str | Path) -> Path:
        """Write the live swatches as a GIMP palette (``.gpl``) or JSON palette (``.json``)."""
        path = Path(path)
        if path.suffix.lower() == ".gpl":
            lines = ["GIMP Palette", f"Name: {path.stem}", "Columns: 8", "#"]
            lines += [f"{s.rgb[0]:3d} {s.rgb[1]:3d} {s.rgb[2]:3d}\t{s.name}" for s in self.live()]
            text = "\n".join(lines) + "\n"
        elif path.suffix.lower() == ".json":
            text = json.dumps({"format": JSON_FORMAT, "version": 1,
                               "swatches": [{"id": s.id, "name": s.name, "rgb": list(s.rgb)}
                                            for s in self.live()]}, indent=1)
        else:
            raise ProjectError(f"{path.name}: export a palette as .gpl (GIMP) or .json")
        try:
            write_text_atomic(path, text)
        except OSError as exc:
            raise ProjectError(f"cannot write the palette {path}: {exc.strerror or exc}") from exc
        return path

    def import_file(self, path: str | Path) -> tuple[int, int]:
        """Read a ``.gpl`` or ``.json`` palette: swatches of the same id (JSON) or name take its
        colours, the others are added. Returns (updated, added). Linear in the file's colours
        (indexes built once), so a palette of 300 000 colours takes seconds, not hours."""
        entries = read_palette_file(path)
        idx = _ImportIndex(self)
        updated = added = 0
        for sid, name, rgb in entries:
            s = (idx.by_id.get(sid) if sid else None) or idx.named(name)
            if s is not None and not s.deleted:
                if s.rgb != rgb or s.name != name:
                    idx.change(s, rgb, name)
                    updated += 1
            elif not idx.live_rgb.get(rgb):
                added += idx.add(rgb, name)
        return updated, added


class _ImportIndex:
    """The lookups an import needs (id, name, live colours, source colours, names and ids
    taken), kept up to date as it changes the palette: :meth:`SwatchPalette.add`'s rules at
    the cost of a dictionary lookup."""

    def __init__(self, palette: SwatchPalette) -> None:
        self.palette = palette
        self.by_id = {s.id: s for s in reversed(palette.swatches)}    # the first one wins
        self.by_name: dict[str, list[Swatch]] = {}
        self.live_rgb: dict[RGB, int] = {}
        self.by_source: dict[RGB, Swatch] = {}
        for s in palette.swatches:
            self.by_source.setdefault(s.source, s)
            if not s.deleted:
                self._note(s)

    def _note(self, s: Swatch) -> None:
        self.by_name.setdefault(s.name, []).append(s)
        self.live_rgb[s.rgb] = self.live_rgb.get(s.rgb, 0) + 1

    def named(self, name: str) -> Swatch | None:
        """The first live swatch called ``name``."""
        return next((s for s in self.by_name.get(name, ()) if not s.deleted), None)

    def change(self, s: Swatch, rgb: RGB, name: str) -> None:
        """Give live swatch ``s`` colour ``rgb`` and name ``name``."""
        self.by_name[s.name].remove(s)
        self.live_rgb[s.rgb] -= 1
        s.rgb, s.name = rgb, name
        self._note(s)

    def add(self, rgb: RGB, name: str) -> int:
        """:meth:`SwatchPalette.add` of a colour no live swatch has: 1 if added, 0 if refused."""
        old = self.by_source.get(rgb)
        if old is not None and not old.deleted:
            return 0           # the colour some swatch was painted with: add() refuses it
        if old is not None:
            old.deleted, old.replaced_by, old.rgb = False, None, rgb
            old.name = name or old.name
            self._note(old)
            return 1
        pal = self.palette
        while f"s{pal.next_id}" in self.by_id:
            pal.next_id += 1
        s = Swatch(f"s{pal.next_id}", name or pal._new_name(), rgb, rgb)
        pal.next_id += 1
        pal.swatches.append(s)
        self.by_id[s.id] = s
        self.by_source[rgb] = s
        self._note(s)
        return 1


def read_palette_file(path: str | Path) -> list[tuple[str | None, str, RGB]]:
    """(id or None, name, rgb) of every colour of a GIMP ``.gpl`` or JSON palette file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")      # a byte-order mark is not a colour
    except (OSError, UnicodeDecodeError) as exc:
        raise ProjectError(f"cannot read the palette {path}: {exc}") from exc
    out: list[tuple[str | None, str, RGB]] = []
    if path.suffix.lower() == ".json":
        try:
            data = json.loads(text)
            items = data["swatches"] if isinstance(data, dict) else data
            for n, it in enumerate(items, start=1):
                out.append((str(it["id"]) if it.get("id") else None,
                            str(it.get("name") or f"Colour {n}"), _rgb(it["rgb"])))
        except (ValueError, KeyError, TypeError) as exc:
            raise ProjectError(f"{path} is not a palette file ({exc})") from exc
        return out
    lines = text.splitlines()
    if not lines or lines[0].strip() != "GIMP Palette":
        raise ProjectError(f"{path} is not a GIMP palette (its first line must be 'GIMP Palette')")
    for n, line in enumerate(lines[1:], start=2):
        s = line.strip()
        if not s or s.startswith("#") or re.match(r"^(Name|Columns)\s*:", s):
            continue
        m = re.match(r"^(\d+)\s+(\d+)\s+(\d+)\s*(.*)$", s)
        if m is None:
            raise ProjectError(f"{path}, line {n}: expected 'R G B name', got {s!r}")
        try:
            rgb = _rgb(m.group(i) for i in (1, 2, 3))
        except ValueError as exc:
            raise ProjectError(f"{path}, line {n}: {exc}") from exc
        out.append((None, m.group(4).strip() or hex_of(rgb), rgb))
    return out
