"""Chained line-art flow over a key interval (opdm_studio.imaging.chain) on tiny synthetic cuts."""
import cv2
import numpy as np
import pytest

from opdm_studio.imaging.chain import ChainPropagator, propagate_chain
from opdm_studio.imaging.flow import compose_flows, forward_backward_error, propagate_two
from opdm_studio.synth.cut import generate_cut

STRIPES = [(220, 60, 60), (60, 160, 60), (60, 80, 220), (230, 200, 40)]


def psnr(a, b):
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return 99.0 if mse == 0 else 10 * np.log10(255.0 ** 2 / mse)


def striped_bar(n=9, step=5, period=12, h=72, w=160):
    """A bar of 6 coloured stripes (period 12 px) sliding right ``step`` px per frame: between the
    keys it moves 40 px, more than three periods, so matching a key directly is ambiguous, while
    each frame-to-frame step is under half a period."""
    colors, lines = [], []
    for k in range(n):
        img = np.full((h, w, 3), (235, 225, 200), np.uint8)
        line = np.full((h, w), 255, np.uint8)
        x0 = 10 + step * k
        for s in range(6):
            cv2.rectangle(img, (x0 + s * period, 16), (x0 + (s + 1) * period - 1, 56), STRIPES[s % 4], -1)
            cv2.line(line, (x0 + s * period, 16), (x0 + s * period, 56), 0, 1)
        cv2.rectangle(line, (x0, 16), (x0 + 6 * period - 1, 56), 0, 1)
        img[line == 0] = 0
        colors.append(img)
        lines.append(line)
    return colors, lines


def test_chain_beats_direct_flow_on_a_large_motion():
    colors, lines = striped_bar()
    last = len(lines) - 1
    chain = ChainPropagator(lines)
    for j in range(1, last):
        direct = propagate_two(lines[j], colors[0], lines[0], colors[last], lines[last], j / last).rgb
        chained = chain.propagate(j, colors[0], colors[last]).rgb
        assert psnr(chained, colors[j]) > 35.0, j
        if 2 <= j <= 5:     # 10-25 px from the nearer key: direct matching skips stripes
            assert psnr(chained, colors[j]) > psnr(direct, colors[j]) + 10.0, j


def test_chain_not_worse_than_direct_on_a_synthetic_cut():
    # Every 4th frame of a procedural cut (characters, houses, camera pan): large motion between keys.
    cut = generate_cut(n_frames=33, size=(256, 144), seed=0, holds=False)
    lines, colors = list(cut.lines[::4]), list(cut.colors[::4])
    last = len(lines) - 1
    props = propagate_chain(lines, colors[0], colors[last])
    assert len(props) == last - 1
    direct = [psnr(propagate_two(lines[j], colors[0], lines[0], colors[last], lines[last], j / last).rgb,
                   colors[j]) for j in range(1, last)]
    chained = [psnr(p.rgb, colors[j]) for j, p in enumerate(props, start=1)]
    assert np.mean(chained) > np.mean(direct)


def test_propagation_fields():
    colors, lines = striped_bar()
    prop = ChainPropagator(lines).propagate(3, colors[0], colors[-1])
    h, w = lines[0].shape
    assert prop.rgb.shape == (h, w, 3) and prop.rgb.dtype == np.uint8
    assert prop.confidence.shape == (h, w) and prop.confidence.dtype == np.float32
    assert 0.0 <= prop.confidence.min() and prop.confidence.max() <= 1.0
    assert prop.choice.dtype == np.uint8 and set(np.unique(prop.choice)) <= {0, 1}
    # The fused colour is, per pixel, the chosen key's warp (the refine pipeline's references).
    assert np.array_equal(prop.rgb, np.where(prop.choice[..., None] == 1, prop.warp_next, prop.warp_prev))
    rgb, conf = prop                                   # unpacks like propagate_two's result
    assert rgb is prop.rgb and conf is prop.confidence
    plain = ChainPropagator(lines, agreement=False).propagate(3, colors[0], colors[-1])
    assert np.array_equal(plain.rgb, prop.rgb) and (plain.confidence >= prop.confidence).all()
    # Where the two keys' warps disagree, the confidence is low.
    disagree = np.abs(prop.warp_prev.astype(int) - prop.warp_next.astype(int)).max(-1) > 100
    if disagree.any():
        assert prop.confidence[disagree].mean() < prop.confidence[~disagree].mean()


def held_interval():
    """A striped bar drawn on twos: drawings 0 0 1 1 2 3 3 4 4 (frames 0-8, keys 0 and 8)."""
    colors, lines = striped_bar(n=5, step=6)
    order = [0, 0, 1, 1, 2, 3, 3, 4, 4]
    return [colors[d] for d in order], [lines[d].copy() for d in order]


