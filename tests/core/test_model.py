"""OPDM network: shapes, condition cache == naive forward, input checks, freezing."""
import pytest
import torch

from opdm_studio.core.config import ModelConfig
from opdm_studio.core.model import OPDM
from tests.conftest import requires_bf16


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    m = OPDM(ModelConfig.preset("tiny")).eval()
    # Random (not zero) offset heads so the Offset-Adapter really deforms in these tests.
    with torch.no_grad():
        for lvl in m.offset_adapter.levels:
            for est in lvl.estimators:
                est.tail.weight.normal_(0, 0.05)
                est.tail.bias.normal_(0, 0.5)
    return m


def _inputs(b, h, w, seed=0):
    g = torch.Generator().manual_seed(seed)
    r = lambda c: torch.rand(b, c, h, w, generator=g) * 2 - 1
    return r(3), r(1), r(3), r(3)


@pytest.mark.parametrize("h, w", [(32, 32), (48, 96), (80, 32)])
def test_shapes_three_aspect_ratios(model, h, w):
    x_t, line, prev, nxt = _inputs(2, h, w)
    with torch.no_grad():
        out = model(x_t, torch.tensor([0, 499]), line, prev, nxt)
        refs = model.encode_references(prev, nxt)
        cond = model.encode_conditions(line, prev, nxt, refs=refs)
        aligned = model.align_reference(line, prev, branch=1)
    assert out.shape == (2, 3, h, w) and torch.isfinite(out).all()
    ch = model.config.channels
    for i, (r, c) in enumerate(zip(refs, cond.inject, strict=True)):
        assert r.shape == (2, ch[i], h >> i, w >> i)
        assert c.shape == (2, ch[i], h >> i, w >> i)
    assert aligned.shape == (2, 3, h, w)


def test_cached_equals_naive(model):
    x_t, line, prev, nxt = _inputs(1, 48, 64, seed=1)
    with torch.no_grad():
        refs = model.encode_references(prev, nxt)              # once per key pair
        cond = model.encode_conditions(line, prev, nxt, refs=refs)   # once per frame
        for t in (499, 250, 3):                                # reused at every step
            x = x_t * (t / 499)
            torch.testing.assert_close(model.denoise(x, t, line, cond),
                                       model(x, torch.tensor([t]), line, prev, nxt), rtol=0, atol=0)


def test_references_shared_across_a_batch_of_frames(model):
    _, _, prev, nxt = _inputs(1, 32, 48, seed=2)
    x_t, lines, _, _ = _inputs(3, 32, 48, seed=3)
    with torch.no_grad():
        refs = model.encode_references(prev, nxt)              # batch 1, broadcast to 3 frames
        cond = model.encode_conditions(lines, prev, nxt, refs=refs)
        batched = model.denoise(x_t, 100, lines, cond)
        for i in range(3):
            single = model(x_t[i:i + 1], 100, lines[i:i + 1], prev, nxt)
            torch.testing.assert_close(batched[i:i + 1], single, rtol=1e-4, atol=1e-5)


def test_every_condition_reaches_the_output(model):
    x_t, line, prev, nxt = _inputs(1, 32, 32, seed=4)
    other = torch.flip(prev, dims=[-1])
    with torch.no_grad():
        base = model(x_t, 10, line, prev, nxt)
        assert not torch.allclose(base, model(x_t, 10, -line, prev, nxt))
        assert not torch.allclose(base, model(x_t, 10, line, other, nxt))
        assert not torch.allclose(base, model(x_t, 10, line, prev, other))
        assert not torch.allclose(base, model(x_t, 400, line, prev, nxt))
        # F_o alone changes with the line art (the offsets see it), F_r does not
        c1 = model.encode_offsets(line, prev, nxt)
        c2 = model.encode_offsets(-line, prev, nxt)
        assert not torch.allclose(c1[0], c2[0])


def test_size_must_be_multiple_of_16(model):
    x_t, line, prev, nxt = _inputs(1, 40, 32)
    with pytest.raises(ValueError, match="multiples of 16"):
        model(x_t, 1, line, prev, nxt)


def test_conditions_of_another_size_rejected(model):
    x_t, line, prev, nxt = _inputs(1, 32, 32)
    with torch.no_grad():
        cond = model.encode_conditions(line, prev, nxt)
    x2, l2, _, _ = _inputs(1, 48, 32)
    with pytest.raises(ValueError, match="conditions were computed"):
        model.denoise(x2, 1, l2, cond)


def test_freeze_offset_estimators():
    m = OPDM(ModelConfig.preset("tiny"))
    m.freeze_offset_estimators(True)
    frozen = {id(p) for p in m.offset_estimator_parameters()}
    assert frozen and all(not p.requires_grad for p in m.offset_estimator_parameters())
    # everything else still trains, including the Offset-Adapter's deformable and align convs
    others = [p for p in m.parameters() if id(p) not in frozen]
    assert others and all(p.requires_grad for p in others)
    x_t, line, prev, nxt = _inputs(1, 32, 32)
    m(x_t, 5, line, prev, nxt).square().mean().backward()
    assert all(p.grad is None for p in m.offset_estimator_parameters())
    assert m.offset_adapter.levels[0].deform[0].weight.grad is not None
    m.freeze_offset_estimators(False)
    assert all(p.requires_grad for p in m.offset_estimator_parameters())


@requires_bf16
def test_bf16_weights_run(model):
    import copy
    m = copy.deepcopy(model).to(torch.bfloat16)
    x_t, line, prev, nxt = _inputs(1, 32, 32)
    with torch.no_grad():
        out = m(x_t, 3, line, prev, nxt)
        ref = model(x_t, 3, line, prev, nxt)
    assert out.dtype == torch.bfloat16
    assert (out.float() - ref).abs().max() < 0.2


@pytest.mark.parametrize("dtype, tol", [(torch.float32, 1e-4),
                                        pytest.param(torch.bfloat16, 0.15, marks=requires_bf16)])
def test_prepared_inference_model_matches(model, dtype, tol):
    """prepare_for_inference (channels_last, packed + fused oneDNN convs) keeps the results of
    the plain model, and leaves the plain model as it was (it returns a prepared copy)."""
    from opdm_studio.core.device import (
        FusedResBlock,
        PackedConv2d,
        _mkldnn_packing_available,
        prepare_for_inference,
        prepare_inputs,
    )
    fast = prepare_for_inference(model, "cpu", dtype)
    assert fast is not model
    assert not any(isinstance(m, (PackedConv2d, FusedResBlock)) for m in model.modules())
    if _mkldnn_packing_available():
        assert any(isinstance(m, FusedResBlock) for m in fast.modules())
    x_t, line, prev, nxt = _inputs(2, 32, 48, seed=5)
    with torch.inference_mode():
        want = model(x_t, 250, line, prev[:1], nxt[:1])
        xi, li, pi, ni = (prepare_inputs(t, "cpu", dtype) for t in (x_t, line, prev, nxt))
        pi, ni = pi[:1], ni[:1]                          # one key pair for both frames
        cond = fast.encode_conditions(li, pi, ni, refs=fast.encode_references(pi, ni))
        got = fast.denoise(xi, 250, li, cond)
        naive = fast(xi, 250, li, pi, ni)
    if any(isinstance(m, PackedConv2d) for m in fast.modules()):
        assert set(fast.state_dict()) == set(model.state_dict())
    assert torch.equal(got, naive)                      # cache == naive on the fast path too
    assert (got.float() - want).abs().max() < tol
