"""The scene behind a synthetic cut (opdm_studio.synth.cut): palette, characters, houses, rendering.

A scene is built once per cut (:func:`build_scene`), then :func:`render` draws the paint-region
ids of the drawing at a time and :func:`lines_of` draws its closed line art (black lines, red /
blue trace lines on shadow and highlight borders, open strokes). Deterministic for a generator.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

LINE_RGB = (0, 0, 0)
TRACE_RGB = {"red": (230, 30, 40), "blue": (40, 80, 235)}
_SHIFT = 4  # cv2 drawing with 1/16 px precision: smooth motion
_ONE = 1 << _SHIFT

# --- palette ---------------------------------------------------------------------------------

def _lab(rgb) -> np.ndarray:
    a = np.asarray(rgb, np.float32).reshape(-1, 1, 3) / 255.0
    return cv2.cvtColor(a, cv2.COLOR_RGB2Lab).reshape(-1, 3)


class _PaletteMaker:
    """Random paint colours, every pair at least ``min_de`` apart in CIELAB and far from ink."""

    def __init__(self, rng: np.random.Generator, min_de: float = 14.0) -> None:
        self.rng = rng
        self.min_de = min_de
        self.colors: list[tuple[int, int, int]] = []
        self.names: list[str] = []
        self._lab = np.zeros((0, 3), np.float32)
        self._avoid = _lab([LINE_RGB, *TRACE_RGB.values()])

    def _ok(self, rgb) -> bool:
        lab = _lab(rgb)[0]
        if np.min(np.linalg.norm(self._avoid - lab, axis=1)) < 22:
            return False
        return not len(self._lab) or float(np.min(np.linalg.norm(self._lab - lab, axis=1))) >= self.min_de

    def _add(self, rgb, name: str) -> int:
        r, g, b = (int(v) for v in rgb)
        self.colors.append((r, g, b))
        self.names.append(name)
        self._lab = np.vstack([self._lab, _lab(rgb)])
        return len(self.colors) - 1

    def fixed(self, rgb: tuple[int, int, int], name: str) -> int:
        """Add a given colour, or the nearest acceptable variation of it."""
        for _ in range(200):
            if self._ok(rgb):
                return self._add(rgb, name)
            r, g, b = (int(np.clip(v + self.rng.integers(-25, 26), 0, 255)) for v in rgb)
            rgb = (r, g, b)
        return self.new(name)

    def new(self, name: str, sat: tuple[float, float] = (0.25, 0.8),
            val: tuple[float, float] = (0.45, 0.97)) -> int:
        """Add a random colour."""
        for _ in range(2000):
            h = self.rng.uniform(0, 180)
            s = self.rng.uniform(*sat)
            v = self.rng.uniform(*val)
            hsv = np.array([[[h, s * 255, v * 255]]], np.float32).astype(np.uint8)
            rgb = cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)[0, 0]
            if self._ok(rgb):
                return self._add(rgb, name)
        raise RuntimeError("palette space exhausted")  # only with absurd colour counts

    def shade(self, base: int, name: str, factor: float) -> int:
        """A darker (factor < 1) or lighter (> 1) variant of a colour, for shadow/highlight."""
        rgb = np.asarray(self.colors[base], np.float32)
        for k in range(60):
            f = factor * (1 - 0.02 * k) if factor < 1 else factor * (1 + 0.02 * k)
            cand = np.clip(rgb * f if factor < 1 else rgb + (255 - rgb) * (f - 1), 0, 255).astype(np.uint8)
            if self._ok(cand):
                return self._add(cand, name)
        return self.new(name)


# --- scene -----------------------------------------------------------------------------------

@dataclass
class _Part:
    kind: str               # "ellipse" | "poly"
    center: tuple[float, float]   # local units (character radius = 1)
    axes: tuple[float, float] = (1.0, 1.0)
    angle: float = 0.0      # degrees
    points: tuple = ()      # for polygons, local units
    color: int = 0          # palette index
    clip_to: int = -1       # part index: draw only inside that part (shadow / highlight)
    trace: str = ""         # trace line colour for the border with clip_to


@dataclass
class _Character:
    parts: list[_Part]
    strokes: list[tuple]    # open strokes (local polylines)
    c0: np.ndarray
    vel: np.ndarray
    wobble: np.ndarray
    freq: float
    phase: float
    radius: float
    theta0: float
    omega: float
    squash: float


def _make_character(rng: np.random.Generator, pal: _PaletteMaker, radius: float, w: int, h: int,
                    idx: int) -> _Character:
    body = pal.new(f"char{idx}_body")
    body_sh = pal.shade(body, f"char{idx}_body_shadow", 0.72)
    belly = pal.new(f"char{idx}_belly", sat=(0.1, 0.4), val=(0.8, 1.0))
    skin = pal.new(f"char{idx}_skin", sat=(0.15, 0.45), val=(0.75, 1.0))
    skin_hi = pal.shade(skin, f"char{idx}_skin_highlight", 1.45)
    hat = pal.new(f"char{idx}_hat")
    band = pal.new(f"char{idx}_hat_band")
    eye = pal.fixed((250, 250, 246), "eye_white") if "eye_white" not in pal.names else pal.names.index("eye_white")
    pupil = pal.fixed((52, 40, 70), "pupil") if "pupil" not in pal.names else pal.names.index("pupil")
    mouth = pal.new(f"char{idx}_mouth", sat=(0.5, 0.9), val=(0.5, 0.8))
    detailed = radius >= 12
    parts = [
        _Part("ellipse", (-1.05, 0.1), (0.28, 0.72), 25, color=body),   # arms behind the body
        _Part("ellipse", (1.05, 0.1), (0.28, 0.72), -25, color=body),
        _Part("ellipse", (0.0, 0.0), (1.0, 1.2), 0, color=body),       # 2: body
        _Part("ellipse", (0.45, 0.35), (0.8, 1.05), 0, color=body_sh, clip_to=2, trace="red"),
        _Part("ellipse", (-0.1, 0.35), (0.5, 0.55), 0, color=belly),
        _Part("ellipse", (0.0, -1.55), (0.78, 0.74), 0, color=skin),   # 5: head
        _Part("ellipse", (-0.35, -1.85), (0.35, 0.25), -20, color=skin_hi, clip_to=5, trace="blue"),
        _Part("poly", (0.0, 0.0), points=((-0.7, -2.05), (0.7, -2.05), (0.1, -3.0)), color=hat),
        _Part("poly", (0.0, 0.0), points=((-0.72, -2.05), (0.72, -2.05), (0.6, -2.3), (-0.6, -2.3)),
              color=band),
    ]
    strokes = []
    if detailed:
        parts += [
            _Part("ellipse", (-0.3, -1.6), (0.2, 0.26), 0, color=eye),
            _Part("ellipse", (0.3, -1.6), (0.2, 0.26), 0, color=eye),
            _Part("ellipse", (-0.27, -1.55), (0.09, 0.12), 0, color=pupil),
            _Part("ellipse", (0.33, -1.55), (0.09, 0.12), 0, color=pupil),
            _Part("ellipse", (0.0, -1.18), (0.26, 0.09), 0, color=mouth),
        ]
        # Brows and a belly wrinkle: open strokes that close nothing, like real drawings.
        strokes = [((-0.45, -1.98), (-0.3, -2.02), (-0.15, -1.97)),
                   ((0.15, -1.97), (0.3, -2.02), (0.45, -1.98)),
                   ((-0.3, 0.6), (-0.1, 0.68), (0.1, 0.62))]
    c0 = np.array([rng.uniform(0.15, 0.85) * w, rng.uniform(0.45, 0.8) * h])
    vel = rng.uniform(-1, 1, 2) * np.array([0.012 * w, 0.004 * h])
    return _Character(parts, strokes, c0, vel, rng.uniform(0.01, 0.04, 2) * np.array([w, h]),
                      rng.uniform(0.2, 0.6), rng.uniform(0, 6.28), radius, rng.uniform(-15, 15),
                      rng.uniform(-2.5, 2.5), rng.uniform(0.03, 0.12))


def _xf(pts, c, r, th, sx, sy) -> np.ndarray:
    p = np.asarray(pts, np.float64).reshape(-1, 2) * r * np.array([sx, sy])
    ct, st = math.cos(th), math.sin(th)
    rot = np.stack([p[:, 0] * ct - p[:, 1] * st, p[:, 0] * st + p[:, 1] * ct], axis=1)
    return rot + c


def _draw_part(canvas: np.ndarray, part: _Part, c, r, th, sx, sy, value: int, clip_id: int = -1) -> None:
    """Draw one part into the id canvas (only over ``clip_id`` when given)."""
    if part.kind == "ellipse":
        ctr = _xf(part.center, c, r, th, sx, sy)[0]
        ax = (max(part.axes[0] * r * sx, 0.6), max(part.axes[1] * r * sy, 0.6))
        ang = part.angle + math.degrees(th)
        ext = max(ax) + 2
        x0, y0 = int(max(ctr[0] - ext, 0)), int(max(ctr[1] - ext, 0))
        x1 = int(min(ctr[0] + ext + 1, canvas.shape[1]))
        y1 = int(min(ctr[1] + ext + 1, canvas.shape[0]))
        if x1 <= x0 or y1 <= y0:
            return
        mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
        cv2.ellipse(mask, (int(round((ctr[0] - x0) * _ONE)), int(round((ctr[1] - y0) * _ONE))),
                    (int(round(ax[0] * _ONE)), int(round(ax[1] * _ONE))), ang, 0, 360, 1, -1,
                    cv2.LINE_8, _SHIFT)
    else:
        pts = _xf(part.points, c, r, th, sx, sy)
        x0, y0 = int(max(pts[:, 0].min() - 1, 0)), int(max(pts[:, 1].min() - 1, 0))
        x1 = int(min(pts[:, 0].max() + 2, canvas.shape[1]))
        y1 = int(min(pts[:, 1].max() + 2, canvas.shape[0]))
        if x1 <= x0 or y1 <= y0:
            return
        mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
        loc = np.round((pts - [x0, y0]) * _ONE).astype(np.int32)
        cv2.fillPoly(mask, [loc], 1, cv2.LINE_8, _SHIFT)
    roi = canvas[y0:y1, x0:x1]
    sel = mask.astype(bool)
    if clip_id >= 0:
        sel &= roi == clip_id
    roi[sel] = value


@dataclass
class Scene:
    """A cut's world: sky, hills, clouds, houses, characters, camera pan and region bookkeeping."""

    w: int
    h: int
    pal: _PaletteMaker
    sky: int
    hills: list[tuple[int, float, float, float, float]]  # colour, base, amp, freq, parallax
    clouds: list[tuple[float, float, float, float, int]]
    houses: list[dict]
    chars: list[_Character]
    pan: np.ndarray
    line_width: int


