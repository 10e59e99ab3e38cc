"""Gaussian diffusion schedule (T = 500, paper 4.1) and a DDIM sampler written as a generator.

The network predicts the clean image x0 (paper Eq. 7); the noise follows from it:
    eps = (x_t - sqrt(abar_t) * x0) / sqrt(1 - abar_t)
DDIM (Song et al.) then steps t -> t_prev:
    x_prev = sqrt(abar_prev) x0 + sqrt(1 - abar_prev - sigma^2) eps + sigma z,
    sigma = eta * sqrt((1 - abar_prev) / (1 - abar_t)) * sqrt(1 - abar_t / abar_prev)
"""
from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import torch
from torch import nn

from opdm_studio.core.config import ModelConfig


def make_betas(T: int, schedule: str = "linear") -> torch.Tensor:
    """Beta schedule in float64: "linear" (DDPM's 1e-4..0.02 for T=1000, scaled to T) or "cosine"."""
    if schedule == "linear":
        scale = 1000.0 / T
        return torch.linspace(scale * 1e-4, scale * 0.02, T, dtype=torch.float64)
    if schedule == "cosine":
        s = 0.008
        steps = torch.arange(T + 1, dtype=torch.float64) / T
        f = torch.cos((steps + s) / (1 + s) * math.pi / 2) ** 2
        return (1 - f[1:] / f[:-1]).clamp(max=0.999)
    raise ValueError(f"unknown beta schedule {schedule!r}")


class GaussianDiffusion(nn.Module):
    """The forward process q(x_t | x0); schedule tensors are buffers (move with .to(device))."""

    betas: torch.Tensor
    alphas_cumprod: torch.Tensor
    sqrt_alphas_cumprod: torch.Tensor
    sqrt_one_minus_alphas_cumprod: torch.Tensor

    def __init__(self, T: int = 500, schedule: str = "linear"):
        super().__init__()
        if T < 2:
            raise ValueError("T must be >= 2")
        self.T = int(T)
        self.schedule = schedule
        betas = make_betas(self.T, schedule)
        abar = torch.cumprod(1.0 - betas, dim=0)
        self.register_buffer("betas", betas.float(), persistent=False)
        self.register_buffer("alphas_cumprod", abar.float(), persistent=False)
        self.register_buffer("sqrt_alphas_cumprod", abar.sqrt().float(), persistent=False)
        self.register_buffer("sqrt_one_minus_alphas_cumprod", (1 - abar).sqrt().float(), persistent=False)

    @classmethod
    def from_config(cls, cfg: ModelConfig) -> GaussianDiffusion:
        """The schedule a model config was trained with."""
        return cls(T=cfg.timesteps, schedule=cfg.beta_schedule)

    def _at(self, buf: torch.Tensor, t: torch.Tensor | int, like: torch.Tensor) -> torch.Tensor:
        t = torch.as_tensor(t, device=buf.device).long()
        if t.dim() == 0:
            t = t.expand(like.shape[0])
        return buf[t].to(like.device, like.dtype).view(-1, *([1] * (like.dim() - 1)))

    def q_sample(self, x0: torch.Tensor, t: torch.Tensor | int, noise: torch.Tensor) -> torch.Tensor:
        """x_t = sqrt(abar_t) x0 + sqrt(1 - abar_t) noise; t (B,) or scalar."""
        return self._at(self.sqrt_alphas_cumprod, t, x0) * x0 + \
            self._at(self.sqrt_one_minus_alphas_cumprod, t, x0) * noise

    def ddim_step(self, x_t: torch.Tensor, x0: torch.Tensor, t: int, t_prev: int, eta: float = 0.0,
                  noise: torch.Tensor | None = None) -> torch.Tensor:
        """The DDIM update t -> t_prev from the network's x0 prediction (the module doc's formula).

        The one place this update is written: the sampler and training's differentiable chain both
        call it. ``noise`` (same shape) is needed when ``eta > 0``. Computes in float32.
        """
        a_t = self.alphas_cumprod[t].to(x_t.device, torch.float32)
        a_prev = self.alphas_cumprod[t_prev].to(x_t.device, torch.float32)
        x_t, x0 = x_t.float(), x0.float()
        eps = (x_t - a_t.sqrt() * x0) / (1.0 - a_t).sqrt()
        sigma = eta * ((1 - a_prev) / (1 - a_t)).sqrt() * (1 - a_t / a_prev).clamp(min=0.0).sqrt()
        x_prev = a_prev.sqrt() * x0 + (1 - a_prev - sigma ** 2).clamp(min=0.0).sqrt() * eps
        if eta > 0:
            if noise is None:
                raise ValueError("ddim_step with eta > 0 needs noise")
            x_prev = x_prev + sigma * noise
        return x_prev

    def ddim_timesteps(self, steps: int, t_start: int | None = None) -> list[int]:
        """Descending timesteps for a DDIM run of ``steps`` steps from t_start (default T-1) to 0."""
        top = self.T - 1 if t_start is None else int(t_start)
        if not 0 <= top < self.T:
            raise ValueError(f"t_start must be in [0, {self.T}), got {t_start}")
        steps = max(1, min(int(steps), top + 1))
        ts = torch.linspace(top, 0, steps, dtype=torch.float64).round().long().tolist()
        out: list[int] = []
        for t in ts:                                  # unique, descending
            if not out or t < out[-1]:
                out.append(int(t))
        return out


