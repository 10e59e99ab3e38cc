"""Device and precision policy: cuda > mps > cpu; bf16 where it is fast, fp32 elsewhere.

bf16 is chosen automatically on CUDA and on CPUs with Intel AMX tiles (there it is ~4x faster
than fp32); on other CPUs bf16 is slower than fp32, so "auto" keeps fp32 there.
"""
from __future__ import annotations

import contextlib
from typing import Iterator

import torch
from torch import nn

_DTYPES = {"fp32": torch.float32, "float32": torch.float32, "bf16": torch.bfloat16,
           "bfloat16": torch.bfloat16, "fp16": torch.float16, "float16": torch.float16}


def cpu_has_amx() -> bool:
    """True when this CPU has AMX tiles (fast bf16 matrix units)."""
    try:
        return bool(torch.cpu._is_amx_tile_supported())
    except Exception:  # older torch or an unusual build: assume no AMX
        return False


def pick_device(name: str = "auto") -> torch.device:
    """"auto" picks cuda, then mps, then cpu; a named device must be available (ValueError)."""
    name = (name or "auto").lower()
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        dev = torch.device(name)
    except RuntimeError:
        raise ValueError(f"unsupported device {name!r}; use auto, cpu, cuda or mps") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError("CUDA was requested but no CUDA GPU is available")
    if dev.type == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise ValueError("MPS was requested but is not available on this machine")
    if dev.type not in ("cpu", "cuda", "mps"):
        raise ValueError(f"unsupported device {name!r}; use auto, cpu, cuda or mps")
    return dev


def pick_dtype(device: torch.device | str, name: str = "auto") -> torch.dtype:
    """Compute dtype: "auto" = bf16 on CUDA (fp16 if bf16 is unsupported) and AMX CPUs, else fp32."""
    dev = torch.device(device)
    name = (name or "auto").lower()
    if name != "auto":
        try:
            dtype = _DTYPES[name]
        except KeyError:
            raise ValueError(f"unsupported dtype {name!r}; use auto, fp32, bf16 or fp16") from None
        if dev.type == "cpu" and dtype == torch.float16:
            raise ValueError("fp16 compute is not supported on the CPU; use fp32 or bf16")
        return dtype
    if dev.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if dev.type == "mps":
        return torch.float16
    return torch.bfloat16 if cpu_has_amx() else torch.float32


def autocast(device: torch.device | str, dtype: torch.dtype) -> contextlib.AbstractContextManager:
    """Autocast context for device/dtype; a no-op for fp32."""
    dev = torch.device(device)
    if dtype == torch.float32:
        return contextlib.nullcontext()
    return torch.autocast(device_type=dev.type, dtype=dtype)


def _mkldnn_packing_available() -> bool:
    try:
        return bool(torch.backends.mkldnn.is_available()) and \
            hasattr(torch.ops.mkldnn, "_convolution_pointwise") and \
            hasattr(torch.ops.mkldnn, "_reorder_convolution_weight")
    except Exception:  # internal ops missing in this torch build
        return False


