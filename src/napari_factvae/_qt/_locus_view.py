"""The locus of one gene in the Regulation widget (as Signac's LinkPlot, ArchR's browser track):
the window on the genome, the gene body with its TSS and direction, the candidate peaks as ticks,
and an arc from the TSS to each peak coloured by its score; the prior's pairs are drawn dashed.
Clicking an arc calls `on_pick(row)` with the row of the table it stands for."""

from __future__ import annotations

import numpy as np
from matplotlib import cm, colormaps, colors
from matplotlib.backends.backend_qtagg import FigureCanvasQTAgg
from matplotlib.figure import Figure


class LocusView(FigureCanvasQTAgg):
    def __init__(self, on_pick=None):
        self.figure = Figure(figsize=(4, 2.2), dpi=80)
        super().__init__(self.figure)
        self.ax = self.figure.add_subplot(111)
        self.figure.subplots_adjust(left=0.04, right=0.83, bottom=0.2, top=0.95)
        self.cax = self.figure.add_axes([0.86, 0.25, 0.025, 0.65])
        self.setMinimumHeight(170)
        self.on_pick = on_pick
        self.arcs = []  # (line, table row)
        self._last_click = None
        self.mpl_connect("pick_event", self._picked)
        self.clear()

    def clear(self):
        self.ax.clear()
        self.cax.clear()
        self.cax.set_visible(False)
        self.arcs = []
        self.ax.set_yticks([])
        self.ax.text(0.5, 0.5, "rank a gene's peaks to see its locus", ha="center", va="center",
                     transform=self.ax.transAxes, fontsize=8, color="grey")
        self.draw_idle()

    def show_links(self, table, gene: dict, peak_start, peak_end, score_label: str = "score"):
        """`table` rows (score, in_prior) in the order of `peak_start`/`peak_end` (0-based, as
        written); `gene`: chrom, start, end, strand, tss, name."""
        self.ax.clear()
        self.arcs = []
        tss = float(gene["tss"])
        mid = (np.asarray(peak_start, float) + np.asarray(peak_end, float)) / 2
        score = table["score"].to_numpy(float)
        finite = np.isfinite(score)
        lo, hi = (np.nanmin(score[finite]), np.nanmax(score[finite])) if finite.any() else (0, 1)
        norm = colors.Normalize(lo, hi if hi > lo else lo + 1e-9)
        cmap = colormaps["viridis"]
        span = max(np.abs(mid - tss).max() if mid.size else 1.0, 1.0)
        t = np.linspace(0, np.pi, 40)
        order = np.argsort(np.where(finite, score, -np.inf))  # best drawn last, on top
        prior = table["in_prior"].to_numpy(bool) if "in_prior" in table else np.zeros(len(mid), bool)
        for i in order:
            half = (mid[i] - tss) / 2
            x = tss + half - half * np.cos(t)
            y = np.sin(t) * abs(half) / span
            line, = self.ax.plot(x / 1e3, y, color=cmap(norm(score[i])) if finite[i] else "0.7",
                                 lw=1.0 + 2.0 * norm(score[i]) if finite[i] else 0.8,
                                 ls="--" if prior[i] else "-", picker=4)
            self.arcs.append((line, int(i)))
        self.ax.vlines(mid / 1e3, -0.06, 0.0, color="0.25", lw=1)  # the candidate peaks
        start, end = float(gene["start"]), float(gene["end"])
        self.ax.plot([start / 1e3, end / 1e3], [-0.12, -0.12], color="0.35", lw=4,
                     solid_capstyle="butt")
        direction = -1 if str(gene.get("strand", "+")) == "-" else 1
        self.ax.annotate("", xy=((tss + direction * 0.04 * span) / 1e3, -0.2),
                         xytext=(tss / 1e3, -0.2),
                         arrowprops=dict(arrowstyle="->", color="black", lw=1))
        self.ax.plot([tss / 1e3], [-0.12], marker="|", color="black", ms=10)
        self.ax.text(tss / 1e3, -0.32, f"{gene['name']} TSS", ha="center", va="top", fontsize=7)
        self.ax.set_ylim(-0.42, 1.05)
        self.ax.set_yticks([])
        self.ax.set_xlabel(f"{gene['chrom']} (kb); dashed: pairs in the gene-peak prior", fontsize=7)
        self.ax.tick_params(labelsize=7)
        self.cax.clear()
        self.cax.set_visible(True)
        self.figure.colorbar(cm.ScalarMappable(norm=norm, cmap=cmap), cax=self.cax)
        self.cax.set_ylabel(score_label, fontsize=6)
        self.cax.tick_params(labelsize=6)
        self.draw_idle()

    def arc_apex(self, row: int) -> tuple[float, float]:
        """Display (pixel) coordinates of the top of the arc of a table row (for tests and
        keyboard-free checks)."""
        for line, r in self.arcs:
            if r == row:
                x, y = line.get_data()
                k = int(np.argmax(y))
                return tuple(self.ax.transData.transform((x[k], y[k])))
        raise KeyError(row)

    def _picked(self, event):
        if event.mouseevent is self._last_click:  # overlapping arcs: the first one counts
            return
        for line, row in self.arcs:
            if event.artist is line:
                self._last_click = event.mouseevent
                if self.on_pick is not None:
                    self.on_pick(row)
                return

    def draw(self):
        try:
            super().draw()
        except RuntimeError as err:  # closed with an idle redraw pending
            if "has been deleted" not in str(err):
                raise
