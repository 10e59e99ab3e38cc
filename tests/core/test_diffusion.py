"""Diffusion schedule and the DDIM sampler generator."""
import pytest
import torch

from opdm_studio.core.config import ModelConfig
from opdm_studio.core.diffusion import GaussianDiffusion, ddim_sample
from opdm_studio.core.model import OPDM


@pytest.fixture(scope="module")
def setup():
    torch.manual_seed(0)
    model = OPDM(ModelConfig.preset("tiny")).eval()
    g = torch.Generator().manual_seed(1)
    line = torch.rand(1, 1, 32, 48, generator=g) * 2 - 1
    prev = torch.rand(1, 3, 32, 48, generator=g) * 2 - 1
    nxt = torch.rand(1, 3, 32, 48, generator=g) * 2 - 1
    return model, GaussianDiffusion(T=500), line, prev, nxt


def test_schedule_buffers():
    d = GaussianDiffusion(T=500)
    assert d.alphas_cumprod.shape == (500,)
    assert torch.all(d.alphas_cumprod[1:] < d.alphas_cumprod[:-1])
    assert d.alphas_cumprod[-1] < 0.01 < 0.99 < d.alphas_cumprod[0]
    assert "alphas_cumprod" in dict(d.named_buffers())
    c = GaussianDiffusion(T=500, schedule="cosine")
    assert c.alphas_cumprod[-1] < 0.01


def test_ddim_step_is_deterministic_ddim():
    """From x_t = q_sample(x0, t, eps) with the true x0, DDIM (eta 0) lands on q_sample(x0, t', eps)."""
    d = GaussianDiffusion(T=500)
    x0 = torch.rand(2, 3, 8, 8) * 2 - 1
    eps = torch.randn(2, 3, 8, 8)
    x_t = d.q_sample(x0, 400, eps)
    torch.testing.assert_close(d.ddim_step(x_t, x0, 400, 100), d.q_sample(x0, 100, eps),
                               rtol=1e-4, atol=1e-4)
    with pytest.raises(ValueError):
        d.ddim_step(x_t, x0, 400, 100, eta=1.0)
    noisy = d.ddim_step(x_t, x0, 400, 100, eta=1.0, noise=torch.randn_like(x0))
    assert not torch.allclose(noisy, d.q_sample(x0, 100, eps))


def test_ddim_timesteps():
    d = GaussianDiffusion(T=500)
    ts = d.ddim_timesteps(10)
    assert len(ts) == 10 and ts[0] == 499 and ts[-1] == 0 and ts == sorted(ts, reverse=True)
    assert d.ddim_timesteps(10, t_start=200)[0] == 200
    with pytest.raises(ValueError):
        d.ddim_timesteps(10, t_start=500)


def _run(setup, seed, **kw):
    model, diff, line, prev, nxt = setup
    g = torch.Generator().manual_seed(seed)
    return list(ddim_sample(model, diff, line, prev, nxt, generator=g, **kw))


@pytest.mark.parametrize("eta", [0.0, 1.0])
def test_seeded_ddim_is_deterministic(setup, eta):
    a = _run(setup, 7, steps=5, eta=eta)
    b = _run(setup, 7, steps=5, eta=eta)
    c = _run(setup, 8, steps=5, eta=eta)
    assert [s.index for s in a] == list(range(5)) and all(s.total == 5 for s in a)
    assert torch.equal(a[-1].x_t, b[-1].x_t)
    assert not torch.allclose(a[-1].x_t, c[-1].x_t)
    final = a[-1]
    assert final.x_t.shape == (1, 3, 32, 48) and torch.equal(final.x_t, final.x0)
    assert final.x0.abs().max() <= 1.0


def test_default_steps_and_cached_conditions(setup):
    model, diff, line, prev, nxt = setup
    with torch.no_grad():
        cond = model.encode_conditions(line, prev, nxt)
    a = _run(setup, 3)
    b = _run(setup, 3, cond=cond)
    assert len(a) == 10
    torch.testing.assert_close(a[-1].x_t, b[-1].x_t, rtol=0, atol=0)


def test_caller_can_stop_early(setup):
    model, diff, line, prev, nxt = setup
    seen = []
    for step in ddim_sample(model, diff, line, prev, nxt, steps=10):
        seen.append(step.index)
        if step.index == 2:
            break
    assert seen == [0, 1, 2]


def test_grad_mode_not_leaked(setup):
    model, diff, line, prev, nxt = setup
    for _ in ddim_sample(model, diff, line, prev, nxt, steps=2):
        assert torch.is_grad_enabled()
    steps = list(ddim_sample(model, diff, line, prev, nxt, steps=2))
    assert not steps[-1].x0.requires_grad


def test_refinement_from_x_init(setup):
    model, diff, line, prev, nxt = setup
    x_init = torch.zeros(1, 3, 32, 48)
    steps = _run(setup, 5, steps=4, x_init=x_init, t_start=100)
    assert [s.t for s in steps][0] == 100 and steps[-1].t == 0 and len(steps) == 4
    again = _run(setup, 5, steps=4, x_init=x_init, t_start=100)
    assert torch.equal(steps[-1].x_t, again[-1].x_t)
    with pytest.raises(ValueError, match="x_init"):
        _run(setup, 5, steps=4, t_start=100)
