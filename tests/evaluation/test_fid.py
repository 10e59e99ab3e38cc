"""FID: Fréchet distance formula and loading a user-given TorchScript feature extractor."""
import numpy as np
import pytest
import torch

from opdm_studio.errors import CheckpointError
from opdm_studio.evaluation.fid import InceptionFeatures, fid, frechet_distance


def test_frechet_distance_identity_and_shift():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 4))
    mu, cov = x.mean(0), np.cov(x, rowvar=False)
    assert frechet_distance(mu, cov, mu, cov) == pytest.approx(0.0, abs=1e-6)
    assert frechet_distance(mu, cov, mu + 2.0, cov) == pytest.approx(16.0, abs=1e-6)


class _MeanColour(torch.nn.Module):
    def forward(self, x):
        # (N, 3, H, W) float in [0, 1] -> (N, 3) features
        return x.mean(dim=(2, 3))


def test_fid_with_torchscript_features(tmp_path):
    path = tmp_path / "feat.pt"
    torch.jit.script(_MeanColour()).save(str(path))
    feats = InceptionFeatures(path)
    rng = np.random.default_rng(0)
    real = [rng.integers(0, 256, (32, 32, 3), dtype=np.uint8) for _ in range(8)]
    same = fid(real, real, feats)
    shifted = fid(real, [np.clip(r.astype(int) + 80, 0, 255).astype(np.uint8) for r in real], feats)
    assert abs(same) < 1e-6 and shifted > 0.01


def test_missing_or_bad_weights_are_user_errors(tmp_path):
    with pytest.raises(CheckpointError):
        InceptionFeatures(tmp_path / "missing.pt")
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a model")
    with pytest.raises(CheckpointError):
        InceptionFeatures(bad)
