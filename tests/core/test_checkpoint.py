"""Checkpoints: round trip, fp16 export, and a clear CheckpointError for every bad file."""
import json
import struct

import pytest
import torch
from safetensors.torch import save_file

from opdm_studio.core.checkpoint import (
    FORMAT_NAME,
    FORMAT_VERSION,
    load_checkpoint,
    read_checkpoint_info,
    save_checkpoint,
)
from opdm_studio.core.config import ModelConfig
from opdm_studio.core.model import OPDM
from opdm_studio.errors import CheckpointError


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return OPDM(ModelConfig.preset("tiny")).eval()


@pytest.fixture()
def saved(model, tmp_path):
    return save_checkpoint(tmp_path / "m.safetensors", model, metadata={"trained_on": "cut A", "steps": 3})


def _inputs():
    g = torch.Generator().manual_seed(0)
    return [torch.rand(1, c, 32, 32, generator=g) * 2 - 1 for c in (3, 1, 3, 3)]


def test_round_trip(model, saved, tmp_path):
    loaded, cfg, meta, _spec = load_checkpoint(saved)
    assert cfg == model.config and meta == {"trained_on": "cut A", "steps": 3}
    assert not loaded.training
    for k, v in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[k], v), k
    x, l, p, n = _inputs()
    with torch.no_grad():
        assert torch.equal(loaded(x, 7, l, p, n), model(x, 7, l, p, n))
    assert [f.name for f in tmp_path.iterdir()] == ["m.safetensors"]   # no temp file left


def test_fp16_export_loads(model, tmp_path):
    p16 = save_checkpoint(tmp_path / "half.safetensors", model, dtype=torch.float16)
    p32 = save_checkpoint(tmp_path / "full.safetensors", model)
    assert p16.stat().st_size < 0.6 * p32.stat().st_size
    info = read_checkpoint_info(p16)
    assert info.dtype == "F16" and info.num_parameters == model.num_parameters()
    loaded, cfg, _, _spec = load_checkpoint(p16)
    assert next(loaded.parameters()).dtype == torch.float32
    x, l, p, n = _inputs()
    with torch.no_grad():
        torch.testing.assert_close(loaded(x, 7, l, p, n), model(x, 7, l, p, n), rtol=0, atol=2e-2)


def test_info_without_weights(saved, model):
    info = read_checkpoint_info(saved)
    assert info.format == FORMAT_NAME and info.format_version == FORMAT_VERSION
    assert info.config == model.config and info.metadata["steps"] == 3


def test_no_silent_overwrite(model, saved):
    with pytest.raises(CheckpointError, match="already exists"):
        save_checkpoint(saved, model, overwrite=False)


def _write_raw(path, tensors, meta):
    save_file(tensors, str(path), metadata=meta)
    return path


def _meta(model, **over):
    m = {"format": FORMAT_NAME, "format_version": str(FORMAT_VERSION),
         "config": model.config.to_json(), "metadata": "{}"}
    m.update(over)
    return {k: v for k, v in m.items() if v is not None}


def _state(model):
    return {k: v.contiguous() for k, v in model.state_dict().items()}


