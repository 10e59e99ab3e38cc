"""Bad input is answered with our own error naming the file; nothing is written on failure."""
from __future__ import annotations

import os
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from opdm_studio.errors import CutError, ExportError, ImageReadError, OPDMError
from opdm_studio.imaging.cut import open_cut, read_image
from opdm_studio.imaging.export import write_png_atomic


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def _bomb_png(w: int, h: int) -> bytes:
    ihdr = struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0)
    idat = zlib.compress(b"\0" * 64)
    return b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IDAT", idat) + _png_chunk(b"IEND", b"")


def make_bad(path, kind):
    if kind == "zero":
        path.write_bytes(b"")
    elif kind == "truncated":
        img = (np.random.default_rng(0).random((64, 64, 3)) * 255).astype(np.uint8)
        Image.fromarray(img).save(path)
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 2])
    elif kind == "text":
        path.write_text("this is not a picture\n" * 10)
    elif kind == "tiny":
        Image.fromarray(np.zeros((1, 1), np.uint8)).save(path)
    elif kind == "bomb":
        path.write_bytes(_bomb_png(100000, 100000))
    elif kind == "mode":
        Image.fromarray(np.zeros((32, 32), np.float32), "F").save(path)


CASES = [("zero", "a.png"), ("truncated", "a.png"), ("text", "a.png"), ("tiny", "a.png"),
         ("bomb", "a.png"), ("mode", "a.tif")]


@pytest.mark.parametrize("kind,name", CASES)
def test_read_image_bad_files(tmp_path, kind, name):
    path = tmp_path / name
    make_bad(path, kind)
    with pytest.raises(ImageReadError) as e:
        read_image(path)
    assert str(path) in str(e.value)


@pytest.mark.parametrize("kind,name", CASES)
def test_cut_with_a_bad_frame(tmp_path, kind, name):
    Image.fromarray(np.full((32, 32), 255, np.uint8)).save(tmp_path / "0000.png")
    bad = tmp_path / ("0001" + os.path.splitext(name)[1])
    make_bad(bad, kind)
    before = sorted(p.name for p in tmp_path.iterdir())
    with pytest.raises(OPDMError) as e:
        cut = open_cut(tmp_path)
        cut.line(1)  # truncated files are only found when decoded
    assert bad.name in str(e.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_unreadable_and_missing_folder(tmp_path):
    with pytest.raises(CutError, match="does not exist"):
        open_cut(tmp_path / "nope")
    f = tmp_path / "file.png"
    Image.fromarray(np.zeros((32, 32), np.uint8)).save(f)
    with pytest.raises(CutError, match="not a folder"):
        open_cut(f)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(CutError, match="no drawings"):
        open_cut(empty)
    locked = tmp_path / "locked"
    locked.mkdir()
    Image.fromarray(np.zeros((32, 32), np.uint8)).save(locked / "0.png")
    os.chmod(locked, 0)
    try:
        if os.access(locked, os.R_OK):
            pytest.skip("running as root: permissions are not enforced")
        with pytest.raises(CutError) as e:
            open_cut(locked)
        assert "locked" in str(e.value)
    finally:
        os.chmod(locked, 0o755)


def test_read_only_output_folder(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    os.chmod(out, 0o555)
    try:
        if os.access(out, os.W_OK):
            pytest.skip("running as root: permissions are not enforced")
        with pytest.raises(ExportError) as e:
            write_png_atomic(out / "x.png", np.zeros((8, 8, 3), np.uint8))
        assert "x.png" in str(e.value) and "read-only" in str(e.value)
        assert list(out.iterdir()) == []
    finally:
        os.chmod(out, 0o755)


def test_unreadable_folder_simulated(tmp_path, monkeypatch):
    """The same as above where permissions cannot be enforced (root, CI containers)."""
    Image.fromarray(np.zeros((32, 32), np.uint8)).save(tmp_path / "0.png")
    real = os.scandir

    def deny(path):
        if os.fspath(path) == os.fspath(tmp_path):
            raise PermissionError(13, "Permission denied", os.fspath(path))
        return real(path)

    monkeypatch.setattr(os, "scandir", deny)
    with pytest.raises(CutError) as e:
        open_cut(tmp_path)
    assert str(tmp_path) in str(e.value) and "permission" in str(e.value)


@pytest.mark.parametrize("err,words", [(30, "read-only"), (13, "read-only"), (28, "disk is full")])
def test_write_failures_simulated(tmp_path, monkeypatch, err, words):
    """Read-only file system, permission denied, full disk: ExportError, no file, no temp left."""
    import opdm_studio.fileio as fileio

    class Failing:
        def __init__(self, f):
            self.f = f

        def __enter__(self):
            return self

        def __exit__(self, *a):
            self.f.close()

        def write(self, data):
            raise OSError(err, os.strerror(err))

    # The one atomic writer (opdm_studio.fileio) fails while writing the temporary file.
    monkeypatch.setattr(fileio, "open", lambda path, mode: Failing(open(path, mode)), raising=False)
    with pytest.raises(ExportError) as e:
        write_png_atomic(tmp_path / "frame.png", np.zeros((8, 8, 3), np.uint8))
    assert "frame.png" in str(e.value) and words in str(e.value)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("w,h", [(13000, 13000), (10000, 10000)])
def test_a_big_drawing_is_called_big_not_corrupt(tmp_path, w, h):
    """Issue 27 item 13: a 169 MP drawing is over the limit (named as such), a 100 MP one is
    no bomb (its header opens; only the 150 MP limit decides)."""
    path = tmp_path / "big.png"
    path.write_bytes(_bomb_png(w, h))
    from opdm_studio.imaging.files import image_size
    if w * h > 150_000_000:
        with pytest.raises(ImageReadError, match="larger than the 150 megapixels") as e:
            image_size(path)
        assert "corrupt" not in str(e.value)
    else:
        assert image_size(path) == (w, h)
