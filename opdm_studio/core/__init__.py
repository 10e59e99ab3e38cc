"""core layer of OPDM Studio: the OPDM network, its diffusion sampler, checkpoints, devices.

torch only: no Qt, no image files (see DESIGN.md). Main names::

    from opdm_studio.core import ModelConfig, OPDM, GaussianDiffusion, ddim_sample
"""
from opdm_studio.core.config import ModelConfig
from opdm_studio.core.diffusion import DDIMStep, GaussianDiffusion, ddim_sample
from opdm_studio.core.model import OPDM, Conditions

__all__ = ["ModelConfig", "OPDM", "Conditions", "GaussianDiffusion", "DDIMStep", "ddim_sample"]
