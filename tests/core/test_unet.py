"""The denoising U-Net alone: shapes at every level, injection, timestep embedding."""
import pytest
import torch

from opdm_studio.core.config import ModelConfig
from opdm_studio.core.unet import ResBlock, UNet, group_norm, timestep_embedding

CFG = ModelConfig.preset("tiny")


def test_timestep_embedding_shape_and_range():
    emb = timestep_embedding(torch.tensor([0, 10, 499]), 9)        # odd width is padded
    assert emb.shape == (3, 9) and emb.abs().max() <= 1.0
    assert not torch.equal(emb[0], emb[1])


def test_group_norm_divides_channels():
    assert group_norm(24, 32).num_groups == 24
    assert group_norm(12, 8).num_groups == 6


@pytest.mark.parametrize("h, w", [(32, 48), (64, 16)])
def test_unet_maps_x_t_and_line_to_x0(h, w):
    torch.manual_seed(0)
    net = UNet(CFG).eval()
    x_t, line = torch.randn(2, 3, h, w), torch.randn(2, 1, h, w)
    with torch.no_grad():
        out = net(x_t, torch.tensor([3, 400]), line)
    assert out.shape == (2, 3, h, w) and torch.isfinite(out).all()


def test_unet_injection_per_level_changes_the_output():
    """inject[i] is added inside every encoder block of level i (F_m = F_e + F_r + F_o)."""
    torch.manual_seed(0)
    net = UNet(CFG).eval()
    h, w = 32, 32
    x_t, line, t = torch.randn(1, 3, h, w), torch.randn(1, 1, h, w), torch.tensor([7])
    inject = [torch.zeros(1, c, h >> i, w >> i) for i, c in enumerate(CFG.channels)]
    with torch.no_grad():
        plain = net(x_t, t, line)
        zero = net(x_t, t, line, inject)
        inject[2] = torch.randn_like(inject[2])
        moved = net(x_t, t, line, inject)
    assert torch.allclose(plain, zero, atol=1e-6)
    assert not torch.allclose(plain, moved)


def test_resblock_shapes_and_skip():
    block = ResBlock(8, 16, temb_dim=12, groups=4).eval()
    x = torch.randn(2, 8, 10, 12)
    with torch.no_grad():
        y = block(x, torch.randn(2, 12), torch.randn(1, 16, 10, 12))   # injection broadcasts
    assert y.shape == (2, 16, 10, 12)
