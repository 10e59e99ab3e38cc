"""Model configuration: one dataclass, saved as JSON inside every checkpoint, plus named presets.

Presets (parameter counts are checked by tests/core and reported by ``opdm-studio bench``):

- ``paper``: the size the OPDM paper reports (about 205 M in total; this preset has 200.0 M).
- ``small``: the CPU default (at most 30 M parameters).
- ``tiny``: for tests (under 1 M parameters).
"""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any

#: Number of resolution levels of the U-Net encoder / reference encoder / Offset-Adapter (paper: 4).
LEVELS = 4


@dataclass
class ModelConfig:
    """Hyper-parameters of an OPDM network and of its diffusion schedule."""

    name: str = "custom"
    # --- denoising U-Net -------------------------------------------------------------------
    base_channels: int = 64
    #: channel multiplier of each of the 4 levels (resolutions 1, 1/2, 1/4, 1/8 of the input)
    channel_mult: tuple[int, ...] = (1, 2, 4, 8)
    #: residual blocks per level in the encoder (the decoder uses the same number)
    num_res_blocks: int = 2
    #: channels of the middle blocks at 1/16 resolution (0 = the last level's channels)
    mid_channels: int = 0
    mid_blocks: int = 2
    #: width of the timestep embedding (0 = 4 * base_channels)
    time_embed_dim: int = 0
    norm_groups: int = 32
    dropout: float = 0.0
    # --- reference encoder (F_r) -----------------------------------------------------------
    #: residual blocks per level (paper: five)
    ref_blocks: int = 5
    #: inner width of each level of the reference encoder (0 = the U-Net level's channels);
    #: a 1x1 projection maps it to the U-Net channels, so F_r^i always matches F_e^i.
    ref_channels: tuple[int, ...] = (0, 0, 0, 0)
    # --- Offset-Adapter (F_o) --------------------------------------------------------------
    #: kernel size N of the deformable convolution: 2*N*N offset channels (paper: 1, 3, 5; 5 best)
    offset_kernel: int = 5
    #: width of each offset estimator (conv + bottleneck blocks + conv)
    offset_channels: int = 64
    #: bottleneck residual blocks per offset estimator (paper: five)
    offset_blocks: int = 5
    #: output channels of the deformable convolution of each branch, before channel alignment
    offset_feat_channels: int = 32
    # --- images and diffusion --------------------------------------------------------------
    #: working size the engine resizes frames to (paper: 224)
    image_size: int = 224
    #: diffusion steps T (paper: 500)
    timesteps: int = 500
    #: "linear" (DDPM, scaled to T) or "cosine"
    beta_schedule: str = "linear"
    #: DDIM sampling steps by default (paper: 10)
    sampling_steps: int = 10
    extra: dict[str, Any] = field(default_factory=dict)

    # ------------------------------------------------------------------------------------
    def __post_init__(self) -> None:
        # JSON gives lists; keep tuples so configs compare equal after a round trip.
        self.channel_mult = tuple(int(c) for c in self.channel_mult)
        self.ref_channels = tuple(int(c) for c in self.ref_channels)

    @property
    def channels(self) -> tuple[int, ...]:
        """Channels of the four U-Net levels (F_e^i, F_r^i and F_o^i all have these)."""
        return tuple(self.base_channels * m for m in self.channel_mult)

    @property
    def middle_channels(self) -> int:
        """Channels of the middle blocks at 1/16 resolution."""
        return self.mid_channels or self.channels[-1]

    @property
    def temb_dim(self) -> int:
        """Width of the timestep embedding."""
        return self.time_embed_dim or 4 * self.base_channels

    @property
    def ref_widths(self) -> tuple[int, ...]:
        """Inner widths of the reference encoder levels."""
        return tuple(r or c for r, c in zip(self.ref_channels, self.channels))

    @property
    def size_multiple(self) -> int:
        """Height and width of inputs must be multiples of this (four 2x downsamplings)."""
        return 2 ** LEVELS

    def validate(self) -> "ModelConfig":
        """Raise ValueError naming the first field that cannot build a network; return self."""
        def need(ok: bool, msg: str) -> None:
            if not ok:
                raise ValueError(f"invalid model config: {msg}")

        need(isinstance(self.name, str), "name must be a string")
        need(isinstance(self.base_channels, int) and self.base_channels >= 4,
             "base_channels must be an integer >= 4")
        need(len(self.channel_mult) == LEVELS and all(m >= 1 for m in self.channel_mult),
             f"channel_mult must hold {LEVELS} positive integers")
        need(len(self.ref_channels) == LEVELS and all(r >= 0 for r in self.ref_channels),
             f"ref_channels must hold {LEVELS} integers >= 0")
        need(self.num_res_blocks >= 1, "num_res_blocks must be >= 1")
        need(self.mid_channels >= 0 and self.mid_blocks >= 0, "mid_channels/mid_blocks must be >= 0")
        need(self.time_embed_dim >= 0, "time_embed_dim must be >= 0")
        need(self.norm_groups >= 1, "norm_groups must be >= 1")
        need(0.0 <= self.dropout < 1.0, "dropout must be in [0, 1)")
        need(self.ref_blocks >= 0, "ref_blocks must be >= 0")
        need(self.offset_kernel in (1, 3, 5, 7), "offset_kernel must be 1, 3, 5 or 7")
        need(self.offset_channels >= 4 and self.offset_channels % 4 == 0,
             "offset_channels must be a multiple of 4 (bottleneck blocks use a quarter)")
        need(self.offset_blocks >= 0, "offset_blocks must be >= 0")
        need(self.offset_feat_channels >= 1, "offset_feat_channels must be >= 1")
        need(self.image_size >= 16 and self.image_size % self.size_multiple == 0,
             f"image_size must be a multiple of {self.size_multiple}")
        need(self.timesteps >= 2, "timesteps must be >= 2")
        need(self.beta_schedule in ("linear", "cosine"), "beta_schedule must be 'linear' or 'cosine'")
        need(1 <= self.sampling_steps <= self.timesteps, "sampling_steps must be in [1, timesteps]")
        need(isinstance(self.extra, dict), "extra must be a JSON object")
        return self

    # --- serialisation -------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict (tuples become lists)."""
        d = dataclasses.asdict(self)
        d["channel_mult"] = list(self.channel_mult)
        d["ref_channels"] = list(self.ref_channels)
        return d

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "ModelConfig":
        """Build and validate a config; unknown or mistyped fields raise ValueError."""
        if not isinstance(data, dict):
            raise ValueError("invalid model config: expected a JSON object")
        known = {f.name: f for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - set(known))
        if unknown:
            raise ValueError(f"invalid model config: unknown field(s) {', '.join(unknown)}")
        kwargs: dict[str, Any] = {}
        for key, value in data.items():
            default = known[key].default
            if key in ("channel_mult", "ref_channels"):
                if not isinstance(value, (list, tuple)) or not all(
                        isinstance(v, int) and not isinstance(v, bool) for v in value):
                    raise ValueError(f"invalid model config: {key} must be a list of integers")
            elif key == "extra":
                if not isinstance(value, dict):
                    raise ValueError("invalid model config: extra must be a JSON object")
            elif isinstance(default, bool) or isinstance(value, bool):
                raise ValueError(f"invalid model config: {key} has the wrong type")
            elif isinstance(default, int) and not isinstance(value, int):
                raise ValueError(f"invalid model config: {key} must be an integer")
            elif isinstance(default, float) and not isinstance(value, (int, float)):
                raise ValueError(f"invalid model config: {key} must be a number")
            elif isinstance(default, str) and not isinstance(value, str):
                raise ValueError(f"invalid model config: {key} must be a string")
            kwargs[key] = value
        return cls(**kwargs).validate()

    def to_json(self) -> str:
        """JSON text of :meth:`to_dict` (sorted keys, so equal configs give equal text)."""
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> "ModelConfig":
        """Inverse of :meth:`to_json`; bad JSON or fields raise ValueError."""
        try:
            data = json.loads(text)
        except (TypeError, json.JSONDecodeError) as exc:
            raise ValueError(f"invalid model config: not JSON ({exc})") from None
        return cls.from_dict(data)

    def replace(self, **changes: Any) -> "ModelConfig":
        """A validated copy with some fields changed."""
        return dataclasses.replace(self, **changes).validate()

    # --- presets -------------------------------------------------------------------------
    @classmethod
    def preset(cls, name: str) -> "ModelConfig":
        """The named preset: "paper", "small" or "tiny"."""
        try:
            make = PRESETS[name]
        except KeyError:
            raise ValueError(f"unknown model preset {name!r}; choose one of {', '.join(PRESETS)}") from None
        return make().validate()

    @staticmethod
    def preset_names() -> list[str]:
        """Names accepted by :meth:`preset`."""
        return list(PRESETS)


