"""Device and dtype policy."""
import pytest
import torch

from opdm_studio.core import device as dev
from tests.conftest import requires_bf16


def test_pick_device_cpu_and_auto():
    assert dev.pick_device("cpu").type == "cpu"
    assert dev.pick_device("auto").type in ("cpu", "cuda", "mps")
    with pytest.raises(ValueError):
        dev.pick_device("tpu")


@pytest.mark.parametrize("amx, avx512_bf16, onednn_bf16, auto", [
    (True, True, True, torch.bfloat16),       # Intel Xeon with AMX (Sapphire Rapids and later)
    (False, True, True, torch.bfloat16),      # AVX512-BF16: AMD Zen 4 and later, Intel Cooper Lake
    (False, False, True, torch.float32),      # AVX-512 alone: oneDNN emulates bf16, slower
    (False, False, False, torch.float32),     # AVX2: no bf16 convolutions at all
    (False, True, False, torch.float32),      # instructions reported but oneDNN cannot use them
])
def test_auto_picks_bf16_where_the_cpu_has_bf16_matrix_instructions(monkeypatch, amx, avx512_bf16,
                                                                     onednn_bf16, auto):
    cpu = torch.device("cpu")
    monkeypatch.setattr(dev, "cpu_has_amx", lambda: amx)
    monkeypatch.setattr(dev, "cpu_has_avx512_bf16", lambda: avx512_bf16)
    monkeypatch.setattr(dev, "cpu_supports_bf16", lambda: onednn_bf16)
    assert dev.pick_dtype(cpu, "auto") == auto


def test_pick_dtype_policy(monkeypatch):
    cpu = torch.device("cpu")
    monkeypatch.setattr(dev, "cpu_supports_bf16", lambda: True)
    assert dev.pick_dtype(cpu, "bf16") == torch.bfloat16
    assert dev.pick_dtype(cpu, "fp32") == torch.float32
    with pytest.raises(ValueError):
        dev.pick_dtype(cpu, "fp16")
    with pytest.raises(ValueError):
        dev.pick_dtype(cpu, "int8")


def test_bf16_refused_in_one_line_where_the_cpu_cannot_run_it(monkeypatch):
    cpu = torch.device("cpu")
    monkeypatch.setattr(dev, "cpu_has_amx", lambda: True)     # even with AMX reported
    monkeypatch.setattr(dev, "cpu_has_avx512_bf16", lambda: True)
    monkeypatch.setattr(dev, "cpu_supports_bf16", lambda: False)
    assert dev.pick_dtype(cpu, "auto") == torch.float32       # auto keeps fp32
    with pytest.raises(ValueError, match="^this CPU has no bf16 support; use fp32$"):
        dev.pick_dtype(cpu, "bf16")


@requires_bf16
def test_autocast_and_prepare():
    with dev.autocast("cpu", torch.float32):
        assert not torch.is_autocast_enabled("cpu")
    with dev.autocast("cpu", torch.bfloat16):
        assert torch.is_autocast_enabled("cpu")
    m = dev.prepare_for_inference(torch.nn.Conv2d(3, 4, 3), "cpu", torch.bfloat16)
    x = dev.prepare_inputs(torch.randn(1, 3, 8, 8), "cpu", torch.bfloat16)
    assert m.weight.dtype == torch.bfloat16 and not m.training
    assert x.is_contiguous(memory_format=torch.channels_last)