def build_scene(rng: np.random.Generator, w: int, h: int, n_characters: int, n_houses: int,
                pan: bool) -> Scene:
    """A random scene of ``w`` x ``h`` with its palette (deterministic for ``rng``)."""
    pal = _PaletteMaker(rng)
    sky = pal.new("sky", sat=(0.2, 0.5), val=(0.85, 1.0))
    hills = []
    for k in range(2):
        hills.append((pal.new(f"hill{k}", sat=(0.3, 0.7), val=(0.4, 0.8)), (0.55 + 0.12 * k) * h,
                      rng.uniform(0.04, 0.1) * h, rng.uniform(1.5, 4.0) / w, 0.4 + 0.6 * k))
    cloud = pal.new("cloud", sat=(0.0, 0.08), val=(0.93, 1.0))
    clouds = [(rng.uniform(-0.2, 1.4) * w, rng.uniform(0.08, 0.3) * h, rng.uniform(0.06, 0.12) * w,
               rng.uniform(0.03, 0.06) * h, cloud) for _ in range(3)]
    wall, roof, window, door = (pal.new("wall", sat=(0.1, 0.4)), pal.new("roof"),
                                pal.new("window", sat=(0.3, 0.6), val=(0.7, 0.95)), pal.new("door"))
    houses = []
    for _ in range(n_houses):
        hw = rng.uniform(0.1, 0.18) * w
        houses.append(dict(x=rng.uniform(-0.1, 1.3) * w, y=(0.62 + rng.uniform(0, 0.08)) * h, w=hw,
                           h=hw * rng.uniform(0.6, 1.0), wall=wall, roof=roof, window=window, door=door))
    short = min(w, h)
    chars = [_make_character(rng, pal, rng.uniform(0.07, 0.12) * short, w, h, i)
             for i in range(n_characters)]
    pan_v = np.array([rng.uniform(-0.015, 0.015) * w, rng.uniform(-0.003, 0.003) * h]) if pan else np.zeros(2)
    lw = max(1, int(round(short / 300)))
    return Scene(w, h, pal, sky, hills, clouds, houses, chars, pan_v, lw)


