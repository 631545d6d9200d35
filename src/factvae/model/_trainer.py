"""The two-phase FactVAE training loop.

Per mini-batch: (1) one Adam step over all parameters on the joint loss, (2) one Adam step over
the ATAC encoder alone on the SSA loss. Both learning rates decay exponentially per epoch.
Training is a generator of `Progress` events; a cancel flag is checked before every mini-batch
and, when set, the model goes back to the end of the last finished epoch.

Speed (docs/benchmarks.md, section "Training speed"): the training data live on the device when
they fit (`data_on_device`), and a mini-batch's sparse counts are gathered there from CSR
tensors; the batch order is drawn on the host, so the number of non-zeros of each batch is known
without asking the device. Loss terms accumulate on the device and are read only when a progress
event is due (about four a second, and at every epoch end), so a GPU is never made to wait
inside an epoch. When the data do not fit, batches are cut on the host into pinned memory and
copied one batch ahead without blocking.

The module is the only thing that knows the maths: the loop calls `joint_loss` and
`ssa_step_loss` and treats the returned loss terms generically, so wrapping the module in
DistributedDataParallel (with a DistributedSampler-style split of the host permutation) is the
only change multi-GPU training needs (docs/method.md).
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass
from typing import Callable, Iterator

import numpy as np
import torch

from ..config import FactVAEConfig
from ..errors import FactVAEInputError
from ._data import BatchSource, TrainingData
from ._device import fits_on_device, tune_cpu_allocator
from ._module import Batch, FactVAEModule

PROGRESS_INTERVAL = 0.25       # seconds between mid-epoch progress events (about 4 a second)


@dataclass
class Progress:
    """One training event: during an epoch (`epoch_done` False, about four a second) and after
    each epoch."""

    epoch: int            # the epoch in progress (1-based); after it ends, the epochs done
    n_epochs: int
    step: int             # mini-batches done within the epoch
    n_steps: int
    losses: dict          # mean of each loss term over the mini-batches since the last event,
                          # or over the whole epoch when epoch_done
    elapsed: float        # seconds since this training call started
    epoch_done: bool = False
    stopped_early: bool = False  # the last event of a run the stopping rule ended

    @property
    def fraction(self) -> float:
        return min(1.0, ((self.epoch - 1) * self.n_steps + self.step) / max(self.n_epochs * self.n_steps, 1))


class _LossAccumulator:
    """Sums loss terms on the device; reading it is the only host synchronisation."""

    def __init__(self):
        self.names: list[str] | None = None
        self.total = None
        self.count = 0

    def add(self, terms: dict[str, torch.Tensor]) -> None:
        if self.names is None:
            self.names = list(terms)
        row = torch.stack([terms[k].detach().float() for k in self.names])
        self.total = row if self.total is None else self.total + row
        self.count += 1

    def read(self) -> dict[str, float]:
        if not self.count:
            return {}
        values = (self.total / self.count).tolist()
        return dict(zip(self.names, map(float, values)))


class TrainingDiverged(FactVAEInputError):
    """A loss became NaN or infinite; the model was set back to its last finished epoch."""

    def __init__(self, epoch: int, terms: list[str]):
        self.epoch = epoch
        super().__init__(f"training diverged in epoch {epoch} (non-finite {', '.join(terms)}); "
                         f"the model is back at epoch {epoch - 1}.", field="learning rate",
                         fix="lower the learning rate (--lr) or alpha, or check the input counts.")


def _copy_into(dst, src):
    """Copy a (nested dict/list of tensors and plain values) state into dst in place."""
    if isinstance(src, torch.Tensor):
        if not isinstance(dst, torch.Tensor) or dst.shape != src.shape or dst.dtype != src.dtype:
            raise TypeError("structure changed")
        return dst.copy_(src)
    if isinstance(src, dict):
        if not isinstance(dst, dict) or dst.keys() != src.keys():
            raise TypeError("structure changed")
        for k in src:
            dst[k] = _copy_into(dst[k], src[k])
        return dst
    if isinstance(src, list) and src and isinstance(src[0], (torch.Tensor, dict)):
        if not isinstance(dst, list) or len(dst) != len(src):
            raise TypeError("structure changed")
        return [_copy_into(d, x) for d, x in zip(dst, src)]
    return copy.deepcopy(src)


def validation_rows(n_spots: int, config: FactVAEConfig) -> np.ndarray | None:
    """The held-out spots early stopping watches (the same for a seed), or None when early
    stopping is off or too few spots would be held out to measure anything."""
    from ..config import MIN_VALIDATION_SPOTS

    n_val = int(round(config.validation_fraction * n_spots))
    if not config.early_stopping or n_val < MIN_VALIDATION_SPOTS:
        return None
    rng = np.random.default_rng([config.seed, 5])  # its own stream: batch order unchanged
    return np.sort(rng.choice(n_spots, n_val, replace=False))


@dataclass
class StoppingRule:
    """Stop once the held-out loss has not fallen by more than `min_delta` of itself for
    `patience` epochs (scvi-tools' early stopping, relative), never before `min_epochs`."""

    patience: int
    min_delta: float
    min_epochs: int
    best: float = float("inf")
    best_epoch: int = 0
    stopped: bool = False

    def update(self, epoch: int, loss: float) -> bool:
        """Record an epoch's held-out loss; True when training should stop now."""
        if loss < self.best - self.min_delta * abs(self.best if np.isfinite(self.best) else loss):
            self.best, self.best_epoch = float(loss), int(epoch)
        self.stopped = epoch >= self.min_epochs and epoch - self.best_epoch >= self.patience
        return self.stopped

    def state(self) -> dict:
        return {"best": self.best, "best_epoch": self.best_epoch, "stopped": self.stopped}

    def load(self, state: dict) -> None:
        self.best = float(state["best"])
        self.best_epoch, self.stopped = int(state["best_epoch"]), bool(state["stopped"])


class Trainer:
    """Owns the optimisers, schedulers, random state and loss history of one FactVAEModule."""

    def __init__(self, module: FactVAEModule, data: TrainingData, config: FactVAEConfig,
                 device: torch.device, *, data_on_device: bool | str = "auto"):
        self.module, self.data, self.config, self.device = module.to(device), data, config, device
        # the training data and the optimisers are made when training first needs them: a model
        # loaded to read its embeddings moves only the encoder inputs and builds no optimiser
        self._data_on_device = data_on_device
        self._source: BatchSource | None = None
        self._inputs: BatchSource | None = None
        self._optimisers: dict | None = None
        self._pending_optimisers: dict | None = None  # states loaded before they were built
        self.order = torch.Generator().manual_seed(config.seed)
        self.epoch = 0          # epochs finished
        self.history: list[dict] = []
        self.cancelled = False  # whether the last run() stopped on the cancel flag
        self._last_epoch = None
        self.weights = {"nll_rna": config.w_nll_rna, "kl_rna": config.w_kl_rna,
                        "nll_atac": config.w_nll_atac, "kl_atac": config.w_kl_atac,
                        "alpha": config.alpha, "smooth": config.w_smooth}
        # early stopping: spots held out of every mini-batch, and the rule watching them
        self.validation = validation_rows(data.n_spots, config)
        keep = np.ones(data.n_spots, bool)
        if self.validation is not None:
            keep[self.validation] = False
        self.train_rows = np.flatnonzero(keep)
        self.stopping = StoppingRule(config.patience, config.min_delta, config.min_epochs)

    # --- what training needs, made on first use ------------------------------------------
    @property
    def source(self) -> "BatchSource":
        """The training data on the device (resident or streamed), made on first use."""
        if self._source is None:
            self._source = self.data.to(self.device, self._data_on_device)
            self._inputs = self._source
        return self._source

    @property
    def inputs(self) -> "BatchSource":
        """The encoder inputs (and spatial neighbours) on the device, for reading embeddings:
        the training source when there is one, else the inputs alone, without the counts."""
        if self._inputs is None:
            self._inputs = BatchSource(self.data, self.device)
        return self._inputs

    @property
    def data_on_device(self) -> bool:
        """Whether the training data are (or, before training, will be) resident on the device."""
        if self._source is not None:
            return bool(self._source.resident)
        if self._data_on_device == "auto":
            return fits_on_device(self.data.nbytes(), self.device)
        return bool(self._data_on_device)

    @property
    def optimisers_built(self) -> bool:
        return self._optimisers is not None

    def _optimiser_set(self) -> dict:
        if self._optimisers is None:
            c = self.config
            # fused Adam: one kernel for all parameters (CPU and CUDA); foreach where unsupported
            fused = {"fused": True} if self.device.type in ("cpu", "cuda") else {}
            opt = torch.optim.Adam(self.module.parameters(), lr=c.lr, **fused)
            opt_ssa = torch.optim.Adam(self.module.atac.encoder.parameters(), lr=c.lr_ssa, **fused)
            self._optimisers = {
                "opt": opt, "opt_ssa": opt_ssa,
                "sched": torch.optim.lr_scheduler.ExponentialLR(opt, gamma=c.gamma),
                "sched_ssa": torch.optim.lr_scheduler.ExponentialLR(opt_ssa, gamma=c.gamma)}
            if self._pending_optimisers is not None:
                for k, v in self._pending_optimisers.items():
                    self._optimisers[k].load_state_dict(v)
                self._pending_optimisers = None
        return self._optimisers

    opt = property(lambda self: self._optimiser_set()["opt"])
    opt_ssa = property(lambda self: self._optimiser_set()["opt_ssa"])
    sched = property(lambda self: self._optimiser_set()["sched"])
    sched_ssa = property(lambda self: self._optimiser_set()["sched_ssa"])

    # --- state -------------------------------------------------------------------------
    def state_dict(self) -> dict:
        if self._optimisers is None and self._pending_optimisers is not None:
            opts = dict(self._pending_optimisers)  # loaded, never trained: saved as loaded
        else:
            opts = {k: v.state_dict() for k, v in self._optimiser_set().items()}
        return {"module": self.module.state_dict(), **opts, "order": self.order.get_state(),
                "torch_rng": torch.get_rng_state(), "epoch": self.epoch,
                "history": list(self.history), "stopping": self.stopping.state()}

    def load_state_dict(self, state: dict) -> None:
        self.module.load_state_dict(state["module"])
        opts = {k: state[k] for k in ("opt", "opt_ssa", "sched", "sched_ssa")}
        if self._optimisers is None:
            self._pending_optimisers = opts
        else:
            for k, v in opts.items():
                self._optimisers[k].load_state_dict(v)
        self.order.set_state(state["order"])
        torch.set_rng_state(state["torch_rng"])
        self.epoch = int(state["epoch"])
        self.history = list(state["history"])
        if "stopping" in state:  # (checkpoints from before early stopping have none)
            self.stopping.load(state["stopping"])

    def _snapshot(self, into: dict | None = None) -> dict:
        """A copy of the state; copied into the previous snapshot's tensors when the structure
        matches, so an epoch's snapshot costs a memory copy, not an allocation."""
        state = self.state_dict()
        history = [dict(h) for h in state.pop("history")]  # grows every epoch: copied apart
        snap = None
        if into is not None:
            into.pop("history", None)
            try:
                snap = _copy_into(into, state)
            except (KeyError, IndexError, TypeError, RuntimeError):
                snap = None
        if snap is None:
            snap = copy.deepcopy(state)
        snap["history"] = history
        return snap

    # --- loop --------------------------------------------------------------------------
    def _steps(self) -> int:
        n, b = len(self.train_rows), self.config.batch_size
        return max(1, n // b)  # last incomplete batch dropped; one batch if fewer spots than b

    @property
    def stopped_early(self) -> bool:
        """The stopping rule ended training (further epochs need early stopping off)."""
        return self.validation is not None and self.stopping.stopped

    def heldout_loss(self, batch_size: int = 1024) -> float:
        """The held-out spots' loss per spot (see FactVAEModule.heldout_loss)."""
        total = 0.0
        self.module.eval()
        for s in range(0, len(self.validation), batch_size):
            batch = self.source.batch(self.validation[s:s + batch_size])
            total += float(self.module.heldout_loss(batch, self.weights))
        return total / len(self.validation)

    def run(self, epochs: int, cancel: Callable[[], bool] | None = None, *,
            progress_interval: float = PROGRESS_INTERVAL, keep_last_epoch: bool = False
            ) -> Iterator[Progress]:
        """Train until `epochs` epochs are done in total (resuming from `self.epoch`).
        Yields a Progress at most every `progress_interval` seconds within an epoch (0: after
        every mini-batch) and after every epoch. With `cancel` (or `keep_last_epoch`) the state
        at the end of each epoch is kept, so a cancel, a diverged loss (TrainingDiverged) or any
        error inside an epoch (out of memory, ...) sets the model back to its last finished
        epoch."""
        # the state at the end of the last finished epoch, for cancel, divergence and close
        self._last_epoch = self._snapshot() if cancel is not None or keep_last_epoch else None
        self.cancelled = False
        if self.device.type == "cpu":
            tune_cpu_allocator()
            # denormal floats (exp of very negative logits) cost ~30x a normal float on x86;
            # flushing them to zero changes nothing measurable and is set for this thread only
            torch.set_flush_denormal(True)
        try:
            yield from self._epochs(epochs, cancel, progress_interval)
        except GeneratorExit:
            # the consumer closed us mid-epoch (a napari worker aborted as the viewer closes):
            # go back to the last finished epoch, as a cancel does
            if self._last_epoch is not None:
                self.load_state_dict(self._last_epoch)
                self.cancelled = True
            raise
        except Exception:
            # out of memory, a lost GPU, ...: the model kept is the last finished epoch, not one
            # with half an epoch's steps in it (TrainingDiverged has set it back already)
            if self._last_epoch is not None:
                try:
                    self.load_state_dict(self._last_epoch)
                except Exception:  # noqa: BLE001 - the device itself may be gone: say the first error
                    pass
            raise
        finally:
            if self.device.type == "cpu":
                torch.set_flush_denormal(False)

    def _epochs(self, epochs, cancel, progress_interval) -> Iterator[Progress]:
        n, b = len(self.train_rows), min(self.config.batch_size, len(self.train_rows))
        n_steps = self._steps()
        t0 = last_event = time.perf_counter()
        while self.epoch < epochs and not self.stopped_early:
            t_epoch = time.perf_counter()
            perm = self.train_rows[torch.randperm(n, generator=self.order).numpy()]
            epoch_sum, since_event = _LossAccumulator(), _LossAccumulator()
            batch = self.source.batch(perm[:b])
            for step in range(n_steps):
                if cancel is not None and cancel():
                    self.load_state_dict(self._last_epoch)
                    self.cancelled = True
                    return
                terms = self.train_step(batch)
                if step + 1 < n_steps:  # queue the next batch while this one computes
                    batch = self.source.batch(perm[(step + 1) * b:(step + 2) * b])
                epoch_sum.add(terms)
                since_event.add(terms)
                now = time.perf_counter()
                # the epoch's own event follows its last step, unless every step is asked for
                if now - last_event >= progress_interval and (
                        step + 1 < n_steps or progress_interval <= 0):
                    last_event = now
                    yield Progress(self.epoch + 1, epochs, step + 1, n_steps, since_event.read(),
                                   now - t0)
                    since_event = _LossAccumulator()
            means = epoch_sum.read()
            bad = [k for k, v in means.items() if k != "ssa" and not np.isfinite(v)]
            if bad:
                if self._last_epoch is not None:
                    self.load_state_dict(self._last_epoch)
                raise TrainingDiverged(self.epoch + 1, bad)
            self.sched.step()
            self.sched_ssa.step()
            self.epoch += 1
            stop = False
            if self.validation is not None:
                means["heldout"] = self.heldout_loss()
                stop = self.stopping.update(self.epoch, means["heldout"])
            self.history.append({"epoch": self.epoch, **means,
                                 "seconds": time.perf_counter() - t_epoch})
            if self._last_epoch is not None:
                self._last_epoch = self._snapshot(into=self._last_epoch)
            last_event = time.perf_counter()
            yield Progress(self.epoch, epochs, n_steps, n_steps, means, last_event - t0,
                           epoch_done=True, stopped_early=stop)

    def train_step(self, batch: Batch) -> dict[str, torch.Tensor]:
        """One joint step and one SSA step; returns the loss terms as (detached) device tensors."""
        self.module.train()
        terms = self.module.joint_loss(batch, self.source.pairs, self.weights)
        self.opt.zero_grad(set_to_none=True)
        terms["joint"].backward()
        self.opt.step()
        out = {k: v.detach() for k, v in terms.items()}
        if self.config.ssa:
            loss = self.module.ssa_step_loss(batch, self.config.ssa_teacher_eval,
                                             self.config.ssa_sampled)
            self.opt_ssa.zero_grad(set_to_none=True)
            loss.backward()
            self.opt_ssa.step()
            out["ssa"] = loss.detach()
        else:
            out["ssa"] = torch.full((), float("nan"), device=self.device)
        return out
