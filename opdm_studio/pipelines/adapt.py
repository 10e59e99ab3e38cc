"""The refine objective, and adapting a refine network to one key interval at colouring time.

:func:`refine_loss` is what the refine network is trained on (``training``'s RefineObjective
calls it): one DDIM step from the propagation noised to ``t ~ U[t_min, t_max]``, judged on the
composite the pipeline shows, ``prop + strength * gate * (x0_hat - prop)``.

:func:`adapt` fine-tunes a copy of a network for a few steps on pairs the cut gives for free: each
key's colours carried through the in-between drawings onto the *other* key's drawing, with that
key's own colours as the answer (the pairs come from the refine pipeline). The copy learns this
cut's drawings and palette; the shipped weights are never changed. Measured on the evaluation
clips in docs/model.md ("Adapting to the keys").
"""
from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Generator, Iterable, Sequence

import torch

from opdm_studio.core.config import (
    REFINE_T_MAX,
    REFINE_T_MIN,
    REFINE_W_OCCLUSION,
    REFINE_W_RAW,
    InferenceSpec,
)
from opdm_studio.core.device import prepare_for_inference
from opdm_studio.core.diffusion import GaussianDiffusion
from opdm_studio.core.losses import content_loss
from opdm_studio.core.model import OPDM
from opdm_studio.pipelines.base import gated_correction

#: The adaptation recipe (lr, batch, crop side): the refine training recipe's lr and crops in
#: batches of two (twice the steps of batches of four for the same time: as good on the
#: evaluation clips at half the cost of four, docs/model.md).
ADAPT_LR = 1e-4
ADAPT_BATCH = 2
ADAPT_CROP = 128

Batch = dict[str, torch.Tensor]


def gated_composite(prop: torch.Tensor, y: torch.Tensor, confidence: torch.Tensor,
                    spec: InferenceSpec) -> torch.Tensor:
    """What the refine pipeline shows for the network's output ``y``: the propagation plus the
    gated correction (:func:`~opdm_studio.pipelines.base.gated_correction`, the pipeline's own)."""
    return prop + gated_correction(y - prop, confidence, spec.gate, spec.strength, torch.clamp)


def refine_loss(model: OPDM, diffusion: GaussianDiffusion, spec: InferenceSpec, batch: Batch,
                gen: torch.Generator, t_range: tuple[int, int] = (REFINE_T_MIN, REFINE_T_MAX),
                w_occlusion: float = REFINE_W_OCCLUSION, w_raw: float = REFINE_W_RAW) -> dict[str, torch.Tensor]:
    """Losses of one batch (``loss`` = the total): weighted L1 + (1 - SSIM) of the gated composite
    and, with a gate, a small ungated L1 that keeps the raw output sensible where the gate is ~0.

    ``batch``: ``line`` (B,1,H,W), ``prev`` / ``next`` (the references), ``prop`` (the
    propagation), ``target`` (B,3,H,W) in [-1, 1] and ``confidence`` (B,1,H,W) in [0, 1].
    """
    line, prev, nxt, prop, x0 = (batch[k] for k in ("line", "prev", "next", "prop", "target"))
    b, dev = x0.shape[0], x0.device
    t = torch.randint(t_range[0], t_range[1] + 1, (b,), generator=gen, device=dev)
    noise = torch.randn(x0.shape, generator=gen, device=dev)
    x_t = diffusion.q_sample(prop, t, noise)
    cond = model.encode_conditions(line, prev, nxt)
    y = model.denoise(x_t, t, line, cond).float()
    weight = 1.0 + w_occlusion * (1.0 - batch["confidence"])
    out = {"content": content_loss(gated_composite(prop, y, batch["confidence"], spec), x0, weight)}
    out["loss"] = out["content"]
    if spec.gate != "none":
        out["raw_l1"] = (y - x0.float()).abs().mean()
        out["loss"] = out["content"] + w_raw * out["raw_l1"]
    return out


def _crops(items: Sequence[Batch], gen: torch.Generator, batch: int, crop: int) -> Batch:
    """``batch`` random crops (random item, position, horizontal flip) stacked into one batch."""
    out: dict[str, list[torch.Tensor]] = {k: [] for k in items[0]}
    for _ in range(batch):
        item = items[int(torch.randint(len(items), (1,), generator=gen))]
        h, w = item["line"].shape[-2:]
        ch, cw = min(crop, h), min(crop, w)
        y = int(torch.randint(h - ch + 1, (1,), generator=gen))
        x = int(torch.randint(w - cw + 1, (1,), generator=gen))
        flip = bool(torch.rand((1,), generator=gen) < 0.5)
        for k, v in item.items():
            v = v[..., y:y + ch, x:x + cw]
            out[k].append(torch.flip(v, dims=[3]) if flip else v)
    return {k: torch.cat(v) for k, v in out.items()}


