"""The project document of one cut: its frames, keyframes, settings and per-frame results.

A project lives in its output folder (``opdm-project.json``, beside the exported layers), never in
a folder the cut is read from unless the caller asks for it. How it is stored (atomic JSON with a
``.bak``, and the results log a run appends to instead of rewriting the file per frame) is
:mod:`opdm_studio.engine.project_file`.

Frames are addressed by their *index* in the cut (0-based, natural file order) in the API; the file
stores frame *names* as well, so a project still opens when frames were renamed-free but re-sorted,
and drops, with a warning, a frame the cut no longer holds.

Internal per-frame results (the colour-only layer and the confidence map at full resolution) are
stored under ``opdm-data/`` in the project folder so ``opdm-studio export`` can re-export any layer,
naming or format later without colouring again. Every path the file holds for them is confined to
the project folder (:meth:`Project.confined`), and the data folder must be a real folder, not a
link to somewhere else. A result also records digests of the drawing and keyframes it was made
from (:func:`~opdm_studio.engine.sources.frame_sources`): editing them makes it out of date.
"""
from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterable
from pathlib import Path, PurePath
from typing import Any

import numpy as np

from opdm_studio.engine import project_file
from opdm_studio.engine.hints import HintSet
from opdm_studio.engine.project_file import FORMAT, FORMAT_VERSION, PROJECT_FILENAME, ResultsLog
from opdm_studio.engine.records import STATUSES, FrameResult, KeyFrame
from opdm_studio.engine.settings import DEVICES, DTYPES, LAYERS, METHODS, SNAP_MODES, ColorizeSettings
from opdm_studio.engine.sources import check_output_folder, frame_sources
from opdm_studio.engine.swatches import SwatchPalette
from opdm_studio.errors import ExportError, ProjectError
from opdm_studio.fileio import atomic_path
from opdm_studio.imaging.export import write_png_atomic
from opdm_studio.imaging.files import FileDigests

__all__ = ["DATA_DIRNAME", "DEVICES", "DTYPES", "FORMAT", "FORMAT_VERSION", "LAYERS", "METHODS",
           "PROJECT_FILENAME", "SNAP_MODES", "STATUSES", "ColorizeSettings", "FrameResult",
           "KeyFrame", "Project"]

DATA_DIRNAME = "opdm-data"

def _real(path: str | os.PathLike) -> str:
    """Absolute path with links resolved, as owned files are recorded (never raises on loops)."""
    return os.path.realpath(path)


