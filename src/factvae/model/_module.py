"""The FactVAE network (torch): two VAEs with factorized decoders, and its losses.

Architecture and defaults from the paper and the authors' code (docs/method.md):
RNA encoder in -> 512 -> 256, ATAC encoder in -> 256 (ELU, dropout 0.2), mean and log-variance
heads of size d = 50; decoders are three D x d matrices per modality (feature, dispersion,
dropout), Xavier-normal, no biases:
    mu = exp(sf) * softmax(z W^T),  theta = exp(softmax(z Wd^T)) ('paper') or one learned theta
    per feature ('feature'),  pi_logits = z Wp^T.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..config import FactVAEConfig
from ._zinb import zinb_nll_sparse

DISPERSIONS = ("paper", "feature")


class Encoder(nn.Module):
    """MLP (Linear -> ELU -> Dropout per hidden layer) with mean and log-variance heads."""

    def __init__(self, n_input: int, hidden: tuple[int, ...], n_latent: int, dropout: float,
                 init: str = "xavier"):
        super().__init__()
        layers, width = [], n_input
        for h in hidden:
            layers += [nn.Linear(width, h), nn.ELU(), nn.Dropout(dropout)]
            width = h
        self.net = nn.Sequential(*layers)
        self.mean = nn.Linear(width, n_latent)
        self.log_var = nn.Linear(width, n_latent)
        if init == "xavier":  # the authors' `self.apply(xavier_init)`
            for m in self.modules():
                if isinstance(m, nn.Linear):
                    nn.init.xavier_normal_(m.weight)
                    nn.init.zeros_(m.bias)
        elif init != "torch":
            raise ValueError(f"encoder_init must be 'xavier' or 'torch', got {init!r}")

    def forward(self, x, x_nbr=None, mask=None):
        h = self.net(x)
        return self.mean(h), self.log_var(h)


def masked_mean(x_nbr: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean over the valid neighbours (B x k x F, mask B x k); zeros where a spot has none."""
    w = mask.to(x_nbr.dtype)
    return (x_nbr * w[..., None]).sum(1) / w.sum(1, keepdim=True).clamp_min(1.0)


class AggregateEncoder(Encoder):
    """Spatial design 'aggregate': the input is [x_i, mean of the neighbours' inputs]; the first
    layer learns how to weigh the two."""

    def __init__(self, n_input, hidden, n_latent, dropout, init="xavier"):
        super().__init__(2 * n_input, hidden, n_latent, dropout, init)

    def forward(self, x, x_nbr=None, mask=None):
        ctx = masked_mean(x_nbr, mask) if x_nbr is not None else torch.zeros_like(x)
        return super().forward(torch.cat([x, ctx], dim=1))


class AttentionEncoder(Encoder):
    """Spatial design 'attention': every spot and its neighbours pass the same hidden layers;
    the spot's representation is an attention-weighted mean over itself and its neighbours
    (scaled dot product of learned queries and keys, plus a learned bias towards the spot
    itself), so the model learns, per spot and per modality, how much to lean on its
    neighbours. `last_self_weight` keeps the weight each spot gave itself in the last call."""

    def __init__(self, n_input, hidden, n_latent, dropout, init="xavier", n_key=32, k=6):
        super().__init__(n_input, hidden, n_latent, dropout, init)
        width = hidden[-1] if hidden else n_input
        self.query = nn.Linear(width, n_key, bias=False)
        self.key = nn.Linear(width, n_key, bias=False)
        # start with half the weight on the spot itself (uniform attention would give 1/(k+1))
        self.self_bias = nn.Parameter(torch.tensor(float(np.log(max(k, 1)))))
        self.scale = float(n_key) ** -0.5
        self.last_self_weight = None

    def forward(self, x, x_nbr=None, mask=None):
        h = self.net(x)
        if x_nbr is None:
            return self.mean(h), self.log_var(h)
        B, k, F_in = x_nbr.shape
        hn = self.net(x_nbr.reshape(B * k, F_in)).reshape(B, k, -1)
        hs = torch.cat([h[:, None], hn], dim=1)                      # B x (k+1) x H
        score = (self.key(hs) @ self.query(h)[:, :, None]).squeeze(-1) * self.scale
        score = torch.cat([score[:, :1] + self.self_bias, score[:, 1:]], dim=1)
        valid = torch.cat([torch.ones_like(mask[:, :1]), mask], dim=1)
        attn = torch.softmax(score.masked_fill(~valid, float("-inf")), dim=1)
        self.last_self_weight = attn[:, 0].detach()
        h = (attn[..., None] * hs).sum(1)
        return self.mean(h), self.log_var(h)


