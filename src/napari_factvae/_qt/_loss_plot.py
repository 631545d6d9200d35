"""A small live plot of the loss terms per epoch (matplotlib in Qt).

The terms are whatever the module's loss dict holds (a line per term, made when it first
appears), so a new loss term shows here without a change. Drawing is the expensive part, so lines are updated in place and the canvas is redrawn at most
every `min_interval` seconds: the event loop must not stall while training runs."""

from __future__ import annotations

import time

import numpy as np
from matplotlib.backends.backend_qtagg import FigureCanvasQTAgg
from matplotlib.figure import Figure

NOT_LOSSES = {"epoch", "seconds", "step"}  # bookkeeping columns of the history


class LossPlot(FigureCanvasQTAgg):
    def __init__(self, min_interval: float = 1.0):
        self.figure = Figure(figsize=(4, 2.6), dpi=80)
        super().__init__(self.figure)
        self.ax = self.figure.add_subplot(111)
        self.figure.subplots_adjust(left=0.14, right=0.98, bottom=0.17, top=0.97)
        self.min_interval = min_interval
        self.setMinimumHeight(180)
        self.clear()

    def clear(self):
        self.history: dict[str, list[float]] = {}
        self.n_epochs = 0
        self.ax.clear()
        self.lines = {}
        self.ax.set_xlabel("epoch")
        self.ax.set_ylabel("loss / first epoch")
        self.ax.set_yscale("log")
        self._last_draw = 0.0
        self.draw_idle()

    def draw(self):
        try:
            super().draw()
        except RuntimeError as err:  # closed with an idle redraw pending: nothing to draw on
            if "has been deleted" not in str(err):
                raise

    @property
    def terms(self) -> list[str]:
        return list(self.lines)

    def add_epoch(self, losses: dict, *, force: bool = False):
        new = [t for t in losses if t not in NOT_LOSSES and t not in self.lines]
        for t in new:  # a term first seen now: NaN for the epochs before
            self.history[t] = [np.nan] * self.n_epochs
            self.lines[t] = self.ax.plot([], [], label=t, lw=1)[0]
        if new:
            self.ax.legend(fontsize=6, ncol=2, loc="upper right")
        for t in self.lines:
            self.history[t].append(float(losses.get(t, np.nan)))
        self.n_epochs += 1
        now = time.perf_counter()
        if force or now - self._last_draw >= self.min_interval:
            self.redraw()

    def redraw(self):
        for t, line in self.lines.items():
            y = np.asarray(self.history[t], float)
            first = y[np.isfinite(y) & (y != 0)]
            line.set_data(np.arange(1, y.size + 1), y / abs(first[0]) if first.size else y * np.nan)
        self.ax.relim()
        self.ax.autoscale_view()
        self._last_draw = time.perf_counter()
        self.draw_idle()
