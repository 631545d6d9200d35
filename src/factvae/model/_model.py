"""`FactVAE`: the user-facing model that owns a preprocessed MuData (scvi-tools style).

    model = FactVAE(mdata, epochs=300)          # after factvae.preprocess and the prior
    model.train()                              # or: for p in model.train_iter(): ...
    model.write_results()                      # embeddings and feature embeddings into mdata
    model.save("model.pt"); FactVAE.load("model.pt", mdata)

Keys written (a stable contract):
- `mod['rna'].obsm['X_factvae']` = z_r, `mod['atac'].obsm['X_factvae']` = z_a (means; in the
  spatial mode with each spot's spatial context); `mdata.obsm['X_factvae']` = concat(z_a, z_r);
- spatial mode: `mod[*].obsm['X_factvae_own']`, each spot's code alone (the paper's), and
  `mod[*].obs['factvae_self_weight']`, the share of its code each spot keeps for itself;
- `mod['rna'].varm['factvae_feature']`, `mod['atac'].varm['factvae_feature']`: gene and peak
  embeddings (NaN rows for features not modelled);
- `mod['atac'].obs['factvae_lse']`: log-sum-exp of z_a W_peak^T per spot, for augmentation;
- `mdata.uns['factvae']`: parameters, per-epoch loss history, timings, device, versions.
"""

from __future__ import annotations

import time
import warnings
from typing import Callable, Iterator

import numpy as np
import pandas as pd
import torch

from ..config import FactVAEConfig
from ..errors import FactVAEDataWarning, FactVAEInputError
from ..keys import (  # noqa: F401
    EMBEDDING_KEY,
    FEATURE_KEY,
    LSE_KEY,
    OWN_EMBEDDING_KEY,
    PREPROCESS_KEY,
    SELF_WEIGHT_KEY,
    UNS_KEY,
)
from ..pp._preprocess import LOG_SIZE_KEY
from ..pp._prior import g2p_matrix
from ..tl._graph import spatial_neighbor_index
from ..tl._sections import section_codes, section_key, section_names
from ._checkpoint import CHECKPOINT_FORMAT, CheckpointMixin  # noqa: F401  (0.1 name)
from ._data import TrainingData
from ._device import available_cpus, pick_device
from ._module import FactVAEModule
from ._results import ResultsMixin
from ._trainer import PROGRESS_INTERVAL, Progress, Trainer


def _require(mdata, mod: str, where: str, key: str):
    container = getattr(mdata.mod[mod], where)
    if key not in container:
        raise FactVAEInputError("is missing; the data has not been preprocessed.",
                                field=f"mod['{mod}'].{where}['{key}']",
                                fix="run factvae.preprocess(mdata) first (the CLI does this).")
    return container[key]


def resolve_spatial(config: FactVAEConfig, mdata) -> bool:
    """Whether the spatial mode is on: 'auto' follows the presence of coordinates."""
    SPATIAL_DESIGNS = FactVAEConfig.SPATIAL_DESIGNS
    has = "spatial" in mdata.obsm and np.asarray(mdata.obsm["spatial"]).shape[0] == mdata.n_obs
    if config.spatial_design not in SPATIAL_DESIGNS:
        raise FactVAEInputError(f"unknown spatial design {config.spatial_design!r}.",
                                field="spatial_design", fix=f"use one of {SPATIAL_DESIGNS}.")
    if config.spatial == "auto":
        return bool(has)
    if config.spatial not in (True, False):
        raise FactVAEInputError(f"spatial must be 'auto', True or False, got {config.spatial!r}.",
                                field="spatial", fix="use 'auto' (the default), True or False.")
    if config.spatial and not has:
        raise FactVAEInputError("the spatial mode needs spot coordinates, and there are none.",
                                field="obsm['spatial']",
                                fix="add spot coordinates, or train with spatial=False.")
    return bool(config.spatial)


def resolve_precision(config: FactVAEConfig, device: torch.device) -> str:
    """'auto' -> 'bfloat16' on a CPU with native bf16 matrix products, else 'float32'."""
    if config.precision != "auto":
        return config.precision
    if device.type == "cpu":
        try:
            if torch.ops.mkldnn._is_mkldnn_bf16_supported():
                return "bfloat16"
        except (AttributeError, RuntimeError):  # a torch without oneDNN
            pass
    return "float32"


