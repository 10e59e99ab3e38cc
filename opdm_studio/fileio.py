"""Atomic file writes shared by every layer (standard library only: no torch, no Qt).

A file is written under a temporary name in its own folder and renamed over the target only when
complete, so a crash, a full disk or a cancel never leaves a half-written file under the real name.
:func:`write_bytes_atomic` is the one byte writer of the code base: it replaces by default, and
with ``overwrite=False`` it never replaces a file that appeared meanwhile (a hard link cannot
clobber). Failures are plain ``OSError``; callers that face the user turn them into their own
error types (``imaging.export`` names the disk-full / read-only cases for an export).
"""
from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

# The process umask, read once (os.umask can only be read by setting it).
_UMASK = os.umask(0)
os.umask(_UMASK)

# Temporary names are ".<target>.<random>.tmp"; a target name near the file-system limit of
# 255 bytes must still get a temporary name, so the copied part of the name is bounded.
_TMP_NAME_PART = 64


@contextmanager
def atomic_path(path: str | os.PathLike, mode: int = 0o666) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; on a normal exit it replaces ``path``.

    The caller writes the whole file to the yielded path (by any library). On an exception the
    temporary file is removed and ``path`` is untouched. The file gets ordinary permissions
    (``mode`` less the umask), not mkstemp's owner-only 0600.
    """
    path = Path(path)
    tmp = _make_temp(path, mode)
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        _unlink_quietly(tmp)
        raise


def _make_temp(path: Path, mode: int) -> Path:
    """A new empty temporary file beside ``path`` with ordinary permissions."""
    part = path.name.encode("utf-8", "surrogateescape")[:_TMP_NAME_PART].decode("utf-8", "ignore")
    fd, tmp = tempfile.mkstemp(prefix=f".{part}.", suffix=".tmp", dir=path.parent)
    try:
        if hasattr(os, "fchmod"):
            os.fchmod(fd, mode & ~_UMASK)
    finally:
        os.close(fd)
    return Path(tmp)


def _unlink_quietly(path: Path) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def write_bytes_atomic(path: str | os.PathLike, data: bytes, fsync: bool = False,
                       overwrite: bool = True) -> Path:
    """Write ``data`` to ``path`` atomically; ``fsync`` makes it durable before the rename.

    ``overwrite=False``: raise ``FileExistsError`` instead of replacing an existing file, also
    one that appears while writing (the file is linked into place, which cannot clobber; on file
    systems without hard links it is checked, then renamed). Other failures raise ``OSError``;
    nothing is left behind.
    """
    path = Path(path)
    if not overwrite and os.path.lexists(path):
        raise FileExistsError(17, "File exists", str(path))
    tmp = _make_temp(path, 0o666)
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            if fsync:
                f.flush()
                os.fsync(f.fileno())
        if not overwrite:
            try:
                os.link(tmp, path)      # the temporary name is removed below
                return path
            except FileExistsError:
                raise
            except OSError:
                # File systems without hard links (FAT, some network shares): check, then rename.
                if os.path.lexists(path):
                    raise FileExistsError(17, "File exists", str(path)) from None
        os.replace(tmp, path)
    finally:
        _unlink_quietly(tmp)            # after a rename there is nothing left to remove
    return path


def write_text_atomic(path: str | os.PathLike, text: str, fsync: bool = False) -> Path:
    """Write UTF-8 ``text`` to ``path`` atomically (replacing an existing file)."""
    return write_bytes_atomic(path, text.encode("utf-8"), fsync=fsync)


def append_line_durably(path: str | os.PathLike, line: str, fsync: bool = True) -> None:
    """Append one line (``line`` without its newline) to ``path`` and make it durable.

    One ``write`` call of a whole line: a crash leaves at most a torn last line, which readers
    of such logs skip.
    """
    data = (line.rstrip("\n") + "\n").encode("utf-8")
    # Never through a link: a log is our own file in our own folder.
    flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(path, flags, 0o666)
    try:
        view = memoryview(data)
        while view:
            n = os.write(fd, view)
            view = view[n:]
        if fsync:
            os.fsync(fd)
    finally:
        os.close(fd)
