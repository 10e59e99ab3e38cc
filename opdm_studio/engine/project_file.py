"""The project file on disk: the JSON document, its backup, and the results log beside it.

The JSON is versioned, written atomically (temporary name + ``os.replace``, ``fsync``) and the
previous good copy is kept as ``opdm-project.json.bak``: a crash or a full disk never leaves a
project that cannot be opened.

Rewriting and fsyncing the whole file after every frame makes each frame cost more than the last
(600 results are rewritten for the 600th). Instead a run appends one short line per event to
``opdm-project.log`` beside it and makes it durable: a *claim* (the files a frame is about to
write, recorded *before* they are written) and a *result* (the frame is finished). :func:`save`
folds the log into the JSON and removes it; :func:`load` replays it. So after a kill or a full
disk at any instant a finished frame is kept, and a file written for an unfinished frame is
known to be the project's, so the same command replaces it instead of refusing it.

The log names the JSON it extends (a token written in both): a log left over from an older
project file (a crash between saving and removing the log, a restored ``.bak``) is ignored; a
torn last line (a crash while appending) is skipped.

The document also holds the palette's swatches and the colourist's fixes
(:mod:`~opdm_studio.engine.swatches`, :mod:`~opdm_studio.engine.hints`), frames by name.
"""
from __future__ import annotations

import json
import os
import shutil
import threading
import time
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from opdm_studio.engine.hints import HintSet
from opdm_studio.engine.records import FrameResult, KeyFrame
from opdm_studio.engine.settings import ColorizeSettings
from opdm_studio.engine.swatches import SwatchPalette
from opdm_studio.errors import CutError, ProjectError
from opdm_studio.fileio import append_line_durably, atomic_path, write_text_atomic

PROJECT_FILENAME = "opdm-project.json"
LOG_FILENAME = "opdm-project.log"
FORMAT = "opdm-studio-project"
FORMAT_VERSION = 1
LOG_FORMAT = "opdm-studio-results-log"


def _real(path: str | os.PathLike) -> str:
    return os.path.realpath(path)


def relative_to_root(root: Path, path: str | os.PathLike) -> str:
    """``path`` as the file stores it: relative to the project folder when it lies inside (so a
    moved or renamed project still knows its own files), else absolute."""
    real, real_root = _real(path), _real(root)
    if real == real_root or real.startswith(real_root.rstrip(os.sep) + os.sep):
        return Path(os.path.relpath(real, real_root)).as_posix()
    return real


def from_root(root: Path, text: str) -> str:
    """A path the file stores (relative to the project folder, or absolute) as an absolute path;
    a relative one that climbs out with ``..`` names nothing (it is dropped by the caller)."""
    p = Path(text)
    if p.is_absolute():
        return str(p)
    if ".." in p.parts:
        return ""
    return os.path.abspath(root / p)


class ResultsLog:
    """Append-only log of claims and results for the project file carrying ``token``."""

    def __init__(self, path: Path, token: str) -> None:
        self.path = Path(path)
        self.token = token
        self._lock = threading.Lock()
        self._ready = False   # the file on disk starts with our header

    def _ensure_header(self) -> None:
        if self._ready:
            return
        if self.path.is_symlink():
            self.path.unlink()          # our file name in our folder: never written through
        if self.path.exists() and self._header_token() == self.token:
            if not self._ends_with_newline():
                append_line_durably(self.path, "")   # close a torn last line: records stay apart
            self._ready = True
            return
        # Missing, or left over from another project file: start afresh.
        try:
            self.path.unlink()
        except FileNotFoundError:
            pass
        append_line_durably(self.path, json.dumps({"format": LOG_FORMAT, "project": self.token}))
        self._ready = True

    def _ends_with_newline(self) -> bool:
        try:
            with open(self.path, "rb") as fh:
                fh.seek(-1, os.SEEK_END)
                return fh.read(1) == b"\n"
        except OSError:
            return True

    def _header_token(self) -> str | None:
        try:
            with open(self.path, encoding="utf-8") as fh:
                head = json.loads(fh.readline())
        except (OSError, UnicodeDecodeError, json.JSONDecodeError):
            return None
        if isinstance(head, dict) and head.get("format") == LOG_FORMAT:
            return str(head.get("project"))
        return None

    def append(self, record: dict[str, Any]) -> None:
        """Append one record durably (raises ``OSError``: disk full, read-only folder)."""
        line = json.dumps(record, separators=(",", ":"))
        with self._lock:
            self._ensure_header()
            append_line_durably(self.path, line)

    def claim(self, paths: Iterable[str]) -> None:
        """Record that ``paths`` (relative to the project folder, or absolute when outside it)
        are about to be written by this project."""
        self.append({"op": "claim", "paths": sorted(paths)})

    def records(self) -> Iterator[dict[str, Any]]:
        """The records after the header, when the log belongs to ``token`` (else nothing)."""
        try:
            with open(self.path, encoding="utf-8", errors="replace") as fh:
                lines = fh.read().splitlines()
        except OSError:
            return
        if not lines:
            return
        try:
            head = json.loads(lines[0])
        except json.JSONDecodeError:
            return
        if not isinstance(head, dict) or head.get("format") != LOG_FORMAT \
                or str(head.get("project")) != self.token:
            return
        for line in lines[1:]:
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                continue    # a torn line: the crash happened while appending it
            if isinstance(rec, dict):
                yield rec

    def discard(self, new_token: str) -> None:
        """The project file now holds everything (saved with ``new_token``): drop the log."""
        with self._lock:
            try:
                os.unlink(self.path)
            except OSError:
                pass                    # a left-over log is ignored anyway (its token differs)
            self.token = new_token
            self._ready = False


