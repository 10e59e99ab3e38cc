"""Model configuration (one dataclass, saved as JSON inside every checkpoint, plus named presets)
and the inference spec (how a checkpoint colours a frame: which pipeline, with what settings).

Presets (parameter counts are checked by tests/core and reported by ``opdm-studio bench``):

- ``paper``: the size the OPDM paper reports (about 205 M in total; this preset has 200.0 M).
- ``small``: the CPU default (at most 30 M parameters).
- ``tiny``: for tests (under 1 M parameters).

:class:`InferenceSpec` is saved beside the config in the checkpoint header; it picks the pipeline
(``opdm_studio.pipelines``) that colours with the model: ``opdm`` (the paper: DDIM from pure noise,
the raw keyframes as references) or ``refine`` (the keyframes flow-warped onto the drawing as
references, DDIM from the noised flow propagation, the correction gated by the warp confidence).
"""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any

#: Pipelines a checkpoint can ask for (the model-free ``flow`` method needs no checkpoint).
MODEL_PIPELINES = ("opdm", "refine")
#: How a refine pipeline weighs the network's correction: not at all, or by 1 - warp confidence.
GATES = ("none", "confidence")
#: Reference images the network sees: the raw keyframes, the keyframes flow-warped onto the target
#: by matching each key to the drawing directly, or by flow chained through the in-between drawings.
REFERENCES = ("raw", "flow-warped", "chain-warped")
#: The refine objective's defaults (training and the adaptation to a cut's keys): the propagation
#: noised to t ~ U[REFINE_T_MIN, REFINE_T_MAX]; L1 weight 1 + REFINE_W_OCCLUSION * (1 - confidence)
#: plus REFINE_W_RAW x the ungated L1.
REFINE_T_MIN, REFINE_T_MAX = 10, 60
REFINE_W_OCCLUSION, REFINE_W_RAW = 2.0, 0.1
#: Upper bounds of the sizes a config may ask for: a hostile or damaged file must not make the
#: loader allocate tens of gigabytes before it fails (the paper preset is well inside them).
MAX_BASE_CHANNELS = 512
MAX_CHANNEL_MULT = 16
MAX_BLOCKS = 32
MAX_IMAGE_SIZE = 4096
MAX_TIMESTEPS = 10000
MAX_PARAMETER_ESTIMATE = 2_000_000_000

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
        return tuple(r or c for r, c in zip(self.ref_channels, self.channels, strict=True))

    @property
    def size_multiple(self) -> int:
        """Height and width of inputs must be multiples of this (four 2x downsamplings)."""
        return 2 ** LEVELS

    def validate(self) -> ModelConfig:
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
        need(self.base_channels <= MAX_BASE_CHANNELS, f"base_channels must be <= {MAX_BASE_CHANNELS}")
        need(all(m <= MAX_CHANNEL_MULT for m in self.channel_mult),
             f"channel_mult entries must be <= {MAX_CHANNEL_MULT}")
        need(all(r <= MAX_BASE_CHANNELS * MAX_CHANNEL_MULT for r in self.ref_channels)
             and self.mid_channels <= MAX_BASE_CHANNELS * MAX_CHANNEL_MULT
             and self.time_embed_dim <= MAX_BASE_CHANNELS * MAX_CHANNEL_MULT
             and self.offset_channels <= MAX_BASE_CHANNELS * MAX_CHANNEL_MULT
             and self.offset_feat_channels <= MAX_BASE_CHANNELS * MAX_CHANNEL_MULT,
             "a channel count is larger than any OPDM network uses")
        need(max(self.num_res_blocks, self.mid_blocks, self.ref_blocks, self.offset_blocks) <= MAX_BLOCKS,
             f"block counts must be <= {MAX_BLOCKS}")
        need(self.image_size <= MAX_IMAGE_SIZE, f"image_size must be <= {MAX_IMAGE_SIZE}")
        need(self.timesteps <= MAX_TIMESTEPS, f"timesteps must be <= {MAX_TIMESTEPS}")
        need(self.parameter_estimate() <= MAX_PARAMETER_ESTIMATE,
             f"the network would have about {self.parameter_estimate() / 1e9:.1f} billion parameters")
        return self

    def parameter_estimate(self) -> int:
        """Rough upper estimate of the parameter count (3x3 convolutions dominate), computed
        without building the network, so absurd sizes are refused before any allocation."""
        per_level = sum(9 * c * c * (4 * self.num_res_blocks + 2) + 9 * r * r * 2 * self.ref_blocks
                        for c, r in zip(self.channels, self.ref_widths, strict=True))
        middle = 9 * self.middle_channels ** 2 * 2 * (self.mid_blocks + 1)
        offsets = 2 * LEVELS * 9 * self.offset_channels ** 2 * (self.offset_blocks + 2)
        return int(per_level + middle + offsets)

    # --- serialisation -------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict (tuples become lists)."""
        d = dataclasses.asdict(self)
        d["channel_mult"] = list(self.channel_mult)
        d["ref_channels"] = list(self.ref_channels)
        return d

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelConfig:
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
    def from_json(cls, text: str) -> ModelConfig:
        """Inverse of :meth:`to_json`; bad JSON or fields raise ValueError."""
        try:
            data = json.loads(text)
        except (TypeError, json.JSONDecodeError) as exc:
            raise ValueError(f"invalid model config: not JSON ({exc})") from None
        return cls.from_dict(data)

    def replace(self, **changes: Any) -> ModelConfig:
        """A validated copy with some fields changed."""
        return dataclasses.replace(self, **changes).validate()

    # --- presets -------------------------------------------------------------------------
    @classmethod
    def preset(cls, name: str) -> ModelConfig:
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


