"""Metric tests: hand-computed cases, identity/noise behaviour, agreement with scikit-image."""
import math

import numpy as np
import pytest
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from opdm_studio.evaluation import metrics as M


def _img(seed=0, h=64, w=80):
    rng = np.random.default_rng(seed)
    # Smooth-ish content (blocks + noise) so SSIM is not trivially ~0 for noisy copies.
    base = rng.integers(0, 256, (h // 8 + 1, w // 8 + 1, 3)).astype(np.float64)
    img = np.kron(base, np.ones((8, 8, 1)))[:h, :w]
    return np.clip(img + rng.normal(0, 8, img.shape), 0, 255).astype(np.uint8)


def _noisy(img, sigma, seed=1):
    rng = np.random.default_rng(seed)
    return np.clip(img + rng.normal(0, sigma, img.shape), 0, 255).astype(np.uint8)


def test_psnr_of_known_mse():
    a = np.full((10, 10, 3), 100, np.uint8)
    b = a.copy()
    b[..., 0] = 110          # error 10 on one channel of three: MSE = 100 / 3
    expected = 10 * math.log10(255 ** 2 / (100 / 3))
    assert M.psnr(a, b) == pytest.approx(expected, abs=1e-9)
    assert M.psnr(a, a) == math.inf


def test_psnr_matches_skimage():
    a = _img()
    b = _noisy(a, 15)
    assert M.psnr(a, b) == pytest.approx(peak_signal_noise_ratio(a, b, data_range=255), abs=1e-9)


@pytest.mark.parametrize("sigma", [5, 20, 60])
def test_ssim_matches_skimage(sigma):
    a = _img()
    b = _noisy(a, sigma)
    ref = structural_similarity(a, b, channel_axis=2, data_range=255, gaussian_weights=True,
                                sigma=1.5, use_sample_covariance=False)
    assert abs(M.ssim(a, b) - ref) < 1e-3
    ref_gray = structural_similarity(a[..., 0], b[..., 0], data_range=255, gaussian_weights=True,
                                     sigma=1.5, use_sample_covariance=False)
    assert abs(M.ssim(a[..., 0], b[..., 0]) - ref_gray) < 1e-3


@pytest.mark.parametrize("fn", [M.ssim, M.ms_ssim, M.qssim])
def test_structural_metrics_identity_and_noise(fn):
    a = _img(h=96, w=96)
    assert fn(a, a) == pytest.approx(1.0, abs=1e-9)
    values = [fn(a, _noisy(a, s)) for s in (5, 20, 50)]
    assert 1.0 > values[0] > values[1] > values[2]


def test_qssim_sees_colour_shift_that_gray_ssim_misses():
    # Swapping R and B keeps luminance structure per channel pairing but changes colour.
    a = _img(h=96, w=96)
    b = a[..., ::-1].copy()
    assert M.qssim(a, b) < 0.99


def test_cdc_zero_for_identical_frames_and_positive_otherwise():
    a = _img()
    assert M.cdc([a, a, a]) == pytest.approx(0.0, abs=1e-9)
    b = np.clip(a.astype(int) + 40, 0, 255).astype(np.uint8)
    assert M.cdc([a, b]) > 0.01


def test_warp_error_zero_for_static_clip():
    a = _img(h=96, w=96)
    frames = [a, a.copy(), a.copy()]
    assert M.warp_error(frames, frames) == pytest.approx(0.0, abs=1e-8)
    flicker = [a, _noisy(a, 30), a]
    assert M.warp_error(flicker, frames) > 1e-3


def test_warp_error_follows_gt_motion():
    # A clip that moves 3 px right: a method reproducing it exactly has ~0 error,
    # a method that stays still has a clearly larger one.
    a = _img(h=96, w=96)
    gt = [np.roll(a, 3 * k, axis=1) for k in range(3)]
    still = [gt[0]] * 3
    assert M.warp_error(gt, gt) < M.warp_error(still, gt) / 3


def test_palette_fidelity():
    key = np.zeros((20, 20, 3), np.uint8)
    key[:10] = (200, 30, 30)
    key[10:] = (30, 30, 200)
    lut = M.palette_lut([key])
    assert M.palette_fidelity(key, lut) == 1.0
    assert M.palette_fidelity(np.clip(key.astype(int) + 4, 0, 255).astype(np.uint8), lut) == 1.0
    other = key.copy()
    other[:5] = (30, 200, 30)          # a colour the keys never had
    assert M.palette_fidelity(other, lut) == pytest.approx(0.75)
    mask = np.zeros((20, 20), bool)
    mask[:5] = True                    # ...but it lies on the lines, which do not count
    assert M.palette_fidelity(other, lut, mask) == 1.0


def test_shape_mismatch_raises():
    with pytest.raises(ValueError):
        M.psnr(np.zeros((4, 4, 3), np.uint8), np.zeros((4, 5, 3), np.uint8))