def render(scene: Scene, t: float) -> tuple[np.ndarray, np.ndarray, list]:
    """Region ids (int32 (H, W)) of the drawing at time t, plus the open strokes (pixel polylines)."""
    w, h = scene.w, scene.h
    ids = np.zeros((h, w), np.int32)
    colors, family, trace = [0], [0], [""]

    def new_id(color: int, fam: int | None = None, tr: str = "") -> int:
        colors.append(color)
        family.append(len(colors) - 1 if fam is None else fam)
        trace.append(tr)
        return len(colors) - 1

    ids[:] = new_id(scene.sky)
    cam = scene.pan * t
    for cx, cy, rx, ry, col in scene.clouds:
        _draw_part(ids, _Part("ellipse", (0, 0), (rx, ry), 0), np.array([cx - 0.3 * cam[0], cy - 0.3 * cam[1]]),
                   1.0, 0.0, 1.0, 1.0, new_id(col))
    for col, base, amp, freq, par in scene.hills:
        xs = np.linspace(-2, w + 2, 48)
        ys = base + amp * np.sin((xs + par * cam[0]) * freq * 2 * np.pi) - par * cam[1]
        poly = np.concatenate([np.stack([xs, ys], 1), [[w + 2, h + 2], [-2, h + 2]]])
        _draw_part(ids, _Part("poly", (0, 0), points=tuple(map(tuple, poly))), np.zeros(2), 1.0, 0.0,
                   1.0, 1.0, new_id(col))
    for hs in scene.houses:
        x, y = hs["x"] - cam[0], hs["y"] - cam[1]
        hw, hh = hs["w"], hs["h"]
        o = np.array([x, y])
        box = ((0, 0), (hw, 0), (hw, -hh), (0, -hh))
        _draw_part(ids, _Part("poly", (0, 0), points=box), o, 1.0, 0.0, 1.0, 1.0, new_id(hs["wall"]))
        roof = ((-0.1 * hw, -hh), (1.1 * hw, -hh), (0.5 * hw, -hh - 0.5 * hw))
        _draw_part(ids, _Part("poly", (0, 0), points=roof), o, 1.0, 0.0, 1.0, 1.0, new_id(hs["roof"]))
        door = ((0.4 * hw, 0), (0.6 * hw, 0), (0.6 * hw, -0.45 * hh), (0.4 * hw, -0.45 * hh))
        _draw_part(ids, _Part("poly", (0, 0), points=door), o, 1.0, 0.0, 1.0, 1.0, new_id(hs["door"]))
        for fx in (0.12, 0.7):
            win = ((fx * hw, -0.55 * hh), ((fx + 0.18) * hw, -0.55 * hh), ((fx + 0.18) * hw, -0.85 * hh),
                   (fx * hw, -0.85 * hh))
            _draw_part(ids, _Part("poly", (0, 0), points=win), o, 1.0, 0.0, 1.0, 1.0, new_id(hs["window"]))
    strokes = []
    for ch in scene.chars:
        c = ch.c0 + ch.vel * t + ch.wobble * np.sin(ch.freq * t + ch.phase + np.array([0.0, 1.3]))
        th = math.radians(ch.theta0 + ch.omega * t)
        s = 1.0 + ch.squash * math.sin(1.7 * ch.freq * t + ch.phase)
        sx, sy = s, 1.0 / s
        part_ids: list[int] = []
        for p in ch.parts:
            if p.clip_to >= 0:
                parent = part_ids[p.clip_to]
                pid = new_id(p.color, fam=family[parent], tr=p.trace)
                _draw_part(ids, p, c, ch.radius, th, sx, sy, pid, clip_id=parent)
            else:
                pid = new_id(p.color)
                _draw_part(ids, p, c, ch.radius, th, sx, sy, pid)
            part_ids.append(pid)
        for st in ch.strokes:
            strokes.append(_xf(st, c, ch.radius, th, sx, sy))
    return ids, np.array(colors, np.int32), [np.array(family), trace, strokes]


