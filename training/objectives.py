"""What a training step optimises: one small class per objective, one interface.

- ``align`` (paper section 3.2, stage 1): only the offset estimators learn, supervised through the
  deformable sampling itself: each key resampled by its branch's offsets onto the target's line
  art must reproduce the target's colours, at every level and for both keys.
- ``paper`` (sections 3.3-3.4, stage 2): x0 prediction with the noise MSE, plus content (L1 +
  1 - SSIM) and perceptual terms judged on the output of a short DDIM chain run with gradients
  (the joint diffusion-reverse process); the offset estimators stay frozen.
- ``refine`` (the shipped model's recipe, docs/model.md): the keys warped onto the target (as
  the model's spec says: flow chained through the in-betweens, or matched directly) are the references, the two-key flow propagation noised to t ~ U[t_min, t_max] is the start,
  one DDIM step back to x0; L1 weighted up where the warp is inconsistent + (1 - SSIM), judged on
  the confidence-gated composite the refine pipeline shows.

Every objective is an ``nn.Module`` (so DistributedDataParallel wraps the whole computation) with
``trainable()`` (which parameters learn), ``forward(batch, gen)`` (the losses, ``loss`` = total),
``validate(batch, seed)`` (metrics + a sample grid) and ``inference_spec(cfg, init_spec)`` (how the
exported model samples). ``refs`` says which references its batches carry.
"""
from __future__ import annotations

from typing import ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.checkpoint import checkpoint as grad_checkpoint

from opdm_studio.core.config import LEVELS, InferenceSpec, ModelConfig
from opdm_studio.core.diffusion import GaussianDiffusion
from opdm_studio.core.model import OPDM, Conditions
from opdm_studio.errors import TrainingDataError
from opdm_studio.pipelines.adapt import gated_composite, refine_loss
from training.config import OBJECTIVE_NAMES, TrainConfig
from training.losses import content_loss, load_vgg19, noise_loss, perceptual_loss, psnr, ssim
from training.plots import make_grid

Batch = dict[str, torch.Tensor]


class Objective(nn.Module):
    """The interface every objective implements (see the module doc)."""

    name: ClassVar[str] = ""
    refs: str = "raw"     # "raw" keys, or keys warped onto the target ("flow-warped", "chain-warped")
    #: What a run leaves unset (TrainConfig lr 0, batch 0, crop -1) gets: see :func:`resolve_defaults`.
    defaults: ClassVar[dict[str, float]] = {"lr": 1e-5, "batch": 1, "crop": 0}
    model: OPDM                   # submodules: typed here, as nn.Module's __getattr__ types them loosely
    diffusion: GaussianDiffusion

    def __init__(self, model: OPDM, diffusion: GaussianDiffusion, cfg: TrainConfig,
                 spec: InferenceSpec) -> None:
        super().__init__()
        self.model, self.diffusion, self.cfg, self.spec = model, diffusion, cfg, spec
        self.notices: list[str] = []     # things the user should know (printed and logged)

    def trainable(self) -> list[nn.Parameter]:
        """Set requires_grad on the model; return the parameters to optimise (default: all)."""
        self.model.requires_grad_(True)
        return list(self.model.parameters())

    def forward(self, batch: Batch, gen: torch.Generator) -> dict[str, torch.Tensor]:
        """Losses of one micro-batch (``loss`` = the total); ``gen`` draws all its randomness."""
        raise NotImplementedError

    def validate(self, batch: Batch, seed: int = 0) -> tuple[dict[str, float], np.ndarray]:
        """Metrics (``val_psnr`` at least) on held-back items, and a sample grid (uint8 RGB)."""
        raise NotImplementedError

    @classmethod
    def inference_spec(cls, cfg: TrainConfig, init_spec: InferenceSpec | None) -> InferenceSpec:
        """How the exported model samples: the --init model's spec, or the paper's."""
        return init_spec or InferenceSpec.paper()