def training_data(mdata, genes: pd.Index, peaks: pd.Index) -> TrainingData:
    rna, atac = mdata.mod["rna"], mdata.mod["atac"]
    x_rna = np.asarray(_require(mdata, "rna", "obsm", "X_pca"), dtype=np.float32)
    x_atac = np.asarray(_require(mdata, "atac", "obsm", "X_lsi"), dtype=np.float32)
    ls_rna = _require(mdata, "rna", "obs", LOG_SIZE_KEY).to_numpy(np.float32)
    ls_atac = _require(mdata, "atac", "obs", LOG_SIZE_KEY).to_numpy(np.float32)
    g2p = g2p_matrix(mdata, genes, peaks).tocoo()
    if g2p.nnz == 0 and "factvae_g2p" not in mdata.uns:
        warnings.warn("No gene-peak prior in mdata.uns['factvae_g2p']: the regulatory loss is off. "
                      "Run factvae.add_gene_peak_prior(mdata) first to use it.",
                      FactVAEDataWarning, stacklevel=3)
    counts_rna = rna.X[:, rna.var_names.get_indexer(genes)].tocsr()
    counts_rna.sort_indices()
    return TrainingData(x_rna, x_atac, counts_rna, atac.X.tocsr(), ls_rna, ls_atac,
                        g2p.row.astype(np.int64), g2p.col.astype(np.int64))


