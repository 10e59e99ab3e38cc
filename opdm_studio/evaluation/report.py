"""Report writing: frame-weighted summaries, Markdown + CSV tables and contact sheets.

Every file is written to a temporary name and renamed into place; an existing report is never
overwritten (the caller picks a fresh folder).
"""
from __future__ import annotations

import csv
import io
import math
from collections import defaultdict
from dataclasses import asdict, fields
from pathlib import Path

import cv2
import numpy as np

from opdm_studio.errors import ExportError
from opdm_studio.evaluation.protocol import GT_NAME, FrameRecord, Results, Sheet, WindowRecord
from opdm_studio.fileio import write_bytes_atomic, write_text_atomic

FRAME_METRICS = ("psnr224", "ssim224", "msssim224", "qssim224", "psnr", "ssim", "palette", "seconds")
WINDOW_METRICS = ("cdc", "warp_error")
# Paint regions (the work left): mean wrong regions per frame, share of regions right by count and
# by area; pooled over the group's frames (see region_summary). "regions" (per frame) is CSV only.
REGION_METRICS = ("wrong_regions", "region_acc", "region_acc_area")
COLUMNS = {
    "wrong_regions": ("wrong regions/frame", "{:.2f}"), "region_acc": ("region acc", "{:.3f}"),
    "region_acc_area": ("region acc (area)", "{:.3f}"),
    "psnr224": ("PSNR@224", "{:.2f}"), "ssim224": ("SSIM@224", "{:.3f}"),
    "msssim224": ("MS-SSIM@224", "{:.3f}"), "qssim224": ("QSSIM@224", "{:.3f}"),
    "psnr": ("PSNR native", "{:.2f}"), "ssim": ("SSIM native", "{:.3f}"),
    "palette": ("palette", "{:.3f}"), "cdc": ("CDC", "{:.5f}"), "warp_error": ("WE", "{:.5f}"),
    "fid": ("FID@224", "{:.2f}"), "seconds": ("s/frame", "{:.3f}"),
}


def _mean(values: list[float], weights: list[float] | None = None) -> float:
    pairs = [(v, w) for v, w in zip(values, weights or [1.0] * len(values), strict=True)
             if v is not None and not math.isnan(v) and w > 0]
    if not pairs:
        return float("nan")
    # PSNR of identical images is inf; cap at 100 dB so one perfect frame cannot make the mean inf.
    return float(sum(min(v, 100.0) * w for v, w in pairs) / sum(w for _, w in pairs))


def region_summary(recs: list[FrameRecord]) -> dict[str, float]:
    """Regions and wrong regions per frame, region accuracy by count and by area of a group of frames."""
    nan = float("nan")
    regions = sum(r.regions for r in recs)
    area = sum(r.region_area for r in recs)
    return {
        "regions": regions / len(recs) if recs else nan,
        "wrong_regions": sum(r.wrong_regions for r in recs) / len(recs) if recs else nan,
        "region_acc": 1.0 - sum(r.wrong_regions for r in recs) / regions if regions else nan,
        "region_acc_area": 1.0 - sum(r.wrong_area for r in recs) / area if area else nan,
    }


def summarize(results: Results, by_clip: bool = False) -> list[dict]:
    """Frame-weighted means per (lines, gap, method) [and clip]: one dict per table row."""
    key = (lambda r: (r.lines, r.gap, r.method, r.clip)) if by_clip else \
        (lambda r: (r.lines, r.gap, r.method, ""))
    groups: dict[tuple, list[FrameRecord]] = defaultdict(list)
    wgroups: dict[tuple, list[WindowRecord]] = defaultdict(list)
    for r in results.frames:
        groups[key(r)].append(r)
    for w in results.windows:
        wgroups[key(w)].append(w)
    order: list[tuple] = []
    for k in list(groups) + list(wgroups):
        if k not in order:
            order.append(k)
    rows = []
    for k in order:
        lines, gap, method, clip = k
        recs = groups.get(k, [])
        wins = wgroups.get(k, [])
        row = {"lines": lines, "gap": gap, "method": method, "clip": clip,
               "frames": len(recs) if recs else sum(w.frames for w in wins)}
        row.update(region_summary(recs))
        for m in FRAME_METRICS:
            row[m] = _mean([getattr(r, m) for r in recs])
        for m in WINDOW_METRICS:
            row[m] = _mean([getattr(w, m) for w in wins], [w.frames for w in wins])
        row["fid"] = results.fid.get((lines, gap, method), float("nan")) if not clip else float("nan")
        rows.append(row)
    return rows


def _fmt(value: float, spec: str) -> str:
    return "-" if value is None or (isinstance(value, float) and math.isnan(value)) else spec.format(value)