def pooled_psnr(pred: torch.Tensor, target: torch.Tensor) -> float:
    """PSNR of the mean squared error over the whole batch (a per-image mean would be ruled by a
    held frame whose keys are exact, ~120 dB)."""
    mse = (pred.float() - target.float()).pow(2).mean().clamp_min(1e-12)
    return float(10 * torch.log10(4.0 / mse))


class AlignObjective(Objective):
    """Stage 1: L1 (+ 1 - SSIM) between each deformably aligned key and the target, all levels."""

    name = "align"
    defaults: ClassVar[dict[str, float]] = {"lr": 1e-4, "batch": 10, "crop": 0}   # paper 4.1

    def __init__(self, model: OPDM, diffusion: GaussianDiffusion, cfg: TrainConfig,
                 spec: InferenceSpec, ssim_weight: float = 0.0) -> None:
        super().__init__(model, diffusion, cfg, spec)
        self.ssim_weight = ssim_weight

    def trainable(self) -> list[nn.Parameter]:
        """Freeze everything but the offset estimators."""
        self.model.requires_grad_(False)
        params = list(self.model.offset_estimator_parameters())
        for p in params:
            p.requires_grad_(True)
        return params

    def forward(self, batch: Batch, gen: torch.Generator | None = None) -> dict[str, torch.Tensor]:
        """Losses of one micro-batch (``gen`` unused: stage 1 draws no noise)."""
        # fp32 even under bf16 autocast: offsets are sampling positions, and bf16 quantises them to
        # ~0.5 px at 128 px, which blurs the aligned reference (measured: 18.9 dB vs 29.7 dB unaligned).
        with torch.autocast(device_type=batch["line"].device.type, enabled=False):
            batch = {k: v.float() for k, v in batch.items()}
            line, target = batch["line"], batch["target"]
            total = target.new_zeros(())
            out: dict[str, torch.Tensor] = {}
            for level in range(LEVELS):
                # Each level is compared at its own resolution: the photometric gradient of a warp
                # reaches one pixel of the compared image, so a level-k flow sees motions 2^k times
                # larger than it would through a full-resolution comparison.
                f = 2 ** level
                tgt = F.avg_pool2d(target, f) if f > 1 else target
                lv = target.new_zeros(())
                for branch, ref in ((0, batch["prev"]), (1, batch["next"])):
                    aligned = self.model.align_reference(line, ref, branch=branch, level=level,
                                                         at_level=True).float()
                    lv = lv + (aligned - tgt).abs().mean()
                    if self.ssim_weight > 0 and min(tgt.shape[-2:]) >= 11:
                        lv = lv + self.ssim_weight * (1 - ssim(aligned, tgt))
                out[f"l1_level{level}"] = lv / 2
                total = total + lv / 2
            out["loss"] = total / LEVELS
            with torch.no_grad():   # what doing nothing scores: alignment must beat this
                out["l1_unaligned"] = ((batch["prev"] - target).abs().mean()
                                       + (batch["next"] - target).abs().mean()) / 2
        return out

    @torch.no_grad()
    def validate(self, batch: Batch, seed: int = 0) -> tuple[dict[str, float], np.ndarray]:
        """PSNR/SSIM of the full-resolution aligned keys vs the target (and of the unaligned keys)."""
        with torch.autocast(device_type=batch["line"].device.type, enabled=False):
            batch = {k: v.float() for k, v in batch.items()}
            line, tgt = batch["line"], batch["target"]
            ap = self.model.align_reference(line, batch["prev"], branch=0).float().clamp(-1, 1)
            an = self.model.align_reference(line, batch["next"], branch=1).float().clamp(-1, 1)
            metrics = {
                "val_psnr": pooled_psnr(torch.cat([ap, an]), torch.cat([tgt, tgt])),
                "val_ssim": float((ssim(ap, tgt) + ssim(an, tgt)) / 2),
                "val_psnr_unaligned": pooled_psnr(torch.cat([batch["prev"], batch["next"]]),
                                                  torch.cat([tgt, tgt])),
            }
            rows = [[line[i], batch["prev"][i], ap[i], tgt[i], an[i], batch["next"][i]]
                    for i in range(tgt.shape[0])]
        return metrics, make_grid(rows)