class BilateralEncoder(Encoder):
    """Spatial design 'bilateral_train': every spot and its neighbours are encoded alike; the spot's
    code is the mean of its own and its neighbours' codes, each neighbour weighted by
    exp(-|mu_i - mu_j|^2 / s), s the median squared distance between neighbouring codes in the
    batch. Neighbours that look like the spot count almost fully, neighbours that do not (a
    domain boundary, or tissue whose domains are not spatially coherent) hardly at all: how much
    a spot leans on its neighbours follows the data, spot by spot and modality by modality,
    with no weight set by the user. The weights are not back-propagated (a reconstruction loss
    would push them to zero, as the 'attention' design's learned weights showed)."""

    def __init__(self, n_input, hidden, n_latent, dropout, init="xavier"):
        super().__init__(n_input, hidden, n_latent, dropout, init)
        self.last_self_weight = None

    def forward(self, x, x_nbr=None, mask=None):
        mean, log_var = super().forward(x)
        if x_nbr is None:
            return mean, log_var
        B, k, F_in = x_nbr.shape
        mean_n, log_var_n = super().forward(x_nbr.reshape(B * k, F_in))
        mean_n, log_var_n = mean_n.reshape(B, k, -1), log_var_n.reshape(B, k, -1)
        with torch.no_grad():
            d2 = (mean_n - mean[:, None]).pow(2).sum(-1)                 # B x k
            # the median over real neighbour slots, without boolean indexing (a GPU sync)
            scale = torch.nan_to_num(d2.masked_fill(~mask, float("nan")).nanmedian(), nan=1.0)
            scale = scale.clamp_min(1e-8)
            w = torch.exp(-d2 / scale) * mask
            alpha = torch.cat([torch.ones_like(w[:, :1]), w], dim=1)
            alpha = alpha / alpha.sum(1, keepdim=True)                   # B x (k+1)
            self.last_self_weight = alpha[:, 0]
        means = torch.cat([mean[:, None], mean_n], dim=1)
        log_vars = torch.cat([log_var[:, None], log_var_n], dim=1)
        return (alpha[..., None] * means).sum(1), (alpha[..., None] * log_vars).sum(1)


SPATIAL_DESIGNS = FactVAEConfig.TRAINED_SPATIAL_DESIGNS  # designs that change the network


class FactorizedDecoder(nn.Module):
    """ZINB parameters from z times learned feature embeddings (no hidden layers, no biases)."""

    def __init__(self, n_features: int, n_latent: int, dispersion: str = "feature",
                 n_sections: int = 1):
        super().__init__()
        if dispersion not in DISPERSIONS:
            raise ValueError(f"dispersion must be one of {DISPERSIONS}, got {dispersion!r}")
        self.dispersion = dispersion
        self.feature = nn.Parameter(nn.init.xavier_normal_(torch.empty(n_features, n_latent)))
        self.dropout = nn.Parameter(nn.init.xavier_normal_(torch.empty(n_features, n_latent)))
        if dispersion == "paper":
            self.disp = nn.Parameter(nn.init.xavier_normal_(torch.empty(n_features, n_latent)))
        else:
            self.log_theta = nn.Parameter(torch.zeros(n_features))
        # several sections: a learned offset per section and feature in the mean's logits (the
        # section's capture efficiency of each gene or peak); none for one section, so the
        # parameters, and the random draws that initialise them, are the one-section model's
        if n_sections > 1:
            self.section_offset = nn.Parameter(torch.zeros(n_sections, n_features))

    # the dtype of the three spots x features products (None: float32); bfloat16 halves their
    # cost on CPUs with native bf16 (docs/benchmarks.md 4d); everything after them is float32
    matmul_dtype = None

    def _product(self, z, W):
        if self.matmul_dtype is None:
            return z @ W.T
        return (z.to(self.matmul_dtype) @ W.to(self.matmul_dtype).T).float()

    def _offset(self, section):
        """The logits' offset of each spot's section; none without sections given: the
        section-free decoder, the one augmentation and regulation read from the feature
        embeddings."""
        if section is None or not hasattr(self, "section_offset"):
            return 0.0
        return self.section_offset[section]

    def forward(self, z, log_size, section=None):
        logits = self._product(z, self.feature) + self._offset(section)
        log_mu = log_size[:, None] + F.log_softmax(logits, dim=1)
        if self.dispersion == "paper":
            # theta = exp(softmax(.)), eq. 7
            log_theta = F.softmax(self._product(z, self.disp), dim=1)
        else:
            log_theta = self.log_theta
        return log_mu, log_theta, self._product(z, self.dropout)


