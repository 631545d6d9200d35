"""The joint code of the two modalities: the paper's concatenation, or each spot's codes
weighed by how much each modality tells about that spot (weighted nearest neighbours, Hao et
al. 2021, Seurat v4's FindMultiModalNeighbors; muon's `mu.pp.neighbors`).

The weights come from prediction: a modality is trusted at a spot when the spot's neighbours in
that modality predict its code in that modality better than its neighbours in the other
modality do. Where one modality is noise, its neighbours predict nothing and its weight falls
to zero; where both agree, each gets about one half.
"""

from __future__ import annotations

import numpy as np

from ..errors import FactVAEInputError

JOINT_METHODS = ("weighted", "concat")


def _unit_rows(X: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (Seurat's l2.norm): a modality's scale does not count."""
    X = np.asarray(X, np.float64)
    X = X - X.mean(0)
    norm = np.linalg.norm(X, axis=1, keepdims=True)
    return X / np.where(norm > 0, norm, 1.0)


def unit_scale(X: np.ndarray) -> np.ndarray:
    """The code centred and scaled to a mean squared length of one over the spots: each half of
    the joint code counts equally overall, and keeps its own geometry (unit rows, tried first,
    lowered Leiden ARI on e13_coherent: docs/method.md)."""
    X = np.asarray(X, np.float64)
    X = X - X.mean(0)
    rms = np.sqrt((X ** 2).sum(1).mean())
    return X / (rms if rms > 0 else 1.0)


def _affinity(X: np.ndarray, predicted: np.ndarray, nearest: np.ndarray,
              bandwidth: np.ndarray) -> np.ndarray:
    """exp(-max(|x_i - x^_i| - d_i1, 0) / (sigma_i - d_i1)): 1 when the prediction is as close
    as the nearest neighbour, falling with the distance in units of the spot's bandwidth."""
    dist = np.linalg.norm(X - predicted, axis=1)
    width = np.maximum(bandwidth - nearest, 1e-12)
    return np.exp(-np.maximum(dist - nearest, 0.0) / width)


def modality_weights(z_rna: np.ndarray, z_atac: np.ndarray, *, n_neighbors: int = 20,
                     epsilon: float = 1e-4) -> np.ndarray:
    """Each spot's RNA weight in [0, 1] (its ATAC weight is one minus it), by weighted nearest
    neighbours.

    For each modality m and spot i: its code predicted from its k nearest neighbours in m
    (within) and from its k nearest neighbours in the other modality (across); the affinity of
    each prediction to the spot's code; the ratio s_m = within / (across + epsilon). The
    weights are the softmax of (s_rna, s_atac) per spot. Codes are centred and scaled to unit
    length first, so a modality's overall scale does not count.

    Parameters
    ----------
    z_rna, z_atac : numpy.ndarray
        spots x d codes of the two modalities (same spots, same order).
    n_neighbors : int, default 20
        Neighbours per spot in each modality (Seurat's k.nn).
    epsilon : float, default 1e-4
        Added to the across affinity (Seurat's cross.contant.list).

    Returns
    -------
    numpy.ndarray
        float32, one RNA weight per spot.

    Raises
    ------
    FactVAEInputError
        If the codes disagree in their number of spots, are not finite, or there are fewer
        than three spots.
    """
    from ._graph import knn

    z_rna, z_atac = np.asarray(z_rna), np.asarray(z_atac)
    if z_rna.shape[0] != z_atac.shape[0]:
        raise FactVAEInputError(f"RNA has {z_rna.shape[0]} spots and ATAC {z_atac.shape[0]}.",
                                field="codes", fix="give the codes of the same spots.")
    if not (np.isfinite(z_rna).all() and np.isfinite(z_atac).all()):
        raise FactVAEInputError("the codes contain NaN or infinite values.", field="codes",
                                fix="retrain the model (a diverged training gives NaN).")
    n = z_rna.shape[0]
    if n < 3:
        raise FactVAEInputError(f"weights need at least 3 spots, got {n}.", field="codes",
                                fix="use the concatenation (joint='concat').")
    k = min(n_neighbors, n - 1)
    X = {"rna": _unit_rows(z_rna), "atac": _unit_rows(z_atac)}
    neighbours, nearest, bandwidth = {}, {}, {}
    for m, Xm in X.items():
        idx, dist = knn(Xm, k + 1)
        neighbours[m] = idx[:, 1:]  # without the spot itself
        nearest[m] = dist[:, 1]
        bandwidth[m] = dist[:, 1:].mean(1)
    ratio = {}
    for m, other in (("rna", "atac"), ("atac", "rna")):
        within = X[m][neighbours[m]].mean(1)
        across = X[m][neighbours[other]].mean(1)
        a_within = _affinity(X[m], within, nearest[m], bandwidth[m])
        a_across = _affinity(X[m], across, nearest[m], bandwidth[m])
        ratio[m] = a_within / (a_across + epsilon)
    # softmax of the two ratios; the ratios reach 1/epsilon, so subtract the larger first
    top = np.maximum(ratio["rna"], ratio["atac"])
    e_rna, e_atac = np.exp(ratio["rna"] - top), np.exp(ratio["atac"] - top)
    return (e_rna / (e_rna + e_atac)).astype(np.float32)


def joint_code(z_rna: np.ndarray, z_atac: np.ndarray, *, method: str = "weighted",
               weights: np.ndarray | None = None, n_neighbors: int = 20
               ) -> tuple[np.ndarray, np.ndarray | None]:
    """The joint code of each spot and its RNA weight.

    'concat' is the paper's [z_atac, z_rna] (weight None). 'weighted' is
    [sqrt(1 - w_i) u_atac, sqrt(w_i) u_rna], u each modality's codes centred and scaled to a
    mean squared length of one (`unit_scale`) and w_i the spot's RNA weight
    (`modality_weights`): each modality's distances count by the spots' weights, so the kNN
    graph, K-means and the spatial read-out all use them.

    Parameters
    ----------
    z_rna, z_atac : numpy.ndarray
        spots x d codes of the two modalities.
    method : str, default 'weighted'
        'weighted' or 'concat'.
    weights : numpy.ndarray, optional
        RNA weights to use instead of computing them.
    n_neighbors : int, default 20
        As for `modality_weights`.

    Returns
    -------
    code : numpy.ndarray
        float32, spots x (d_atac + d_rna).
    weights : numpy.ndarray or None
        The RNA weight per spot ('weighted'), else None.

    Raises
    ------
    FactVAEInputError
        For an unknown method, or as `modality_weights`.
    """
    if method not in JOINT_METHODS:
        raise FactVAEInputError(f"unknown joint code {method!r}.", field="joint",
                                fix=f"use one of {', '.join(JOINT_METHODS)}.")
    if method == "concat":
        return np.concatenate([z_atac, z_rna], axis=1).astype(np.float32), None
    if weights is None:
        weights = modality_weights(z_rna, z_atac, n_neighbors=n_neighbors)
    w = np.asarray(weights, np.float64)[:, None]
    code = np.concatenate([np.sqrt(1 - w) * unit_scale(z_atac), np.sqrt(w) * unit_scale(z_rna)],
                          axis=1)
    return code.astype(np.float32), np.asarray(weights, np.float32)
