"""The refine objective's data and training loop (what trains the shipped default model)."""
from __future__ import annotations

import pytest

from opdm_studio.core.model import OPDM
from training.refine import RefineData, refine_config, train


def test_refine_data_items_are_consistent():
    d = RefineData(size=32, seed=1, cut_size=(64, 80), frames=8)
    b = d.batch(2)
    assert b["line"].shape == (2, 1, 32, 32) and b["prev"].shape == (2, 3, 32, 32)
    for k in ("line", "prev", "next", "prop", "target"):
        assert b[k].min() >= -1 and b[k].max() <= 1
    assert 0 <= float(b["confidence"].min()) and float(b["confidence"].max()) <= 1
    # Line art is the protocol's binary drawing before area resizing: ink exists.
    assert float(b["line"].min()) < 0


def test_train_export_and_load(tmp_path):
    from opdm_studio.engine.models import clear_model_cache, load_model
    from training.export import export_model
    run = tmp_path / "run"
    last = train(run, minutes=5, size=32, batch=1, base=8, max_steps=2, ckpt_minutes=100, log=lambda s: None)
    assert last is not None and last.is_file()
    dst = export_model(run, tmp_path / "m.safetensors")
    clear_model_cache()
    loaded = load_model(dst, "cpu", "fp32")
    assert loaded.inference.pipeline == "refine" and loaded.inference.refs == "flow-warped"
    assert "inference" not in loaded.config.extra
    assert loaded.metadata["training_steps"] == 2
    from opdm_studio.errors import TrainingDataError
    with pytest.raises(TrainingDataError, match="already holds"):   # never trains over a run
        train(run, minutes=1, size=32, batch=1, base=8, max_steps=1, log=lambda s: None)


def test_refine_config_is_small():
    m = OPDM(refine_config())
    assert m.num_parameters() < 15_000_000   # fp16 export well under 60 MB
