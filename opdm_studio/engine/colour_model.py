"""A colour model (色指定) as a colour designer hands it over: named paints, grouped per
character or part, normal / shadow / highlight as a set; read from the files designers export.

Read here (plain data, no images): a cut's ``palette.json`` (``{"colors": [{"name", "rgb"}]}``),
the app's own JSON palette, a GIMP ``.gpl``, and a CSV (one paint a row with name, group, tone
and a colour code or R, G, B; or one part a row with its normal / shadow / highlight codes in
three columns). Names such as ``char0_body_shadow`` are split into group ``char0``, part
``body`` and tone ``shadow``; ``char0 / body / shadow`` (what the app writes) is read back
exactly. Also: how near two colours are (CIELAB ΔE, the tolerance of merging near-identical
key colours into one swatch) and where a cut keeps its colour model.
"""
from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from opdm_studio.errors import ProjectError

RGB = tuple[int, int, int]
#: The tones of a paint set; "" is the normal paint.
TONES = ("", "shadow", "highlight")
#: Words that name a tone in a designer's file (lower case), in English and Japanese.
TONE_WORDS = {
    "": ("", "normal", "base", "n", "ノーマル", "通常", "ベース", "基本"),
    "shadow": ("shadow", "shade", "sh", "s", "kage", "影", "かげ", "カゲ", "影色", "1号影"),
    "highlight": ("highlight", "hl", "hi", "h", "ハイライト", "ハイライト色", "光", "ハイ"),
}
#: Tone words trusted at the end of a name (a name's last word "s" or "h" is not a tone).
NAME_TONES = {"shadow": "shadow", "shade": "shadow", "kage": "shadow", "影": "shadow",
              "highlight": "highlight", "hl": "highlight", "ハイライト": "highlight"}
#: File names a cut's colour model is found under (in the cut folder, or beside its lineart).
MODEL_NAMES = ("palette.json", "colour_model.csv", "color_model.csv", "palette.csv", "palette.gpl")
#: Merge key colours closer than this (ΔE) into one swatch unless the user chose otherwise:
#: the sample cut's closest paints are 14 apart; konobi's compressed keys' 112 colours are 25.
DEFAULT_TOLERANCE = 6.0
SEPARATOR = " / "
JSON_FORMAT = "opdm-studio-palette"


@dataclass(frozen=True)
class ModelColour:
    """One paint of a colour model: its name (the part), group (character), tone, colour, and
    the swatch id it had when the app wrote it (None from other programs); ``also``: near-identical
    key colours merged into it."""

    name: str
    rgb: RGB
    group: str = ""
    tone: str = ""
    id: str | None = None
    also: tuple[RGB, ...] = ()

    @property
    def full_name(self) -> str:
        """``group / name / tone`` (only the parts it has): what a GIMP palette keeps."""
        return full_name(self.name, self.group, self.tone)


def full_name(name: str, group: str = "", tone: str = "") -> str:
    """The one-line name of a paint: ``char0 / body / shadow``; :func:`split_name` reads it back."""
    return SEPARATOR.join(p for p in (group, name, tone) if p)


def tone_of(word: str) -> str | None:
    """The tone a word names ("" normal, "shadow", "highlight"), None if it names none."""
    w = word.strip().lower()
    return next((t for t, words in TONE_WORDS.items() if w in words), None)


def split_name(name: str) -> tuple[str, str, str]:
    """(group, part, tone) of one explicit ``a / b / c`` name; ("", name, "") otherwise."""
    parts = [p.strip() for p in name.split(SEPARATOR.strip())] if SEPARATOR.strip() in name else [name]
    parts = [p for p in parts if p]
    if len(parts) >= 2 and parts[-1].lower() in NAME_TONES:
        tone, parts = NAME_TONES[parts[-1].lower()], parts[:-1]
    else:
        tone = ""
    if len(parts) >= 2:
        return parts[0], " ".join(parts[1:]), tone
    return "", parts[0] if parts else name.strip(), tone