class PaperObjective(Objective):
    """Stage 2: Eq. 10 on a batch (noise + content + perceptual), the chain run with gradients."""

    name = "paper"

    def __init__(self, model: OPDM, diffusion: GaussianDiffusion, cfg: TrainConfig,
                 spec: InferenceSpec) -> None:
        super().__init__(model, diffusion, cfg, spec)
        self.vgg = None
        if cfg.vgg and cfg.w_perceptual > 0:
            self.vgg = load_vgg19(cfg.vgg)
        elif cfg.w_perceptual > 0:
            self.notices.append("no VGG19 weights given (--vgg FILE); the perceptual loss term is off")

    def trainable(self) -> list[nn.Parameter]:
        """Everything but the offset estimators (trained in stage 1, frozen here)."""
        self.model.requires_grad_(True)
        self.model.freeze_offset_estimators(True)
        return [p for p in self.model.parameters() if p.requires_grad]

    def _denoise(self, x_t: torch.Tensor, t: torch.Tensor, line: torch.Tensor, cond: Conditions) -> torch.Tensor:
        if self.cfg.grad_ckpt and torch.is_grad_enabled():
            # Recompute activations in backward: memory stays that of one step whatever the chain.
            return grad_checkpoint(self.model.denoise, x_t, t, line, cond, use_reentrant=False)
        return self.model.denoise(x_t, t, line, cond)

    def forward(self, batch: Batch, gen: torch.Generator) -> dict[str, torch.Tensor]:
        """Losses of one micro-batch; ``gen`` draws timesteps and noise (exact resume)."""
        cfg = self.cfg
        x0, line, prev, nxt = batch["target"], batch["line"], batch["prev"], batch["next"]
        b, dev = x0.shape[0], x0.device
        cond = self.model.encode_conditions(line, prev, nxt)
        out: dict[str, torch.Tensor] = {}

        # Noise term: one random timestep per image, the network predicts x0.
        t = torch.randint(0, self.diffusion.T, (b,), generator=gen, device=dev)
        noise = torch.randn(x0.shape, generator=gen, device=dev)
        x_t = self.diffusion.q_sample(x0, t, noise)
        x0_hat = self.model.denoise(x_t, t, line, cond)
        out["noise"] = noise_loss(x0_hat, x0, x_t, noise, self.diffusion.alphas_cumprod[t], cfg.snr_clamp)

        # Joint diffusion-reverse: forward-diffuse, run the short DDIM chain with gradients and
        # judge its output -- what the user will actually see at inference.
        y = x0_hat
        if cfg.joint and cfg.chain_steps > 0:
            ts = self.diffusion.ddim_timesteps(cfg.chain_steps)   # the sampler's own timesteps
            eps = torch.randn(x0.shape, generator=gen, device=dev)
            x = self.diffusion.q_sample(x0, torch.full((b,), ts[0], device=dev, dtype=torch.long), eps)
            for i, ti in enumerate(ts):
                y = self._denoise(x, torch.full((b,), ti, device=dev, dtype=torch.long), line, cond)
                if i + 1 < len(ts):
                    x = self.diffusion.ddim_step(x, y, ti, ts[i + 1])
        out["content"] = content_loss(y, x0)
        total = cfg.w_noise * out["noise"] + cfg.w_content * out["content"]
        if self.vgg is not None:
            out["perceptual"] = perceptual_loss(self.vgg, y, x0)
            total = total + cfg.w_perceptual * out["perceptual"]
        out["loss"] = total
        return out

    @torch.no_grad()
    def validate(self, batch: Batch, seed: int = 0) -> tuple[dict[str, float], np.ndarray]:
        """PSNR/SSIM of DDIM samples from noise; grid line | prev | next | pred | target."""
        from opdm_studio.core.diffusion import ddim_sample
        dev = batch["line"].device
        g = torch.Generator(device=dev).manual_seed(seed)
        pred = batch["target"]
        for st in ddim_sample(self.model, self.diffusion, batch["line"], batch["prev"], batch["next"],
                              steps=max(1, self.cfg.chain_steps), generator=g):
            pred = st.x0
        pred, tgt = pred.float().clamp(-1, 1), batch["target"].float()
        metrics = {"val_psnr": float(psnr(pred, tgt).mean()), "val_ssim": float(ssim(pred, tgt))}
        rows = [[batch["line"][i], batch["prev"][i], batch["next"][i], pred[i], tgt[i]]
                for i in range(pred.shape[0])]
        return metrics, make_grid(rows)

    @classmethod
    def inference_spec(cls, cfg: TrainConfig, init_spec: InferenceSpec | None) -> InferenceSpec:
        """The paper's sampling (an --init model's own opdm settings are kept)."""
        if init_spec is not None and init_spec.pipeline == "opdm":
            return init_spec
        return InferenceSpec.paper()