def _case(name, model, d):
    """Build a bad file for case `name` in folder d; return its path."""
    p = d / f"{name}.safetensors"
    if name == "missing":
        return p
    if name == "folder":
        p.mkdir()
        return p
    if name == "empty":
        p.write_bytes(b"")
    elif name == "garbage":
        p.write_bytes(b"this is a PNG, honest" * 50)
    elif name == "bad_header_json":
        body = b"{not json!!"
        p.write_bytes(struct.pack("<Q", len(body)) + body)
    elif name in ("truncated", "truncated_header"):
        save_checkpoint(p, model)
        data = p.read_bytes()
        p.write_bytes(data[: len(data) // 2] if name == "truncated" else data[:40])
    elif name == "pickle":
        torch.save(model.state_dict(), p)
    elif name == "wrong_format":
        _write_raw(p, _state(model), _meta(model, format="someone-elses-model"))
    elif name == "no_format":
        _write_raw(p, _state(model), {})
    elif name == "newer_version":
        _write_raw(p, _state(model), _meta(model, format_version=str(FORMAT_VERSION + 1)))
    elif name == "bad_version":
        _write_raw(p, _state(model), _meta(model, format_version="one"))
    elif name == "no_config":
        _write_raw(p, _state(model), _meta(model, config=None))
    elif name == "invalid_config":
        bad = model.config.to_dict()
        bad["offset_kernel"] = 4
        _write_raw(p, _state(model), _meta(model, config=json.dumps(bad)))
    elif name == "config_not_json":
        _write_raw(p, _state(model), _meta(model, config="{{{"))
    elif name == "missing_tensor":
        st = _state(model)
        st.pop(sorted(st)[0])
        _write_raw(p, st, _meta(model))
    elif name == "unexpected_tensor":
        st = _state(model)
        st["extra.weight"] = torch.zeros(3)
        _write_raw(p, st, _meta(model))
    elif name == "wrong_shape":
        # the weights of a wider network under the tiny config
        big = OPDM(model.config.replace(base_channels=16))
        _write_raw(p, _state(big), _meta(model))
    elif name == "nan":
        st = _state(model)
        k = sorted(st)[0]
        st[k] = st[k].clone().fill_(float("nan"))
        _write_raw(p, st, _meta(model))
    elif name == "bad_metadata":
        _write_raw(p, _state(model), _meta(model, metadata="[1, 2"))
    return p


CASES = {
    "missing": "not found",
    "folder": "is a folder",
    "empty": "not a model file",
    "garbage": "not a model file",
    "bad_header_json": "not a model file",
    "truncated": "truncated",
    "truncated_header": "truncated",
    "pickle": "not a model file",
    "wrong_format": "not an OPDM Studio model",
    "no_format": "not an OPDM Studio model",
    "newer_version": "newer OPDM Studio",
    "bad_version": "format version",
    "no_config": "no model configuration",
    "invalid_config": "configuration is invalid.*offset_kernel",
    "config_not_json": "configuration is invalid",
    "missing_tensor": "missing tensor",
    "unexpected_tensor": "unexpected tensor.*extra.weight",
    "wrong_shape": "has shape",
    "nan": "NaN",
    "bad_metadata": "metadata",
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_checkpoint_gives_clear_error(case, model, tmp_path):
    path = _case(case, model, tmp_path)
    with pytest.raises(CheckpointError, match=CASES[case]) as info:
        load_checkpoint(path)
    assert str(path) in str(info.value)            # the message names the file
    if case not in ("nan", "wrong_shape", "missing_tensor", "unexpected_tensor"):
        with pytest.raises(CheckpointError):       # the header-only reader agrees
            read_checkpoint_info(path)


def test_format_1_checkpoint_still_loads_with_its_spec(tmp_path):
    """A file written before the inference spec had its own header entry (format 1, the spec in
    config.extra) loads with the same spec, and a re-save writes format 2 with the spec apart."""
    import json

    from safetensors.torch import save_file

    from opdm_studio.core.checkpoint_info import FORMAT_VERSION
    from opdm_studio.core.config import InferenceSpec
    torch.manual_seed(0)
    model = OPDM(ModelConfig.preset("tiny"))
    old_cfg = json.loads(model.config.to_json())
    old_cfg["extra"] = {"inference": {"mode": "refine", "refs": "flow-warped", "t_start": 35,
                                      "steps": 1, "gate": "confidence"}}
    old = tmp_path / "old.safetensors"
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(old),
              metadata={"format": "opdm-studio-checkpoint", "format_version": "1",
                        "config": json.dumps(old_cfg), "metadata": "{}"})
    info = read_checkpoint_info(old)
    assert info.format_version == 1 and info.inference == InferenceSpec.refine(t_start=35)
    assert "inference" not in info.config.extra
    loaded = load_checkpoint(old)
    assert loaded.inference == info.inference
    assert all(torch.equal(a, b) for a, b in zip(loaded.model.state_dict().values(),
                                                  model.state_dict().values(), strict=True))
    new = save_checkpoint(tmp_path / "new.safetensors", loaded.model, inference=loaded.inference)
    again = read_checkpoint_info(new)
    assert again.format_version == FORMAT_VERSION == 2 and again.inference == info.inference


def test_shipped_default_is_a_refine_model():
    from opdm_studio.core.config import InferenceSpec
    from opdm_studio.engine.models import default_model_path
    path = default_model_path()
    if not path.is_file():
        pytest.skip("no shipped default model in this checkout")
    assert read_checkpoint_info(path).inference == InferenceSpec.refine(
        t_start=35, steps=1, refs="chain-warped", strength=1.0, adapt_per_frame=2)


def test_a_tiny_file_claiming_a_large_config_is_refused_before_the_network_is_built(
        model, tmp_path, monkeypatch):
    """Issue 27 item 6: names and shapes are checked on a skeleton without storage."""
    import opdm_studio.core.checkpoint as ckpt
    built = []
    real = ckpt.OPDM

    def spy(cfg):
        net = real(cfg)
        built.append(next(net.parameters()).device.type)
        return net

    monkeypatch.setattr(ckpt, "OPDM", spy)
    big = ModelConfig.preset("small")
    path = tmp_path / "small-claim.safetensors"
    _write_raw(path, {"in_conv.weight": torch.zeros(2)}, _meta(model, config=big.to_json()))
    assert path.stat().st_size < 4000
    with pytest.raises(CheckpointError, match="missing tensor"):
        load_checkpoint(path)
    assert built == ["meta"]


@pytest.mark.parametrize("field,value", [("adapt_per_frame", 10**9), ("steps", 10**9)])
def test_a_spec_asking_for_an_endless_run_is_refused(model, tmp_path, field, value):
    """Issue 27 item 12: a model file cannot ask for a run that never ends."""
    from opdm_studio.core.config import InferenceSpec
    spec = InferenceSpec.refine(t_start=35, steps=1, refs="chain-warped", adapt_per_frame=2)
    doc = json.loads(spec.to_json())
    doc[field] = value
    path = tmp_path / "endless.safetensors"
    _write_raw(path, _state(model), _meta(model, inference=json.dumps(doc)))
    with pytest.raises(CheckpointError, match=field):
        load_checkpoint(path)
