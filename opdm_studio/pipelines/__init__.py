"""Pipelines: the ways of colouring one frame, in the diffusers sense (model + sampler + glue).

- ``flow`` (:mod:`.flow`): no model, line-art flow propagation from both keys;
- ``opdm`` (:mod:`.opdm`): the paper, DDIM from pure noise with the raw keys as references;
- ``refine`` (:mod:`.refine`): flow-warped keys as references, DDIM from the noised propagation,
  the correction gated by the warp confidence.

A checkpoint's :class:`~opdm_studio.core.config.InferenceSpec` picks between ``opdm`` and
``refine``; :func:`make_pipeline` builds the one asked for. Each pipeline is a callable
``pipeline(inputs, cancel)`` returning a generator of ``(step, steps)`` whose value is the
:class:`~opdm_studio.pipelines.base.Guess`. Only ``flow`` is importable without torch.
"""
from __future__ import annotations

from typing import Any

from opdm_studio.core.config import InferenceSpec
from opdm_studio.pipelines.base import CancelToken, FrameInputs, Guess, Interval, Pipeline

METHODS = ("opdm", "flow")

__all__ = ["CancelToken", "FrameInputs", "Guess", "Interval", "Pipeline", "METHODS", "make_pipeline"]


def make_pipeline(method: str, spec: InferenceSpec | None = None, model: Any = None,
                  device: Any = None, dtype: Any = None, working_size: int = 224, steps: int = 10,
                  flow_size: int = 0, chain: bool = True) -> Pipeline:
    """The pipeline for ``method`` ("flow", or "opdm" = the model's ``spec``).

    ``model`` must be prepared for ``device``/``dtype`` (``core.device.prepare_for_inference``);
    ``steps`` is the user's DDIM steps setting (a spec with its own steps overrides it);
    ``chain`` False matches the keys to the drawing directly instead of chaining the flow through
    the in-betweens (where the frame's interval is known).
    """
    if method == "flow":
        from opdm_studio.pipelines.flow import FlowPipeline
        return FlowPipeline(flow_size, chain)
    if method != "opdm":
        raise ValueError(f"unknown colouring method {method!r}: use {' or '.join(METHODS)}")
    if model is None:
        raise ValueError("method 'opdm' needs a model")
    from opdm_studio.core.diffusion import GaussianDiffusion
    spec = (spec or InferenceSpec.paper()).validate(model.config.timesteps)
    diffusion = GaussianDiffusion.from_config(model.config).to(device)
    if spec.pipeline == "refine":
        from opdm_studio.pipelines.refine import RefinePipeline
        return RefinePipeline(model, diffusion, device, dtype, spec, working_size, flow_size, chain)
    from opdm_studio.pipelines.opdm import OPDMPipeline
    return OPDMPipeline(model, diffusion, device, dtype, working_size, spec.steps or steps)