class ModalityVAE(nn.Module):
    def __init__(self, n_input, n_features, hidden, n_latent, dropout, dispersion, init="xavier",
                 spatial=None, k=6, n_sections=1):
        super().__init__()
        if spatial == "bilateral_train":
            self.encoder = BilateralEncoder(n_input, hidden, n_latent, dropout, init)
        elif spatial == "attention":
            self.encoder = AttentionEncoder(n_input, hidden, n_latent, dropout, init, k=k)
        elif spatial == "aggregate":
            self.encoder = AggregateEncoder(n_input, hidden, n_latent, dropout, init)
        else:  # None (the paper, and 'bilateral', which averages after the network) or
               # 'smooth' (a plain encoder and a smoothness term)
            self.encoder = Encoder(n_input, hidden, n_latent, dropout, init)
        self.decoder = FactorizedDecoder(n_features, n_latent, dispersion, n_sections)


def kl_normal(mean, log_var):
    """KL(N(mean, exp(log_var)) || N(0, I)), summed over dimensions, per row."""
    return -0.5 * torch.sum(1 + log_var - mean.pow(2) - log_var.exp(), dim=1)


def cosine_matrix(z):
    zn = F.normalize(z, dim=1)
    return zn @ zn.T


def ssa_loss(z_teacher, z_student):
    """Similarity-structure alignment: mean over spots of 1 - cos(S_teacher[i], S_student[i])."""
    return (1 - F.cosine_similarity(cosine_matrix(z_teacher), cosine_matrix(z_student), dim=1)).mean()


def regulatory_loss(gene_emb, peak_emb, gene_idx, peak_idx):
    """MSE of cos(gene, peak) against 1 over the known pairs only (no genes x peaks matrix)."""
    if gene_idx.numel() == 0:
        return gene_emb.new_zeros(())
    cos = F.cosine_similarity(gene_emb[gene_idx], peak_emb[peak_idx], dim=1)
    return (cos - 1).pow(2).mean()


@dataclass
class Batch:
    """One mini-batch: encoder inputs, log size factors, and the counts as non-zero entries."""

    x_rna: torch.Tensor
    x_atac: torch.Tensor
    log_size_rna: torch.Tensor
    log_size_atac: torch.Tensor
    rna_nz: tuple[torch.Tensor, torch.Tensor, torch.Tensor]
    atac_nz: tuple[torch.Tensor, torch.Tensor, torch.Tensor]
    # spatial mode: the neighbours' encoder inputs (B x k x F) and which slots are real (B x k)
    x_rna_nbr: torch.Tensor | None = None
    x_atac_nbr: torch.Tensor | None = None
    nbr_mask: torch.Tensor | None = None
    # several sections: each spot's section code (B)
    section: torch.Tensor | None = None

    def inputs(self, modality: str):
        return (getattr(self, f"x_{modality}"), getattr(self, f"x_{modality}_nbr"), self.nbr_mask)


