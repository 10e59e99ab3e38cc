"""Losses: SSIM/PSNR sanity, the noise term, VGG19 loading from a weights file."""
from __future__ import annotations

import pytest
import torch

from opdm_studio.errors import CheckpointError
from training.losses import VGG19Features, content_loss, load_vgg19, noise_loss, perceptual_loss, psnr, ssim


def test_ssim_psnr_and_content():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(2, 3, 32, 32, generator=g) * 2 - 1
    y = (x + 0.3 * torch.randn(x.shape, generator=g)).clamp(-1, 1)
    assert float(ssim(x, x)) == pytest.approx(1.0, abs=1e-5)
    assert float(ssim(x, y)) < 0.9
    assert float(content_loss(x, x)) == pytest.approx(0.0, abs=1e-5)
    assert float(psnr(x, y).mean()) < float(psnr(x, (x + y) / 2).mean())
    # The optional weight map re-weights L1: zero weight where the images differ -> no L1.
    w = torch.zeros(2, 1, 32, 32)
    w[..., :4, :4] = 1
    z = x.clone()
    z[..., 8:, 8:] = 0
    assert float(content_loss(z, x, w)) < float(content_loss(z, x))


def test_noise_loss_is_snr_weighted_x0_error():
    x0 = torch.zeros(1, 3, 8, 8)
    pred = torch.full_like(x0, 0.1)
    noise = torch.randn_like(x0)
    lo, hi = torch.tensor([0.2]), torch.tensor([0.99])
    x_t = hi.sqrt() * x0 + (1 - hi).sqrt() * noise
    unclamped = noise_loss(pred, x0, x_t, noise, hi, snr_clamp=0)
    assert float(unclamped) == pytest.approx(0.99 / 0.01 * 0.01, rel=1e-4)   # SNR * MSE(x0)
    assert float(noise_loss(pred, x0, x_t, noise, hi, snr_clamp=5)) == pytest.approx(5 * 0.01, rel=1e-4)
    assert float(noise_loss(pred, x0, x_t, noise, lo, snr_clamp=5)) == pytest.approx(0.25 * 0.01, rel=1e-4)


def test_vgg19_loads_torchvision_keys_from_safetensors(tmp_path):
    from safetensors.torch import save_file
    torch.manual_seed(0)
    net = VGG19Features()
    sd = {k: v.contiguous() for k, v in net.state_dict().items()}
    save_file(sd, str(tmp_path / "vgg19.safetensors"))
    vgg = load_vgg19(tmp_path / "vgg19.safetensors")
    assert not any(p.requires_grad for p in vgg.parameters())
    x = torch.rand(1, 3, 32, 32) * 2 - 1
    pred = x.clone().requires_grad_(True)
    assert perceptual_loss(vgg, pred, x).item() == pytest.approx(0.0, abs=1e-6)
    loss = perceptual_loss(vgg, (pred + 0.2).clamp(-1, 1), x)
    loss.backward()
    assert loss.item() > 0 and pred.grad is not None
    (tmp_path / "bad.safetensors").write_bytes(b"not a file")
    with pytest.raises(CheckpointError):
        load_vgg19(tmp_path / "bad.safetensors")
    with pytest.raises(CheckpointError, match="not found"):
        load_vgg19(tmp_path / "missing.pth")
