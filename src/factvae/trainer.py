"""The two-phase FactVAE training loop.

Per mini-batch: (1) one Adam step over all parameters on the joint loss, (2) one Adam step over
the ATAC encoder alone on the SSA loss. Both learning rates decay exponentially per epoch.
Training is a generator of `Progress` events; a cancel flag is checked before every mini-batch
and, when set, the model goes back to the end of the last finished epoch.
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass, field
from typing import Callable, Iterator

import numpy as np
import scipy.sparse as sp
import torch

from .config import FactVAEConfig
from .errors import FactVAEInputError
from .module import Batch, FactVAEModule

LOSS_TERMS = ("joint", "nll_rna", "kl_rna", "nll_atac", "kl_atac", "reg", "ssa")


def pick_device(device: str | torch.device | None = "auto") -> torch.device:
    """CUDA when present, then Apple MPS, then CPU; or exactly what was asked for."""
    if device is None or str(device) == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise FactVAEInputError("CUDA was requested but torch sees no CUDA device.",
                                field="device", fix="use --device auto or cpu, or install a CUDA "
                                "build of torch on a machine with an NVIDIA GPU.")
    if dev.type == "mps" and not (getattr(torch.backends, "mps", None)
                                  and torch.backends.mps.is_available()):
        raise FactVAEInputError("Apple MPS was requested but is not available.", field="device",
                                fix="use --device auto or cpu.")
    return dev


@dataclass
class TrainingData:
    """Everything a mini-batch is cut from. Counts stay sparse on the host."""

    x_rna: np.ndarray
    x_atac: np.ndarray
    counts_rna: sp.csr_matrix
    counts_atac: sp.csr_matrix
    log_size_rna: np.ndarray
    log_size_atac: np.ndarray
    gene_idx: np.ndarray
    peak_idx: np.ndarray
    _dev: dict = field(default_factory=dict, repr=False)

    @property
    def n_spots(self) -> int:
        return self.x_rna.shape[0]

    def to(self, device: torch.device) -> None:
        """Move the small dense arrays (encoder inputs, size factors, pairs) to the device once."""
        self._dev = {
            "x_rna": torch.as_tensor(self.x_rna, dtype=torch.float32, device=device),
            "x_atac": torch.as_tensor(self.x_atac, dtype=torch.float32, device=device),
            "ls_rna": torch.as_tensor(self.log_size_rna, dtype=torch.float32, device=device),
            "ls_atac": torch.as_tensor(self.log_size_atac, dtype=torch.float32, device=device),
            "pairs": (torch.as_tensor(self.gene_idx, dtype=torch.long, device=device),
                      torch.as_tensor(self.peak_idx, dtype=torch.long, device=device)),
            "device": device}

    @property
    def pairs(self):
        return self._dev["pairs"]

    @staticmethod
    def _nonzeros(X: sp.csr_matrix, idx: np.ndarray, device):
        sub = X[idx]
        rows = np.repeat(np.arange(len(idx)), np.diff(sub.indptr))
        return (torch.as_tensor(rows, dtype=torch.long, device=device),
                torch.as_tensor(sub.indices, dtype=torch.long, device=device),
                torch.as_tensor(sub.data, dtype=torch.float32, device=device))

    def batch(self, idx: np.ndarray) -> Batch:
        d, device = self._dev, self._dev["device"]
        t = torch.as_tensor(idx, dtype=torch.long, device=device)
        return Batch(d["x_rna"][t], d["x_atac"][t], d["ls_rna"][t], d["ls_atac"][t],
                     self._nonzeros(self.counts_rna, idx, device),
                     self._nonzeros(self.counts_atac, idx, device))


@dataclass
class Progress:
    """One training event: after each mini-batch (`epoch_done` False) and after each epoch."""

    epoch: int            # the epoch in progress (1-based); after it ends, the epochs done
    n_epochs: int
    step: int             # mini-batch within the epoch (1-based)
    n_steps: int
    losses: dict          # this mini-batch's terms, or the epoch's means when epoch_done
    elapsed: float        # seconds since this training call started
    epoch_done: bool = False

    @property
    def fraction(self) -> float:
        return min(1.0, ((self.epoch - 1) * self.n_steps + self.step) / max(self.n_epochs * self.n_steps, 1))


class Trainer:
    """Owns the optimisers, schedulers, random state and loss history of one FactVAEModule."""

    def __init__(self, module: FactVAEModule, data: TrainingData, config: FactVAEConfig,
                 device: torch.device):
        self.module, self.data, self.config, self.device = module.to(device), data, config, device
        self.data.to(device)
        self.opt = torch.optim.Adam(module.parameters(), lr=config.lr)
        self.opt_ssa = torch.optim.Adam(module.atac.encoder.parameters(), lr=config.lr_ssa)
        self.sched = torch.optim.lr_scheduler.ExponentialLR(self.opt, gamma=config.gamma)
        self.sched_ssa = torch.optim.lr_scheduler.ExponentialLR(self.opt_ssa, gamma=config.gamma)
        self.order = torch.Generator().manual_seed(config.seed)
        self.epoch = 0          # epochs finished
        self.history: list[dict] = []
        self.cancelled = False  # whether the last run() stopped on the cancel flag
        self.weights = {"nll_rna": config.w_nll_rna, "kl_rna": config.w_kl_rna,
                        "nll_atac": config.w_nll_atac, "kl_atac": config.w_kl_atac,
                        "alpha": config.alpha}

    # --- state -------------------------------------------------------------------------
    def state_dict(self) -> dict:
        return {"module": self.module.state_dict(), "opt": self.opt.state_dict(),
                "opt_ssa": self.opt_ssa.state_dict(), "sched": self.sched.state_dict(),
                "sched_ssa": self.sched_ssa.state_dict(), "order": self.order.get_state(),
                "torch_rng": torch.get_rng_state(), "epoch": self.epoch,
                "history": list(self.history)}

    def load_state_dict(self, state: dict) -> None:
        self.module.load_state_dict(state["module"])
        self.opt.load_state_dict(state["opt"])
        self.opt_ssa.load_state_dict(state["opt_ssa"])
        self.sched.load_state_dict(state["sched"])
        self.sched_ssa.load_state_dict(state["sched_ssa"])
        self.order.set_state(state["order"])
        torch.set_rng_state(state["torch_rng"])
        self.epoch = int(state["epoch"])
        self.history = list(state["history"])

    def _snapshot(self) -> dict:
        return copy.deepcopy(self.state_dict())

    # --- loop --------------------------------------------------------------------------
    def _steps(self) -> int:
        n, b = self.data.n_spots, self.config.batch_size
        return max(1, n // b)  # last incomplete batch dropped; one batch if fewer spots than b

    def run(self, epochs: int, cancel: Callable[[], bool] | None = None) -> Iterator[Progress]:
        """Train until `epochs` epochs are done in total (resuming from `self.epoch`)."""
        n, b = self.data.n_spots, min(self.config.batch_size, self.data.n_spots)
        n_steps = self._steps()
        snapshot = self._snapshot() if cancel is not None else None
        self.cancelled = False
        t0 = time.perf_counter()
        while self.epoch < epochs:
            t_epoch = time.perf_counter()
            perm = torch.randperm(n, generator=self.order).numpy()
            sums = dict.fromkeys(LOSS_TERMS, 0.0)
            for step in range(n_steps):
                if cancel is not None and cancel():
                    self.load_state_dict(snapshot)
                    self.cancelled = True
                    return
                terms = self.train_step(self.data.batch(perm[step * b:(step + 1) * b]))
                for k, v in terms.items():
                    sums[k] += v
                yield Progress(self.epoch + 1, epochs, step + 1, n_steps, terms,
                               time.perf_counter() - t0)
            self.sched.step()
            self.sched_ssa.step()
            self.epoch += 1
            means = {k: v / n_steps for k, v in sums.items()}
            self.history.append({"epoch": self.epoch, **means,
                                 "seconds": time.perf_counter() - t_epoch})
            if cancel is not None:
                snapshot = self._snapshot()
            yield Progress(self.epoch, epochs, n_steps, n_steps, means, time.perf_counter() - t0,
                           epoch_done=True)

    def train_step(self, batch: Batch) -> dict[str, float]:
        self.module.train()
        terms = self.module.joint_loss(batch, self.data.pairs, self.weights)
        self.opt.zero_grad(set_to_none=True)
        terms["joint"].backward()
        self.opt.step()
        out = {k: float(v.detach()) for k, v in terms.items()}
        if self.config.ssa:
            loss = self.module.ssa_step_loss(batch, self.config.ssa_teacher_eval)
            self.opt_ssa.zero_grad(set_to_none=True)
            loss.backward()
            self.opt_ssa.step()
            out["ssa"] = float(loss.detach())
        else:
            out["ssa"] = float("nan")
        return out
