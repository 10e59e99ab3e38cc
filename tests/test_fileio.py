"""The shared atomic-write helper: all or nothing, ordinary permissions, no litter."""
import os
import stat

import pytest

from opdm_studio.fileio import atomic_path, write_text_atomic


def test_failure_leaves_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "project.json"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("disk full halfway")
    assert target.read_text() == "old"
    assert os.listdir(tmp_path) == ["project.json"]


def test_success_replaces_with_normal_permissions(tmp_path):
    target = tmp_path / "out.txt"
    write_text_atomic(target, "new", fsync=True)
    assert target.read_text() == "new"
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~umask
    assert os.listdir(tmp_path) == ["out.txt"]
