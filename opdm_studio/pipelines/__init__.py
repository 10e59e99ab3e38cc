"""Pipelines: the ways of colouring one frame, in the diffusers sense (model + sampler + glue).

- ``flow`` (:mod:`.flow`): no model, line-art flow propagation from both keys;
- ``opdm`` (:mod:`.opdm`): the paper, DDIM from pure noise with the raw keys as references;
- ``refine`` (:mod:`.refine`): flow-warped keys as references, DDIM from the noised propagation,
  the correction gated by the warp confidence.

The user chooses a *method* (:data:`METHODS`): ``model`` (a checkpoint) or ``flow`` (the fast
preview, no model). With ``model`` the checkpoint's :class:`~opdm_studio.core.config.InferenceSpec`
names the pipeline, ``opdm`` or ``refine``; :func:`make_pipeline` builds the one asked for. Each pipeline is a callable
``pipeline(inputs, cancel)`` returning a generator of ``(step, steps)`` whose value is the
:class:`~opdm_studio.pipelines.base.Guess`. Only ``flow`` is importable without torch.
"""
from __future__ import annotations

from typing import Any

from opdm_studio.core.config import InferenceSpec
from opdm_studio.pipelines.base import CancelToken, FrameInputs, Guess, Interval, Pipeline

#: The colouring methods a user chooses from: a model (its spec names the pipeline) or the flow preview.
METHODS = ("model", "flow")
#: Method names older versions wrote in project files, settings and scripts ("opdm" was the model,
#: whichever pipeline its spec named), with today's name.
OLD_METHOD_NAMES = {"opdm": "model"}


def method_name(name: str) -> str:
    """Today's name of the colouring method ``name`` (an old name read from a file or a script)."""
    return OLD_METHOD_NAMES.get(name, name)


__all__ = ["CancelToken", "FrameInputs", "Guess", "Interval", "Pipeline", "METHODS", "OLD_METHOD_NAMES", "make_pipeline",
           "method_name"]


def make_pipeline(method: str, spec: InferenceSpec | None = None, model: Any = None,
                  device: Any = None, dtype: Any = None, working_size: int = 224, steps: int = 10,
                  flow_size: int = 0, chain: bool = True) -> Pipeline:
    """The pipeline for ``method``: "flow", or "model" = the pipeline the model's ``spec`` names.

    ``model`` must be prepared for ``device``/``dtype`` (``core.device.prepare_for_inference``);
    ``steps`` is the user's DDIM steps setting (a spec with its own steps overrides it);
    ``chain`` False matches the keys to the drawing directly instead of chaining the flow through
    the in-betweens (where the frame's interval is known).
    """
    if method == "flow":
        from opdm_studio.pipelines.flow import FlowPipeline
        return FlowPipeline(flow_size, chain)
    if method != "model":
        raise ValueError(f"unknown colouring method {method!r}: use {' or '.join(METHODS)}")
    if model is None:
        raise ValueError("method 'model' needs a model")
    from opdm_studio.core.diffusion import GaussianDiffusion
    spec = (spec or InferenceSpec.paper()).validate(model.config.timesteps)
    diffusion = GaussianDiffusion.from_config(model.config).to(device)
    if spec.pipeline == "refine":
        from opdm_studio.pipelines.refine import RefinePipeline
        return RefinePipeline(model, diffusion, device, dtype, spec, working_size, flow_size, chain)
    from opdm_studio.pipelines.opdm import OPDMPipeline
    return OPDMPipeline(model, diffusion, device, dtype, working_size, spec.steps or steps)