def claim_outputs(project: Any, paths: Iterable[str | os.PathLike]) -> None:
    """Record durably, before they are written, files a frame of ``project`` is about to write."""
    real = {_real(p) for p in paths}
    if not real <= project.claimed_outputs:
        project.claimed_outputs |= real
        _append(project, lambda log: log.claim({relative_to_root(project.root, p) for p in real}))


def record_result(project: Any, result: FrameResult) -> None:
    """Store a finished frame's result in ``project`` and append it durably to the log."""
    project.results[result.index] = result
    _append(project, lambda log: log.append({"op": "result", "result": _result_dict(project, result)}))


def _result_dict(project: Any, result: FrameResult) -> dict[str, Any]:
    """A result's JSON form with its layer files relative to the project folder."""
    d = result.to_dict(project.frame_names())
    d["outputs"] = {layer: relative_to_root(project.root, p) for layer, p in result.outputs.items()}
    return d


def _append(project: Any, write: Any) -> None:
    if project.log is None:
        save(project)     # the project file must carry the log's token before the log exists
    log = project.log
    try:
        write(log)
    except OSError as exc:
        raise ProjectError(f"cannot record progress in {log.path}: {exc.strerror or exc}") from exc


def _fold_claims(project: Any) -> None:
    """Claims and dropped outputs whose files exist stay owned; the rest is forgotten."""
    current = {_real(p) for res in project.results.values() for p in res.outputs.values()}
    kept = {p for p in project.retired_outputs | project.claimed_outputs
            if _real(p) not in current and os.path.lexists(p)}
    project.retired_outputs = kept
    project.claimed_outputs = set()


def document(project: Any) -> dict[str, Any]:
    """The JSON document of ``project``."""
    names = project.frame_names()
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "created": project.created,
        "saved": time.time(),
        "cut": {"folder": _real(project.cut_dir),
                "folder_from_project": _relpath(project.cut_dir, project.root),
                "key_dir": _real(project.key_dir) if project.key_dir else None,
                "key_dir_from_project": (_relpath(project.key_dir, project.root)
                                         if project.key_dir else None),
                "frames": names, "size": list(project.cut.size)},
        "settings": project.settings.to_dict(),
        "keyframes": [k.to_dict(names[i]) for i, k in sorted(project.keyframes.items())],
        "results": [_result_dict(project, r) for _, r in sorted(project.results.items())],
        "retired_outputs": sorted(relative_to_root(project.root, p)
                                  for p in project.retired_outputs),
        "palette": project.palette.to_dict(),
        "hints": project.hints.to_list(names),
    }


def _relpath(path: str | os.PathLike, root: Path) -> str | None:
    """``path`` relative to the project folder (a cut moved together with its project is found
    again), or None where there is no such path (another drive)."""
    try:
        return Path(os.path.relpath(_real(path), _real(root))).as_posix()
    except ValueError:
        return None


