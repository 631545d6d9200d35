"""The hand-written backward of the sparse ZINB equals autograd through the textbook form."""

import pytest
import torch

from factvae.model._zinb import zinb_log_prob, zinb_nll_sparse


@pytest.mark.parametrize("theta_shape", ["per_entry", "per_feature"])
def test_sparse_gradients_equal_autograd_of_dense_form(theta_shape):
    g = torch.Generator().manual_seed(1)
    B, D = 5, 30
    x = torch.poisson(torch.rand(B, D, generator=g, dtype=torch.float64) * 1.5)
    x[0] = 0  # a row with no counts
    lm = torch.randn(B, D, generator=g, dtype=torch.float64) * 2
    lt = torch.randn(B, D, generator=g, dtype=torch.float64) if theta_shape == "per_entry" \
        else torch.randn(D, generator=g, dtype=torch.float64)
    pi = torch.randn(B, D, generator=g, dtype=torch.float64) * 3
    w = torch.linspace(0.5, 2.0, B, dtype=torch.float64)  # an upstream gradient that varies by row
    r, c = torch.nonzero(x, as_tuple=True)

    def grads(fn):
        ins = [t.clone().requires_grad_(True) for t in (lm, lt, pi)]
        (fn(*ins) * w).sum().backward()
        return [t.grad for t in ins]

    sparse = grads(lambda a, b, p: zinb_nll_sparse(r, c, x[r, c], a, b, p))
    dense = grads(lambda a, b, p: -zinb_log_prob(x, a, b, p).sum(1))
    for s, d in zip(sparse, dense):
        torch.testing.assert_close(s, d, rtol=1e-9, atol=1e-10)


def test_gradcheck_of_the_sparse_form():
    g = torch.Generator().manual_seed(2)
    x = torch.poisson(torch.rand(3, 7, generator=g, dtype=torch.float64) * 2)
    r, c = torch.nonzero(x, as_tuple=True)
    ins = [torch.randn(3, 7, generator=g, dtype=torch.float64, requires_grad=True) for _ in range(3)]
    assert torch.autograd.gradcheck(lambda a, b, p: zinb_nll_sparse(r, c, x[r, c], a, b, p), ins)
