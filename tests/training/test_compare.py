"""The fine-tuning comparison colours as the app does: flow chained through the key interval,
the network adapted to its keys, corrected pixels put on the keys' paint."""
from __future__ import annotations

import numpy as np
import torch

from opdm_studio.core.checkpoint import save_checkpoint
from opdm_studio.core.config import InferenceSpec
from opdm_studio.core.model import OPDM
from opdm_studio.engine.frame import FrameColorizer
from opdm_studio.engine.models import load_model
from opdm_studio.engine.project import ColorizeSettings
from opdm_studio.pipelines.base import Interval
from opdm_studio.synth.cut import generate_cut
from training.compare import score_model
from training.data import ArrayCut
from training.refine import refine_config


def test_the_comparison_scores_what_the_app_colours(tmp_path):
    torch.manual_seed(0)
    spec = InferenceSpec.refine(t_start=20, gate="none", refs="chain-warped", strength=1.0,
                                adapt_per_frame=1)
    path = save_checkpoint(tmp_path / "m.safetensors", OPDM(refine_config(base=8).replace(image_size=32)),
                           inference=spec)
    synth = generate_cut(7, (64, 48), seed=11)
    cut = ArrayCut("c", list(synth.colors), list(synth.lines))
    shown: dict = {}
    score = score_model(path, [cut], gap=6, device="cpu", working_size=32, keep={(0, 2), (0, 4)},
                        shown=shown)
    assert score.frames == 5 and set(shown) == {(0, 2), (0, 4)}

    fc = FrameColorizer("model", model=load_model(path, "cpu"),
                        settings=ColorizeSettings(method="model", device="cpu", snap="off", working_size=32))
    lines = [cut.line(k) for k in range(7)]
    for i in (2, 4):
        interval = Interval(key="app", load=lambda: lines, position=i, length=7)
        app = fc.colorize(lines[i], cut.color(0), cut.color(6), lines[0], lines[6], t=i / 6,
                          interval=interval)
        assert np.array_equal(shown[(0, i)], app.raw)