@dataclass
class DDIMStep:
    """One finished sampling step: x0 is the current clean estimate, x_t the next noisy state."""

    index: int          # 0-based step number
    total: int          # number of steps in this run
    t: int              # timestep the network saw at this step
    x0: torch.Tensor    # (B,3,H,W) predicted clean image, clamped to [-1, 1], float32
    x_t: torch.Tensor   # (B,3,H,W) state after this step (== x0 after the last step), float32


def _randn(shape: tuple[int, ...], generator: torch.Generator | None, device: torch.device) -> torch.Tensor:
    gdev = generator.device if generator is not None else device
    return torch.randn(shape, generator=generator, device=gdev, dtype=torch.float32).to(device)


def ddim_sample(model, diff: GaussianDiffusion, line: torch.Tensor, prev: torch.Tensor,
                next: torch.Tensor, steps: int = 10, eta: float = 0.0,
                generator: torch.Generator | None = None, cond=None,
                x_init: torch.Tensor | None = None, t_start: int | None = None,
                refs: list[torch.Tensor] | None = None, clip: bool = True,
                grad: bool = False) -> Iterator[DDIMStep]:
    """Reverse process with DDIM; yields a :class:`DDIMStep` after every network evaluation.

    line (B,1,H,W), prev/next (B|1,3,H,W). ``cond`` reuses :meth:`OPDM.encode_conditions`
    (otherwise computed once here, with ``refs`` if given). ``x_init`` (B,3,H,W) with ``t_start``
    starts from that image noised to t_start (refinement) instead of pure noise at T-1.
    The same generator seed gives the same result. The caller may stop iterating at any step.
    Gradients are off unless ``grad=True`` (training through the reverse process); the grad mode
    is switched only around each step's own work, never while the caller holds control.
    """
    if steps < 1:
        raise ValueError("steps must be >= 1")
    if eta < 0:
        raise ValueError("eta must be >= 0")
    b, _, h, w = line.shape
    device = line.device
    if cond is None:
        with torch.set_grad_enabled(grad and torch.is_grad_enabled()):
            cond = model.encode_conditions(line, prev, next, refs=refs)
    if x_init is not None:
        if x_init.shape != (b, 3, h, w):
            raise ValueError(f"x_init must have shape {(b, 3, h, w)}, got {tuple(x_init.shape)}")
        t0 = diff.T - 1 if t_start is None else int(t_start)
        timesteps = diff.ddim_timesteps(steps, t0)
        noise = _randn((b, 3, h, w), generator, device)
        x_t = diff.q_sample(x_init.float(), torch.full((b,), timesteps[0], device=device), noise)
    else:
        if t_start is not None and int(t_start) != diff.T - 1:
            raise ValueError("t_start needs x_init (pure noise always starts at T-1)")
        timesteps = diff.ddim_timesteps(steps)
        x_t = _randn((b, 3, h, w), generator, device)

    total = len(timesteps)
    for i, t in enumerate(timesteps):
        with torch.set_grad_enabled(grad and torch.is_grad_enabled()):
            tt = torch.full((b,), t, device=device, dtype=torch.long)
            x0 = model.denoise(x_t, tt, line, cond).float()
            if clip:
                x0 = x0.clamp(-1.0, 1.0)
            if i + 1 == total:
                x_t = x0
            else:
                z = _randn((b, 3, h, w), generator, device) if eta > 0 else None
                x_t = diff.ddim_step(x_t, x0, t, timesteps[i + 1], eta, z)
        yield DDIMStep(index=i, total=total, t=t, x0=x0, x_t=x_t)
