"""The results of a trained `FactVAE`: the spots' codes (with or without their spatial
context), the feature embeddings, the augmentation constant, and storing them in the MuData
(at once, or computed in a worker and applied on the main thread)."""

from __future__ import annotations

import numpy as np
import torch

from ..keys import (
    EMBEDDING_KEY,
    FEATURE_KEY,
    LSE_KEY,
    OWN_EMBEDDING_KEY,
    RNA_WEIGHT_KEY,
    SELF_WEIGHT_KEY,
    UNS_KEY,
)
from ..tl._joint import joint_code


class ResultsMixin:
    """The results part of `FactVAE` (see its Notes for the keys)."""

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
            None (removed) without spatial context, the weight also for designs without one;
            `obs['factvae_rna_weight']` is None with the paper's concatenation.
        """
        m = self.mdata
        rna, atac = m.mod["rna"], m.mod["atac"]
        codes = {name: self._codes(name) for name in ("rna", "atac")}
        z_r, z_a = codes["rna"][0], codes["atac"][0]
        joint, rna_weight = joint_code(z_r, z_a, method=self.config.joint)
        out = {("rna", "obsm", EMBEDDING_KEY): z_r, ("atac", "obsm", EMBEDDING_KEY): z_a,
               (None, "obsm", EMBEDDING_KEY): joint, (None, "obs", RNA_WEIGHT_KEY): rna_weight}
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
