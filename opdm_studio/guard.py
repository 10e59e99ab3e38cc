"""May this path be written? The one check every writer asks before it creates a file or folder.

A writer names what it reads, as :class:`Protected` entries (a folder with everything inside it,
a folder itself only, or one file), and the target it is about to write; :func:`check_may_write`
raises :class:`WriteRefused` when the target is one of them or lies inside a protected tree,
however either path is spelled: relative or absolute, through links or ``..``, a bind mount
(existing folders compare by device and inode, the rest by their fully resolved spelling).

Colouring and export (``engine.sources``), the cut bench's ``--keep``, the evaluation's report,
and training's export and check preview all call it. Standard library only.
"""
from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from opdm_studio.errors import ExportError

__all__ = ["SCOPES", "Protected", "WriteRefused", "check_may_write", "check_new_folder", "is_within"]

# "tree": the path and everything under it; "self": the path only (a folder or a file).
SCOPES = ("tree", "self")


class WriteRefused(ExportError):
    """A writer was about to write where OPDM Studio reads (drawings, paint, a model, data)."""


@dataclass(frozen=True)
class Protected:
    """A path a writer must leave alone: ``role`` names it for the user ("drawing folder")."""

    role: str
    path: Path
    scope: str = "tree"

    def __post_init__(self) -> None:
        if self.scope not in SCOPES:
            raise ValueError(f"unknown scope {self.scope!r}")


def _identities(path: str) -> set[object]:
    """Every spelling that names ``path``: its resolved text and, if it exists, (dev, inode)."""
    out: set[object] = set()
    try:
        out.add(os.path.realpath(path))
    except (OSError, ValueError):
        out.add(os.path.abspath(path))
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        return out
    out.add((st.st_dev, st.st_ino))
    return out


def _chain(target: str | os.PathLike) -> list[str]:
    """``target`` resolved as far as it exists, then each of its ancestors up to the root."""
    try:
        path = os.path.realpath(target)
    except (OSError, ValueError):
        path = os.path.abspath(target)
    chain = [path]
    while True:
        parent = os.path.dirname(chain[-1])
        if parent == chain[-1]:
            return chain
        chain.append(parent)


def is_within(target: str | os.PathLike, folder: str | os.PathLike) -> bool:
    """True when ``target`` is ``folder`` or lies anywhere inside it (links, ``..`` resolved)."""
    wanted = _identities(str(folder))
    return any(_identities(p) & wanted for p in _chain(target))


def check_may_write(target: str | os.PathLike, protected: Iterable[Protected],
                    what: str = "output folder", hint: str = "choose another folder") -> None:
    """Raise :class:`WriteRefused` when writing ``target`` could change a ``protected`` path."""
    chain = _chain(target)
    own = _identities(str(target)) | _identities(chain[0])
    above = [_identities(p) for p in chain[1:]]
    for entry in protected:
        ids = _identities(str(entry.path))
        if own & ids:
            raise WriteRefused(f"the {what} {target} is the {entry.role} ({entry.path}); OPDM "
                               f"Studio never writes where it reads: {hint}")
        if entry.scope == "tree" and any(a & ids for a in above):
            raise WriteRefused(f"the {what} {target} is inside the {entry.role} ({entry.path}); "
                               f"OPDM Studio never writes where it reads: {hint}")


def check_new_folder(target: str | os.PathLike, what: str = "folder",
                     protected: Iterable[Protected] = ()) -> None:
    """Raise :class:`WriteRefused` unless ``target`` may be written (:func:`check_may_write`)
    and is a new or empty folder: a writer that fills a whole folder never mixes its files
    with someone's drawings or replaces them."""
    check_may_write(target, protected, what)
    path = Path(target)
    if path.is_symlink() or (path.exists() and not path.is_dir()):
        raise WriteRefused(f"the {what} {target} is a file or a link, not a folder; give a new "
                           "folder")
    try:
        empty = not path.exists() or next(path.iterdir(), None) is None
    except OSError as exc:
        raise WriteRefused(f"the {what} {target} cannot be read ({exc.strerror or exc})") from None
    if not empty:
        raise WriteRefused(f"the {what} {target} already holds files; give a new or empty folder "
                           "so nothing there is replaced")
