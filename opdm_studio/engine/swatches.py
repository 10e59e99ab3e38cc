"""The project's palette: swatches with an identity, as a colour department's palette has them.

Every swatch has an id, a name and its current colour, and remembers the paint colour it stands
for in the pixels (its *source*): the keyframes' flat paint, which the model's results and the
hints are stored in. Changing a swatch's colour therefore changes every region painted with it
in every frame when a frame is shown or exported (:func:`~opdm_studio.engine.hints.paint_regions`),
without touching a stored result or the colourist's paint files. A deleted swatch that is still
in use shows red, as in Toon Boom Harmony, unless it was deleted with a replacement.

A swatch has a name, a group (the character or part) and a tone (normal, shadow, highlight),
as a colour model (色指定) has them (:mod:`opdm_studio.engine.colour_model` reads the designers'
files). Key colours closer than the palette's ``tolerance`` (ΔE) are merged into one swatch: the
merged ones stay (their pixels keep their identity) but stand for the swatch they merged into,
so a change of tolerance takes a merge back.

Plain data (no images): :mod:`opdm_studio.engine.fixes` reads the keyframes' paint into it
(:meth:`SwatchPalette.sync`); the project saves it (:meth:`SwatchPalette.to_dict`). GIMP ``.gpl``,
JSON and CSV palette files are read and written here too, names, groups and tones kept.
"""
from __future__ import annotations

import copy
import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from opdm_studio.engine.colour_model import (
    DEFAULT_TOLERANCE,
    ModelColour,
    cluster,
    csv_text,
    find_cut_model,
    full_name,
    gpl_text,
    json_text,
    nearest_pairs,
    read_colour_model,
)
from opdm_studio.errors import ProjectError
from opdm_studio.fileio import write_text_atomic

RGB = tuple[int, int, int]
#: How regions painted with a deleted swatch show (Harmony's convention).
DELETED_RGB: RGB = (255, 0, 0)
#: The names the palette gives swatches itself (the app shows them in the interface's language).
AUTO_NAME = re.compile(r"^Colour (\d+)$")


