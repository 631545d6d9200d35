"""Every FactVAE hyper-parameter, with the authors' defaults (docs/method.md)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields


@dataclass
class FactVAEConfig:
    """FactVAE parameters.

    n_latent: embedding size d of spots and features (50).
    rna_hidden, atac_hidden: encoder widths ((512, 256) and (256,)).
    dropout_rate: encoder dropout (0.2).
    dispersion: 'paper' (theta = exp(softmax(z Wd^T)), eq. 7 of the paper; the default) or
        'feature' (one learned theta per gene/peak), which did not measure better on
        snare_cellline (docs/benchmarks.md).
    w_nll_rna, w_kl_rna, w_nll_atac, w_kl_atac: loss weights (0.1, 0.001, 0.002, 0.001).
    alpha: weight of exp(L_reg), the gene-peak prior term (1.0; 0 switches it off).
    ssa: run the similarity-structure-alignment step after each joint step (True).
    ssa_teacher_eval: run the RNA teacher without dropout in the SSA step (False: as in training).
    ssa_sampled: align the SAMPLED codes (mean + noise * std) in the SSA step, as the authors'
        code does, so the ATAC log-variance head also learns from SSA (True); False aligns the
        means (this package before 2026-11).
    encoder_init: 'xavier' (Xavier-normal weights, zero biases: the authors' `xavier_init`) or
        'torch' (PyTorch's default Linear initialisation; this package before 2026-11).
    lr, lr_ssa: Adam learning rates of the joint and SSA steps (1e-3, 5e-4).
    gamma: exponential learning-rate decay per epoch, both optimisers (0.995).
    batch_size: spots per mini-batch (128); the last incomplete batch is dropped.
    epochs: training epochs (300).
    seed: seeds torch and the batch order (0).
    spatial: 'auto' (on when the spots have coordinates; the default), True or False (False is
        the paper's model, which ignores space).
    spatial_design: how spatial context enters the model (docs/benchmarks.md compares them):
        'bilateral' (the default): each spot's code is the mean of its own posterior mean and
        its spatial neighbours', each neighbour weighted by how alike their codes are
        (exp(-d^2 / median d^2)), per modality; the networks train as the paper's.
        'bilateral_train': the same averaging inside the encoders during training too.
        'attention': each spot attends to itself and its neighbours with learned weights.
        'aggregate': the neighbours' mean input beside the spot's own.
        'smooth': plain encoders, plus w_smooth times the squared distance of each spot's code
        to its neighbours' mean code.
    spatial_neighbors: neighbours per spot (8: the 8 around a square-grid spot, the 6 around a
        hexagonal one), within 1.5 x the median nearest-spot distance.
    w_smooth: weight of the smoothness term of the 'smooth' design (1.0).
    """

    n_latent: int = 50
    rna_hidden: tuple[int, ...] = (512, 256)
    atac_hidden: tuple[int, ...] = (256,)
    dropout_rate: float = 0.2
    dispersion: str = "paper"
    w_nll_rna: float = 0.1
    w_kl_rna: float = 0.001
    w_nll_atac: float = 0.002
    w_kl_atac: float = 0.001
    alpha: float = 1.0
    ssa: bool = True
    ssa_teacher_eval: bool = False
    ssa_sampled: bool = True
    encoder_init: str = "xavier"
    lr: float = 1e-3
    lr_ssa: float = 5e-4
    gamma: float = 0.995
    batch_size: int = 128
    epochs: int = 300
    seed: int = 0
    spatial: bool | str = "auto"
    spatial_design: str = "bilateral"
    spatial_neighbors: int = 8
    w_smooth: float = 1.0

    # parameters that change the network's shape: a checkpoint must agree on these
    ARCHITECTURE = ("n_latent", "rna_hidden", "atac_hidden", "dispersion", "spatial",
                    "spatial_design", "spatial_neighbors")
    ENCODER_INITS = ("xavier", "torch")
    SPATIAL_DESIGNS = ("bilateral", "bilateral_train", "attention", "aggregate", "smooth")
    TRAINED_SPATIAL_DESIGNS = ("bilateral_train", "attention", "aggregate", "smooth")

    def validate(self) -> "FactVAEConfig":
        """One clear error for the first parameter out of its range; returns self."""
        import math

        from .errors import FactVAEInputError

        def bad(name, value, need, fix):
            raise FactVAEInputError(f"{name} = {value!r} is out of range: it must be {need}.",
                                    field=name, fix=fix)

        for name in ("n_latent", "batch_size", "spatial_neighbors"):
            v = getattr(self, name)
            if not isinstance(v, (int,)) or isinstance(v, bool) or v < 1:
                bad(name, v, "a whole number of at least 1", f"use e.g. {getattr(FactVAEConfig, name)}.")
        if not isinstance(self.epochs, int) or self.epochs < 0:
            bad("epochs", self.epochs, "a whole number of at least 0", "use e.g. 300.")
        for name in ("lr", "lr_ssa"):
            v = getattr(self, name)
            if not (isinstance(v, (int, float)) and math.isfinite(v) and 0 < v <= 1):
                bad(name, v, "a finite number in (0, 1]", f"use e.g. {getattr(FactVAEConfig, name)}.")
        for name in ("alpha", "w_nll_rna", "w_kl_rna", "w_nll_atac", "w_kl_atac", "w_smooth",
                     "dropout_rate"):
            v = getattr(self, name)
            if not (isinstance(v, (int, float)) and math.isfinite(v) and v >= 0):
                bad(name, v, "a finite number of at least 0", f"use e.g. {getattr(FactVAEConfig, name)}.")
        if self.dropout_rate >= 1:
            bad("dropout_rate", self.dropout_rate, "below 1", "use e.g. 0.2.")
        if not (math.isfinite(self.gamma) and 0 < self.gamma <= 1):
            bad("gamma", self.gamma, "in (0, 1]", "use e.g. 0.995.")
        if self.dispersion not in ("paper", "feature"):
            bad("dispersion", self.dispersion, "'paper' or 'feature'", "use 'paper'.")
        if self.encoder_init not in self.ENCODER_INITS:
            bad("encoder_init", self.encoder_init, f"one of {self.ENCODER_INITS}", "use 'xavier'.")
        return self

    def as_dict(self) -> dict:
        d = asdict(self)
        d["rna_hidden"] = list(self.rna_hidden)
        d["atac_hidden"] = list(self.atac_hidden)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "FactVAEConfig":
        names = {f.name for f in fields(cls)}
        kw = {k: v for k, v in d.items() if k in names}
        for k in ("rna_hidden", "atac_hidden"):
            if k in kw:
                kw[k] = tuple(int(v) for v in kw[k])
        return cls(**kw)

    def updated(self, **overrides) -> "FactVAEConfig":
        unknown = set(overrides) - {f.name for f in fields(self)}
        if unknown:
            raise TypeError(f"unknown FactVAE parameter(s): {sorted(unknown)}")
        return FactVAEConfig.from_dict({**self.as_dict(), **overrides})