class PackedConv2d(nn.Conv2d):
    """Conv2d whose CPU inference path keeps its weight pre-packed in oneDNN's blocked layout.

    Eager ``F.conv2d`` re-packs the weight on every call; for the wide low-resolution layers that
    costs more than the convolution itself (measured 3x on 768 channels at 14x14). The packed
    copy is cached per input shape and refreshed when the weight changes; results are identical.
    Training (grad enabled), other devices or mismatched dtypes use the ordinary path.
    """

    _packed: dict

    def _fast_ok(self, x: torch.Tensor) -> bool:
        return not (torch.is_grad_enabled() or x.device.type != "cpu" or x.dtype != self.weight.dtype
                    or self.padding_mode != "zeros" or isinstance(self.padding, str) or x.dim() != 4)

    def _packed_weight(self, x: torch.Tensor) -> torch.Tensor:
        w = self.weight
        cache = self.__dict__.setdefault("_packed", {})
        try:
            version = w._version
        except RuntimeError:        # inference tensors have no version counter
            version = -1
        key = (tuple(x.shape), w.dtype, w.data_ptr(), version)
        packed = cache.get(key)
        if packed is None:
            if len(cache) >= 4:
                cache.clear()
            packed = torch.ops.mkldnn._reorder_convolution_weight(
                w, list(self.padding), list(self.stride), list(self.dilation), self.groups, list(x.shape))
            cache[key] = packed
        return packed

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Same as nn.Conv2d.forward."""
        if not self._fast_ok(x):
            return super().forward(x)
        return torch.ops.mkldnn._convolution_pointwise(
            x, self._packed_weight(x), self.bias, list(self.padding), list(self.stride),
            list(self.dilation), self.groups, "none", [], "")

    def fused(self, x: torch.Tensor, bias: torch.Tensor | None = None,
              add: torch.Tensor | None = None) -> torch.Tensor | None:
        """conv(x) with ``bias`` instead of self.bias, plus ``add`` (same shape as the output)
        inside the oneDNN kernel; None where this fast path does not apply (caller falls back).

        Each fused add saves a full read-modify-write pass over the output, which on a CPU
        costs about as much as the 3x3 convolution itself at 224x224.
        """
        if not self._fast_ok(x):
            return None
        b = self.bias if bias is None else bias
        args = (list(self.padding), list(self.stride), list(self.dilation), self.groups)
        if add is None:
            return torch.ops.mkldnn._convolution_pointwise(x, self._packed_weight(x), b, *args, "none", [], "")
        if add.dtype != x.dtype or add.shape[0] != x.shape[0] or add.device != x.device:
            return None
        if not add.is_contiguous(memory_format=torch.channels_last):
            add = add.contiguous(memory_format=torch.channels_last)
        return torch.ops.mkldnn._convolution_pointwise.binary(
            x, add, self._packed_weight(x), b, *args, "add", 1.0, None, [], None)


def pack_convolutions(model: nn.Module) -> int:
    """Switch every nn.Conv2d of model to :class:`PackedConv2d` (same parameters and state_dict).

    Returns how many were switched (0 where this torch build lacks oneDNN).
    """
    if not _mkldnn_packing_available():
        return 0
    n = 0
    for m in model.modules():
        if type(m) is nn.Conv2d:
            m.__class__ = PackedConv2d
            n += 1
    return n


def prepare_for_inference(model: nn.Module, device: torch.device | str,
                          dtype: torch.dtype = torch.float32) -> nn.Module:
    """Move a model to device, eval mode, channels_last on CPU (oneDNN's fast layout).

    With a reduced dtype on the CPU the weights are cast to it too: that skips autocast's
    per-call weight casts and keeps norms/activations in bf16 (measured faster on AMX CPUs).
    On the CPU the convolutions also keep pre-packed weights (:class:`PackedConv2d`).
    Use :func:`prepare_inputs` on the input tensors and keep calling under :func:`autocast`.
    """
    dev = torch.device(device)
    model = model.to(dev).eval()
    if dev.type == "cpu":
        model = model.to(memory_format=torch.channels_last)
        if dtype != torch.float32:
            model = model.to(dtype)
        pack_convolutions(model)
    return model


def prepare_inputs(x: torch.Tensor, device: torch.device | str,
                   dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Move an image tensor (B,C,H,W) to device (channels_last on CPU) for a prepared model."""
    dev = torch.device(device)
    x = x.to(dev)
    if dev.type == "cpu":
        x = x.to(memory_format=torch.channels_last)
        if dtype != torch.float32:
            x = x.to(dtype)
    return x


@contextlib.contextmanager
def inference(device: torch.device | str, dtype: torch.dtype) -> Iterator[None]:
    """torch.inference_mode() plus :func:`autocast`: the context for colouring frames."""
    with torch.inference_mode(), autocast(device, dtype):
        yield
