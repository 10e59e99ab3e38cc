"""The reference encoder F_r: one feature map per U-Net level, from the two keyframes."""
import pytest
import torch

from opdm_studio.core.config import ModelConfig
from opdm_studio.core.reference import ReferenceEncoder


@pytest.mark.parametrize("ref_channels", [(0, 0, 0, 0), (4, 6, 8, 10)])
def test_reference_features_match_the_unet_levels(ref_channels):
    cfg = ModelConfig.preset("tiny").replace(ref_channels=ref_channels)
    torch.manual_seed(0)
    enc = ReferenceEncoder(cfg).eval()
    prev, nxt = torch.randn(2, 3, 48, 32), torch.randn(2, 3, 48, 32)
    with torch.no_grad():
        feats = enc(prev, nxt)
    assert [tuple(f.shape) for f in feats] == [(2, c, 48 >> i, 32 >> i) for i, c in enumerate(cfg.channels)]


def test_reference_features_depend_on_both_keys():
    cfg = ModelConfig.preset("tiny")
    torch.manual_seed(0)
    enc = ReferenceEncoder(cfg).eval()
    prev, nxt = torch.randn(1, 3, 32, 32), torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        a = enc(prev, nxt)[0]
        b = enc(prev, torch.randn_like(nxt))[0]
        c = enc(torch.randn_like(prev), nxt)[0]
    assert not torch.allclose(a, b) and not torch.allclose(a, c)
