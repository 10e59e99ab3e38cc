"""Atomic file writes shared by every layer (standard library only: no torch, no Qt).

A file is written under a temporary name in its own folder and renamed over the target only when
complete, so a crash, a full disk or a cancel never leaves a half-written file under the real name.
"""
from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

# The process umask, read once (os.umask can only be read by setting it).
_UMASK = os.umask(0)
os.umask(_UMASK)


@contextmanager
def atomic_path(path: str | os.PathLike, mode: int = 0o666) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; on a normal exit it replaces ``path``.

    The caller writes the whole file to the yielded path (by any library). On an exception the
    temporary file is removed and ``path`` is untouched. The file gets ordinary permissions
    (``mode`` less the umask), not mkstemp's owner-only 0600.
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        if hasattr(os, "fchmod"):
            os.fchmod(fd, mode & ~_UMASK)
        os.close(fd)
        yield Path(tmp)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def write_bytes_atomic(path: str | os.PathLike, data: bytes, fsync: bool = False) -> Path:
    """Write ``data`` to ``path`` atomically (replacing an existing file)."""
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            f.write(data)
            if fsync:
                f.flush()
                os.fsync(f.fileno())
    return Path(path)


def write_text_atomic(path: str | os.PathLike, text: str, fsync: bool = False) -> Path:
    """Write UTF-8 ``text`` to ``path`` atomically (replacing an existing file)."""
    return write_bytes_atomic(path, text.encode("utf-8"), fsync=fsync)
