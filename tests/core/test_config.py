"""ModelConfig: presets, parameter budgets, JSON round trip, validation."""
import json

import pytest
import torch

from opdm_studio.core.config import ModelConfig
from opdm_studio.core.model import OPDM


def _count(cfg: ModelConfig) -> int:
    with torch.device("meta"):      # no memory, no init time: just the shapes
        return OPDM(cfg).num_parameters()


def test_preset_parameter_budgets():
    assert 190e6 <= _count(ModelConfig.preset("paper")) <= 220e6
    assert _count(ModelConfig.preset("small")) <= 30e6
    assert _count(ModelConfig.preset("tiny")) < 1e6


def test_engine_fields_defaults():
    cfg = ModelConfig.preset("small")
    assert cfg.image_size == 224 and cfg.timesteps == 500 and cfg.sampling_steps == 10
    assert ModelConfig.preset("paper").offset_kernel == 5
    assert len(cfg.channels) == 4 and cfg.size_multiple == 16


@pytest.mark.parametrize("name", ["tiny", "small", "paper"])
def test_json_round_trip(name):
    cfg = ModelConfig.preset(name)
    again = ModelConfig.from_json(cfg.to_json())
    assert again == cfg
    assert ModelConfig.from_dict(json.loads(json.dumps(cfg.to_dict()))) == cfg


def test_unknown_preset():
    with pytest.raises(ValueError, match="unknown model preset"):
        ModelConfig.preset("huge")


@pytest.mark.parametrize("change, match", [
    ({"offset_kernel": 4}, "offset_kernel"),
    ({"channel_mult": [1, 2, 4]}, "channel_mult"),
    ({"image_size": 100}, "image_size"),
    ({"sampling_steps": 0}, "sampling_steps"),
    ({"base_channels": "wide"}, "base_channels"),
    ({"no_such_field": 1}, "unknown field"),
])
def test_invalid_config_rejected(change, match):
    data = ModelConfig.preset("tiny").to_dict()
    data.update(change)
    with pytest.raises(ValueError, match=match):
        ModelConfig.from_dict(data)


def test_not_json():
    with pytest.raises(ValueError, match="not JSON"):
        ModelConfig.from_json("{broken")