def markdown_table(rows: list[dict], with_clip: bool = False, metrics: tuple[str, ...] | None = None) -> str:
    """A Markdown table of summary rows (columns without any value are left out)."""
    metrics = metrics or tuple(COLUMNS)
    metrics = tuple(m for m in metrics if any(not math.isnan(r.get(m, float("nan"))) for r in rows))
    head = (["clip"] if with_clip else []) + ["lines", "G", "method", "frames"] + \
        [COLUMNS[m][0] for m in metrics]
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        cells = ([r["clip"]] if with_clip else []) + [r["lines"], str(r["gap"]), r["method"], str(r["frames"])]
        cells += [_fmt(r.get(m, float("nan")), COLUMNS[m][1]) for m in metrics]
        out.append("| " + " | ".join(cells) + " |")
    return "\n".join(out)


def _write_text_atomic(path: Path, text: str) -> None:
    try:
        write_text_atomic(path, text)
    except OSError as exc:
        raise ExportError(f"cannot write {path}: {exc.strerror or exc}") from exc


def _csv_text(rows: list[dict], columns: list[str]) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in r.items()})
    return buf.getvalue()


def _label(img: np.ndarray, text: str) -> np.ndarray:
    img = img.copy()
    cv2.rectangle(img, (0, 0), (img.shape[1], 16), (0, 0, 0), -1)
    cv2.putText(img, text[:30], (3, 12), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (255, 255, 255), 1, cv2.LINE_AA)
    return img


def contact_sheet(sheet: Sheet) -> np.ndarray:
    """RGB grid: row 1 = keys and ground truth, one row per method (keys repeated for reference)."""
    blank = np.full_like(sheet.keys[0], 255)
    rows = [[_label(sheet.keys[0], "key A"), *[_label(g, f"GT {i}") for g, i in zip(sheet.gt, sheet.frames, strict=True)],
             _label(sheet.keys[1], "key B")]]
    for name, outs in sheet.outputs.items():
        rows.append([_label(blank, name), *[_label(o, f"{name} {i}") for o, i in zip(outs, sheet.frames, strict=True)],
                     blank])
    pad = 4
    return np.vstack([np.hstack([np.pad(c, ((pad, pad), (pad, pad), (0, 0)), constant_values=255)
                                 for c in row]) for row in rows])


def _write_png_atomic(path: Path, rgb: np.ndarray) -> None:
    ok, buf = cv2.imencode(".png", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    if not ok:
        raise ExportError(f"cannot encode {path}")
    try:
        write_bytes_atomic(path, buf.tobytes())
    except OSError as exc:
        raise ExportError(f"cannot write {path}: {exc.strerror or exc}") from exc


def write_report(results: Results, out_dir: Path, header: str = "") -> list[Path]:
    """Write report.md, summary.csv, clips.csv, frames.csv, windows.csv and sheets/*.png."""
    out_dir = Path(out_dir)
    if (out_dir / "report.md").exists():
        raise ExportError(f"{out_dir} already holds a report; choose another --out folder")
    try:
        (out_dir / "sheets").mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ExportError(f"cannot create {out_dir}: {exc.strerror or exc}") from exc
    overall = summarize(results)
    per_clip = summarize(results, by_clip=True)
    written = []
    sheets_md = []
    for s in results.sheets:
        p = out_dir / "sheets" / f"{s.clip}_{s.lines}_G{s.gap}.png"
        _write_png_atomic(p, contact_sheet(s))
        written.append(p)
        sheets_md.append(f"- [{p.name}](sheets/{p.name})")
    methods_rows = [r for r in overall if r["method"] != GT_NAME]
    gt_rows = [r for r in overall if r["method"] == GT_NAME]
    md = [header.rstrip(), "", "## Overall (frame-weighted means over all clips)", "",
          markdown_table(methods_rows), ""]
    if gt_rows:
        md += ["Ground truth's own temporal metrics (the floor for CDC / WE):", "",
               markdown_table(gt_rows, metrics=WINDOW_METRICS), ""]
    md += ["## Per clip", "", markdown_table([r for r in per_clip if r["method"] != GT_NAME], with_clip=True), ""]
    if results.notices:
        md += ["## Notices", "", *[f"- {n}" for n in results.notices], ""]
    if sheets_md:
        md += ["## Contact sheets (first window of each clip; 224x224)", "", *sheets_md, ""]
    cols = ["clip", "lines", "gap", "method", "frames", "regions", *REGION_METRICS, *FRAME_METRICS,
            *WINDOW_METRICS, "fid"]
    files = {
        "report.md": "\n".join(md),
        "summary.csv": _csv_text(overall, cols),
        "clips.csv": _csv_text(per_clip, cols),
        "frames.csv": _csv_text([asdict(r) for r in results.frames], [f.name for f in fields(FrameRecord)]),
        "windows.csv": _csv_text([asdict(w) for w in results.windows], [f.name for f in fields(WindowRecord)]),
    }
    # report.md last: its presence marks a complete report.
    for name in ["summary.csv", "clips.csv", "frames.csv", "windows.csv", "report.md"]:
        _write_text_atomic(out_dir / name, files[name])
        written.append(out_dir / name)
    return written