class FactVAE(ResultsMixin, CheckpointMixin):
    """FactVAE on one preprocessed MuData (modalities 'rna' and 'atac').

    Parameters are those of `FactVAEConfig` (the authors' defaults), given as keyword arguments
    or as `config`; `device` is 'auto' (CUDA, then MPS, then CPU), 'cpu', 'cuda' or 'mps';
    `n_threads` sets torch's CPU threads. The RNA decoder models the highly variable genes, the
    ATAC decoder every peak.

    Typical use, after `factvae.preprocess` and the prior (`factvae.add_gene_peak_prior`)::

        model = FactVAE(mdata, epochs=300)
        model.train()                  # or: for p in model.train_iter(): ...
        model.write_results()          # embeddings and feature embeddings into mdata
        model.save("model.pt"); FactVAE.load("model.pt", mdata)

    Parameters
    ----------
    mdata : MuData
        Preprocessed: `rna.obsm['X_pca']`, `atac.obsm['X_lsi']` and `obs['factvae_log_size']`
        in both modalities; the gene-peak prior in `uns['factvae_g2p']` (without it the
        regulatory loss is off, with a warning).
    config : FactVAEConfig, optional
        Default: `FactVAEConfig()`, updated with `params`.
    device : str, default 'auto'
        'auto' (CUDA, then MPS, then CPU), 'cpu', 'cuda', 'cuda:N' or 'mps'.
    n_threads : int, optional
        torch's CPU threads (at least 1); default: torch's own, but no more than the CPUs this
        process may use.
    **params
        Fields of `FactVAEConfig` to change (e.g. `epochs`, `n_latent`, `spatial`).

    Attributes
    ----------
    mdata : MuData
        The data the model trains on.
    config : FactVAEConfig
        The parameters, validated; `spatial` and `precision` resolved ('auto' decided).
    genes : pandas.Index
        The genes modelled: the highly variable ones (every gene when `rna.var` has no
        'highly_variable').
    peaks : pandas.Index
        The peaks modelled: every peak.
    device : torch.device
        Where the model trains.
    n_threads : int
        torch's CPU threads.

    Raises
    ------
    FactVAEInputError
        If a parameter is out of range, `n_threads` is below 1, the device is unknown or
        unavailable, the spatial mode is asked for without spot coordinates, or the data is
        not preprocessed.
    TypeError
        For a keyword that is not a field of `FactVAEConfig`.

    Warns
    -----
    FactVAEDataWarning
        When there is no gene-peak prior (the regulatory loss is off).

    Notes
    -----
    `write_results` sets (a stable contract): `mod['rna'].obsm['X_factvae']` = z_r and
    `mod['atac'].obsm['X_factvae']` = z_a (means; in the spatial mode with each spot's spatial
    context), `mdata.obsm['X_factvae']` = the joint code (`joint`: 'weighted', each spot's
    unit-length codes weighed by `obs['factvae_rna_weight']`, or 'concat', the paper's
    concat(z_a, z_r)); in the spatial mode
    `mod[*].obsm['X_factvae_own']` (each spot's code alone, the paper's) and
    `mod[*].obs['factvae_self_weight']` (the share of its code each spot keeps for itself, for
    the designs that have one); `mod['rna'].varm['factvae_feature']` and
    `mod['atac'].varm['factvae_feature']` (gene and peak embeddings; NaN rows for features not
    modelled); `mod['atac'].obs['factvae_lse']` (log-sum-exp of z_a W_peak^T per spot, for
    augmentation); `mdata.uns['factvae']` (parameters, per-epoch loss history, timings,
    device, versions).
    """

    def __init__(self, mdata, config: FactVAEConfig | None = None, *, device: str = "auto",
                 n_threads: int | None = None, **params):
        self.mdata = mdata
        self.config = (config or FactVAEConfig()).updated(**params).validate()
        if n_threads is not None and int(n_threads) < 1:
            raise FactVAEInputError(f"the number of threads must be at least 1, got {n_threads}.",
                                    field="threads", fix="leave it out to use every available CPU.")
        # threads: what was asked, else no more than the CPUs this process may use (torch's
        # default counts every core of the machine, even under a container's CPU quota)
        if n_threads:
            torch.set_num_threads(int(n_threads))
        elif torch.get_num_threads() > available_cpus():
            torch.set_num_threads(available_cpus())
        self.n_threads = torch.get_num_threads()
        self.device = pick_device(device)
        rna = mdata.mod["rna"]
        hvg = rna.var["highly_variable"].to_numpy(bool) if "highly_variable" in rna.var else \
            np.ones(rna.n_vars, bool)
        self.genes = rna.var_names[hvg]
        self.peaks = mdata.mod["atac"].var_names.copy()
        sections = section_names(mdata, self.config.batch_key)
        if self.config.sections and list(self.config.sections) != sections:
            raise FactVAEInputError(
                f"the model was built for the sections {list(self.config.sections)}, the data "
                f"has {sections or 'one section'}.", field=f"obs['{self.config.batch_key}']",
                fix="load the model with the data it was trained on, or train a new model.")
        self.config = self.config.updated(spatial=resolve_spatial(self.config, mdata),
                                          precision=resolve_precision(self.config, self.device),
                                          sections=tuple(sections),
                                          batch_key=section_key(mdata, self.config.batch_key))
        torch.manual_seed(self.config.seed)
        data = training_data(mdata, self.genes, self.peaks)
        data.sections = section_codes(mdata, self.config.batch_key)
        c = self.config
        # spatial neighbours: seen by the encoders in training (trained designs) or only when
        # the codes are read out ('bilateral')
        self.neighbors = spatial_neighbor_index(np.asarray(mdata.obsm["spatial"]),
                                                c.spatial_neighbors, groups=data.sections
                                                ) if c.spatial else None
        trained_design = c.spatial and c.spatial_design in c.TRAINED_SPATIAL_DESIGNS
        if trained_design:
            data.neighbors = self.neighbors
        self.module = FactVAEModule(data.x_rna.shape[1], len(self.genes), data.x_atac.shape[1],
                                    len(self.peaks), n_latent=c.n_latent, rna_hidden=c.rna_hidden,
                                    atac_hidden=c.atac_hidden, dropout_rate=c.dropout_rate,
                                    dispersion=c.dispersion, encoder_init=c.encoder_init,
                                    spatial=c.spatial_design if trained_design else None,
                                    spatial_neighbors=c.spatial_neighbors,
                                    n_sections=max(len(c.sections), 1) if c.section_offsets else 1)
        dtype = torch.bfloat16 if c.precision == "bfloat16" else None
        self.module.rna.decoder.matmul_dtype = self.module.atac.decoder.matmul_dtype = dtype
        self.trainer = Trainer(self.module, data, c, self.device)
        self.cancelled = False
        self.train_seconds = 0.0

    # --- training ----------------------------------------------------------------------
    @property
    def epochs_done(self) -> int:
        return self.trainer.epoch

    @property
    def stopped_early(self) -> bool:
        """Training ended by the stopping rule (see FactVAEConfig.early_stopping)."""
        return self.trainer.stopped_early

    @property
    def history(self) -> pd.DataFrame:
        return pd.DataFrame(self.trainer.history)

    def train_iter(self, epochs: int | None = None, *, cancel: Callable[[], bool] | None = None,
                   progress_interval: float = PROGRESS_INTERVAL) -> Iterator[Progress]:
        """Train, as a generator of Progress events.

        Train to `epochs` in total (default: config.epochs), yielding a Progress at most every
        `progress_interval` seconds within an epoch (0: after every mini-batch) and after every
        epoch. `cancel()` is checked before each mini-batch; when it returns True the model goes
        back to its last finished epoch and the generator ends.

        Training resumes from the epochs already done and stops early when the stopping rule
        says so (`FactVAEConfig.early_stopping`).

        Parameters
        ----------
        epochs : int, optional
            The total number of epochs to reach; default: `config.epochs`.
        cancel : callable, optional
            `cancel() -> bool`, checked before each mini-batch.
        progress_interval : float, default 0.25
            Seconds between events within an epoch (0: after every mini-batch).

        Yields
        ------
        Progress
            epoch, n_epochs, step, n_steps, losses (the mean of each loss term since the last
            event, or over the epoch when `epoch_done`), elapsed, epoch_done, stopped_early.

        Raises
        ------
        TrainingDiverged
            A FactVAEInputError: a loss became NaN or infinite (with `cancel` given, the model
            is first set back to its last finished epoch).
        """
        epochs = self.config.epochs if epochs is None else int(epochs)
        t0 = time.perf_counter()
        try:
            yield from self.trainer.run(epochs, cancel, progress_interval=progress_interval)
        finally:
            self.cancelled = self.trainer.cancelled
            self.train_seconds += time.perf_counter() - t0

    def train(self, epochs: int | None = None, *, callback: Callable[[Progress], None] | None = None,
              cancel: Callable[[], bool] | None = None, progress_bar: bool = False,
              progress_interval: float = PROGRESS_INTERVAL) -> "FactVAE":
        """Train (see train_iter); `callback(progress)` gets every event; returns self.

        Parameters
        ----------
        epochs : int, optional
            The total number of epochs to reach; default: `config.epochs`.
        callback : callable, optional
            `callback(progress)` for every Progress event.
        cancel : callable, optional
            `cancel() -> bool`, checked before each mini-batch (see `train_iter`).
        progress_bar : bool, default False
            Show a terminal progress bar over the epochs.
        progress_interval : float, default 0.25
            Seconds between events within an epoch (0: after every mini-batch).

        Returns
        -------
        FactVAE
            self. The results are not stored: call `write_results`.

        Raises
        ------
        TrainingDiverged
            A FactVAEInputError: a loss became NaN or infinite.
        """
        bar = self.progress_bar(epochs) if progress_bar else None
        try:
            for p in self.train_iter(epochs, cancel=cancel, progress_interval=progress_interval):
                if callback is not None:
                    callback(p)
                if bar is not None:
                    bar.show(p)
        finally:
            if bar is not None:
                bar.close()
        return self

    def progress_bar(self, epochs: int | None = None) -> "EpochBar":
        """A terminal progress bar over the epochs still to train (`bar.show(progress)`).

        Parameters
        ----------
        epochs : int, optional
            The total to reach; default: `config.epochs`.

        Returns
        -------
        EpochBar
            tqdm over the epochs left; `show(progress)` after each event, `close()` at the end.
        """
        total = (self.config.epochs if epochs is None else epochs) - self.epochs_done
        return EpochBar(total)


