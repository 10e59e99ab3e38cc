"""Test setup shared by every test: offscreen Qt, a private home folder, few threads."""
import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("OMP_NUM_THREADS", "2")

import pytest


@pytest.fixture(autouse=True)
def _private_home(tmp_path_factory, monkeypatch):
    """Keep models, logs and caches of every test in a temporary folder, never the user's."""
    home = tmp_path_factory.mktemp("opdm_home")
    monkeypatch.setenv("OPDM_STUDIO_HOME", str(home))
    yield home
