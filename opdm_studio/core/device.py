"""Device and precision policy (cuda > mps > cpu; bf16 where it is fast, fp32 elsewhere) and the
inference wrapper that gives a model its fast CPU path.

bf16 is chosen automatically on CUDA and on CPUs with bf16 matrix instructions: Intel AMX tiles
(there it is ~4x faster than fp32) or AVX512-BF16 (AMD Zen 4 and later, Intel Cooper Lake: ~2x,
docs/benchmarks.md). On other CPUs oneDNN emulates bf16 (AVX-512 alone) or cannot run it at all
(AVX2), so "auto" keeps fp32 there, and an explicit bf16 on a CPU whose oneDNN cannot run bf16
convolutions is refused with one line.

The model files (``unet.py`` ...) are plain PyTorch. :func:`prepare_for_inference` returns a
prepared copy for one device and dtype: on the CPU, channels_last, weights cast to the compute
dtype, convolutions keeping pre-packed oneDNN weights (:class:`PackedConv2d`) and ResNet blocks
whose timestep / injection / residual adds run inside those convolutions (:class:`FusedResBlock`).
The numbers equal the plain path's (tests/core check it).
"""
from __future__ import annotations

import contextlib
import copy
from collections.abc import Iterator

import torch
import torch.nn.functional as F
from torch import nn

from opdm_studio.core.unet import ResBlock

_DTYPES = {"fp32": torch.float32, "float32": torch.float32, "bf16": torch.bfloat16,
           "bfloat16": torch.bfloat16, "fp16": torch.float16, "float16": torch.float16}


def cpu_has_amx() -> bool:
    """True when this CPU has AMX tiles (fast bf16 matrix units)."""
    try:
        return bool(torch.cpu._is_amx_tile_supported())
    except Exception:  # older torch or an unusual build: assume no AMX
        return False


def cpu_has_avx512_bf16() -> bool:
    """True when this CPU has the AVX512-BF16 instructions (bf16 dot products in hardware)."""
    try:
        return bool(torch.cpu._is_avx512_bf16_supported())
    except Exception:  # older torch or an unusual build: assume not
        return False


def cpu_fast_bf16() -> bool:
    """True when bf16 is faster than fp32 on this CPU: bf16 matrix instructions (AMX tiles or
    AVX512-BF16) that oneDNN can run."""
    return (cpu_has_amx() or cpu_has_avx512_bf16()) and cpu_supports_bf16()


def cpu_supports_bf16() -> bool:
    """True when oneDNN can run bf16 convolutions on this CPU (AVX512-BF16/AMX or AVX-NE-CONVERT)."""
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except Exception:  # an unusual build without the query: be safe
        return False


NO_BF16_MESSAGE = "this CPU has no bf16 support; use fp32"


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
    """Compute dtype: "auto" = bf16 on CUDA (fp16 if bf16 is unsupported) and on CPUs with bf16
    matrix instructions (:func:`cpu_fast_bf16`), else fp32."""
    dev = torch.device(device)
    name = (name or "auto").lower()
    if name != "auto":
        try:
            dtype = _DTYPES[name]
        except KeyError:
            raise ValueError(f"unsupported dtype {name!r}; use auto, fp32, bf16 or fp16") from None
        if dev.type == "cpu" and dtype == torch.float16:
            raise ValueError("fp16 compute is not supported on the CPU; use fp32 or bf16")
        if dev.type == "cpu" and dtype == torch.bfloat16 and not cpu_supports_bf16():
            raise ValueError(NO_BF16_MESSAGE)
        return dtype
    if dev.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if dev.type == "mps":
        return torch.float16
    return torch.bfloat16 if cpu_fast_bf16() else torch.float32


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


class FusedResBlock(ResBlock):
    """A :class:`~opdm_studio.core.unet.ResBlock` whose CPU inference runs on packed convolutions:
    the timestep term is folded into conv1's bias and the injection / residual adds run inside
    the convolutions. Same parameters, same state_dict, same numbers; every other case (training,
    per-sample timesteps, other devices) takes the plain forward."""

    conv1: PackedConv2d
    conv2: PackedConv2d

    def forward(self, x: torch.Tensor, temb: torch.Tensor | None = None,
                inject: torch.Tensor | None = None) -> torch.Tensor:
        """Same as ResBlock.forward."""
        fast = self._fused(x, temb, inject)
        return fast if fast is not None else super().forward(x, temb, inject)

    def _fused(self, x: torch.Tensor, temb: torch.Tensor | None,
               inject: torch.Tensor | None) -> torch.Tensor | None:
        if torch.is_grad_enabled() or x.device.type != "cpu":
            return None
        bias = self.conv1.bias
        if self.temb is not None and temb is not None:
            tb = self.temb(temb).to(x.dtype)                       # (B, cout)
            if tb.shape[0] > 1 and not torch.equal(tb, tb[:1].expand_as(tb)):
                return None                                        # per-sample timesteps
            bias = tb[0] if bias is None else bias + tb[0]
        add = None
        if inject is not None:
            add = inject.to(x.dtype)
            if add.shape[0] != x.shape[0]:
                add = add.expand(x.shape[0], -1, -1, -1)
        h = self.conv1.fused(F.silu(self.norm1(x), inplace=True), bias=bias, add=add)
        if h is None:
            return None
        return self.conv2.fused(self.dropout(F.silu(self.norm2(h), inplace=True)), add=self.skip(x))


def pack_convolutions(model: nn.Module) -> int:
    """Give ``model`` (in place) the fast CPU path: every nn.Conv2d becomes a
    :class:`PackedConv2d` and every ResBlock a :class:`FusedResBlock` (same parameters).

    Returns how many convolutions were switched (0 where this torch build lacks oneDNN).
    """
    if not _mkldnn_packing_available():
        return 0
    n = 0
    for m in model.modules():
        if type(m) is nn.Conv2d:
            m.__class__ = PackedConv2d
            n += 1
    for m in model.modules():
        if type(m) is ResBlock and isinstance(m.conv1, PackedConv2d) and isinstance(m.conv2, PackedConv2d):
            m.__class__ = FusedResBlock
    return n


def prepare_for_inference(model: nn.Module, device: torch.device | str,
                          dtype: torch.dtype = torch.float32, inplace: bool = False) -> nn.Module:
    """A copy of ``model`` (the model itself with ``inplace``) ready to colour on device/dtype.

    Eval mode, no gradients; on the CPU channels_last (oneDNN's fast layout), weights cast to a
    reduced ``dtype`` (skips autocast's per-call weight casts; measured faster on AMX CPUs) and
    the fast path of :func:`pack_convolutions`. Use :func:`prepare_inputs` on the input tensors
    and call it under :func:`inference`.
    """
    dev = torch.device(device)
    if not inplace:
        model = copy.deepcopy(model)
    model = model.to(dev).eval()
    for param in model.parameters():
        param.requires_grad_(False)
    if dev.type == "cpu":
        model = model.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
        model = model.to(dtype) if dtype != torch.float32 else model.float()
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
