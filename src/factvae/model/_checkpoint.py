"""Saving and loading a `FactVAE`: one file (weights, optimiser states, epoch, history,
parameters, feature names, preprocessing record, versions), written atomically, and the
record of a run stored in `uns['factvae']`."""

from __future__ import annotations

import io
import os
import platform
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from ..config import FactVAEConfig
from ..errors import FactVAEInputError
from ..keys import (
    PREPROCESS_KEY,
)

if TYPE_CHECKING:
    from ._model import FactVAE

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


class CheckpointMixin:
    """The checkpoint part of `FactVAE`."""

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
