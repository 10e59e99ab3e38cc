"""Model choice: shipped default, installed names, checkpoint paths, mismatched checkpoints."""
import json
import shutil

import pytest

from opdm_studio import paths
from opdm_studio.engine.models import clear_model_cache, default_model_path, installed_models, load_model, resolve_model
from opdm_studio.errors import CheckpointError, ModelNotInstalledError


def test_no_model_installed_message_says_how_to_get_one(monkeypatch, tmp_path):
    assert default_model_path().name == "default.safetensors"
    # As on an install without the shipped default model.
    import opdm_studio.engine.models as models
    monkeypatch.setattr(models, "default_model_path", lambda: tmp_path / "absent.safetensors")
    with pytest.raises(ModelNotInstalledError) as exc:
        resolve_model(None)
    msg = str(exc.value)
    assert "no colouring model is installed" in msg and "opdm-studio train" in msg
    assert "--model" in msg


def test_installed_by_name_and_by_path(tiny_checkpoint):
    dst = paths.models_dir() / "studio-a.safetensors"
    shutil.copy(tiny_checkpoint, dst)
    assert resolve_model("studio-a") == dst
    assert resolve_model(str(tiny_checkpoint)) == tiny_checkpoint
    names = [m.name for m in installed_models()]
    assert "studio-a" in names
    info = next(m for m in installed_models() if m.name == "studio-a")
    assert info.config.get("name") == "tiny" and info.metadata == {"note": "test"}
    with pytest.raises(ModelNotInstalledError, match="studio-a"):
        resolve_model("studio-b")                    # lists what is installed
    with pytest.raises(CheckpointError, match="does not exist"):
        resolve_model("some/where/model.safetensors")


def test_load_is_cached(tiny_checkpoint):
    clear_model_cache()
    a = load_model(tiny_checkpoint, "cpu", "fp32")
    b = load_model(tiny_checkpoint, "cpu", "fp32")
    assert a is b and a.model is b.model and not a.model.training
    assert a.inference.pipeline == "opdm"
    assert not any(p.requires_grad for p in a.model.parameters())


def test_checkpoint_whose_config_does_not_fit(tmp_path):
    import torch
    from safetensors.torch import save_file

    from opdm_studio.core.config import ModelConfig
    from opdm_studio.core.model import OPDM
    wider = OPDM(ModelConfig.preset("tiny").replace(base_channels=12))
    tensors = {k: v.contiguous() for k, v in wider.state_dict().items()}
    header = {"format": "opdm-studio-checkpoint", "format_version": "1",
              "config": ModelConfig.preset("tiny").to_json(), "metadata": json.dumps({})}
    bad = tmp_path / "bad.safetensors"
    save_file(tensors, str(bad), metadata=header)
    with pytest.raises(CheckpointError, match="do not match"):
        load_model(bad)
    garbage = tmp_path / "garbage.safetensors"
    garbage.write_bytes(b"\x00" * 64)
    with pytest.raises(CheckpointError):
        load_model(garbage)
    del torch