def is_auto_name(name: str) -> bool:
    """True for a name the palette made ("Colour 3"), not one a person or a colour model gave."""
    return AUTO_NAME.match(name) is not None


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
    ``deleted`` / ``replaced_by`` what became of it (``merged``: deleted by merging it into
    ``replaced_by``, a near-identical key colour); ``group`` the character or part it belongs
    to, ``tone`` "" (normal), "shadow" or "highlight".
    """

    id: str
    name: str
    rgb: RGB
    source: RGB
    in_keys: bool = False
    deleted: bool = False
    replaced_by: str | None = None
    group: str = ""
    tone: str = ""
    merged: bool = False

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
                   bool(d.get("deleted", False)), d.get("replaced_by"), str(d.get("group", "")),
                   str(d.get("tone", "")), bool(d.get("merged", False)))

    @property
    def full_name(self) -> str:
        """``group / name / tone``: the name a palette file keeps."""
        return full_name(self.name, self.group, self.tone)


@dataclass
class SwatchPalette:
    """The swatches of a project, in display order (see the module doc). ``tolerance``: key
    colours closer than this ΔE merge into one swatch (0: never); ``model``: the file name of
    the cut's colour model once looked for ("" if the cut has none, None before)."""

    swatches: list[Swatch] = field(default_factory=list)
    next_id: int = 1
    tolerance: float = DEFAULT_TOLERANCE
    model: str | None = None

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

    def merged_into(self, swatch_id: str) -> list[Swatch]:
        """The near-identical key colours merged into swatch ``swatch_id``."""
        return [s for s in self.swatches if s.merged and s.replaced_by == swatch_id]

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
        if added and self.tolerance > 0:
            self.merge()
        return added

    def merge(self, tolerance: float | None = None) -> tuple[int, int]:
        """Merge the keys' near-identical colours (closer than ``tolerance`` ΔE; None: the
        palette's own, else it becomes the palette's) into one swatch, most used first; earlier
        merges are taken back first. A swatch a person or a colour model named, or recoloured,
        is never merged into another. Returns (key colours, swatches they make)."""
        if tolerance is not None:
            if not 0 <= tolerance <= 100:
                raise ProjectError(f"the merging tolerance is a ΔE from 0 to 100, not {tolerance}")
            self.tolerance = float(tolerance)
        for s in self.swatches:
            if s.merged:
                s.deleted, s.replaced_by, s.merged = False, None, False
        keys = [s for s in self.swatches if s.in_keys and not s.deleted]
        into = cluster([s.source for s in keys], self.tolerance,
                       [not is_auto_name(s.name) or s.rgb != s.source for s in keys])
        for s, j in zip(keys, into, strict=True):
            if keys[j] is not s:
                s.deleted, s.replaced_by, s.merged = True, keys[j].id, True
        return len(keys), sum(1 for n, j in enumerate(into) if n == j)

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

    def restore(self, other: SwatchPalette) -> None:
        """Become a copy of ``other`` (undo), staying the same object."""
        other = other.copy()
        self.swatches, self.next_id = other.swatches, other.next_id
        self.tolerance, self.model = other.tolerance, other.model

    def to_dict(self) -> dict[str, Any]:
        """JSON form (saved in the project file)."""
        return {"next_id": self.next_id, "tolerance": self.tolerance, "model": self.model,
                "swatches": [s.to_dict() for s in self.swatches]}

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None) -> SwatchPalette:
        """Inverse of :meth:`to_dict` (None or {} = an empty palette). A palette saved before
        key colours were merged is merged at the default tolerance, as the panel then shows."""
        if not d:
            return cls()
        pal = cls([Swatch.from_dict(x) for x in d.get("swatches", [])], int(d.get("next_id", 1)),
                  float(d.get("tolerance", DEFAULT_TOLERANCE)), d.get("model"))
        ids = [s.id for s in pal.swatches]
        if len(set(ids)) != len(ids):
            raise ValueError("two swatches share an id")
        if "tolerance" not in d and pal.swatches:
            pal.merge()
        return pal

    def model_colours(self) -> list[ModelColour]:
        """The live swatches as a colour model (what a palette file keeps: id, name, group,
        tone, colour, and the key colours merged into each)."""
        return [ModelColour(s.name, s.rgb, s.group, s.tone, s.id,
                            tuple(m.source for m in self.merged_into(s.id))) for s in self.live()]

    def export_file(self, path: str | Path) -> Path:
        """Write the live swatches as a GIMP palette (``.gpl``: ``group / name / tone``), a JSON
        palette (``.json``) or CSV (``.csv``); both of these keep ids, groups, tones and merges."""
        path = Path(path)
        suffix = path.suffix.lower()
        if suffix == ".gpl":
            text = gpl_text(self.model_colours(), path.stem)
        elif suffix == ".json":
            text = json_text(self.model_colours())
        elif suffix == ".csv":
            text = csv_text(self.model_colours())
        else:
            raise ProjectError(f"{path.name}: export a palette as .gpl (GIMP), .json or .csv")
        try:
            write_text_atomic(path, text)
        except OSError as exc:
            raise ProjectError(f"cannot write the palette {path}: {exc.strerror or exc}") from exc
        return path

    def import_file(self, path: str | Path) -> tuple[int, int]:
        """Read a colour model (``.gpl``, ``.json``, ``.csv``): see :meth:`import_colours`."""
        return self.import_colours(read_colour_model(path))

    def import_colours(self, entries: list[ModelColour]) -> tuple[int, int]:
        """Take a colour model's names and colours: a swatch of the same id or name (group,
        name and tone) takes its colour; a swatch the palette named itself takes the name,
        group, tone and colour of the model's paint nearest its own (exact, else within the
        merging tolerance, at least 1 ΔE); the others are added. Returns (updated, added).
        Linear in the file's colours (indexes built once), so a palette of 300 000 colours takes
        seconds, not hours."""
        idx = _ImportIndex(self)
        matched = idx.by_colour(entries, max(self.tolerance, 1.0))
        updated = added = 0
        for n, e in enumerate(entries):
            s = (idx.by_id.get(e.id) if e.id else None) or idx.named(e) or matched.get(n)
            if s is not None and not s.deleted:
                if (s.rgb, s.name, s.group, s.tone) != (e.rgb, e.name, e.group, e.tone):
                    idx.change(s, e)
                    updated += 1
            elif not idx.live_rgb.get(e.rgb):
                added += idx.add(e)
        return updated, added

    def attach_model(self, cut_folder: str | Path) -> tuple[int, int] | None:
        """Once per project: take the names of the colour model the cut carries (its
        ``palette.json``, ...; :func:`~opdm_studio.engine.colour_model.find_cut_model`).
        Returns (updated, added), None when looked for before or the cut has none; a model
        that cannot be read raises ProjectError (and is not looked for again)."""
        if self.model is not None:
            return None
        path = find_cut_model(cut_folder)
        self.model = path.name if path is not None else ""
        return None if path is None else self.import_file(path)