class EpochBar:
    """tqdm over epochs, with whichever loss terms the module returns (the joint one as 'loss')."""

    SHOWN = ("joint", "reg", "ssa", "smooth")

    def __init__(self, total: int):
        from tqdm.auto import tqdm

        self.bar = tqdm(total=max(total, 0), unit="epoch", desc="training", dynamic_ncols=True,
                        mininterval=1.0)

    def show(self, p: Progress) -> None:
        if p.epoch_done:
            self.bar.update(1)
            self.bar.set_postfix({("loss" if k == "joint" else k): f"{v:.3g}"
                                  for k, v in p.losses.items() if k in self.SHOWN})

    def close(self) -> None:
        self.bar.close()


def train(mdata, *, epochs: int | None = None, device: str = "auto", n_threads: int | None = None,
          callback=None, cancel=None, progress_bar: bool = False, **params) -> FactVAE:
    """Fit FactVAE on a preprocessed MuData and write its results into it; returns the model.

    `FactVAE(mdata, ...)`, then `train`, then `write_results`.

    Parameters
    ----------
    mdata : MuData
        Preprocessed (`factvae.preprocess`), with the gene-peak prior
        (`factvae.add_gene_peak_prior`); changed in place.
    epochs : int, optional
        Epochs to train; default: `FactVAEConfig.epochs` (300).
    device : str, default 'auto'
        'auto' (CUDA, then MPS, then CPU), 'cpu', 'cuda' or 'mps'.
    n_threads : int, optional
        torch's CPU threads; default: no more than the CPUs this process may use.
    callback : callable, optional
        `callback(progress)` for every Progress event.
    cancel : callable, optional
        `cancel() -> bool`, checked before each mini-batch; True stops training at the last
        finished epoch (the results of that epoch are written).
    progress_bar : bool, default False
        Show a terminal progress bar.
    **params
        Fields of `FactVAEConfig` (the authors' defaults otherwise).

    Returns
    -------
    FactVAE
        The trained model.

    Raises
    ------
    FactVAEInputError
        As `FactVAE` (bad parameters, data not preprocessed, ...) and `FactVAE.train_iter`
        (`TrainingDiverged`).

    Notes
    -----
    Sets the keys of `FactVAE.write_results`: `mdata.obsm['X_factvae']`,
    `mod[*].obsm['X_factvae']`, `mod[*].varm['factvae_feature']`,
    `mod['atac'].obs['factvae_lse']`, `mdata.uns['factvae']` and, in the spatial mode,
    `mod[*].obsm['X_factvae_own']` and `mod[*].obs['factvae_self_weight']`.
    """
    model = FactVAE(mdata, device=device, n_threads=n_threads, **params)
    model.train(epochs, callback=callback, cancel=cancel, progress_bar=progress_bar)
    model.write_results()
    return model
