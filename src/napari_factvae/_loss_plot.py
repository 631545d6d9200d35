"""A small live plot of the loss terms per epoch (matplotlib in Qt)."""

from __future__ import annotations

import numpy as np
from matplotlib.backends.backend_qtagg import FigureCanvasQTAgg
from matplotlib.figure import Figure

TERMS = ("joint", "nll_rna", "nll_atac", "kl_rna", "kl_atac", "reg", "ssa")


class LossPlot(FigureCanvasQTAgg):
    def __init__(self):
        self.figure = Figure(figsize=(4, 2.6), dpi=80, tight_layout=True)
        super().__init__(self.figure)
        self.ax = self.figure.add_subplot(111)
        self.history: dict[str, list[float]] = {t: [] for t in TERMS}
        self.setMinimumHeight(180)
        self.clear()

    def clear(self):
        self.history = {t: [] for t in TERMS}
        self.ax.clear()
        self.ax.set_xlabel("epoch")
        self.ax.set_ylabel("loss / first epoch")
        self.draw_idle()

    def add_epoch(self, losses: dict):
        for t in TERMS:
            self.history[t].append(float(losses.get(t, np.nan)))
        self.ax.clear()
        for t in TERMS:
            y = np.asarray(self.history[t])
            if np.isfinite(y).any() and abs(y[np.isfinite(y)][0]) > 0:
                self.ax.plot(np.arange(1, y.size + 1), y / abs(y[np.isfinite(y)][0]), label=t, lw=1)
        self.ax.set_xlabel("epoch")
        self.ax.set_ylabel("loss / first epoch")
        self.ax.set_yscale("log")
        self.ax.legend(fontsize=6, ncol=2, loc="upper right")
        self.draw_idle()