class FactVAEModule(nn.Module):
    """RNA-VAE + ATAC-VAE. `joint_loss` is step 1 of a mini-batch, `ssa_step_loss` step 2."""

    def __init__(self, n_input_rna, n_genes, n_input_atac, n_peaks, *, n_latent=50,
                 rna_hidden=(512, 256), atac_hidden=(256,), dropout_rate=0.2,
                 dispersion="feature", encoder_init="xavier", spatial=None,
                 spatial_neighbors=6, n_sections=1):
        super().__init__()
        if spatial is not None and spatial not in SPATIAL_DESIGNS:
            raise ValueError(f"spatial design must be one of {SPATIAL_DESIGNS}, got {spatial!r}")
        self.spatial = spatial
        kw = dict(init=encoder_init, spatial=spatial, k=spatial_neighbors, n_sections=n_sections)
        self.rna = ModalityVAE(n_input_rna, n_genes, rna_hidden, n_latent, dropout_rate, dispersion,
                               **kw)
        self.atac = ModalityVAE(n_input_atac, n_peaks, atac_hidden, n_latent, dropout_rate,
                                dispersion, **kw)

    @staticmethod
    def _sample(mean, log_var):
        return mean + torch.randn_like(mean) * (0.5 * log_var).exp()

    def joint_loss(self, batch: Batch, pairs, weights) -> dict[str, torch.Tensor]:
        terms = {}
        smooth = batch.nbr_mask is not None and self.spatial == "smooth"
        for name, vae, log_size, nz in (
                ("rna", self.rna, batch.log_size_rna, batch.rna_nz),
                ("atac", self.atac, batch.log_size_atac, batch.atac_nz)):
            x, x_nbr, mask = batch.inputs(name)
            mean, log_var = vae.encoder(x, x_nbr, mask)
            if smooth:  # squared distance of each mean to its neighbours' mean
                B, k, F_in = x_nbr.shape
                mean_nbr = vae.encoder(x_nbr.reshape(B * k, F_in))[0].reshape(B, k, -1)
                has = mask.any(1)
                gap = (mean - masked_mean(mean_nbr, mask)).pow(2).sum(1)
                terms[f"smooth_{name}"] = (gap * has).sum() / has.sum().clamp_min(1)
            elif getattr(vae.encoder, "last_self_weight", None) is not None:
                terms[f"self_weight_{name}"] = vae.encoder.last_self_weight.mean()
            z = self._sample(mean, log_var)
            log_mu, log_theta, pi_logits = vae.decoder(z, log_size, batch.section)
            terms[f"nll_{name}"] = zinb_nll_sparse(
                *nz, log_mu, log_theta, pi_logits,
                theta_bounded=vae.decoder.dispersion == "paper").mean()  # softmax: in (0, 1)
            terms[f"kl_{name}"] = kl_normal(mean, log_var).mean()
        terms["reg"] = regulatory_loss(self.rna.decoder.feature, self.atac.decoder.feature, *pairs)
        total = (weights["nll_rna"] * terms["nll_rna"] + weights["kl_rna"] * terms["kl_rna"]
                 + weights["nll_atac"] * terms["nll_atac"] + weights["kl_atac"] * terms["kl_atac"])
        if weights["alpha"]:
            total = total + weights["alpha"] * terms["reg"].exp()
        if smooth:
            total = total + weights.get("smooth", 1.0) * (terms["smooth_rna"] + terms["smooth_atac"])
        terms["joint"] = total
        return terms

    @torch.no_grad()
    def heldout_loss(self, batch: Batch, weights) -> torch.Tensor:
        """The weighted reconstruction and KL terms of the joint loss, summed over the batch's
        spots, at the encoder means (no sampling: the same value every time; no prior term: it
        does not depend on the spots). What early stopping watches on held-out spots."""
        total = torch.zeros((), device=batch.x_rna.device)
        for name, vae, log_size, nz in (
                ("rna", self.rna, batch.log_size_rna, batch.rna_nz),
                ("atac", self.atac, batch.log_size_atac, batch.atac_nz)):
            mean, log_var = vae.encoder(*batch.inputs(name))
            log_mu, log_theta, pi_logits = vae.decoder(mean, log_size, batch.section)
            nll = zinb_nll_sparse(*nz, log_mu, log_theta, pi_logits,
                                  theta_bounded=vae.decoder.dispersion == "paper").sum()
            total = total + weights[f"nll_{name}"] * nll + weights[f"kl_{name}"] * kl_normal(
                mean, log_var).sum()
        return total

    def ssa_step_loss(self, batch: Batch, teacher_eval: bool = False, sampled: bool = True
                      ) -> torch.Tensor:
        """RNA is the teacher (no gradient); only the ATAC encoder learns from this loss.
        `sampled`: align reparameterised samples (the authors' code) rather than the means, so
        the ATAC log-variance head learns too. With `teacher_eval` the teacher runs without
        dropout (the structure it has at inference)."""
        with torch.no_grad():
            was_training = self.rna.encoder.training
            if teacher_eval:
                self.rna.encoder.eval()
            mean_r, log_var_r = self.rna.encoder(*batch.inputs("rna"))
            z_r = self._sample(mean_r, log_var_r) if sampled else mean_r
            self.rna.encoder.train(was_training)
        mean_a, log_var_a = self.atac.encoder(*batch.inputs("atac"))
        z_a = self._sample(mean_a, log_var_a) if sampled else mean_a
        return ssa_loss(z_r, z_a)