def _paper() -> ModelConfig:
    # ~200 M parameters, as the paper reports (~205 M, Table 2): a plain 4-level U-Net of width 96
    # (96, 192, 384, 768 channels), a reference encoder matching it level by level, N = 5 offsets.
    return ModelConfig(name="paper", base_channels=96, channel_mult=(1, 2, 4, 8), num_res_blocks=2,
                       mid_channels=0, mid_blocks=4, ref_channels=(0, 0, 0, 0),
                       offset_kernel=5, offset_channels=64, offset_feat_channels=32)


def _small() -> ModelConfig:
    return ModelConfig(name="small", base_channels=32, channel_mult=(1, 2, 4, 8), num_res_blocks=2,
                       mid_channels=512, mid_blocks=2, ref_channels=(0, 0, 0, 0),
                       offset_kernel=5, offset_channels=32, offset_feat_channels=16)


def _tiny() -> ModelConfig:
    return ModelConfig(name="tiny", base_channels=8, channel_mult=(1, 2, 3, 4), num_res_blocks=1,
                       mid_channels=0, mid_blocks=1, norm_groups=4, ref_blocks=5,
                       ref_channels=(0, 0, 0, 0), offset_kernel=3, offset_channels=8,
                       offset_blocks=5, offset_feat_channels=4, image_size=64, timesteps=500)


PRESETS = {"paper": _paper, "small": _small, "tiny": _tiny}