class RefineObjective(Objective):
    """One DDIM step from the propagation noised to t ~ U[t_min, t_max]; weighted L1 + (1 - SSIM)
    of the gated composite ``prop + strength * gate * (x0_hat - prop)`` the refine pipeline shows."""

    name = "refine"
    # The shipped recipe's: 128 px crops (of the working-size view) in batches of 4 are ~3x cheaper
    # per example than whole 224 px frames on a CPU, at the same scale.
    defaults: ClassVar[dict[str, float]] = {"lr": 2e-4, "batch": 4, "crop": 128}

    def __init__(self, model: OPDM, diffusion: GaussianDiffusion, cfg: TrainConfig,
                 spec: InferenceSpec) -> None:
        super().__init__(model, diffusion, cfg, spec)
        if not 0 <= cfg.t_min <= cfg.t_max < diffusion.T:
            raise TrainingDataError(f"refine timesteps {cfg.t_min}..{cfg.t_max}: need "
                                    f"0 <= t_min <= t_max < {diffusion.T}")
        # The references the exported model will run with: warped as its spec says.
        self.refs = spec.refs

    def forward(self, batch: Batch, gen: torch.Generator) -> dict[str, torch.Tensor]:
        """Losses of one batch (``loss`` = the total): :func:`opdm_studio.pipelines.adapt.refine_loss`."""
        cfg = self.cfg
        return refine_loss(self.model, self.diffusion, self.spec, batch, gen, (cfg.t_min, cfg.t_max),
                           cfg.w_occlusion, cfg.w_raw)

    @torch.no_grad()
    def validate(self, batch: Batch, seed: int = 0) -> tuple[dict[str, float], np.ndarray]:
        """PSNR of the propagation, the refined and the gated output, sampled as the pipeline does;
        grid line | warped prev | warped next | propagation | gated | target."""
        from opdm_studio.core.diffusion import ddim_sample
        prop, x0 = batch["prop"].float(), batch["target"].float()
        g = torch.Generator(device=prop.device).manual_seed(seed)
        y = prop
        for st in ddim_sample(self.model, self.diffusion, batch["line"], batch["prev"], batch["next"],
                              steps=self.spec.steps or 1, generator=g, x_init=prop,
                              t_start=self.spec.t_start):
            y = st.x0
        y = y.float().clamp(-1, 1)
        shown = gated_composite(prop, y, batch["confidence"].float(), self.spec)
        metrics = {"val_psnr": float(psnr(shown, x0).mean()), "val_ssim": float(ssim(shown, x0)),
                   "val_psnr_refined": float(psnr(y, x0).mean()),
                   "val_psnr_prop": float(psnr(prop, x0).mean())}
        rows = [[batch["line"][i], batch["prev"][i], batch["next"][i], prop[i], shown[i], x0[i]]
                for i in range(x0.shape[0])]
        return metrics, make_grid(rows)

    @classmethod
    def inference_spec(cls, cfg: TrainConfig, init_spec: InferenceSpec | None) -> InferenceSpec:
        """The --init model's refine spec, or a new one starting mid-range with one step."""
        if init_spec is not None and init_spec.pipeline == "refine":
            return init_spec
        return InferenceSpec.refine(t_start=round((cfg.t_min + cfg.t_max) / 2), steps=1, gate=cfg.gate,
                                    refs=cfg.refs)