def split_names(names: Sequence[str]) -> list[tuple[str, str, str]]:
    """(group, part, tone) of each name of one file. ``a / b / c`` names are explicit; a name
    like ``char0_body_shadow`` ends with its tone and starts with its group when another name
    of the file starts with the same word (``eye_white`` alone stays one part)."""
    words = [re.split(r"[_\s]+", n.strip()) for n in names]
    first: dict[str, int] = {}
    for w in words:
        if len(w) >= 2:
            first[w[0]] = first.get(w[0], 0) + 1
    out = []
    for name, w in zip(names, words, strict=True):
        if SEPARATOR.strip() in name:
            out.append(split_name(name))
            continue
        tone = ""
        if len(w) >= 2 and w[-1].lower() in NAME_TONES:
            tone, w = NAME_TONES[w[-1].lower()], w[:-1]
        group = ""
        if len(w) >= 2 and first.get(w[0], 0) >= 2:
            group, w = w[0], w[1:]
        out.append((group, "_".join(w) if w else name.strip(), tone))
    return out


# ------------------------------------------------------------------------------ colours

def parse_rgb(value: Any) -> RGB:
    """A colour from ``[r, g, b]``, ``"#rrggbb"``, ``"rrggbb"`` or ``"r g b"`` (ValueError)."""
    if isinstance(value, str):
        s = value.strip()
        m = re.fullmatch(r"#?([0-9a-fA-F]{6})", s)
        if m:
            v = int(m.group(1), 16)
            return (v >> 16) & 255, (v >> 8) & 255, v & 255
        value = re.split(r"[\s,;]+", s)
    vals = [int(v) for v in value]
    if len(vals) != 3 or any(not 0 <= v <= 255 for v in vals):
        raise ValueError(f"not an RGB colour: {value!r}")
    return vals[0], vals[1], vals[2]


def lab(colours: Iterable[RGB]) -> np.ndarray:
    """CIELAB of RGB colours, float64 (N, 3)."""
    from opdm_studio.imaging.palette import rgb_to_lab
    arr = np.array(list(colours), np.uint8).reshape(-1, 1, 3)
    return rgb_to_lab(arr).reshape(-1, 3).astype(np.float64)


def delta_e(a: RGB, b: RGB) -> float:
    """CIE76 ΔE between two colours (about 2: just seen side by side)."""
    la, lb = lab([a, b])
    return float(np.linalg.norm(la - lb))


def cluster(colours: Sequence[RGB], tolerance: float, fixed: Sequence[bool] | None = None) -> list[int]:
    """For each colour, the index of the colour it merges into (itself when it is kept).

    Greedy in the given order (most used first): a colour joins the nearest kept colour
    within ``tolerance`` ΔE, else it is kept. ``fixed[i]``: colour i is always kept."""
    out = list(range(len(colours)))
    if tolerance <= 0 or len(colours) < 2:
        return out
    labs = lab(colours)
    kept: list[int] = []
    for i in range(len(colours)):
        if kept and not (fixed is not None and fixed[i]):
            d = np.linalg.norm(labs[kept] - labs[i], axis=1)
            j = int(np.argmin(d))
            if d[j] <= tolerance:
                out[i] = kept[j]
                continue
        kept.append(i)
    return out


# ------------------------------------------------------------------------------ files

def find_cut_model(folder: str | Path) -> Path | None:
    """The colour model a cut folder carries (``palette.json``, a CSV or ``.gpl`` named in
    :data:`MODEL_NAMES`), in the folder or, for a ``lineart`` folder, beside it; None if none."""
    folder = Path(folder)
    for base in (folder, folder.parent):
        for name in MODEL_NAMES:
            p = base / name
            if p.is_file():
                return p
        if base.name.lower() not in ("lineart", "line", "lines", "drawings", "senga", "線画"):
            break
    return None


