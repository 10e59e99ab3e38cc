"""core layer of OPDM Studio: the OPDM network, its diffusion sampler, checkpoints, devices.

torch only: no Qt, no image files (see DESIGN.md). Main names::

    from opdm_studio.core import ModelConfig, OPDM, GaussianDiffusion, ddim_sample

The names are imported on first use, so torch-free modules (``core.config``,
``core.checkpoint_info``) can be used without importing torch (seconds of app start-up).
"""
from __future__ import annotations

import importlib
from typing import Any

_NAMES = {"ModelConfig": "config", "OPDM": "model", "Conditions": "model",
          "GaussianDiffusion": "diffusion", "DDIMStep": "diffusion", "ddim_sample": "diffusion"}

__all__ = list(_NAMES)


def __getattr__(name: str) -> Any:
    module = _NAMES.get(name)
    if module is None:
        raise AttributeError(f"module 'opdm_studio.core' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"opdm_studio.core.{module}"), name)
    globals()[name] = value
    return value
