"""Deformable convolution by grid_sample, and recovery of known shifts (stage-1 alignment)."""
import pytest
import torch
import torch.nn.functional as F

from opdm_studio.core.config import ModelConfig
from opdm_studio.core.model import OPDM
from opdm_studio.core.offsets import DeformConv2d, deform_sample, offsets_to_flow, warp


def _image(h=32, w=40, seed=0):
    # smooth random image: bilinear sampling of it is well defined and informative
    g = torch.Generator().manual_seed(seed)
    small = torch.rand(1, 3, h // 4, w // 4, generator=g) * 2 - 1
    return F.interpolate(small, size=(h, w), mode="bicubic", align_corners=False)


@pytest.mark.parametrize("n", [1, 3, 5])
def test_zero_offsets_equal_conv2d(n):
    torch.manual_seed(n)
    conv = DeformConv2d(3, 7, n)
    x = torch.randn(2, 3, 20, 28)
    off = torch.zeros(2, 2 * n * n, 20, 28)
    torch.testing.assert_close(conv(x, off), F.conv2d(x, conv.weight, conv.bias, padding=n // 2),
                               rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("dy, dx", [(2, -3), (-1, 4)])
def test_constant_offsets_equal_conv_of_shifted_input(dy, dx):
    # Every tap displaced by (dy, dx) == a plain conv of the input moved by (-dy, -dx).
    torch.manual_seed(0)
    n = 3
    conv = DeformConv2d(3, 5, n)
    x = torch.randn(1, 3, 24, 24)
    off = torch.zeros(1, n * n, 2, 24, 24)
    off[:, :, 0], off[:, :, 1] = dy, dx
    got = conv(x, off.view(1, 2 * n * n, 24, 24))
    shifted = torch.zeros_like(x)
    shifted[..., max(0, -dy):24 - max(0, dy), max(0, -dx):24 - max(0, dx)] = \
        x[..., max(0, dy):24 - max(0, -dy), max(0, dx):24 - max(0, -dx)]
    want = F.conv2d(shifted, conv.weight, conv.bias, padding=1)
    m = 1 + max(abs(dy), abs(dx))                              # ignore the border band
    torch.testing.assert_close(got[..., m:-m, m:-m], want[..., m:-m, m:-m], rtol=1e-5, atol=1e-5)


def test_fractional_offsets_interpolate():
    x = torch.arange(16.0).view(1, 1, 4, 4)
    off = torch.tensor([0.0, 0.5]).view(1, 2, 1, 1).expand(1, 2, 4, 4)  # dx = 0.5, N = 1
    out = deform_sample(x, off, 1)
    torch.testing.assert_close(out[0, 0, :, :3], x[0, 0, :, :3] + 0.5)


def test_known_shift_recovered_by_warp():
    ref = _image()
    dy, dx = 3.0, -2.0
    # target(p) = ref(p + d): the reference content moved by -d
    target = warp(ref, torch.tensor([dy, dx]).view(1, 2, 1, 1).expand(1, 2, 32, 40))
    flow = offsets_to_flow(torch.tensor([dy, dx] * 25).view(1, 50, 1, 1).expand(1, 50, 32, 40))
    torch.testing.assert_close(warp(ref, flow), target)
    torch.testing.assert_close(target[..., 4:-4, 4:-4], ref[..., 7:-1, 2:-6])


def test_align_reference_identity_at_init():
    m = OPDM(ModelConfig.preset("tiny"))
    ref = _image(32, 32)
    line = torch.zeros(1, 1, 32, 32)
    with torch.no_grad():
        for level in range(4):
            torch.testing.assert_close(m.align_reference(line, ref, branch=0, level=level), ref)
            # at the level's own resolution: the area-downsampled reference, unmoved
            small = m.align_reference(line, ref, branch=1, level=level, at_level=True)
            f = 2 ** level
            assert small.shape == (1, 3, 32 // f, 32 // f)
            expected = torch.nn.functional.avg_pool2d(ref, f) if f > 1 else ref
            torch.testing.assert_close(small, expected)


def test_estimator_learns_a_known_shift():
    """Stage 1 in miniature: supervising the aligned reference with the target recovers the shift."""
    torch.manual_seed(0)
    m = OPDM(ModelConfig.preset("tiny"))
    ref = _image(32, 32, seed=3)
    d = torch.tensor([1.5, -2.0])
    target = warp(ref, d.view(1, 2, 1, 1).expand(1, 2, 32, 32))
    line = target.mean(1, keepdim=True)                      # stand-in line art of the target
    est = m.offset_adapter.levels[0].estimators[0]
    opt = torch.optim.Adam(est.parameters(), lr=1e-2)
    for _ in range(60):
        loss = (m.align_reference(line, ref, branch=0) - target)[..., 4:-4, 4:-4].abs().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        flow = offsets_to_flow(m.offset_adapter.offsets(line, ref, 0, 0))[0, :, 6:-6, 6:-6]
        err = (m.align_reference(line, ref, 0) - target)[..., 4:-4, 4:-4].abs().mean()
    assert err < 0.1 * (ref - target)[..., 4:-4, 4:-4].abs().mean()
    assert torch.allclose(flow.mean(dim=(1, 2)), d, atol=0.25)