def read_colour_model(path: str | Path) -> list[ModelColour]:
    """Every paint of a colour model file (``.json``, ``.gpl``, ``.csv``); ProjectError naming
    the file and the line on anything unreadable."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")      # a byte-order mark is not a colour
    except (OSError, UnicodeDecodeError) as exc:
        raise ProjectError(f"cannot read the palette {path}: {exc}") from exc
    suffix = path.suffix.lower()
    if suffix == ".json":
        return _read_json(path, text)
    if suffix == ".csv":
        return _read_csv(path, text)
    if suffix == ".gpl":
        return _read_gpl(path, text)
    raise ProjectError(f"{path.name}: a palette is read from .gpl (GIMP), .json or .csv")


def _named(raw: list[tuple[str, RGB, str | None, tuple[RGB, ...]]]) -> list[ModelColour]:
    parts = split_names([n for n, *_ in raw])
    return [ModelColour(p, rgb, g, t, sid, also)
            for (_n, rgb, sid, also), (g, p, t) in zip(raw, parts, strict=True)]


def _read_json(path: Path, text: str) -> list[ModelColour]:
    try:
        data = json.loads(text)
        items = data if isinstance(data, list) else data.get("swatches", data.get("colors", data.get("colours")))
        if not isinstance(items, list):
            raise ValueError("no list of swatches or colors")
        raw, explicit = [], []
        for n, it in enumerate(items, start=1):
            rgb = parse_rgb(it["rgb"] if "rgb" in it else it["hex"])
            name = str(it.get("name") or f"Colour {n}")
            also = tuple(parse_rgb(c) for c in it.get("also", ()))
            raw.append((name, rgb, str(it["id"]) if it.get("id") else None, also))
            explicit.append(("group" in it or "tone" in it, str(it.get("group", "")),
                             tone_of(str(it.get("tone", ""))) or ""))
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ProjectError(f"{path} is not a palette file ({exc})") from exc
    out = _named(raw)
    return [ModelColour(r[0], r[1], e[1], e[2], r[2], r[3]) if e[0] else m
            for m, r, e in zip(out, raw, explicit, strict=True)]


def _read_gpl(path: Path, text: str) -> list[ModelColour]:
    lines = text.splitlines()
    if not lines or lines[0].strip() != "GIMP Palette":
        raise ProjectError(f"{path} is not a GIMP palette (its first line must be 'GIMP Palette')")
    raw: list[tuple[str, RGB, str | None, tuple[RGB, ...]]] = []
    for n, line in enumerate(lines[1:], start=2):
        s = line.strip()
        if not s or s.startswith("#") or re.match(r"^(Name|Columns)\s*:", s):
            continue
        m = re.match(r"^(\d+)\s+(\d+)\s+(\d+)\s*(.*)$", s)
        if m is None:
            raise ProjectError(f"{path}, line {n}: expected 'R G B name', got {s!r}")
        try:
            rgb = parse_rgb([m.group(i) for i in (1, 2, 3)])
        except ValueError as exc:
            raise ProjectError(f"{path}, line {n}: {exc}") from exc
        raw.append((m.group(4).strip() or "#{:02x}{:02x}{:02x}".format(*rgb), rgb, None, ()))
    return _named(raw)


#: CSV column titles (lower case) and what they hold.
CSV_COLUMNS = {
    "id": ("id",),
    "name": ("name", "part", "paint", "colour name", "color name", "名前", "色名", "部位", "パーツ"),
    "group": ("group", "character", "char", "キャラ", "キャラクター", "グループ"),
    "tone": ("tone", "shade", "type", "種類", "トーン"),
    "hex": ("hex", "code", "colour", "color", "colour code", "color code", "html", "カラーコード", "色コード", "色"),
    "r": ("r", "red", "赤"), "g": ("g", "green", "緑"), "b": ("b", "blue", "青"),
    "also": ("also", "merged"),
}


def _read_csv(path: Path, text: str) -> list[ModelColour]:
    try:
        dialect: Any = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    rows = [r for r in csv.reader(io.StringIO(text), dialect) if any(c.strip() for c in r)]
    if not rows:
        raise ProjectError(f"{path} holds no colours")
    head = [c.strip().lower() for c in rows[0]]
    cols: dict[str, int] = {}
    for n, h in enumerate(head):
        key = next((k for k, words in CSV_COLUMNS.items() if h in words), None)
        if key is None and tone_of(h) is not None and h:
            key = "tone:" + (tone_of(h) or "")          # a column of normal / shadow / highlight codes
        if key is not None and key not in cols:
            cols[key] = n
    wide = {k[5:]: i for k, i in cols.items() if k.startswith("tone:")}
    if wide and "" not in wide and "hex" in cols:
        wide[""] = cols["hex"]                          # the colour column is the normal paint
    if not cols or ("hex" not in cols and not wide and not {"r", "g", "b"} <= set(cols)):
        # No header: name, then a colour code or R G B (the first cell with a colour is it).
        cols, body = {}, rows
    else:
        body = rows[1:]
    raw: list[tuple[str, RGB, str | None, tuple[RGB, ...]]] = []
    explicit: list[tuple[bool, str, str]] = []

    def cell(row: list[str], key: str) -> str:
        i = cols.get(key)
        return row[i].strip() if i is not None and i < len(row) else ""
    for n, row in enumerate(body, start=2 if body is not rows else 1):
        try:
            if not cols:
                raw.append(_headless(row))
                explicit.append((False, "", ""))
                continue
            name, group = cell(row, "name"), cell(row, "group")
            sid = cell(row, "id") or None
            also = tuple(parse_rgb(c) for c in cell(row, "also").split() if c)
            has = "group" in cols or "tone" in cols or bool(wide)
            if wide:
                for tone in (t for t in TONES if t in wide):
                    i = wide[tone]
                    code = row[i].strip() if i < len(row) else ""
                    if code:
                        raw.append((name, parse_rgb(code), None, ()))
                        explicit.append((True, group, tone))
                continue
            if "hex" in cols and cell(row, "hex"):
                rgb = parse_rgb(cell(row, "hex"))
            else:
                rgb = parse_rgb([cell(row, "r"), cell(row, "g"), cell(row, "b")])
            found = tone_of(cell(row, "tone"))
            if found is None:
                raise ValueError(f"unknown tone {cell(row, 'tone')!r} (normal, shadow or highlight)")
            raw.append((name or "#{:02x}{:02x}{:02x}".format(*rgb), rgb, sid, also))
            explicit.append((has, group, found))
        except ValueError as exc:
            raise ProjectError(f"{path}, line {n}: {exc}") from exc
    if not raw:
        raise ProjectError(f"{path} holds no colours")
    out = _named(raw)
    return [ModelColour(r[0], r[1], e[1], e[2], r[2], r[3]) if e[0] else m
            for m, r, e in zip(out, raw, explicit, strict=True)]


def _headless(row: list[str]) -> tuple[str, RGB, None, tuple[RGB, ...]]:
    cells = [c.strip() for c in row]
    for i, c in enumerate(cells):
        if re.fullmatch(r"#?[0-9a-fA-F]{6}", c) and (c.startswith("#") or i > 0):
            return (" ".join(cells[:i]) or c, parse_rgb(c), None, ())
        if i + 2 < len(cells) and all(re.fullmatch(r"\d{1,3}", x) for x in cells[i:i + 3]):
            return (" ".join(cells[:i]) or " ".join(cells[i + 3:]) or "#", parse_rgb(cells[i:i + 3]), None, ())
    raise ValueError(f"expected a name and a colour code (#rrggbb) or R, G, B, got {row!r}")


def nearest_pairs(a: Sequence[RGB], b: Sequence[RGB], tolerance: float) -> list[tuple[int, int]]:
    """(i, j) pairs of colours of ``a`` and ``b`` within ``tolerance`` ΔE, nearest first, each
    colour in one pair at most (none when the table would be too large to hold)."""
    if not a or not b or tolerance <= 0 or len(a) * len(b) > 4_000_000:
        return []
    d = np.linalg.norm(lab(a)[:, None, :] - lab(b)[None, :, :], axis=2)
    out = []
    for i in np.argsort(d.min(axis=1), kind="stable"):
        j = int(np.argmin(d[i]))
        if d[i, j] > tolerance:
            continue
        out.append((int(i), j))
        d[:, j] = np.inf
    return out


def gpl_text(colours: Iterable[ModelColour], name: str) -> str:
    """A colour model as a GIMP palette, each paint named ``group / name / tone``."""
    lines = ["GIMP Palette", f"Name: {name}", "Columns: 8", "#"]
    lines += [f"{c.rgb[0]:3d} {c.rgb[1]:3d} {c.rgb[2]:3d}\t{c.full_name}" for c in colours]
    return "\n".join(lines) + "\n"


def json_text(colours: Iterable[ModelColour]) -> str:
    """A colour model as the app's JSON palette (ids, groups, tones, merged colours kept)."""
    items = []
    for c in colours:
        d: dict[str, Any] = {"id": c.id, "name": c.name, "group": c.group, "tone": c.tone or "normal",
                             "rgb": list(c.rgb)}
        if c.also:
            d["also"] = ["#{:02x}{:02x}{:02x}".format(*x) for x in c.also]
        items.append(d)
    return json.dumps({"format": JSON_FORMAT, "version": 2, "swatches": items}, indent=1, ensure_ascii=False)


def csv_text(colours: Iterable[ModelColour]) -> str:
    """A colour model as CSV (id, group, name, tone, hex, r, g, b, also), read back by
    :func:`read_colour_model`."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["id", "group", "name", "tone", "hex", "r", "g", "b", "also"])
    for c in colours:
        w.writerow([c.id or "", c.group, c.name, c.tone or "normal", "#{:02x}{:02x}{:02x}".format(*c.rgb),
                    *c.rgb, " ".join("#{:02x}{:02x}{:02x}".format(*a) for a in c.also)])
    return buf.getvalue()