class Project:
    """The document of one cut: frames, keyframes and their colour sources, results, settings.

    Create with :meth:`create`, open with :meth:`load`, persist with :meth:`save`. Not thread-safe:
    the GUI's worker owns it while colouring and hands it back when done.
    """

    def __init__(self, root: Path, cut_dir: Path, key_dir: Path | None,
                 settings: ColorizeSettings, cut: Any | None = None):
        self.root = Path(root)
        self.cut_dir = Path(cut_dir)
        self.key_dir = Path(key_dir) if key_dir is not None else None
        self.settings = settings
        self.keyframes: dict[int, KeyFrame] = {}
        self.results: dict[int, FrameResult] = {}
        self._cut = cut
        self.created = time.time()
        # Layer files written for results that were dropped since (a frame became a keyframe):
        # still ours, so a later run may replace them without asking.
        self.retired_outputs: set[str] = set()
        # Layer files claimed (about to be written) by a frame not recorded yet: ours as well.
        self.claimed_outputs: set[str] = set()
        self.digests = FileDigests()          # content digests of drawings and paint
        self._names: list[str] | None = None
        self.log: ResultsLog | None = None    # set once the project file on disk carries its token
        # The colourist's fixes and the palette's swatches (engine.hints, engine.swatches): the
        # results are stored without them; showing and writing a frame applies them.
        self.hints = HintSet()
        self.palette = SwatchPalette()

    # ------------------------------------------------------------------ construction

    @classmethod
    def create(cls, cut_dir: str | os.PathLike, out_dir: str | os.PathLike,
               keys: Iterable[int] = (), key_dir: str | os.PathLike | None = None,
               settings: ColorizeSettings | None = None, allow_in_source: bool = False,
               cut: Any | None = None) -> Project:
        """A new project for the cut in ``cut_dir`` whose results go to ``out_dir``.

        ``keys`` are frame indices whose colour comes from the cut's colour folder (``key_dir``,
        or the one ``open_cut`` finds). Raises :class:`ProjectError` when ``out_dir`` is the
        source folder (unless ``allow_in_source``) or a project already exists there.
        """
        cut_dir, out_dir = Path(cut_dir), Path(out_dir)
        if (out_dir / PROJECT_FILENAME).exists():
            raise ProjectError(f"{out_dir / PROJECT_FILENAME} already exists; open it instead")
        project = cls(out_dir, cut_dir, Path(key_dir) if key_dir else None,
                      (settings or ColorizeSettings()).validate(), cut=cut)
        if not allow_in_source:
            try:
                check_output_folder(project, out_dir)
            except ExportError as exc:
                raise ProjectError(str(exc)) from None
        for index in keys:
            project.set_keyframe(index)
        return project

    @property
    def path(self) -> Path:
        """The project file."""
        return self.root / PROJECT_FILENAME

    @property
    def data_dir(self) -> Path:
        """Folder of stored per-frame results (colour-only layer, confidence)."""
        return self.root / DATA_DIRNAME

    @property
    def output_dir(self) -> Path:
        """Where exported layers go (the project folder, or a folder inside it)."""
        out = self.settings.output_dir
        if not out:
            return self.root
        return self.confined(out, "the output folder", allow_absolute=True)

    @property
    def cut(self) -> Any:
        """The opened cut (``imaging.cut.Cut``), opened on first use."""
        if self._cut is None:
            from opdm_studio.imaging.cut import open_cut
            self._cut = open_cut(self.cut_dir, color_dir=self.key_dir)
        return self._cut

    def frame_name(self, index: int) -> str:
        """File name of frame ``index`` in the cut."""
        return self.cut.frames[index].name

    def frame_names(self) -> list[str]:
        """File names of every frame, in cut order."""
        if self._names is None:
            self._names = [f.name for f in self.cut.frames]
        return self._names

    def index_of_number(self, number: int) -> int:
        """The index of the frame numbered ``number`` in its file name.

        ProjectError if none, or if several drawings carry that number (``a_0001.png`` and
        ``b_0001.png``): such frames are named by file name instead (:meth:`index_of`).
        """
        matches = [f for f in self.cut.frames if f.number == number]
        if len(matches) == 1:
            return matches[0].index
        if matches:
            names = ", ".join(f.name for f in matches[:6]) + (" ..." if len(matches) > 6 else "")
            raise ProjectError(
                f"frame number {number} is carried by {len(matches)} drawings ({names}); name "
                f"the frame by its file name instead, e.g. {Path(matches[0].name).stem}")
        first, last = self.cut.frames[0], self.cut.frames[-1]
        raise ProjectError(
            f"the cut {self.cut_dir} has no frame numbered {number} "
            f"(its frames run from {first.name} to {last.name})")

    def index_of(self, ref: str | int) -> int:
        """The index of a frame given by its number (``24``), file name (``a_0024.png``) or
        file name without extension (``a_0024``); ProjectError if none or ambiguous."""
        if isinstance(ref, int) or (isinstance(ref, str) and ref.strip().isdigit()):
            text = str(ref).strip()
            for f in self.cut.frames:          # a file literally named like the number wins
                if Path(f.name).stem == text:
                    return f.index
            return self.index_of_number(int(text))
        text = str(ref).strip()
        by_name = [f for f in self.cut.frames if text in (f.name, Path(f.name).stem)]
        if len(by_name) == 1:
            return by_name[0].index
        if by_name:
            raise ProjectError(f"{text} names {len(by_name)} drawings "
                               f"({', '.join(f.name for f in by_name)}); give the full file name")
        raise ProjectError(f"the cut {self.cut_dir} has no frame numbered or named {text!r}: "
                           "give frame numbers (e.g. 1,24) or drawing names (e.g. a_0001)")

    # ------------------------------------------------------------------ keyframes

    def set_keyframe(self, index: int, color_path: str | os.PathLike | None = None) -> None:
        """Make frame ``index`` a keyframe; colour from ``color_path`` or the cut's colour folder.

        Results that used a different keyframe layout are kept but no longer counted as finished
        (see :meth:`is_finished`), so the next run re-colours them.
        """
        self._check_index(index)
        if color_path is not None:
            path = Path(color_path)
            if not path.is_file():
                raise ProjectError(f"keyframe colour image {path} does not exist")
            self._check_key_image(path)
            self.keyframes[index] = KeyFrame(index, "file", self._copy_key_image(index, path))
        else:
            if not self.cut.has_color(index):
                color_dir = self.key_dir or getattr(self.cut, "color_dir", None)
                where = (f"in {color_dir}" if color_dir is not None else
                         f"(no color, colour, keys or paint folder was found beside or inside "
                         f"{self.cut.folder})")
                raise ProjectError(
                    f"frame {self.frame_name(index)} has no colour image {where}; paint it "
                    "there or pass its file")
            self.keyframes[index] = KeyFrame(index, "cut", None)
        self._drop_result(index)

    def _check_key_image(self, path: Path) -> None:
        """Refuse, naming the file given, a keyframe image that is not an image of the cut's size."""
        from opdm_studio.imaging.cut import image_header
        size, _mode = image_header(path)
        w, h = self.cut.size
        if size != (w, h):
            raise ProjectError(f"keyframe colour image {path} is {size[0]}x{size[1]} but the cut's "
                               f"drawings are {w}x{h}")

    def _copy_key_image(self, index: int, path: Path) -> str:
        """A copy of a keyframe's colour image in the project's data folder (relative path): the
        project never reads outside its own folder, and the key stays what it was when given."""
        rel = f"{DATA_DIRNAME}/keys/{self.data_stem(index)}-given{path.suffix.lower() or '.png'}"
        dst = self.root / rel
        self.check_data_dir()
        try:
            dst.parent.mkdir(parents=True, exist_ok=True)
            with atomic_path(dst) as tmp:
                shutil.copyfile(path, tmp)
        except OSError as exc:
            raise ProjectError(f"cannot store the keyframe colour image {path} in the project: "
                               f"{exc.strerror or exc}") from exc
        return rel

    def key_image_path(self, key: KeyFrame) -> Path:
        """The file a keyframe given as an image (``file``) or promoted (``result``) reads: a
        copy inside the project folder (ProjectError if the project file points elsewhere)."""
        return self.confined(str(key.path), "a keyframe's colour image")

    def promote_result(self, index: int, color: np.ndarray | None = None) -> None:
        """Make a coloured (and possibly corrected) frame a keyframe: its stored colour (or
        ``color``, e.g. with the frame's fixes applied) becomes truth."""
        res = self.results.get(index)
        if res is None or res.color_path is None or not (self.root / res.color_path).is_file():
            raise ProjectError(f"frame {self.frame_name(index)} has no result to promote")
        # A copy under keys/: re-colouring the frame later must not change the key's truth.
        rel = f"{DATA_DIRNAME}/keys/{self.data_stem(index)}.png"
        dst = self.root / rel
        self.check_data_dir()
        dst.parent.mkdir(parents=True, exist_ok=True)
        try:
            if color is not None:
                write_png_atomic(dst, color, overwrite=True, compress_level=1)
            else:
                with atomic_path(dst) as tmp:
                    shutil.copyfile(self.confined(res.color_path, "a stored result"), tmp)
        except OSError as exc:
            raise ProjectError(f"cannot store the promoted keyframe {dst}: {exc.strerror or exc}") from exc
        self.keyframes[index] = KeyFrame(index, "result", rel)
        self._drop_result(index)

    def remove_keyframe(self, index: int) -> None:
        """Stop using frame ``index`` as a keyframe."""
        self.keyframes.pop(index, None)
        self._drop_result(index)

    def _drop_result(self, index: int) -> None:
        res = self.results.pop(index, None)
        if res is not None:
            self.retired_outputs.update(res.outputs.values())

    def owned_outputs(self) -> set[str]:
        """Absolute paths of every layer file this project wrote or claimed (current, dropped
        and unfinished results)."""
        owned = set(self.retired_outputs) | self.claimed_outputs
        for res in self.results.values():
            owned.update(res.outputs.values())
        return {_real(p) for p in owned}

    def key_indices(self) -> list[int]:
        """Sorted keyframe indices."""
        return sorted(self.keyframes)

    def key_color(self, index: int) -> np.ndarray:
        """The colour image of keyframe ``index`` as uint8 (H, W, 3), checked against the cut size."""
        from opdm_studio.imaging.cut import read_image
        key = self.keyframes.get(index)
        if key is None:
            raise ProjectError(f"frame {self.frame_name(index)} is not a keyframe")
        if key.source == "cut":
            rgb = self.cut.color(index)
            if rgb is None:
                raise ProjectError(f"keyframe {self.frame_name(index)} lost its colour image")
        else:
            path = self.key_image_path(key)
            rgb = read_image(path, mode="rgb")
            w, h = self.cut.size
            if rgb.shape[:2] != (h, w):
                raise ProjectError(
                    f"keyframe colour image {path} is {rgb.shape[1]}x{rgb.shape[0]} but the cut's "
                    f"drawings are {w}x{h}")
        return rgb

    # ------------------------------------------------------------------ results

    def current_recipe(self) -> dict[str, Any]:
        """The recipe results made now get: the settings', with the working size the network
        really uses (never above the drawing's short side)."""
        w, h = self.cut.size
        return self.settings.recipe(max_working_size=min(w, h))

    def sources_of(self, index: int, keys: Iterable[int] | None) -> dict[str, str]:
        """Digests of what a result of frame ``index`` made with ``keys`` is made from."""
        return frame_sources(self, index, keys)

    def sources_current(self, index: int, keys: Iterable[int] | None = None) -> bool:
        """False when the drawing or a keyframe (drawing or paint) that frame ``index``'s result
        was made from has been edited since (results of older versions carry no digests)."""
        res = self.results.get(index)
        if res is None or res.sources is None:
            return True
        pair = res.keys if keys is None else tuple(keys)
        if res.status == "keyframe":
            pair = (index, index)
        try:
            return res.sources == frame_sources(self, index, pair)
        except (IndexError, KeyError):
            return False

    def is_finished(self, index: int, keys: tuple[int, int] | None = None) -> bool:
        """True if frame ``index`` has a stored result (made with ``keys`` when given) from the
        current settings and the current versions of its drawing and keyframes."""
        res = self.results.get(index)
        if res is None or res.status == "keyframe":
            return False
        if keys is not None and res.keys is not None and tuple(res.keys) != tuple(keys):
            return False
        if res.method is not None and res.method != self.settings.method:
            return False
        if res.recipe is not None and res.recipe != self.current_recipe():
            return False
        if not self.sources_current(index, keys):
            return False
        return res.color_path is not None and self.confined(res.color_path, "a stored result").is_file()

    def is_outdated(self, index: int) -> bool:
        """True if frame ``index`` has a stored result that the current keyframes, colouring
        settings or source files would no longer give (it stays visible; the next run colours
        it again)."""
        from opdm_studio.engine.plan import key_pair
        res = self.results.get(index)
        if res is None or res.status == "keyframe" or res.color_path is None:
            return False
        keys = self.key_indices()
        if not keys:
            return True
        if not self.sources_current(index):
            return True
        if res.status == "held" and res.source_index is not None and res.source_index != index:
            src = res.source_index
            if res.method is None:                     # held from a keyframe's colours
                return src not in self.keyframes
            if src in self.keyframes or self.is_outdated(src):
                return True
        elif res.keys is not None and tuple(res.keys) != key_pair(index, keys)[:2]:
            return True
        if res.method is not None and res.method != self.settings.method:
            return True
        return res.recipe is not None and res.recipe != self.current_recipe()

    def result_color(self, index: int) -> np.ndarray | None:
        """Stored colour-only layer (uint8 RGB, full resolution) of frame ``index``, or None."""
        from opdm_studio.imaging.cut import read_image
        res = self.results.get(index)
        if res is None or res.color_path is None:
            return None
        return read_image(self.confined(res.color_path, "a stored result"), mode="rgb")

    def stored_color(self, index: int) -> np.ndarray:
        """:meth:`result_color` of a frame that must have a result (ProjectError if not)."""
        color = self.result_color(index)
        if color is None:
            raise ProjectError(f"frame {self.frame_name(index)} has no stored result; colour it again")
        return color

    def result_confidence(self, index: int) -> np.ndarray | None:
        """Stored confidence map float32 (H, W) in [0, 1] of frame ``index``, or None."""
        from opdm_studio.imaging.cut import read_image
        res = self.results.get(index)
        if res is None or res.confidence_path is None:
            return None
        path = self.confined(res.confidence_path, "a stored result")
        return read_image(path, mode="gray").astype(np.float32) / 255.0

    def data_stem(self, index: int) -> str:
        """File stem of frame ``index``'s stored files in the data folder: the drawing's stem,
        or its whole name when another drawing shares the stem (``0001.png`` and ``0001.tif``)."""
        name = self.frame_name(index)
        stem = Path(name).stem
        if sum(1 for n in self.frame_names() if Path(n).stem == stem) > 1:
            return name
        return stem

    def check_data_dir(self) -> None:
        """Refuse a data folder (or one of its folders) that is a link: results are written only
        into real folders inside the project, never through a link to somewhere else."""
        for d in (self.data_dir, self.data_dir / "color", self.data_dir / "confidence",
                  self.data_dir / "keys"):
            if d.is_symlink() or (d.exists() and not d.is_dir()):
                raise ProjectError(f"{d} is a link or a file, not a folder; OPDM Studio writes its "
                                   "results only into real folders inside the project: remove it")

    def check_inputs(self, frames: Iterable[int], keys: Iterable[int]) -> None:
        """Before any work: the drawings of ``frames`` and ``keys`` and the keys' paint can be
        read (headers, pixel formats, whole files) and every key's paint has the cut's size.
        Raises :class:`~opdm_studio.errors.ImageReadError` / CutError / ProjectError."""
        from opdm_studio.imaging.cut import image_header
        keys = sorted(set(keys))
        cut = self.cut
        cut.check_files(sorted(set(frames) | set(keys)), self.digests, colors=False)
        cut.check_files([k for k in keys if self.keyframes.get(k) is not None
                         and self.keyframes[k].source == "cut"], self.digests, colors=True)
        w, h = cut.size
        for k in keys:
            key = self.keyframes.get(k)
            if key is None or key.source == "cut":
                continue
            path = self.key_image_path(key)
            size, _mode = image_header(path)
            if size != (w, h):
                raise ProjectError(f"keyframe colour image {path} is {size[0]}x{size[1]} but the "
                                   f"cut's drawings are {w}x{h}")
            problem = self.digests.facts(path).problem
            if problem is not None:
                raise ProjectError(f"keyframe colour image {path}: {problem}")

    # ------------------------------------------------------------------ persistence

    def claim_outputs(self, paths: Iterable[str | os.PathLike]) -> None:
        """Record, durably and before they are written, files a frame is about to write: if the
        work stops before its result is recorded, they are still known to be this project's."""
        project_file.claim_outputs(self, paths)

    def record_result(self, result: FrameResult) -> None:
        """Store a finished frame's result and append it durably to the results log (a cost
        that does not grow with the number of results; :meth:`save` folds the log in)."""
        project_file.record_result(self, result)

    def to_dict(self) -> dict[str, Any]:
        """The JSON document."""
        return project_file.document(self)

    def save(self) -> Path:
        """Write the project file atomically (the previous good copy becomes ``.bak``) with the
        results log folded in."""
        return project_file.save(self)

    @classmethod
    def load(cls, path: str | os.PathLike, cut: Any | None = None,
             cut_dir: str | os.PathLike | None = None) -> Project:
        """Open a project file (or the folder holding one), with its results log replayed.

        A corrupt or foreign file, or one whose paths lead outside the project folder, raises
        :class:`ProjectError`; the ``.bak`` copy is left untouched and named in the message so
        the user can open it. ``cut_dir`` points the project at its cut's new place (the cut
        moved); frames the cut no longer has are dropped with a warning in ``cut.warnings``.
        """
        return project_file.load(cls, path, cut, cut_dir)

    # ------------------------------------------------------------------ helpers

    def confined(self, rel: str | os.PathLike, what: str, allow_absolute: bool = False) -> Path:
        """``rel`` as a path inside the project folder; ProjectError when it leads outside
        (absolute, ``..``, or through a link): a project file never makes us read or write
        elsewhere."""
        p = PurePath(str(rel))
        root = self.root
        if p.is_absolute():
            if allow_absolute:
                real_root = _real(root)
                if _real(p) == real_root or _real(p).startswith(real_root.rstrip(os.sep) + os.sep):
                    return Path(p)
        elif p.parts and ".." not in p.parts:
            full = root / p
            real_root = _real(root)
            if _real(full).startswith(real_root.rstrip(os.sep) + os.sep) or _real(full) == real_root:
                return full
        raise ProjectError(f"the project file {self.path} is damaged: {what} ({rel}) points "
                           "outside the project folder")

    def _check_index(self, index: int) -> None:
        n = len(self.cut.frames)
        if not isinstance(index, (int, np.integer)) or not 0 <= int(index) < n:
            raise ProjectError(f"frame index {index} is outside the cut (0..{n - 1})")
