"""The joint code (issue 23): the paper's concatenation against per-spot modality weights
(weighted nearest neighbours, `factvae.tl.joint_code`), each half alone, and the input
baselines, on the shared reference sets and the simulator.

The trainings are bench_science's 'paper' runs (early stopping, at most 300 epochs); on the
spatial sets the codes get the product's default spatial read-out ('bilateral': each spot's
code averaged with its look-alike neighbours), as `factvae run` stores them.

    python benchmarks/bench_science.py train --datasets snare_cellline e13_coherent misar_e15 \\
        e13_mix sim_hard --configs paper --seeds 0 1 2 --epochs 300 --jobs 2
    python benchmarks/bench_joint.py            # evaluate, tables on stdout

    # what SSA and the code size do to the halves (snare_cellline):
    python benchmarks/bench_science.py train --datasets snare_cellline --configs paper_no_ssa \
        paper_d16 --seeds 0 1 2 --epochs 300 --jobs 1
    python benchmarks/bench_joint.py --datasets snare_cellline --config paper_no_ssa  # _d16 too

Results: benchmarks/results/joint.csv (ARI per dataset, seed, embedding and method),
benchmarks/results/joint_weights.csv (histogram of the RNA weights per dataset and seed) and
benchmarks/results/joint_halves.csv (scale and dimension of each half, the SSA agreement).
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

import bench_science as bs  # noqa: E402

DATASETS = ["snare_cellline", "e13_coherent", "misar_e15", "e13_mix", "sim_hard"]
BINS = np.linspace(0, 1, 11)


def codes(dataset: str, seed: int, epochs: int, coords, config: str = "paper"):
    """(z_r, z_a) as the product stores them: with the bilateral read-out on spatial sets."""
    import torch

    from factvae.tl._graph import bilateral_mean, spatial_neighbor_index

    f = dict(np.load(bs.emb_path(dataset, config, seed, epochs)))
    z_r, z_a = f["z_r"], f["z_a"]
    if coords is not None:
        nbr = spatial_neighbor_index(coords, 8)
        z_r = bilateral_mean(torch.as_tensor(z_r), nbr)[0].numpy()
        z_a = bilateral_mean(torch.as_tensor(z_a), nbr)[0].numpy()
    return z_r, z_a


def halves(z_r, z_a, y) -> dict:
    """What each half brings: total variance, effective dimension, silhouette of the truth,
    and the agreement of the two halves' neighbourhoods (what SSA trains)."""
    from sklearn.metrics import silhouette_score

    from factvae.tl._graph import knn

    def eff_dim(Z):
        s = np.linalg.svd(Z - Z.mean(0), compute_uv=False) ** 2
        p = s / s.sum()
        return float(np.exp(-(p * np.log(p + 1e-300)).sum()))

    i_r, _ = knn(z_r, 16)
    i_a, _ = knn(z_a, 16)
    overlap = np.mean([len(set(a[1:]) & set(b[1:])) / 15 for a, b in zip(i_r, i_a)])
    return {"var_rna": float(z_r.var(0).sum()), "var_atac": float(z_a.var(0).sum()),
            "effdim_rna": eff_dim(z_r), "effdim_atac": eff_dim(z_a),
            "silhouette_rna": float(silhouette_score(z_r, y)),
            "silhouette_atac": float(silhouette_score(z_a, y)),
            "knn_overlap": float(overlap)}


def evaluate(X, y, k, methods, cluster_seeds) -> list[dict]:
    """ARI of each method, averaged over clustering seeds: Leiden's partition at a searched
    resolution changes with its seed (docs/benchmarks.md 10), so one Leiden seed per training
    seed would partly measure the seed."""
    from factvae.tl._cluster import cluster

    rows = []
    for method in methods:
        aris = []
        for cs in (cluster_seeds if method == "leiden" else [0]):
            labels, _ = cluster(X, method=method, n_domains=k, seed=cs)
            aris.append(bs.scores(y, labels)[0])
        rows.append({"method": method, "ARI": float(np.mean(aris)),
                     "ARI_cluster_seeds": ";".join(f"{a:.4f}" for a in aris)})
    return rows