def lines_of(ids: np.ndarray, family: np.ndarray, trace: list[str], strokes: list, lw: int
             ) -> tuple[np.ndarray, np.ndarray]:
    """Line drawing (gray) and its RGB version from a region-id map."""
    h, w = ids.shape
    black = np.zeros((h, w), bool)
    red = np.zeros((h, w), bool)
    blue = np.zeros((h, w), bool)
    fam = family[ids]
    trace_kind = np.array([{"red": 1, "blue": 2}.get(t, 0) for t in trace], np.int8)
    tk = trace_kind[ids]
    # Mark the left/top pixel of every pair of 4-neighbours that differ: no two different
    # regions stay 4-connected, so the drawing is exactly closed.
    for a, b, sl_a in ((ids[:, :-1], ids[:, 1:], (slice(None), slice(0, -1))),
                       (ids[:-1, :], ids[1:, :], (slice(0, -1), slice(None)))):
        diff = a != b
        if sl_a[0] == slice(None):
            fa, fb, ta, tb = fam[:, :-1], fam[:, 1:], tk[:, :-1], tk[:, 1:]
        else:
            fa, fb, ta, tb = fam[:-1, :], fam[1:, :], tk[:-1, :], tk[1:, :]
        same_family = diff & (fa == fb)
        kind = np.maximum(ta, tb)
        black[sl_a] |= diff & ~same_family
        red[sl_a] |= same_family & (kind == 1)
        blue[sl_a] |= same_family & (kind == 2)
    if strokes:
        st = np.zeros((h, w), np.uint8)
        for pl in strokes:
            cv2.polylines(st, [np.round(pl * _ONE).astype(np.int32)], False, 1, max(1, lw), cv2.LINE_8, _SHIFT)
        black |= st.astype(bool)
    if lw > 1:
        k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (lw, lw))
        black = cv2.dilate(black.astype(np.uint8), k).astype(bool)
        red = cv2.dilate(red.astype(np.uint8), k).astype(bool) & ~black
        blue = cv2.dilate(blue.astype(np.uint8), k).astype(bool) & ~black & ~red
    rgb = np.full((h, w, 3), 255, np.uint8)
    rgb[red] = TRACE_RGB["red"]
    rgb[blue] = TRACE_RGB["blue"]
    rgb[black] = LINE_RGB
    gray = np.full((h, w), 255, np.uint8)
    gray[black | red | blue] = 0
    return gray, rgb
