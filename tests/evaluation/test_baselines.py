"""Baselines and the shared flow propagation on a synthetic moving shape."""
import numpy as np
import pytest

from opdm_studio.evaluation import metrics as M
from opdm_studio.evaluation.baselines import BASELINES, FlowChain, Task, median_per_region, region_labels
from opdm_studio.evaluation.protocol import protocol_lines
from opdm_studio.imaging.chain import ChainPropagator
from opdm_studio.imaging.flow import flowwarp, line_flow, propagate_two, warp_colors

from .synth import moving_disc


@pytest.fixture(scope="module")
def clip():
    frames = moving_disc(n=9)
    lines = [protocol_lines(f) for f in frames]
    return frames, lines


def _task(clip, i, a=0, b=8, window=None):
    frames, lines = clip
    return Task(frames[a], frames[b], lines[a][0], lines[b][0], lines[i][0], (i - a) / (b - a),
                target_mask=lines[i][1], window_lines=window, index=None if window is None else i - a)


def test_line_flow_recovers_translation(clip):
    frames, lines = clip
    flow = line_flow(lines[2][0], lines[0][0])       # target moved +6 px: key is 6 px to the left
    inside = lines[2][1]                             # measure on the target's strokes
    assert np.median(flow[..., 0][inside]) == pytest.approx(-6.0, abs=1.0)
    assert abs(np.median(flow[..., 1][inside])) < 0.5


def test_warp_colors_with_zero_flow_is_identity(clip):
    frames, _ = clip
    assert np.array_equal(warp_colors(frames[0], np.zeros(frames[0].shape[:2] + (2,), np.float32)),
                          frames[0])


def test_nearest_picks_nearer_key_and_earlier_on_tie(clip):
    frames, _ = clip
    assert np.array_equal(BASELINES["nearest"](_task(clip, 2)), frames[0])
    assert np.array_equal(BASELINES["nearest"](_task(clip, 6)), frames[8])
    assert np.array_equal(BASELINES["nearest"](_task(clip, 4)), frames[0])


@pytest.mark.parametrize("name", ["flowwarp", "blend", "regionfill", "flow", "flowchain"])
def test_flow_baselines_beat_nearest_on_moving_shape(clip, name):
    frames, _ = clip
    for i in (2, 3, 5):
        task = _task(clip, i)
        out = BASELINES[name](task)
        assert out.shape == frames[i].shape and out.dtype == np.uint8
        near = M.psnr(BASELINES["nearest"](task), frames[i])
        assert M.psnr(out, frames[i]) > near + 3.0, (name, i)


def test_flowwarp_is_the_nearest_keys_warp(clip):
    frames, lines = clip
    assert np.array_equal(BASELINES["flowwarp"](_task(clip, 3)), flowwarp(lines[3][0], frames[0], lines[0][0]))
    assert np.array_equal(BASELINES["flowwarp"](_task(clip, 6)), flowwarp(lines[6][0], frames[8], lines[8][0]))


def test_regionfill_regions_are_flat(clip):
    frames, lines = clip
    out = BASELINES["regionfill"](_task(clip, 3))
    labels, count = region_labels(lines[3][1])
    for r in range(1, count):
        px = out[labels == r]
        assert (px == px[0]).all()


def test_median_per_region_keeps_label_zero():
    rgb = np.arange(4 * 4 * 3, dtype=np.uint8).reshape(4, 4, 3)
    labels = np.zeros((4, 4), np.int32)
    labels[:, 2:] = 1
    out = median_per_region(rgb, labels, 2)
    assert np.array_equal(out[:, :2], rgb[:, :2])
    assert (out[:, 2:] == np.median(rgb[:, 2:].reshape(-1, 3), axis=0).astype(np.uint8)).all()


def test_propagate_two_outputs_and_choice(clip):
    frames, lines = clip
    prop = propagate_two(lines[2][0], frames[0], lines[0][0], frames[8], lines[8][0], 0.25)
    rgb, conf = prop
    assert rgb.dtype == np.uint8 and rgb.shape == frames[2].shape
    assert conf.dtype == np.float32 and conf.shape == frames[2].shape[:2]
    assert 0.0 <= conf.min() and conf.max() <= 1.0
    assert prop.choice.shape == conf.shape
    # Near the previous key, its warp explains the drawing: most pixels come from it.
    assert prop.choice.mean() < 0.5
    # Identical target and key: perfect warp, full confidence.
    same = propagate_two(lines[0][0], frames[0], lines[0][0], frames[8], lines[8][0], 0.0)
    assert M.psnr(same.rgb, frames[0]) > 40 and same.confidence.mean() > 0.95


def test_propagate_two_rejects_bad_input(clip):
    frames, lines = clip
    with pytest.raises(ValueError):
        propagate_two(lines[2][0], frames[0][..., 0], lines[0][0], frames[8], lines[8][0], 0.5)


def test_flowchain_uses_the_window_and_caches_it(clip):
    frames, lines = clip
    window = [d for d, _ in lines]
    method = FlowChain()
    chain = ChainPropagator(window)
    for i in (2, 5):
        out = method(_task(clip, i, window=window))
        assert np.array_equal(out, chain.propagate(i, frames[0], frames[8]).rgb)
        assert M.psnr(out, frames[i]) > M.psnr(BASELINES["nearest"](_task(clip, i)), frames[i]) + 3.0
    first = method._chain
    method(_task(clip, 3, window=window))
    assert method._chain is first                       # same window: same propagator
    method(_task(clip, 3, window=list(window)))
    assert method._chain is not first                   # another window object: a new one