class _ImportIndex:
    """The lookups an import needs (id, name, live colours, source colours, names and ids
    taken), kept up to date as it changes the palette: :meth:`SwatchPalette.add`'s rules at
    the cost of a dictionary lookup."""

    def __init__(self, palette: SwatchPalette) -> None:
        self.palette = palette
        self.by_id = {s.id: s for s in reversed(palette.swatches)}    # the first one wins
        self.by_name: dict[tuple[str, str, str], list[Swatch]] = {}
        self.live_rgb: dict[RGB, int] = {}
        self.by_source: dict[RGB, Swatch] = {}
        for s in palette.swatches:
            self.by_source.setdefault(s.source, s)
            if not s.deleted:
                self._note(s)

    def _note(self, s: Swatch) -> None:
        self.by_name.setdefault((s.group, s.name, s.tone), []).append(s)
        self.live_rgb[s.rgb] = self.live_rgb.get(s.rgb, 0) + 1

    def named(self, e: ModelColour) -> Swatch | None:
        """The first live swatch with the name (group, name, tone) of ``e``."""
        return next((s for s in self.by_name.get((e.group, e.name, e.tone), ()) if not s.deleted), None)

    def by_colour(self, entries: list[ModelColour], tolerance: float) -> dict[int, Swatch]:
        """Entry index -> the live swatch the palette named itself whose colour is the entry's
        (exactly, else the nearest within ``tolerance`` ΔE), each swatch given once; entries
        found by id or name are left out."""
        pool = [s for s in self.palette.live() if is_auto_name(s.name)]
        if not pool:
            return {}
        todo = [n for n, e in enumerate(entries)
                if not (e.id and e.id in self.by_id) and self.named(e) is None]
        out: dict[int, Swatch] = {}
        exact: dict[RGB, Swatch] = {}
        for s in pool:
            exact.setdefault(s.source, s)
            exact.setdefault(s.rgb, s)
        taken: set[str] = set()
        for n in todo:
            hit = exact.get(entries[n].rgb)
            if hit is not None and hit.id not in taken:
                out[n] = hit
                taken.add(hit.id)
        rest = [n for n in todo if n not in out]
        free = [s for s in pool if s.id not in taken]
        pairs = nearest_pairs([entries[n].rgb for n in rest], [s.source for s in free], tolerance)
        out.update({rest[k]: free[j] for k, j in pairs})
        return out

    def change(self, s: Swatch, e: ModelColour) -> None:
        """Give live swatch ``s`` the colour and names of ``e``."""
        self.by_name[(s.group, s.name, s.tone)].remove(s)
        self.live_rgb[s.rgb] -= 1
        s.rgb, s.name, s.group, s.tone = e.rgb, e.name, e.group, e.tone
        self._note(s)

    def add(self, e: ModelColour) -> int:
        """:meth:`SwatchPalette.add` of a colour no live swatch has: 1 if added, 0 if refused."""
        rgb = e.rgb
        old = self.by_source.get(rgb)
        if old is not None and not old.deleted:
            return 0           # the colour some swatch was painted with: add() refuses it
        if old is not None:
            old.deleted, old.replaced_by, old.merged, old.rgb = False, None, False, rgb
            old.name, old.group, old.tone = e.name or old.name, e.group, e.tone
            self._note(old)
            return 1
        pal = self.palette
        while f"s{pal.next_id}" in self.by_id:
            pal.next_id += 1
        s = Swatch(f"s{pal.next_id}", e.name or pal._new_name(), rgb, rgb, group=e.group, tone=e.tone)
        pal.next_id += 1
        pal.swatches.append(s)
        self.by_id[s.id] = s
        self.by_source[rgb] = s
        self._note(s)
        return 1


def read_palette_file(path: str | Path) -> list[tuple[str | None, str, RGB]]:
    """(id or None, name, rgb) of every colour of a palette file (``.gpl``, ``.json``, ``.csv``);
    the name is ``group / name / tone`` (:func:`~opdm_studio.engine.colour_model.read_colour_model`
    keeps them apart)."""
    return [(c.id, c.full_name, c.rgb) for c in read_colour_model(path)]
