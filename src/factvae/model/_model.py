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

import io
import os
import platform
import time
import warnings
from pathlib import Path
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
from ._data import TrainingData
from ._device import available_cpus, pick_device
from ._module import FactVAEModule
from ._trainer import PROGRESS_INTERVAL, Progress, Trainer

CHECKPOINT_FORMAT = 1


def _versions() -> dict:
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version()}
    for pkg in ("napari-factvae", "torch", "numpy", "scipy", "anndata", "mudata", "scanpy"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:  # pragma: no cover - running from a source tree
            out[pkg] = "unknown"
    return out


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


class FactVAE:
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
    context), `mdata.obsm['X_factvae']` = concat(z_a, z_r); in the spatial mode
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
        self.config = self.config.updated(spatial=resolve_spatial(self.config, mdata),
                                          precision=resolve_precision(self.config, self.device))
        torch.manual_seed(self.config.seed)
        data = training_data(mdata, self.genes, self.peaks)
        c = self.config
        # spatial neighbours: seen by the encoders in training (trained designs) or only when
        # the codes are read out ('bilateral')
        self.neighbors = spatial_neighbor_index(np.asarray(mdata.obsm["spatial"]),
                                                c.spatial_neighbors) if c.spatial else None
        trained_design = c.spatial and c.spatial_design in c.TRAINED_SPATIAL_DESIGNS
        if trained_design:
            data.neighbors = self.neighbors
        self.module = FactVAEModule(data.x_rna.shape[1], len(self.genes), data.x_atac.shape[1],
                                    len(self.peaks), n_latent=c.n_latent, rna_hidden=c.rna_hidden,
                                    atac_hidden=c.atac_hidden, dropout_rate=c.dropout_rate,
                                    dispersion=c.dispersion, encoder_init=c.encoder_init,
                                    spatial=c.spatial_design if trained_design else None,
                                    spatial_neighbors=c.spatial_neighbors)
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

    # --- results -----------------------------------------------------------------------
    @torch.no_grad()
    def latent(self, modality: str, batch_size: int = 4096, *, self_weight: bool = False,
               spatial: bool | None = None) -> np.ndarray:
        """The spots' codes from one modality's encoder (or their self weights).

        Posterior means (spots x d) of one modality's encoder; in the spatial mode, with the
        spatial context (`spatial=False`: each spot's own code, as the paper's model gives).
        `self_weight`: instead, the share of its code each spot keeps for itself ('bilateral'
        and 'attention' designs; 1 = it ignores its neighbours).

        Parameters
        ----------
        modality : str
            'rna' or 'atac'.
        batch_size : int, default 4096
            Spots per encoder pass.
        self_weight : bool, default False
            Return each spot's self weight instead of the codes (all 1 for designs without
            one).
        spatial : bool, optional
            Use the spatial context; default: when the model is in the spatial mode (it never
            is without it).

        Returns
        -------
        numpy.ndarray
            spots x d posterior means, or (`self_weight`) one weight per spot.
        """
        vae = getattr(self.module, modality)
        source = self.trainer.inputs
        spatial = self.config.spatial if spatial is None else (spatial and self.config.spatial)
        self.module.eval()
        out, weights = [], []
        n = source.x_rna.shape[0]
        x = getattr(source, f"x_{modality}")
        for s in range(0, n, batch_size):
            t = torch.arange(s, min(s + batch_size, n), device=self.device)
            nbr = source.neighbor_inputs(t) if spatial else {}
            mean, _ = vae.encoder(x[t], nbr.get(f"x_{modality}_nbr"), nbr.get("nbr_mask"))
            out.append(mean)
            if self_weight and getattr(vae.encoder, "last_self_weight", None) is not None:
                weights.append(vae.encoder.last_self_weight)
        Z = torch.cat(out)
        if spatial and self.config.spatial_design == "bilateral":
            from ..tl._graph import bilateral_mean

            Z, kept = bilateral_mean(Z, self.neighbors)
            if self_weight:
                return kept.cpu().numpy()
        if self_weight:
            return torch.cat(weights).cpu().numpy() if weights else np.ones(n, np.float32)
        return Z.cpu().numpy()

    def feature_embedding(self, modality: str) -> np.ndarray:
        return getattr(self.module, modality).decoder.feature.detach().cpu().numpy()

    @torch.no_grad()
    def _log_sum_exp(self, z_atac: np.ndarray, batch_size: int = 1024) -> np.ndarray:
        W = self.module.atac.decoder.feature.detach()
        z = torch.as_tensor(z_atac, device=W.device)
        return torch.cat([torch.logsumexp(z[s:s + batch_size] @ W.T, dim=1)
                          for s in range(0, len(z), batch_size)]).cpu().numpy()

    def compute_results(self) -> dict:
        """Everything `write_results` stores, computed but not yet stored.

        {(modality or None, slot, key): value}, value None to delete. A GUI computes this in a
        worker and stores it with `apply_results` on its main thread, so the shared MuData
        changes in one place.

        Returns
        -------
        dict
            {(modality or None for the MuData itself, slot, key): value}: the keys listed in
            the class's Notes; `obsm['X_factvae_own']` and `obs['factvae_self_weight']` are
            None (removed) without spatial context, the weight also for designs without one.
        """
        m = self.mdata
        rna, atac = m.mod["rna"], m.mod["atac"]
        codes = {name: self._codes(name) for name in ("rna", "atac")}
        z_r, z_a = codes["rna"][0], codes["atac"][0]
        out = {("rna", "obsm", EMBEDDING_KEY): z_r, ("atac", "obsm", EMBEDDING_KEY): z_a,
               (None, "obsm", EMBEDDING_KEY): np.concatenate([z_a, z_r], axis=1)}
        d = self.config.n_latent
        for name, mod, names in (("rna", rna, self.genes), ("atac", atac, self.peaks)):
            full = np.full((mod.n_vars, d), np.nan, np.float32)
            full[mod.var_names.get_indexer(names)] = self.feature_embedding(name)
            out[(name, "varm", FEATURE_KEY)] = full
        out[("atac", "obs", LSE_KEY)] = self._log_sum_exp(z_a)
        for name, (_, own, weight) in codes.items():  # None: the key is removed
            out[(name, "obsm", OWN_EMBEDDING_KEY)] = own
            out[(name, "obs", SELF_WEIGHT_KEY)] = weight
        out[(None, "uns", UNS_KEY)] = self.record()
        return out

    def _codes(self, modality: str):
        """(code, each spot's own code, the share of its code each spot keeps) of one
        modality; the last two None without spatial context (the weight also for designs that
        have none). The default design needs one encoder pass: its code is the own code
        averaged over look-alike neighbours."""
        c = self.config
        if not c.spatial:
            return self.latent(modality), None, None
        own = self.latent(modality, spatial=False)  # as the paper's model gives it
        if c.spatial_design == "bilateral":
            from ..tl._graph import bilateral_mean

            code, kept = bilateral_mean(own, self.neighbors)
            return code.numpy(), own, kept.numpy()
        weighted = c.spatial_design in ("attention", "bilateral_train")
        return (self.latent(modality), own,
                self.latent(modality, self_weight=True) if weighted else None)

    def apply_results(self, results: dict) -> None:
        """Store what `compute_results` returned in the model's MuData.

        Parameters
        ----------
        results : dict
            {(modality or None, slot, key): value} from `compute_results`; a value None
            removes the key when present.

        Returns
        -------
        None
        """
        m = self.mdata
        for (mod, slot, key), value in results.items():
            store = getattr(m if mod is None else m.mod[mod], slot)
            if value is not None:
                store[key] = value
            elif key in store:
                del store[key]

    def write_results(self) -> None:
        """Store embeddings, feature embeddings, the augmentation constant and a record.

        The same as `apply_results(compute_results())`.

        Returns
        -------
        None

        Notes
        -----
        Sets `mdata.obsm['X_factvae']`, `mod[*].obsm['X_factvae']`,
        `mod[*].varm['factvae_feature']`, `mod['atac'].obs['factvae_lse']`,
        `mdata.uns['factvae']` and, in the spatial mode, `mod[*].obsm['X_factvae_own']` and
        `mod[*].obs['factvae_self_weight']` (see the class's Notes).
        """
        self.apply_results(self.compute_results())

    def record(self) -> dict:
        hist = self.history
        return {"params": self.config.as_dict(), "history": hist,
                "epochs_done": int(self.epochs_done), "cancelled": bool(self.cancelled),
                "stopped_early": bool(self.stopped_early),
                "best_heldout_epoch": int(self.trainer.stopping.best_epoch),
                "n_heldout_spots": int(0 if self.trainer.validation is None
                                       else len(self.trainer.validation)),
                "train_seconds": float(self.train_seconds),
                "seconds_per_epoch": float(hist["seconds"].mean()) if len(hist) else float("nan"),
                "device": str(self.device), "n_threads": int(self.n_threads),
                "data_on_device": self.trainer.data_on_device,
                "n_genes_modelled": int(len(self.genes)), "n_peaks_modelled": int(len(self.peaks)),
                "n_prior_pairs": int(len(self.trainer.data.gene_idx)),
                "versions": _versions()}

    # --- checkpoints ---------------------------------------------------------------------
    def save(self, path: str | os.PathLike, *, overwrite: bool = False) -> Path:
        """Save the model to one file, written atomically.

        Weights, optimiser states, epoch, history, parameters, feature names, preprocessing
        record and library versions in one file, written atomically.

        Parameters
        ----------
        path : str or os.PathLike
            The model file (a torch checkpoint).
        overwrite : bool, default False
            Replace an existing file.

        Returns
        -------
        Path
            The path written.

        Raises
        ------
        FactVAEInputError
            If `path` exists and `overwrite` is False, or the file cannot be written.
        """
        path = Path(path)
        if path.exists() and not overwrite:
            raise FactVAEInputError("already exists.", file=str(path), field="model file",
                                    fix="choose another path or pass --overwrite.")
        state = {"format": CHECKPOINT_FORMAT, "config": self.config.as_dict(),
                 "trainer": self.trainer.state_dict(), "genes": list(map(str, self.genes)),
                 "peaks": list(map(str, self.peaks)),
                 "input_dims": [int(self.trainer.data.x_rna.shape[1]),
                                int(self.trainer.data.x_atac.shape[1])],
                 "preprocess": dict(self.mdata.uns.get(PREPROCESS_KEY, {})),
                 "train_seconds": self.train_seconds, "versions": _versions()}
        from ..io._write import write_atomically

        def write(tmp):  # torch writes through C++ and reports a full disk as its own error:
            buffer = io.BytesIO()  # serialise in memory, write with Python (an OSError)
            torch.save(state, buffer)
            with open(tmp, "wb") as fh:
                fh.write(buffer.getbuffer())

        return write_atomically(path, write, field="model file")

    @classmethod
    def load(cls, path: str | os.PathLike, mdata, *, device: str = "auto",
             n_threads: int | None = None, **overrides) -> "FactVAE":
        """A model from `save`, attached to `mdata` (which must have the same genes and peaks).

        Training continues from the saved epoch; `overrides` may change e.g. `epochs`.

        Checkpoints from before the spatial mode and the fidelity options load as the paper's
        model (spatial off, `ssa_sampled` False, `encoder_init` 'torch').

        Parameters
        ----------
        path : str or os.PathLike
            A file written by `save`.
        mdata : MuData
            The data to attach the model to, preprocessed as the data it was trained on.
        device : str, default 'auto'
            As for `FactVAE`.
        n_threads : int, optional
            As for `FactVAE`.
        **overrides
            Fields of `FactVAEConfig` to change; not those of the architecture
            (`FactVAEConfig.ARCHITECTURE`).

        Returns
        -------
        FactVAE
            The model, at its saved epoch.

        Raises
        ------
        FactVAEInputError
            If the file is missing or not a FactVAE model file, an override changes the
            architecture, or the data's genes, peaks or encoder inputs differ from the model's.
        """
        path = Path(path)
        if not path.exists():
            raise FactVAEInputError("model file not found.", file=str(path), field="model",
                                    fix="check the path.")
        try:
            state = torch.load(path, map_location="cpu", weights_only=False)
            assert isinstance(state, dict) and state.get("format") == CHECKPOINT_FORMAT
        except Exception:
            raise FactVAEInputError("is not a FactVAE model file.", file=str(path), field="model",
                                    fix="give a file written by FactVAE.save / factvae train.") from None
        saved = dict(state["config"])
        # checkpoints from before the spatial mode and the fidelity options: the paper's model
        saved.setdefault("spatial", False)
        saved.setdefault("ssa_sampled", False)
        saved.setdefault("encoder_init", "torch")
        config = FactVAEConfig.from_dict(saved)
        fixed = {k for k in overrides if k in FactVAEConfig.ARCHITECTURE}
        if fixed:
            raise FactVAEInputError(f"cannot change {sorted(fixed)} of a trained model.",
                                    file=str(path), field="parameters",
                                    fix="train a new model to change the architecture.")
        model = cls(mdata, config.updated(**overrides), device=device, n_threads=n_threads)
        for kind, saved, now in (("genes", state["genes"], model.genes),
                                 ("peaks", state["peaks"], model.peaks)):
            if list(map(str, now)) != saved:
                missing = len(set(saved) - set(map(str, now)))
                raise FactVAEInputError(
                    f"the model was trained on {len(saved)} {kind}, the data has {len(now)} "
                    f"({missing} of the model's {kind} are absent or in another order).",
                    file=str(path), field=f"{kind} (rna.var_names[highly_variable] / atac.var_names)"
                    if kind == "genes" else "atac.var_names",
                    fix="load the model with the data it was trained on (same preprocessing), "
                        "or train a new model.")
        dims = [model.trainer.data.x_rna.shape[1], model.trainer.data.x_atac.shape[1]]
        if dims != state["input_dims"]:
            raise FactVAEInputError(f"encoder inputs differ (model {state['input_dims']}, data "
                                    f"{dims} PCA/LSI components).", file=str(path),
                                    field="obsm['X_pca'] / obsm['X_lsi']",
                                    fix="preprocess with the same n_pcs and n_lsi.")
        model.trainer.load_state_dict(state["trainer"])
        model.train_seconds = float(state.get("train_seconds", 0.0))
        return model


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