def save(project: Any) -> Path:
    """Write the project file atomically (the previous good copy becomes ``.bak``) with the
    results log folded in; returns its path."""
    project.root.mkdir(parents=True, exist_ok=True)
    _fold_claims(project)
    token = uuid.uuid4().hex
    doc = document(project)
    doc["log"] = token
    text = json.dumps(doc, indent=1)
    path = project.path
    bak = path.with_name(path.name + ".bak")
    try:
        if path.exists() and _is_valid_project_text(path):
            # Copy (not move) so a project file exists at every instant.
            with atomic_path(bak) as tmp:
                shutil.copyfile(path, tmp)
        write_text_atomic(path, text, fsync=True)
    except OSError as exc:
        raise ProjectError(f"cannot save the project file {path}: {exc.strerror or exc}") from exc
    # The file holds everything now: the log of the older file goes (a left-over one would be
    # ignored anyway, its token differs).
    for old in ({project.log.path} if project.log else set()) | {project.root / LOG_FILENAME}:
        ResultsLog(old, token).discard(token)
    project.log = ResultsLog(project.root / LOG_FILENAME, token)
    return path


def load(cls: Any, path: str | os.PathLike, cut: Any | None = None,
         cut_dir: str | os.PathLike | None = None) -> Any:
    """A ``cls`` (Project) from the project file at ``path`` (or the folder holding one), with
    its results log replayed (see the module doc); :class:`ProjectError` for a corrupt, foreign,
    newer or damaged file, or one whose paths lead outside the project folder. ``cut_dir``
    points the project at its cut's new place; frames no longer in the cut are dropped with a
    warning (``project.cut.warnings``)."""
    path = Path(path)
    if path.is_dir():
        path = path / PROJECT_FILENAME
    if not path.is_file():
        raise ProjectError(f"no project file at {path}")
    bak = path.with_name(path.name + ".bak")
    hint = (f"; the previous good copy is kept at {bak} (open that file instead)"
            if bak.is_file() and bak != path else "")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ProjectError(f"the project file {path} is corrupt ({exc}){hint}") from exc
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ProjectError(f"{path} is not an OPDM Studio project file{hint}")
    version = data.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise ProjectError(
            f"the project file {path} was written by a newer OPDM Studio (format {version}); "
            "update the application to open it")
    try:
        return _build(cls, path, data, cut, cut_dir)
    except ProjectError as exc:
        if "points outside" in str(exc):
            raise ProjectError(f"{exc}{hint}") from None
        raise
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ProjectError(f"the project file {path} is damaged ({exc!r}){hint}") from exc


class _Vanished(ProjectError):
    """A frame the project names is no longer in the cut."""


def _where_cut(root: Path, cut_info: dict[str, Any], cut_dir: str | os.PathLike | None,
               ) -> tuple[Path, Path | None]:
    """The cut folder and keyframe colour folder to open: ``cut_dir`` when the user points the
    project at the cut's new place; else the stored folders, or the same folders relative to
    the project when the cut moved together with its project."""
    def stored(key: str) -> Path | None:
        text = cut_info.get(key)
        if not text:
            return None
        rel = cut_info.get(f"{key}_from_project")
        if not Path(text).exists() and isinstance(rel, str) and (root / rel).exists():
            return Path(os.path.normpath(root / rel))
        return Path(text)

    key_dir = stored("key_dir")
    if cut_dir is None:
        return Path(stored("folder") or cut_info["folder"]), key_dir
    return Path(cut_dir), key_dir if key_dir is not None and key_dir.is_dir() else None


def stored_cut_folder(path: str | os.PathLike) -> Path | None:
    """The cut folder the project file at ``path`` (or in that folder) would open, or None when
    the file cannot be read (loading it says why)."""
    path = Path(path)
    if path.is_dir():
        path = path / PROJECT_FILENAME
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return _where_cut(path.parent, data["cut"], None)[0]
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError, AttributeError):
        return None


