"""The training data and the two ways of feeding it: resident on the device, or streamed in batches."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp
import torch

from ._device import fits_on_device
from ._module import Batch


@dataclass
class TrainingData:
    """Everything a mini-batch is cut from, on the host. Counts are CSR (never densified)."""

    x_rna: np.ndarray
    x_atac: np.ndarray
    counts_rna: sp.csr_matrix
    counts_atac: sp.csr_matrix
    log_size_rna: np.ndarray
    log_size_atac: np.ndarray
    gene_idx: np.ndarray
    peak_idx: np.ndarray
    neighbors: np.ndarray | None = None   # spatial mode: spots x k neighbour index, -1 = none
    sections: np.ndarray | None = None    # several sections: each spot's section code
    _source: "BatchSource | None" = field(default=None, repr=False)

    def __post_init__(self):
        for name in ("counts_rna", "counts_atac"):
            X = sp.csr_matrix(getattr(self, name), dtype=np.float32)
            X.sort_indices()
            setattr(self, name, X)

    @property
    def n_spots(self) -> int:
        return self.x_rna.shape[0]

    def nbytes(self) -> int:
        """Bytes the data take as device tensors (float32 values, int32 column indices)."""
        dense = sum(a.size * 4 for a in (self.x_rna, self.x_atac, self.log_size_rna,
                                         self.log_size_atac))
        csr = sum(X.nnz * 8 + (X.shape[0] + 1) * 8 for X in (self.counts_rna, self.counts_atac))
        nbr = 0 if self.neighbors is None else self.neighbors.size * 8
        return int(dense + csr + 16 * len(self.gene_idx) + nbr)

    def to(self, device: torch.device, on_device: bool | str = "auto") -> "BatchSource":
        """Place the data for training on `device`: resident when `on_device` is True, or 'auto'
        and they take at most DEVICE_MEMORY_FRACTION of the free device memory; else streamed."""
        if on_device == "auto":
            on_device = fits_on_device(self.nbytes(), device)
        self._source = (ResidentSource if on_device else StreamedSource)(self, device)
        return self._source

    @property
    def source(self) -> "BatchSource":
        if self._source is None:
            raise RuntimeError("TrainingData.to(device) has not been called")
        return self._source

    # kept for callers that cut one batch by hand (benchmarks)
    @property
    def pairs(self):
        if self._source is None:  # before training: the prior pairs on the host
            return (torch.as_tensor(self.gene_idx, dtype=torch.long),
                    torch.as_tensor(self.peak_idx, dtype=torch.long))
        return self.source.pairs

    def batch(self, idx: np.ndarray) -> Batch:
        return self.source.batch(np.asarray(idx))


class BatchSource:
    """Mini-batches on the device. Subclasses differ in where the counts live."""

    resident = False

    def __init__(self, data: TrainingData, device: torch.device):
        self.data, self.device = data, device
        f32 = dict(dtype=torch.float32, device=device)
        self.x_rna = torch.as_tensor(data.x_rna, **f32)
        self.x_atac = torch.as_tensor(data.x_atac, **f32)
        self.ls_rna = torch.as_tensor(data.log_size_rna, **f32)
        self.ls_atac = torch.as_tensor(data.log_size_atac, **f32)
        self.pairs = (torch.as_tensor(data.gene_idx, dtype=torch.long, device=device),
                      torch.as_tensor(data.peak_idx, dtype=torch.long, device=device))
        self.row_nnz = (np.diff(data.counts_rna.indptr), np.diff(data.counts_atac.indptr))
        self.nbr = None if data.neighbors is None else torch.as_tensor(
            np.asarray(data.neighbors, dtype=np.int64), device=device)
        self.sections = None if data.sections is None else torch.as_tensor(
            np.asarray(data.sections, dtype=np.int64), device=device)

    def batch(self, idx: np.ndarray) -> Batch:
        raise NotImplementedError

    def neighbor_inputs(self, t: torch.Tensor) -> dict:
        """The neighbours' encoder inputs of spots t (B x k x F) and the valid slots (B x k)."""
        if self.nbr is None:
            return {}
        nb = self.nbr[t]
        mask = nb >= 0
        nb = torch.where(mask, nb, t[:, None])  # any real row; masked out downstream
        return {"x_rna_nbr": self.x_rna[nb], "x_atac_nbr": self.x_atac[nb], "nbr_mask": mask}

    def _dense(self, t: torch.Tensor) -> tuple:
        return (self.x_rna[t], self.x_atac[t], self.ls_rna[t], self.ls_atac[t])

    def _sections(self, t: torch.Tensor) -> dict:
        return {} if self.sections is None else {"section": self.sections[t]}


class ResidentSource(BatchSource):
    """Counts as CSR tensors on the device; a batch's non-zeros are gathered there."""

    resident = True

    def __init__(self, data: TrainingData, device: torch.device):
        super().__init__(data, device)
        # on the CPU, as_tensor shares the arrays' memory: the counts are not held twice
        self.csr = [(torch.as_tensor(X.indptr.astype(np.int64), device=device),
                     torch.as_tensor(np.asarray(X.indices, dtype=np.int32), device=device),
                     torch.as_tensor(np.asarray(X.data, dtype=np.float32), device=device))
                    for X in (data.counts_rna, data.counts_atac)]

    def _gather(self, csr, t: torch.Tensor, total: int):
        indptr, indices, values = csr
        starts = indptr[t]
        lengths = indptr[t + 1] - starts
        rows = torch.repeat_interleave(torch.arange(len(t), device=self.device), lengths,
                                       output_size=total)  # output_size: no device sync
        first = torch.cumsum(lengths, 0) - lengths       # where each row starts in the batch
        pos = torch.arange(total, device=self.device) - first[rows] + starts[rows]
        return rows, indices[pos].long(), values[pos]

    def batch(self, idx: np.ndarray) -> Batch:
        t = torch.as_tensor(idx, dtype=torch.long).to(self.device, non_blocking=True)
        totals = [int(nnz[idx].sum()) for nnz in self.row_nnz]   # known on the host
        return Batch(*self._dense(t), self._gather(self.csr[0], t, totals[0]),
                     self._gather(self.csr[1], t, totals[1]), **self.neighbor_inputs(t),
                     **self._sections(t))


class StreamedSource(BatchSource):
    """Counts stay on the host; a batch is cut there (pinned memory on CUDA) and copied without
    blocking, so the copy of batch k + 1 overlaps the computation of batch k."""

    def __init__(self, data: TrainingData, device: torch.device):
        super().__init__(data, device)
        self.pin = device.type == "cuda"

    def _cut(self, X: sp.csr_matrix, idx: np.ndarray):
        sub = X[idx]
        rows = torch.from_numpy(np.repeat(np.arange(len(idx), dtype=np.int64), np.diff(sub.indptr)))
        cols = torch.from_numpy(sub.indices.astype(np.int64))
        vals = torch.from_numpy(sub.data.astype(np.float32, copy=False))
        host = [rows, cols, vals]
        if self.pin:
            host = [h.pin_memory() for h in host]
        return tuple(h.to(self.device, non_blocking=True) for h in host)

    def batch(self, idx: np.ndarray) -> Batch:
        t = torch.as_tensor(idx, dtype=torch.long).to(self.device, non_blocking=True)
        return Batch(*self._dense(t), self._cut(self.data.counts_rna, idx),
                     self._cut(self.data.counts_atac, idx), **self.neighbor_inputs(t),
                     **self._sections(t))
