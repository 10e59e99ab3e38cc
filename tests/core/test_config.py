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


def test_inference_spec_round_trip_and_validation():
    from opdm_studio.core.config import InferenceSpec
    spec = InferenceSpec.refine(t_start=35)
    assert InferenceSpec.from_json(spec.to_json(), 500) == spec
    assert InferenceSpec.from_dict({}) == InferenceSpec.paper()
    adapting = InferenceSpec.refine(t_start=35, refs="chain-warped", adapt_per_frame=2)
    assert InferenceSpec.from_json(adapting.to_json(), 500) == adapting
    assert (adapting.pipeline, adapting.steps, adapting.adapt_per_frame) == ("refine", 1, 2)
    for bad in ({"pipeline": "dream"}, {"pipeline": "refine", "t_start": 10_000, "steps": 1,
                                        "refs": "flow-warped"},
                {"pipeline": "refine", "t_start": 5, "steps": 1, "refs": "flow-warped", "gate": "maybe"},
                {"pipeline": "refine", "t_start": 5, "steps": "many", "refs": "flow-warped"},
                {"pipeline": "opdm", "t_start": 5}, {"colour": "red"}, ["opdm"]):
        with pytest.raises(ValueError, match="invalid inference spec"):
            InferenceSpec.from_dict(bad, 500)


def test_legacy_inference_entries():
    """Format-1 checkpoints kept the spec in config.extra["inference"]."""
    from opdm_studio.core.config import InferenceSpec
    assert InferenceSpec.from_legacy(None) == InferenceSpec.paper()
    assert InferenceSpec.from_legacy({"mode": "sample"}) == InferenceSpec.paper()
    old = {"gate": "confidence", "mode": "refine", "refs": "flow-warped", "steps": 1, "t_start": 35}
    assert InferenceSpec.from_legacy(old, 500) == InferenceSpec.refine(t_start=35, steps=1)
    for bad in ({"mode": "dream"}, {"mode": "refine", "t_start": 10_000}, {"mode": "refine", "gate": "x"}):
        with pytest.raises(ValueError):
            InferenceSpec.from_legacy(bad, 500)


def test_absurd_sizes_are_refused_before_any_allocation():
    for change in ({"base_channels": 100_000}, {"channel_mult": (1, 2, 4, 4096)},
                   {"num_res_blocks": 1000}, {"image_size": 1 << 20}, {"timesteps": 10 ** 9},
                   {"base_channels": 512, "channel_mult": (16, 16, 16, 16), "num_res_blocks": 32}):
        with pytest.raises(ValueError, match="invalid model config"):
            ModelConfig.preset("tiny").replace(**change)
    assert ModelConfig.preset("paper").parameter_estimate() < 1e9
