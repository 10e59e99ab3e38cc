"""Colouring a selection and then the next one in the same key interval: the network adapted to
the interval's keys by the first run is used again, not adapted a second time."""
from __future__ import annotations

from dataclasses import replace

import torch

from opdm_studio.core.checkpoint import save_checkpoint
from opdm_studio.core.config import InferenceSpec, ModelConfig
from opdm_studio.core.model import OPDM
from opdm_studio.engine.project import Project
from opdm_studio.engine.run import Colorizer
from opdm_studio.imaging.export import write_png_atomic


def _adapting_model(tmp_path):
    torch.manual_seed(0)
    spec = InferenceSpec.refine(t_start=20, gate="confidence", refs="chain-warped", strength=1.0,
                                adapt_per_frame=1)
    return save_checkpoint(tmp_path / "adapting.safetensors", OPDM(ModelConfig.preset("tiny")),
                           inference=spec)


def test_the_next_selection_of_a_key_interval_needs_no_second_adaptation(cut_noholds, tmp_path,
                                                                       fast_settings):
    settings = replace(fast_settings, model=str(_adapting_model(tmp_path)), snap="off")
    project = Project.create(cut_noholds, tmp_path / "out", keys=[0, 9], settings=settings)

    def adapt_steps(frames):
        events = list(Colorizer(project).run(frames=frames))
        assert events[-1].kind == "finished"
        return [e.step for e in events if e.kind == "step" and e.phase == "adapt"]

    assert adapt_steps([1, 2, 3]) == list(range(1, 9))     # 8 in-betweens, 1 step each
    assert adapt_steps([4, 5]) == []                        # the same keys and drawings
    other = tmp_path / "key9.png"                           # another key colour: adapted again
    write_png_atomic(other, project.key_color(9)[::-1].copy())
    project.set_keyframe(9, other)
    assert adapt_steps([6]) == list(range(1, 9))