OBJECTIVES: dict[str, type[Objective]] = {o.name: o for o in (AlignObjective, PaperObjective, RefineObjective)}
assert tuple(OBJECTIVES) == OBJECTIVE_NAMES


def choose_objective(requested: str, init_spec: InferenceSpec | None) -> str:
    """The objective a run trains: ``requested``, or with "auto" the one the --init model's spec
    runs (refine models refine, every other model -- and a new one -- trains stage 2)."""
    if requested == "auto":
        return "refine" if init_spec is not None and init_spec.pipeline == "refine" else "paper"
    if requested not in OBJECTIVES:
        raise TrainingDataError(f"unknown objective {requested!r}; choose one of auto, {', '.join(OBJECTIVES)}")
    return requested


#: L2-SP weight of a fine-tuning run (from --init weights trained on the same objective).
FINETUNE_L2SP = 0.01


def resolve_defaults(cfg: TrainConfig, name: str, finetuning: bool) -> TrainConfig:
    """``cfg`` with what it left unset filled by objective ``name``'s defaults: learning rate,
    batch, crop; and L2-SP (``FINETUNE_L2SP`` when ``finetuning``, else off)."""
    d = OBJECTIVES[name].defaults
    changes: dict[str, float | int] = {}
    if cfg.lr <= 0:
        changes["lr"] = float(d["lr"])
    if cfg.batch <= 0:
        changes["batch"] = int(d["batch"])
    if cfg.crop < 0:
        changes["crop"] = int(d["crop"])
    if cfg.l2sp < 0:
        changes["l2sp"] = FINETUNE_L2SP if finetuning else 0.0
    return cfg.replace(**changes)


def make_objective(name: str, model: OPDM, diffusion: GaussianDiffusion, cfg: TrainConfig,
                   spec: InferenceSpec) -> Objective:
    """The objective ``name`` around ``model``."""
    return OBJECTIVES[name](model, diffusion, cfg, spec)


REFINE_PRESET = "refine-small"


def refine_config(base: int = 24) -> ModelConfig:
    """The OPDM config of the shipped refine model: the paper's architecture (U-Net + reference
    encoder + Offset-Adapter), narrowed so that an hour of 2-core CPU time trains it a few
    thousand steps."""
    return ModelConfig(name=REFINE_PRESET, base_channels=base, channel_mult=(1, 2, 4, 8),
                       num_res_blocks=1, mid_channels=0, mid_blocks=1, norm_groups=8,
                       ref_blocks=1, ref_channels=(0, 0, 0, 0), offset_kernel=3, offset_channels=16,
                       offset_blocks=1, offset_feat_channels=8, image_size=224, timesteps=500,
                       sampling_steps=1).validate()


def preset_config(name: str, width: int = 0) -> ModelConfig:
    """A new model's config: a core preset or ``refine-small``; ``width`` overrides the base width."""
    try:
        cfg = refine_config() if name == REFINE_PRESET else ModelConfig.preset(name)
        return cfg.replace(base_channels=width).validate() if width else cfg
    except ValueError as exc:
        raise TrainingDataError(f"{exc} (or {REFINE_PRESET})") from None
