"""The ZINB likelihood: correct where it can be checked, finite where data are extreme."""

import numpy as np
import pytest
import torch
from scipy import stats

from factvae.model._zinb import zinb_log_prob, zinb_nll_sparse


def test_matches_scipy_negative_binomial_without_inflation():
    x = torch.tensor([[0.0, 1, 3, 10, 50]])
    mu, theta = 4.0, 2.5
    ll = zinb_log_prob(x, torch.full_like(x, np.log(mu)), torch.tensor(np.log(theta)),
                       torch.full_like(x, -50.0))  # pi ~ 0
    p = theta / (theta + mu)
    expect = stats.nbinom.logpmf(x.numpy(), theta, p)
    np.testing.assert_allclose(ll.numpy(), expect, rtol=1e-4, atol=1e-5)


def test_zero_inflation_adds_mass_at_zero():
    x = torch.zeros(1, 1)
    lm, lt = torch.full((1, 1), np.log(5.0)), torch.tensor(0.0)
    none = zinb_log_prob(x, lm, lt, torch.full((1, 1), -50.0))
    half = zinb_log_prob(x, lm, lt, torch.zeros(1, 1))  # pi = 0.5
    nb0 = float(none.exp())
    assert float(half.exp()) == pytest.approx(0.5 + 0.5 * nb0, rel=1e-5)


def test_sparse_equals_dense():
    g = torch.Generator().manual_seed(0)
    x = torch.poisson(torch.rand(6, 40, generator=g) * 0.5)
    lm = torch.randn(6, 40, generator=g)
    lt = torch.randn(40, generator=g)
    pi = torch.randn(6, 40, generator=g)
    dense = -zinb_log_prob(x, lm, lt, pi).sum(1)
    r, c = torch.nonzero(x, as_tuple=True)
    sparse = zinb_nll_sparse(r, c, x[r, c], lm, lt, pi)
    torch.testing.assert_close(sparse, dense, rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("case", ["zero_heavy", "large_counts", "extreme_logits", "extreme_theta"])
def test_finite_values_and_gradients(case):
    n, d = 8, 500
    x = torch.zeros(n, d)
    lm = torch.full((n, d), -8.0)
    lt = torch.zeros(d)
    pi = torch.zeros(n, d)
    if case == "zero_heavy":
        x[0, 0] = 1
    elif case == "large_counts":
        x[:, :10] = 1e6
        lm[:, :10] = np.log(10.0)  # badly fit huge counts
    elif case == "extreme_logits":
        pi = torch.linspace(-1e4, 1e4, n * d).reshape(n, d)
        lm = torch.linspace(-300, 30, n * d).reshape(n, d)
        x[:, ::7] = 3
    else:
        lt = torch.linspace(-200, 200, d)
        x[:, ::3] = 5
    lm, lt, pi = (t.clone().requires_grad_(True) for t in (lm, lt, pi))
    r, c = torch.nonzero(x, as_tuple=True)
    nll = zinb_nll_sparse(r, c, x[r, c], lm, lt, pi).sum()
    nll.backward()
    assert torch.isfinite(nll)
    for t in (lm, lt, pi):
        assert torch.isfinite(t.grad).all()
    dense = zinb_log_prob(x, lm.detach(), lt.detach(), pi.detach())
    assert torch.isfinite(dense).all()