class Adam:
    """Adam with torch.optim.Adam's defaults and arithmetic (its single-tensor path, which a CPU
    takes), for the adaptation's few steps: ``torch.optim.Adam`` imports torch._dynamo and
    sympy on first use, 2-5 s of the first interval of every run on a 2-core CPU. The same
    steps give the same weights bit for bit (``tests/pipelines/test_adapt.py``)."""

    def __init__(self, params: Iterable[torch.nn.Parameter], lr: float,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8) -> None:
        self.params = [p for p in params if p.requires_grad]
        self.lr, self.betas, self.eps = float(lr), betas, float(eps)
        self.state: dict[int, tuple[torch.Tensor, torch.Tensor, int]] = {}

    def zero_grad(self) -> None:
        """Drop the gradients (the next backward writes fresh ones, as torch's default)."""
        for p in self.params:
            p.grad = None

    @torch.no_grad()
    def step(self) -> None:
        """One update of every parameter that has a gradient."""
        beta1, beta2 = self.betas
        for i, p in enumerate(self.params):
            if p.grad is None:
                continue
            grad = p.grad
            if i not in self.state:
                self.state[i] = (torch.zeros_like(p, memory_format=torch.preserve_format),
                                 torch.zeros_like(p, memory_format=torch.preserve_format), 0)
            exp_avg, exp_avg_sq, n = self.state[i]
            n += 1
            self.state[i] = (exp_avg, exp_avg_sq, n)
            exp_avg.lerp_(grad, 1 - beta1)
            exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
            step = float(n)
            step_size = self.lr / (1 - beta1 ** step)
            denom = (exp_avg_sq.sqrt() / (1 - beta2 ** step) ** 0.5).add_(self.eps)
            p.addcdiv_(exp_avg, denom, value=-step_size)


#: Adapted copies kept after their run, by what they were adapted on: colouring more frames of a
#: key interval later (the next selection), or the same frames again, needs no second adaptation.
KEEP_ADAPTED = 2
_kept: OrderedDict[bytes, tuple[OPDM, OPDM]] = OrderedDict()
_kept_lock = threading.Lock()


def _recipe(model: OPDM, spec: InferenceSpec, items: Sequence[Batch], steps: int,
            device: torch.device, dtype: torch.dtype, seed: int) -> bytes:
    """What an adapted copy depends on besides ``model`` itself (compared by identity): the
    pairs' pixels, the steps, the spec, the recipe's constants, the device, dtype and seed."""
    h = hashlib.blake2b(digest_size=20)
    h.update(repr((steps, spec, str(device), str(dtype), int(seed), ADAPT_LR, ADAPT_BATCH,
                   ADAPT_CROP)).encode())
    for it in items:
        for k in sorted(it):
            t = it[k].detach().to("cpu").contiguous()
            h.update(f"{k}{tuple(t.shape)}{t.dtype}".encode())
            h.update(t.numpy().tobytes())
    return h.digest()


def forget_adapted() -> None:
    """Drop the adapted copies kept for later runs."""
    with _kept_lock:
        _kept.clear()


def adapt(model: OPDM, diffusion: GaussianDiffusion, spec: InferenceSpec,
          items: Sequence[Batch], steps: int, device: torch.device, dtype: torch.dtype,
          seed: int = 0) -> Generator[int, None, OPDM]:
    """A copy of ``model`` fine-tuned for ``steps`` steps on ``items`` (each a one-image
    :func:`refine_loss` batch at the working size), prepared for inference on ``device`` /
    ``dtype``: a generator that yields after each step (1-based; the caller may stop there) and
    returns the copy. ``model`` itself is left as it is (it may be shared). The same seed and
    items give the same copy: the last :data:`KEEP_ADAPTED` copies made to the end are kept and
    given again at once (no step is yielded then).
    """
    if not items:
        raise ValueError("adapting needs at least one training pair")
    recipe = _recipe(model, spec, items, int(steps), device, dtype, seed)
    with _kept_lock:
        kept = _kept.get(recipe)
        if kept is not None and kept[0] is model:
            _kept.move_to_end(recipe)
            return kept[1]
    # A fresh fp32 module with the prepared network's weights (its packed CPU convolutions are
    # an inference path): what the user colours with is where adaptation starts.
    net = type(model)(model.config)
    net.load_state_dict({k: v.detach().float() for k, v in model.state_dict().items()})
    net = net.to(device)
    net.train()
    opt = Adam(net.parameters(), lr=ADAPT_LR)
    gen = torch.Generator(device="cpu").manual_seed(int(seed))
    data = [{k: v.to(device=device, dtype=torch.float32) for k, v in it.items()} for it in items]
    noise_gen = torch.Generator(device=device).manual_seed(int(seed))
    steps = int(steps)
    for i in range(1, steps + 1):
        # Grad mode only around the step's own work, never while the caller holds control.
        with torch.enable_grad():
            batch = _crops(data, gen, ADAPT_BATCH, ADAPT_CROP)
            loss = refine_loss(net, diffusion, spec, batch, noise_gen)["loss"]
            opt.zero_grad()
            loss.backward()
            opt.step()
        if i == steps:
            # Readied for inference within the last step (its time is the adaptation's, not the
            # first frame's sampling: the run's ETA times the two apart).
            del opt
            prepare_for_inference(net, device, dtype, inplace=True)   # in place: the same module
        yield i
    if steps < 1:
        prepare_for_inference(net, device, dtype, inplace=True)
    with _kept_lock:
        _kept[recipe] = (model, net)
        while len(_kept) > KEEP_ADAPTED:
            _kept.popitem(last=False)
    return net