# A spec is read from a model file: bounds that keep a foreign file from asking for a run that
# never ends (the shipped model adapts 2 steps per frame and samples 1 step).
MAX_SPEC_STEPS = 1000
MAX_ADAPT_PER_FRAME = 64


@dataclass(frozen=True)
class InferenceSpec:
    """How a checkpoint colours one frame: the pipeline and its settings (typed, validated).

    - ``pipeline="opdm"``: the paper. DDIM from pure noise at T-1 with the raw keyframes as
      references; ``steps`` None uses the user's steps setting.
    - ``pipeline="refine"``: the keyframes flow-warped onto the drawing are the references, DDIM
      runs ``steps`` steps from the flow propagation noised to ``t_start``, and the correction is
      multiplied by ``1 - warp confidence`` when ``gate="confidence"`` and by ``strength`` (the
      share of the network's correction that is added: below 1 it shrinks a correction the
      network makes too boldly on footage unlike its training data). ``adapt_per_frame`` > 0: before
      colouring a key interval the pipeline fine-tunes a copy of the network on the interval's
      own keys (each key carried onto the other key's drawing; pipelines.adapt), that many steps per
      in-between drawing (the cost per frame stays the same whatever the keys' spacing).
    """

    pipeline: str = "opdm"
    steps: int | None = None
    t_start: int | None = None
    gate: str = "none"
    refs: str = "raw"
    strength: float = 1.0
    adapt_per_frame: int = 0

    @classmethod
    def paper(cls) -> InferenceSpec:
        """The paper's sampling (every checkpoint without a spec of its own)."""
        return cls()

    @classmethod
    def refine(cls, t_start: int, steps: int = 1, gate: str = "confidence",
               refs: str = "flow-warped", strength: float = 1.0, adapt_per_frame: int = 0) -> InferenceSpec:
        """A refine spec (warped references, start from the noised propagation)."""
        return cls(pipeline="refine", steps=steps, t_start=t_start, gate=gate, refs=refs,
                   strength=strength, adapt_per_frame=adapt_per_frame)

    def validate(self, timesteps: int | None = None) -> InferenceSpec:
        """Raise ValueError naming what cannot run; ``timesteps`` is the model's T; return self."""
        def need(ok: bool, msg: str) -> None:
            if not ok:
                raise ValueError(f"invalid inference spec: {msg}")

        need(self.pipeline in MODEL_PIPELINES,
             f"unknown pipeline {self.pipeline!r} (known: {', '.join(MODEL_PIPELINES)}); "
             "a newer OPDM Studio may be needed")
        need(self.steps is None or (isinstance(self.steps, int) and not isinstance(self.steps, bool)
                                    and 1 <= self.steps <= MAX_SPEC_STEPS),
             f"steps must be a whole number from 1 to {MAX_SPEC_STEPS}")
        need(self.gate in GATES, f"gate must be one of {', '.join(GATES)}")
        need(self.refs in REFERENCES, f"refs must be one of {', '.join(REFERENCES)}")
        need(isinstance(self.strength, (int, float)) and not isinstance(self.strength, bool)
             and 0.0 < float(self.strength) <= 1.0, "strength must be a number in (0, 1]")
        need(isinstance(self.adapt_per_frame, int) and not isinstance(self.adapt_per_frame, bool)
             and 0 <= self.adapt_per_frame <= MAX_ADAPT_PER_FRAME,
             f"adapt_per_frame must be a whole number from 0 to {MAX_ADAPT_PER_FRAME}")
        if self.pipeline == "opdm":
            need(self.t_start is None, "the opdm pipeline starts from pure noise (no t_start)")
            need(self.refs == "raw" and self.gate == "none" and self.strength == 1.0
                 and self.adapt_per_frame == 0,
                 "the opdm pipeline uses the raw keyframes, no gate, its whole output and no adaptation")
        else:
            need(isinstance(self.t_start, int) and not isinstance(self.t_start, bool)
                 and self.t_start >= 0, "the refine pipeline needs an integer t_start >= 0")
            need(self.steps is not None, "the refine pipeline needs its number of steps")
            need(self.refs in ("flow-warped", "chain-warped"),
                 "the refine pipeline uses warped references (flow-warped or chain-warped)")
            need(self.adapt_per_frame == 0 or self.refs == "chain-warped",
                 "adapting to the keys needs chain-warped references")
            if timesteps is not None:
                assert self.t_start is not None
                need(self.t_start < timesteps, f"t_start must be below the model's {timesteps} timesteps")
        return self

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict."""
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        """JSON text (sorted keys)."""
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, data: Any, timesteps: int | None = None) -> InferenceSpec:
        """Build and validate; unknown fields or wrong types raise ValueError."""
        if not isinstance(data, dict):
            raise ValueError("invalid inference spec: expected a JSON object")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"invalid inference spec: unknown field(s) {', '.join(unknown)}; "
                             "a newer OPDM Studio may be needed")
        for key in ("pipeline", "gate", "refs"):
            if key in data and not isinstance(data[key], str):
                raise ValueError(f"invalid inference spec: {key} must be a string")
        return cls(**data).validate(timesteps)

    @classmethod
    def from_json(cls, text: str, timesteps: int | None = None) -> InferenceSpec:
        """Inverse of :meth:`to_json`."""
        try:
            data = json.loads(text)
        except (TypeError, json.JSONDecodeError) as exc:
            raise ValueError(f"invalid inference spec: not JSON ({exc})") from None
        return cls.from_dict(data, timesteps)

    @classmethod
    def from_legacy(cls, entry: Any, timesteps: int | None = None) -> InferenceSpec:
        """The spec of a format-1 checkpoint, whose config held ``extra["inference"]``
        (``{"mode": "refine" | "sample", "t_start", "steps", "gate", "refs"}``; None = the paper)."""
        if entry is None:
            return cls.paper()
        if not isinstance(entry, dict) or entry.get("mode") not in ("refine", "sample"):
            raise ValueError(f"invalid inference spec: unknown inference mode {entry!r}; "
                             "a newer OPDM Studio may be needed")
        if entry["mode"] == "sample":
            return cls.paper()
        try:
            spec = cls.refine(t_start=int(entry.get("t_start", 30)), steps=int(entry.get("steps", 1)),
                              gate=str(entry.get("gate", "confidence")))
        except (TypeError, ValueError):
            raise ValueError(f"invalid inference spec: bad refine settings {entry!r}") from None
        if str(entry.get("refs", "flow-warped")) != "flow-warped":
            raise ValueError(f"invalid inference spec: refine settings out of range {entry!r}")
        return spec.validate(timesteps)