def test_holds_are_exact():
    colors, lines = held_interval()
    chain = ChainPropagator(lines)
    last = len(lines) - 1
    # Identical consecutive drawings: exactly zero flow, and no DIS run for them.
    assert not chain.pair_flow(0, 1).any() and not chain.pair_flow(1, 0).any()
    assert not chain.pair_flow(5, 6).any()
    assert chain.pair_runs == 0
    # A held in-between has the same chain as its twin, bit for bit.
    assert np.array_equal(chain.chain_flow(3, 0), chain.chain_flow(2, 0))
    assert np.array_equal(chain.chain_flow(5, last), chain.chain_flow(6, last))
    # A drawing identical to a key's is that key's colours, exactly, with full confidence.
    first = chain.propagate(1, colors[0], colors[last])
    assert np.array_equal(first.rgb, colors[0]) and (first.confidence == 1).all()
    assert not first.choice.any()
    end = chain.propagate(last - 1, colors[0], colors[last])
    assert np.array_equal(end.rgb, colors[last]) and end.choice.all()
    # Held in-betweens in the middle are coloured well through the chain.
    for j in (2, 3, 4, 5, 6):
        assert psnr(chain.propagate(j, colors[0], colors[last]).rgb, colors[j]) > 35.0, j


def test_each_pair_flow_is_computed_once_in_any_order():
    colors, lines = held_interval()
    last = len(lines) - 1
    held = sum(np.array_equal(lines[i], lines[i + 1]) for i in range(last))
    forward = ChainPropagator(lines)
    outs = [forward.propagate(j, colors[0], colors[last]).rgb for j in range(1, last)]
    assert forward.pair_runs == 2 * (last - held)       # both directions of every changing pair
    runs = forward.pair_runs
    for j in range(1, last):                            # colouring again: no pair flow recomputed
        forward.propagate(j, colors[0], colors[last])
    assert forward.pair_runs == runs
    # Pair flows are dropped once both chains through them exist: ~25 bytes per pixel per frame stay.
    assert forward.nbytes <= 26 * lines[0].size * (last - 1)
    backward = ChainPropagator(lines)                   # frames asked in reverse: same flows, same result
    for j in reversed(range(1, last)):
        assert np.array_equal(backward.propagate(j, colors[0], colors[last]).rgb, outs[j - 1])
    assert backward.pair_runs == runs
    # A refinement per frame and key whose drawings differ.
    differ = sum(not np.array_equal(lines[j], lines[k]) for j in range(1, last) for k in (0, last))
    assert backward.refine_runs == differ


def test_compose_and_forward_backward_error():
    h, w = 20, 30
    a = np.zeros((h, w, 2), np.float32)
    a[..., 0] = 2.0                                     # 2 px right
    b = np.zeros((h, w, 2), np.float32)
    b[..., 1] = -3.0                                    # then 3 px up
    ab = compose_flows(a, b)
    assert np.allclose(ab[..., 0], 2.0) and np.allclose(ab[..., 1], -3.0)
    assert np.allclose(forward_backward_error(a, -a), 0.0)
    assert np.allclose(forward_backward_error(a, a), 4.0)


def test_bad_input():
    colors, lines = striped_bar(n=4)
    with pytest.raises(ValueError):
        ChainPropagator(lines[:1])
    with pytest.raises(ValueError):
        ChainPropagator([lines[0], lines[1][:, :-1]])
    chain = ChainPropagator(lines)
    with pytest.raises(ValueError):
        chain.propagate(4, colors[0], colors[3])
    with pytest.raises(ValueError):
        chain.propagate(1, colors[0][:-1], colors[3])
    with pytest.raises(ValueError):
        chain.propagate(1, colors[0][..., 0], colors[3])
    with pytest.raises(ValueError):
        chain.pair_flow(0, 2)
    with pytest.raises(ValueError):
        chain.chain_flow(1, 2)


def test_shared_pair_flows_serve_other_intervals_of_the_cut():
    """Training draws many intervals from one cut: pair flows kept in a shared dict (keyed by the
    drawings' indices in the cut) are computed once and give the same colours."""
    colors, lines = striped_bar(n=9)
    shared: dict = {}
    first = ChainPropagator(lines[0:7], shared_pairs=shared, origin=0)
    first.propagate(3, colors[0], colors[6])
    assert first.pair_runs == 12 and len(shared) == 12
    second = ChainPropagator(lines[2:9], shared_pairs=shared, origin=2)
    got = second.propagate(2, colors[2], colors[8])
    assert second.pair_runs == 4                      # only the pairs 6-7 and 7-8, both ways
    alone = ChainPropagator(lines[2:9]).propagate(2, colors[2], colors[8])
    assert np.array_equal(got.rgb, alone.rgb) and np.array_equal(got.confidence, alone.confidence)