def main() -> None:
    from factvae.tl._joint import joint_code

    p = argparse.ArgumentParser()
    p.add_argument("--datasets", nargs="+", default=DATASETS)
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--epochs", type=int, default=300)
    p.add_argument("--methods", nargs="+", default=["leiden", "kmeans"])
    p.add_argument("--cluster-seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--config", default="paper", help="bench_science's training configuration "
                   "(paper_no_ssa, paper_d16: what SSA and the code size do to the halves)")
    args = p.parse_args()
    warnings.filterwarnings("ignore")
    rows, hist, half = [], [], []
    for d in args.datasets:
        m = bs.preprocessed(d, "scglue")
        y = m.obs["truth"].astype(str).to_numpy()
        k = bs.k_of(d, y)
        coords = np.asarray(m.obsm["spatial"]) if d != "snare_cellline" else None
        base = bs.baselines(m)
        embs = {("baseline", -1, "input concat"): base["concat"],
                ("baseline", -1, "RNA PCA"): base["RNA PCA"]}
        for s in args.seeds:
            if not bs.emb_path(d, args.config, s, args.epochs).exists():
                print(f"missing: {d} seed {s}", flush=True)
                continue
            z_r, z_a = codes(d, s, args.epochs, coords, args.config)
            weighted, w = joint_code(z_r, z_a, method="weighted")
            embs[("factvae", s, "concat (paper)")] = joint_code(z_r, z_a, method="concat")[0]
            embs[("factvae", s, "weighted")] = weighted
            embs[("factvae", s, "weighted, one weight")] = joint_code(
                z_r, z_a, weights=np.full_like(w, w.mean()))[0]
            embs[("factvae", s, "z_r")] = z_r
            embs[("factvae", s, "z_a")] = z_a
            counts, _ = np.histogram(w, BINS)
            hist.append({"dataset": d, "seed": s, "mean": float(w.mean()),
                         "sd": float(w.std()), **{f"{a:.1f}-{b:.1f}": int(c) for a, b, c in
                                                   zip(BINS[:-1], BINS[1:], counts)}})
            half.append({"dataset": d, "seed": s, **halves(z_r, z_a, y)})
        for (kind, s, name), X in embs.items():
            for r in evaluate(X, y, k, args.methods, args.cluster_seeds):
                rows.append({"dataset": d, "kind": kind, "seed": s, "embedding": name, **r})
        print(f"evaluated {d}", flush=True)
    out = ROOT / "benchmarks" / "results"
    tag = "" if args.config == "paper" else f"_{args.config}"
    df = pd.DataFrame(rows)
    df.to_csv(out / f"joint{tag}.csv", index=False)
    pd.DataFrame(hist).to_csv(out / f"joint_weights{tag}.csv", index=False)
    pd.DataFrame(half).to_csv(out / f"joint_halves{tag}.csv", index=False)
    table(df)
    if not tag:
        plot_weights(pd.DataFrame(hist), ROOT / "docs" / "images" / "joint_weights.png")
    print(pd.DataFrame(hist).groupby("dataset").mean(numeric_only=True).round(3).to_string())
    print(pd.DataFrame(half).groupby("dataset").mean(numeric_only=True).round(3).to_string())


def plot_weights(hist: pd.DataFrame, path: Path) -> None:
    """One histogram of the per-spot RNA weights per dataset (spots per bin, mean over seeds)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    bins = [c for c in hist.columns if "-" in c]
    sets = list(dict.fromkeys(hist["dataset"]))
    fig, axes = plt.subplots(1, len(sets), figsize=(3 * len(sets), 2.6), dpi=110, sharex=True)
    for ax, d in zip(np.atleast_1d(axes), sets):
        counts = hist[hist["dataset"] == d][bins].mean()
        ax.bar(BINS[:-1] + 0.05, counts / counts.sum(), width=0.09, color="#4477aa")
        ax.set_title(d, fontsize=9)
        ax.set_xlabel("RNA weight per spot", fontsize=8)
    np.atleast_1d(axes)[0].set_ylabel("share of spots", fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def table(df: pd.DataFrame) -> None:
    """ARI mean +- sd over training seeds, one row per (dataset, embedding)."""
    g = df.groupby(["dataset", "embedding", "method"], sort=False)["ARI"].agg(["mean", "std"])
    methods = list(dict.fromkeys(df["method"]))
    print("| dataset | embedding | " + " | ".join(f"{m} ARI" for m in methods) + " |")
    print("|---|---|" + "---|" * len(methods))
    for (d, e) in dict.fromkeys(zip(df["dataset"], df["embedding"])):
        cells = []
        for m in methods:
            mean, sd = g.loc[(d, e, m)]
            cells.append(f"{mean:.3f}" + (f" ± {sd:.3f}" if np.isfinite(sd) else ""))
        print(f"| {d} | {e} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