def _build(cls: Any, path: Path, data: dict[str, Any], cut: Any | None,
           cut_dir: str | os.PathLike | None = None) -> Any:
    settings = ColorizeSettings.from_dict(data.get("settings", {})).validate()
    root = path.parent
    folder, key_dir = _where_cut(root, data["cut"], cut_dir)
    project = cls(root, folder, key_dir, settings, cut=cut)
    project.created = float(data.get("created", time.time()))
    project.retired_outputs = {p for p in (from_root(root, str(x))
                                           for x in data.get("retired_outputs", [])) if p}
    try:
        frames = project.cut.frames
    except CutError as exc:
        raise ProjectError(f"the project {path} refers to a cut that cannot be opened: {exc}; if "
                           "the cut moved, give its new folder (opdm-studio colorize NEW_FOLDER "
                           f"--out {root})") from exc
    by_name = {f.name: f.index for f in frames}
    vanished: set[str] = set()

    def index_of(name: str) -> int:
        if not isinstance(name, str):
            raise ValueError(f"frame name {name!r} is not a file name")
        if name not in by_name:
            vanished.add(name)
            raise _Vanished(f"the project {path} refers to frame {name}, which is no longer "
                            f"in {project.cut_dir}")
        return by_name[name]

    for k in data.get("keyframes", []):
        try:
            i = index_of(k["name"])
        except _Vanished:
            continue
        key = KeyFrame(i, str(k.get("source", "cut")), k.get("path"))
        if key.source == "file" and key.path and Path(str(key.path)).is_absolute():
            # Written by an older version, which read the image where it lay: never again.
            project.cut.warnings.append(
                f"keyframe {k['name']} took its colour from {key.path}, outside the project; it "
                "is no longer a keyframe: give it its colour image again")
            continue
        if key.source in ("file", "result"):
            project.confined(str(key.path), "a keyframe's colour image")
        project.keyframes[i] = key
    for r in data.get("results", []):
        try:
            _load_result(project, r, index_of)
        except _Vanished:
            _retire(project, r)
    project.palette = SwatchPalette.from_dict(data.get("palette"))
    project.hints = HintSet.from_list(_present_hints(data.get("hints"), by_name, vanished),
                                      index_of)
    _replay_log(project, data.get("log"), index_of)
    if vanished:
        shown = ", ".join(sorted(vanished)[:5]) + (" ..." if len(vanished) > 5 else "")
        project.cut.warnings.append(
            f"{len(vanished)} frame(s) of the project are no longer in {project.cut_dir} "
            f"({shown}): their keyframes, results and fixes were dropped")
    if settings.output_dir:
        _ = project.output_dir          # confined to the project folder
    return project


def _present_hints(items: Any, by_name: dict[str, int], vanished: set[str]) -> list[Any]:
    """The stored fixes without those on frames the cut no longer has (noted in ``vanished``);
    a fix's carried copies on such frames are dropped, the fix itself kept."""
    out = []
    for it in items or []:
        if not isinstance(it, dict) or str(it.get("frame")) not in by_name:
            vanished.add(str(it.get("frame")) if isinstance(it, dict) else "?")
            continue
        carried = [c for c in it.get("carried", []) if str(c[0]) in by_name]
        vanished.update(str(c[0]) for c in it.get("carried", []) if str(c[0]) not in by_name)
        out.append({**it, "carried": carried})
    return out


def _replay_log(project: Any, token: Any, index_of: Any) -> None:
    """Replay the results log of the file carrying ``token``; a record that cannot be used (a
    vanished frame, a damaged line) is skipped with a warning instead of blocking the project."""
    if not isinstance(token, str) or not token:
        return
    root = project.root
    project.log = ResultsLog(root / LOG_FILENAME, token)
    skipped = 0
    for rec in project.log.records():
        try:
            if rec.get("op") == "claim":
                project.claimed_outputs.update(p for p in (from_root(root, str(x))
                                                           for x in rec.get("paths", [])) if p)
            elif rec.get("op") == "result" and isinstance(rec.get("result"), dict):
                _load_result(project, rec["result"], index_of)
        except _Vanished:
            _retire(project, rec.get("result"))
        except (ProjectError, KeyError, TypeError, ValueError, AttributeError, IndexError):
            skipped += 1
    if skipped:
        project.cut.warnings.append(
            f"{skipped} damaged record(s) in {project.log.path} were skipped: those frames "
            "are coloured again")


def _retire(project: Any, entry: Any) -> None:
    """The layer files of a result dropped on loading stay the project's own (a later run may
    replace them without asking)."""
    outputs = entry.get("outputs") if isinstance(entry, dict) else None
    if isinstance(outputs, dict):
        project.retired_outputs.update(p for p in (from_root(project.root, str(v))
                                                   for v in outputs.values()) if p)


def _load_result(project: Any, entry: dict[str, Any], index_of: Any) -> None:
    """One result from the project file or the log, its paths checked to stay inside."""
    i = index_of(entry["name"])
    res = FrameResult.from_dict(entry, i)
    if entry.get("key_names"):
        kp, kn = entry["key_names"]
        res.keys = (index_of(kp), index_of(kn))
    if entry.get("source_name"):
        res.source_index = index_of(entry["source_name"])
    for rel in (res.color_path, res.confidence_path):
        if rel is not None:
            project.confined(rel, f"the stored result of {entry['name']}")
    res.outputs = {layer: p for layer, p in ((str(k), from_root(project.root, str(v)))
                                             for k, v in dict(res.outputs).items()) if p}
    project.results[i] = res


def _is_valid_project_text(path: Path) -> bool:
    """True if ``path`` parses as one of our project files (so it may become the backup)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return False
    return isinstance(data, dict) and data.get("format") == FORMAT
