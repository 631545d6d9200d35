"""Zero-inflated negative binomial log-likelihood, numerically safe, in log space.

Parameterised by log_mu (log mean), log_theta (log inverse dispersion) and pi_logits (logit of the
structural-zero probability), following scvi-tools' formulation. The sparse form adds the
count-dependent terms only at the non-zero entries, so a mini-batch of ATAC counts is never
densified.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

LOG_THETA_RANGE = (-12.0, 12.0)  # theta in (6e-6, 1.6e5): beyond this the NB is numerically a
                                  # Poisson or a point mass and gradients only add noise


def _zero_terms(log_mu, log_theta, pi_logits):
    log_theta = log_theta.clamp(*LOG_THETA_RANGE)
    theta = log_theta.exp()
    log_theta_mu = torch.logaddexp(log_theta, log_mu)          # log(theta + mu)
    softplus_pi = F.softplus(-pi_logits)                       # -log(1 - pi)
    pi_theta_log = -pi_logits + theta * (log_theta - log_theta_mu)
    case_zero = F.softplus(pi_theta_log) - softplus_pi         # log P(x = 0)
    return case_zero, theta, log_theta_mu, softplus_pi, pi_theta_log


def _nonzero_terms(x, log_mu, theta, log_theta_mu, softplus_pi, pi_theta_log):
    return (-softplus_pi + pi_theta_log + x * (log_mu - log_theta_mu)
            + torch.lgamma(x + theta) - torch.lgamma(theta) - torch.lgamma(x + 1))


def zinb_log_prob(x, log_mu, log_theta, pi_logits):
    """Element-wise log ZINB(x; mu, theta, pi) for dense x (broadcasting log_theta)."""
    log_theta = torch.broadcast_to(log_theta, log_mu.shape)
    case_zero, theta, ltm, sp_pi, ptl = _zero_terms(log_mu, log_theta, pi_logits)
    nonzero = _nonzero_terms(x, log_mu, theta, ltm, sp_pi, ptl)
    return torch.where(x > 0, nonzero, case_zero)


def zinb_nll_sparse(rows, cols, values, log_mu, log_theta, pi_logits):
    """Negative log-likelihood per row (B,) for a sparse batch given by its non-zero entries
    (rows, cols, values), with log_mu and pi_logits of shape B x D and log_theta B x D or D."""
    log_theta = torch.broadcast_to(log_theta, log_mu.shape)
    case_zero, theta, ltm, sp_pi, ptl = _zero_terms(log_mu, log_theta, pi_logits)
    ll = case_zero.sum(dim=1)
    if values.numel():
        def at(t):
            return t[rows, cols]

        nz = _nonzero_terms(values, at(log_mu), at(theta), at(ltm), at(sp_pi), at(ptl))
        ll = ll.index_add(0, rows, nz - at(case_zero))
    return -ll
