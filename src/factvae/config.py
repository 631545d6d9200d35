"""Every FactVAE hyper-parameter, with the authors' defaults (docs/method.md)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

from ._options import Option, declared_options, option


_option = option  # the model's parameters are declared as the tools' are


# the stopping rule (docs/benchmarks.md 4d): the held-out ELBO must fall by more than MIN_DELTA of
# itself within PATIENCE epochs, and no run stops before MIN_EPOCHS
PATIENCE = 10
MIN_DELTA = 5e-3
MIN_EPOCHS = 20
MIN_VALIDATION_SPOTS = 20  # fewer held-out spots than this: no early stopping (too noisy)


@dataclass
class FactVAEConfig:
    """FactVAE parameters, with the authors' defaults (docs/method.md).

    The user-facing ones carry their CLI flag, Train-widget label, range and help
    (`FactVAEConfig.options`). `validate()` raises one FactVAEInputError for the first
    parameter out of its range; `updated(**overrides)` returns a changed copy.

    Parameters
    ----------
    n_latent : int, default 50
        Embedding size d of spots and features.
    rna_hidden : tuple of int, default (512, 256)
        RNA encoder widths.
    atac_hidden : tuple of int, default (256,)
        ATAC encoder widths.
    dropout_rate : float, default 0.2
        Encoder dropout.
    dispersion : str, default 'paper'
        'paper' (theta = exp(softmax(z Wd^T)), eq. 7 of the paper; the default) or
        'feature' (one learned theta per gene/peak), which did not measure better on
        snare_cellline (docs/benchmarks.md).
    w_nll_rna : float, default 0.1
        Loss weight of the RNA reconstruction.
    w_kl_rna : float, default 0.001
        Loss weight of the RNA KL term.
    w_nll_atac : float, default 0.002
        Loss weight of the ATAC reconstruction.
    w_kl_atac : float, default 0.001
        Loss weight of the ATAC KL term.
    alpha : float, default 1.0
        Weight of exp(L_reg), the gene-peak prior term (0 switches it off).
    ssa : bool, default True
        Run the similarity-structure-alignment step after each joint step.
    ssa_teacher_eval : bool, default False
        Run the RNA teacher without dropout in the SSA step (False: as in training).
    ssa_sampled : bool, default True
        Align the SAMPLED codes (mean + noise * std) in the SSA step, as the authors' code
        does, so the ATAC log-variance head also learns from SSA; False aligns the means (this
        package before 2026-11).
    encoder_init : str, default 'xavier'
        'xavier' (Xavier-normal weights, zero biases: the authors' `xavier_init`) or 'torch'
        (PyTorch's default Linear initialisation; this package before 2026-11).
    lr : float, default 1e-3
        Adam learning rate of the joint step.
    lr_ssa : float, default 5e-4
        Adam learning rate of the SSA step.
    gamma : float, default 0.995
        Exponential learning-rate decay per epoch, both optimisers.
    batch_size : int, default 128
        Spots per mini-batch; the last incomplete batch is dropped.
    epochs : int, default 300
        Training epochs; with early stopping the most it trains.
    early_stopping : bool, default True
        Hold out `validation_fraction` of the spots and stop once their ELBO (the weighted
        reconstruction and KL terms, encoder means, no dropout) has not fallen by more than
        `min_delta` of itself in `patience` epochs, never before `min_epochs`; False trains
        every spot for every epoch, as the paper.
    validation_fraction : float, default 0.05
        The share of spots held out for early stopping (in (0, 0.5)); fewer than 20 held-out
        spots: no early stopping (too noisy).
    patience : int, default 10
        Epochs without improvement of the held-out ELBO before stopping.
    min_delta : float, default 0.005
        The fall, as a share of the held-out ELBO, that counts as an improvement.
    min_epochs : int, default 20
        No run stops early before this many epochs.
    seed : int, default 0
        Seeds torch and the batch order.
    spatial : {'auto', True, False}, default 'auto'
        'auto' (on when the spots have coordinates; the default), True or False (False is
        the paper's model, which ignores space).
    spatial_design : str, default 'bilateral'
        How spatial context enters the model (docs/benchmarks.md compares them):
        'bilateral' (the default): each spot's code is the mean of its own posterior mean and
        its spatial neighbours', each neighbour weighted by how alike their codes are
        (exp(-d^2 / median d^2)), per modality; the networks train as the paper's.
        'bilateral_train': the same averaging inside the encoders during training too.
        'attention': each spot attends to itself and its neighbours with learned weights.
        'aggregate': the neighbours' mean input beside the spot's own.
        'smooth': plain encoders, plus w_smooth times the squared distance of each spot's code
        to its neighbours' mean code.
    spatial_neighbors : int, default 8
        Neighbours per spot (8: the 8 around a square-grid spot, the 6 around a hexagonal
        one), within 1.5 x the median nearest-spot distance.
    w_smooth : float, default 1.0
        Weight of the smoothness term of the 'smooth' design.
    batch_key : str, optional
        The obs column naming each spot's tissue section; default `obs['sample']` when it
        names several sections. Each section gets a learned offset per gene and per peak in the
        decoders' logits (the covariate of scVI / MultiVI, for a factorized decoder), so the
        codes need not carry the section; spatial neighbours never cross sections. With one
        section there is no offset and the model is exactly the one-section model.
    sections : tuple of str
        Resolved from the data when the model is built: the sections' names (empty for one).
    section_offsets : bool, default True
        False keeps the sections' own spatial neighbourhoods but gives the decoders no section
        offsets (the benchmarks' model "without the covariate").
    joint : str, default 'weighted'
        The joint code `obsm['X_factvae']`: 'weighted' (each spot's RNA and ATAC codes
        weighed by weighted nearest neighbours, `factvae.tl.joint_code`) or 'concat' (the
        paper's [z_atac, z_rna]).
    precision : str, default 'auto'
        'auto', 'float32' or 'bfloat16': the format of the three spots x features products of
        each decoder (the rest of the model, the likelihood and the optimiser stay float32).
        'auto' is bfloat16 on a CPU whose oneDNN has native bf16 (AVX512-BF16 or AMX), which
        halves those products' time with the same domains (docs/benchmarks.md 4d), and
        float32 elsewhere (GPUs: not measured).
    """

    n_latent: int = _option(50, "embedding size d of spots and features", flag="--latent",
                            label="Latent size d", minimum=2, maximum=512)
    rna_hidden: tuple[int, ...] = (512, 256)
    atac_hidden: tuple[int, ...] = (256,)
    dropout_rate: float = _option(0.2, "encoder dropout", flag="--dropout", minimum=0.0,
                                  maximum=0.95, step=0.05, gui=False)
    dispersion: str = _option("paper", "dispersion form: 'paper' (eq. 7) or 'feature' (one "
                              "theta per gene/peak)", flag="--dispersion", label="Dispersion",
                              choices=("paper", "feature"))
    w_nll_rna: float = 0.1
    w_kl_rna: float = 0.001
    w_nll_atac: float = 0.002
    w_kl_atac: float = 0.001
    alpha: float = _option(1.0, "weight of the gene-peak prior term (0: off)", flag="--alpha",
                           label="Prior weight alpha", minimum=0.0, maximum=100.0, step=0.1)
    ssa: bool = _option(True, "the similarity-structure alignment step (--no-ssa skips it)",
                        flag="--ssa", label="SSA step")
    ssa_teacher_eval: bool = False
    ssa_sampled: bool = True
    encoder_init: str = "xavier"
    lr: float = _option(1e-3, "learning rate of the joint step", flag="--lr",
                        label="Learning rate", minimum=1e-6, maximum=1.0, step=1e-4)
    lr_ssa: float = _option(5e-4, "learning rate of the SSA step", flag="--lr-ssa",
                            minimum=1e-6, maximum=1.0, step=1e-4, gui=False)
    gamma: float = _option(0.995, "learning-rate decay per epoch", flag="--gamma",
                           minimum=0.5, maximum=1.0, step=0.001, gui=False)
    batch_size: int = _option(128, "spots per mini-batch", flag="--batch-size",
                              label="Batch size", minimum=2, maximum=100_000)
    epochs: int = _option(300, "training epochs (with --resume: the total)", flag="--epochs",
                          label="Epochs", minimum=1, maximum=100_000, run_level=True)
    early_stopping: bool = _option(True, "stop when the ELBO of held-out spots stops improving "
                                   "(--no-early-stop: every epoch, as the paper)",
                                   flag="--early-stop", label="Early stopping", run_level=True)
    validation_fraction: float = 0.05
    patience: int = _option(PATIENCE, "epochs without improvement of the held-out ELBO before "
                            "stopping", flag="--patience", label="Patience", minimum=1,
                            maximum=10_000, run_level=True, gui=False)
    min_delta: float = MIN_DELTA
    min_epochs: int = MIN_EPOCHS
    seed: int = _option(0, "seeds preprocessing, training and the domain search", flag="--seed",
                        label="Seed", minimum=0, maximum=2 ** 31 - 1, run_level=True)
    spatial: bool | str = _option("auto", "spatial context: auto (on when the spots have "
                                  "coordinates), on, or off (the paper's model)",
                                  flag="--spatial", label="Spatial context",
                                  choices={"auto": "auto", "on": True, "off": False},
                                  gui_choices={"auto": "auto", "on": True, "off (paper)": False})
    spatial_design: str = _option("bilateral", "how spatial context enters the model "
                                  "(bilateral: each spot's code averaged with its look-alike "
                                  "neighbours'; docs/method.md)", flag="--spatial-design",
                                  label="Spatial design",
                                  choices=("bilateral", "bilateral_train", "attention",
                                           "aggregate", "smooth"))
    spatial_neighbors: int = _option(8, "spatial neighbours per spot", flag="--spatial-neighbors",
                                     label="Spatial neighbours", minimum=1, maximum=64,
                                     metavar="K")
    w_smooth: float = 1.0
    batch_key: str | None = _option(None, "obs column naming each spot's tissue section (default: "
                                    "obs['sample'] when it names several); the section enters "
                                    "the decoders as a covariate", flag="--batch-key",
                                    metavar="COLUMN", gui=False)
    sections: tuple[str, ...] = ()      # resolved from the data: the sections' names, in order
    section_offsets: bool = True        # False: sections without their decoder offsets (ablation)
    joint: str = _option("weighted", "joint code of the two modalities: weighted (per-spot "
                         "modality weights, weighted nearest neighbours) or concat (the paper's "
                         "concatenation)", flag="--joint", label="Joint code",
                         choices=("weighted", "concat"))
    precision: str = _option("auto", "number format of the decoders' spots x features products: "
                             "auto (bfloat16 on a CPU with native bf16 instructions, else "
                             "float32), float32 or bfloat16", flag="--precision",
                             label="Decoder precision", choices=("auto", "float32", "bfloat16"),
                             run_level=True, gui=False)

    # parameters that change the network's shape: a checkpoint must agree on these
    ARCHITECTURE = ("n_latent", "rna_hidden", "atac_hidden", "dispersion", "spatial",
                    "spatial_design", "spatial_neighbors", "sections",
                    "section_offsets")
    ENCODER_INITS = ("xavier", "torch")
    SPATIAL_DESIGNS = ("bilateral", "bilateral_train", "attention", "aggregate", "smooth")
    TRAINED_SPATIAL_DESIGNS = ("bilateral_train", "attention", "aggregate", "smooth")

    @classmethod
    def options(cls, where: str = "cli") -> list[Option]:
        """The parameters a user sets, in declaration order: all with a CLI flag (`where='cli'`)
        or those the Train widget shows (`'gui'`)."""
        return declared_options(cls, where)

    def validate(self) -> "FactVAEConfig":
        """One clear error for the first parameter out of its range; returns self.

        Returns
        -------
        FactVAEConfig
            self.

        Raises
        ------
        FactVAEInputError
            For the first parameter out of its range, naming it and a value to use.
        """
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
        if not (isinstance(self.validation_fraction, (int, float)) and
                0 < self.validation_fraction < 0.5):
            bad("validation_fraction", self.validation_fraction, "in (0, 0.5)", "use e.g. 0.05.")
        for name in ("patience", "min_epochs"):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or v < (1 if name == "patience" else 0):
                bad(name, v, "a whole number of at least 1", f"use e.g. {getattr(FactVAEConfig, name)}.")
        if not (isinstance(self.min_delta, (int, float)) and math.isfinite(self.min_delta)
                and self.min_delta >= 0):
            bad("min_delta", self.min_delta, "a finite number of at least 0", "use e.g. 0.005.")
        if self.precision not in ("auto", "float32", "bfloat16"):
            bad("precision", self.precision, "'auto', 'float32' or 'bfloat16'", "use 'auto'.")
        if self.dispersion not in ("paper", "feature"):
            bad("dispersion", self.dispersion, "'paper' or 'feature'", "use 'paper'.")
        if self.encoder_init not in self.ENCODER_INITS:
            bad("encoder_init", self.encoder_init, f"one of {self.ENCODER_INITS}", "use 'xavier'.")
        return self

    def as_dict(self) -> dict:
        d = asdict(self)
        d["rna_hidden"] = list(self.rna_hidden)
        d["atac_hidden"] = list(self.atac_hidden)
        d["sections"] = list(self.sections)
        d["batch_key"] = self.batch_key or ""  # h5ad cannot store None
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "FactVAEConfig":
        names = {f.name for f in fields(cls)}
        kw = {k: v for k, v in d.items() if k in names}
        for k in ("rna_hidden", "atac_hidden"):
            if k in kw:
                kw[k] = tuple(int(v) for v in kw[k])
        if "sections" in kw:
            kw["sections"] = tuple(str(v) for v in kw["sections"])
        if "batch_key" in kw:
            kw["batch_key"] = kw["batch_key"] or None
        return cls(**kw)

    def updated(self, **overrides) -> "FactVAEConfig":
        unknown = set(overrides) - {f.name for f in fields(self)}
        if unknown:
            raise TypeError(f"unknown FactVAE parameter(s): {sorted(unknown)}")
        return FactVAEConfig.from_dict({**self.as_dict(), **overrides})
