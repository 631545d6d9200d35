"""Several tissue sections (issue 21): one model with the section covariate, one without it,
and separate models per section (labels matched afterwards), on two-section sets built from
the shared data.

Sets (section 2 = `factvae.datasets.technical_copy` of section 1: depth x0.5, a lognormal
capture factor per gene and peak (sd 0.3), mirrored left to right):
    e13_pair      e13_coherent + its copy
    misar_pair    misar_e15 + its copy
    e13_missing   e13_coherent + its copy without one domain (the largest one)

    python benchmarks/bench_sections.py train --sets e13_pair e13_missing --seeds 0 1 2 --jobs 2
    python benchmarks/bench_sections.py evaluate --sets e13_pair e13_missing

Every model trains as `factvae run` does (preprocess, prior, early stopping, the bilateral
read-out, the weighted joint code) with one thread; domains are Leiden on the joint code with
k = the number of true domains of section 1, as `factvae run --n-domains k`, for three Leiden
seeds whose scores are averaged (sections_by_cluster_seed.csv holds each). Separate models: each section
alone; section 2's labels are matched to section 1's by the Hungarian assignment of the
correlation of the domains' mean log-normalised expression.

Results: benchmarks/results/sections.csv (one row per set, configuration, seed) and a table on
stdout (mean +- sd over training seeds).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("FACTVAE_SHARED_DATA", ROOT.parent / "shared" / "data"))
CACHE = ROOT / "benchmarks" / "cache" / "sections"
SETS = {"e13_pair": "e13_coherent", "misar_pair": "misar_e15", "e13_missing": "e13_coherent"}
CONFIGS = ("covariate", "no_covariate", "separate")


def sections(name: str):
    """(section 1, section 2) raw MuDatas of a set, the truth in obs['truth']."""
    import factvae
    from factvae.datasets import technical_copy

    base = factvae.load_paired(rna=DATA / SETS[name] / "rna.h5ad",
                               atac=DATA / SETS[name] / "atac.h5ad")
    base.obs["truth"] = base.mod["rna"].obs["domain"].astype(str).to_numpy()
    copy = technical_copy(base, depth=0.5, feature_sd=0.3, flip=True, seed=11)
    if name == "e13_missing":
        gone = base.obs["truth"].value_counts().index[0]
        copy = copy[(copy.obs["truth"] != gone).to_numpy()].copy()
        copy.uns["missing_domain"] = gone
    return base, copy


def prepared(name: str, which: str):
    """The preprocessed MuData (with the prior) of a set: 'pair', 'first' or 'second'."""
    import mudata as md

    import factvae
    from factvae.io import concat_sections

    # section 1 alone is the same data in every set built on one dataset: prepared once
    path = CACHE / (f"{SETS[name]}_first.h5mu" if which == "first" else f"{name}_{which}.h5mu")
    if path.exists():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return md.read_h5mu(path)
    a, b = sections(name)
    m = {"pair": lambda: concat_sections([a, b], ["s1", "s2"]), "first": lambda: a,
         "second": lambda: b}[which]()
    truth = m.obs["truth"].astype(str)
    m = factvae.preprocess(m)
    factvae.add_gene_peak_prior(m)
    m.obs["truth"] = pd.Categorical(truth.loc[m.obs_names].to_numpy())  # QC may drop spots
    path.parent.mkdir(parents=True, exist_ok=True)
    factvae.io.write_h5mu(m, path, overwrite=True)
    return m


def result_path(name, config, seed, part="") -> Path:
    if part == "_1":  # section 1's separate model: shared by the sets built on one dataset
        name = SETS[name]
    return CACHE / "results" / f"{name}_{config}{part}_s{seed}.npz"


def train_one(name: str, config: str, seed: int, threads: int) -> None:
    """Train one model and keep what the evaluation needs: labels, codes, joint code."""
    import torch

    import factvae

    warnings.filterwarnings("ignore")
    torch.set_num_threads(threads)
    parts = [("pair", "")] if config != "separate" else [("first", "_1"), ("second", "_2")]
    for which, part in parts:
        out = result_path(name, config, seed, part)
        if out.exists():
            continue
        m = prepared(name, which)
        k = int(m.obs["truth"].nunique()) if which != "second" else None
        t0 = time.perf_counter()
        model = factvae.train(m, device="cpu", n_threads=threads, seed=seed,
                              section_offsets=config == "covariate")
        secs = time.perf_counter() - t0
        if k is None:  # the second section alone: as many domains as the first has
            k = int(prepared(name, "first").obs["truth"].nunique())
        factvae.find_domains(m, n_domains=k)
        out.parent.mkdir(parents=True, exist_ok=True)
        np.savez(out.with_suffix(".partial.npz"), labels=m.obs["factvae_domain"].astype(int),
                 joint=m.obsm["X_factvae"], truth=m.obs["truth"].astype(str).to_numpy(),
                 sample=(m.obs["sample"].astype(str).to_numpy() if "sample" in m.obs
                         else np.array([which] * m.n_obs)),
                 spots=m.obs_names.to_numpy().astype(str), seconds=secs,
                 epochs=model.epochs_done)
        os.replace(out.with_suffix(".partial.npz"), out)
        print(f"trained {name} {config}{part} seed {seed}: {secs:.0f} s, "
              f"{model.epochs_done} epochs", flush=True)


def cmd_train(args) -> None:
    for s in args.sets:  # preprocess once, before the parallel jobs
        for which in ("pair", "first", "second"):
            prepared(s, which)
    todo = [(s, c, seed) for seed in args.seeds for s in args.sets for c in args.configs
            if not (result_path(s, c, seed).exists() or result_path(s, c, seed, "_2").exists())]
    print(f"{len(todo)} trainings to run, {args.jobs} at a time", flush=True)
    running: list[subprocess.Popen] = []
    while todo or running:
        while todo and len(running) < args.jobs:
            s, c, seed = todo.pop(0)
            running.append(subprocess.Popen([sys.executable, __file__, "child", s, c, str(seed),
                                             str(args.threads)]))
        time.sleep(2)
        running = [p for p in running if p.poll() is None]


# ---------------------------------------------------------------------------------------------
def match_labels(expr_1, labels_1, expr_2, labels_2) -> np.ndarray:
    """Section 2's labels renamed to section 1's: Hungarian assignment on the correlation of
    the domains' mean expression (the match a user makes without the truth)."""
    from scipy.optimize import linear_sum_assignment

    def means(X, labels):
        return np.vstack([np.asarray(X[labels == c].mean(0)).ravel() for c in np.unique(labels)])

    c1, c2 = np.unique(labels_1), np.unique(labels_2)
    A, B = means(expr_1, labels_1), means(expr_2, labels_2)
    A, B = A - A.mean(1, keepdims=True), B - B.mean(1, keepdims=True)
    corr = (B @ A.T) / np.outer(np.linalg.norm(B, axis=1), np.linalg.norm(A, axis=1))
    rows, cols = linear_sum_assignment(-corr)
    mapping = {c2[r]: c1[c] for r, c in zip(rows, cols)}
    extra = max(c1) + 1
    return np.array([mapping.get(v, extra + v) for v in labels_2])


def mixing(X, truth, sample, k: int = 30) -> float:
    """Within each true domain, the share of a spot's k nearest neighbours (in the joint code)
    from the other section, over the share expected under perfect mixing: 1 = mixed, 0 = the
    sections apart. Mean over domains that both sections hold."""
    from sklearn.neighbors import NearestNeighbors

    scores = []
    for d in np.unique(truth):
        rows = np.flatnonzero(truth == d)
        s = sample[rows]
        if len(np.unique(s)) < 2 or len(rows) <= k:
            continue
        idx = NearestNeighbors(n_neighbors=k + 1).fit(X[rows]).kneighbors(X[rows])[1][:, 1:]
        other = (s[idx] != s[:, None]).mean(1)
        expected = np.array([(s != v).sum() / (len(s) - 1) for v in s])
        scores.append(float(np.mean(other / expected)))
    return float(np.mean(scores))


def _domains(joint, k, cluster_seed):
    """Leiden on the joint code with k domains, as `factvae run --n-domains k` (no spatial
    weight), for one clustering seed."""
    from factvae.tl._cluster import cluster

    return cluster(joint, n_domains=k, seed=cluster_seed)[0]


def evaluate_one(name, config, seed, cluster_seed) -> dict | None:
    """The scores of one trained configuration with one Leiden seed (Leiden's partition at a
    searched resolution changes with its seed: docs/benchmarks.md 10)."""
    from sklearn.metrics import adjusted_rand_score as ari

    from factvae.keys import LOGNORM_KEY

    k = int(prepared(name, "first").obs["truth"].nunique())
    if config == "separate":
        p1, p2 = result_path(name, config, seed, "_1"), result_path(name, config, seed, "_2")
        if not (p1.exists() and p2.exists()):
            return None
        f1, f2 = dict(np.load(p1, allow_pickle=True)), dict(np.load(p2, allow_pickle=True))
        l1, l2 = _domains(f1["joint"], k, cluster_seed), _domains(f2["joint"], k, cluster_seed)
        m1, m2 = prepared(name, "first"), prepared(name, "second")
        genes = m1.mod["rna"].var_names.intersection(m2.mod["rna"].var_names)
        e1 = m1.mod["rna"][f1["spots"], genes].layers[LOGNORM_KEY]
        e2 = m2.mod["rna"][f2["spots"], genes].layers[LOGNORM_KEY]
        labels = np.r_[l1, match_labels(e1, l1, e2, l2)]
        truth = np.r_[f1["truth"], f2["truth"]].astype(str)
        sample = np.r_[["s1"] * len(f1["truth"]), ["s2"] * len(f2["truth"])]
        mix = float("nan")
        secs, epochs = float(f1["seconds"] + f2["seconds"]), f"{f1['epochs']}+{f2['epochs']}"
    else:
        p = result_path(name, config, seed)
        if not p.exists():
            return None
        f = dict(np.load(p, allow_pickle=True))  # our own files: strings as objects
        labels = _domains(f["joint"], k, cluster_seed)
        truth, sample = f["truth"].astype(str), f["sample"].astype(str)
        mix = mixing(f["joint"], truth, sample)
        secs, epochs = float(f["seconds"]), str(f["epochs"])
    row = {"set": name, "config": config, "seed": seed, "cluster_seed": cluster_seed,
           "pooled_ARI": ari(truth, labels), "mixing": mix, "train_seconds": secs,
           "epochs": epochs}
    for s in ("s1", "s2"):
        at = sample == s
        row[f"ARI_{s}"] = ari(truth[at], labels[at])
    if name == "e13_missing":  # the label of the absent domain, as section 1 shows it
        first = sample == "s1"
        gone = (set(truth[first]) - set(truth[sample == "s2"])).pop()  # in s1, absent from s2
        label = pd.Series(labels[first & (truth == gone)]).mode()[0]
        row["missing_label_share_s2"] = float((labels[sample == "s2"] == label).mean())
        row["missing_label_share_s1"] = float((labels[first] == label).mean())
    return row


def cmd_evaluate(args) -> None:
    warnings.filterwarnings("ignore")
    rows = [r for s in args.sets for c in args.configs for seed in args.seeds
            for cs in args.cluster_seeds if (r := evaluate_one(s, c, seed, cs)) is not None]
    every = pd.DataFrame(rows)
    every.to_csv(ROOT / "benchmarks" / "results" / "sections_by_cluster_seed.csv", index=False)
    # one row per training seed: the scores averaged over the Leiden seeds
    df = every.groupby(["set", "config", "seed"], sort=False).agg(
        {c: "mean" if c not in ("epochs",) else "first" for c in every.columns
         if c not in ("set", "config", "seed", "cluster_seed")}).reset_index()
    df.to_csv(ROOT / "benchmarks" / "results" / "sections.csv", index=False)
    cols = [c for c in ("ARI_s1", "ARI_s2", "pooled_ARI", "mixing", "missing_label_share_s1",
                        "missing_label_share_s2", "train_seconds") if c in df]
    print("| set | configuration | seeds | " + " | ".join(cols) + " |")
    print("|---|---|---|" + "---|" * len(cols))
    for (s, c), g in df.groupby(["set", "config"], sort=False):
        cells = []
        for col in cols:
            v = g[col].astype(float)
            cells.append("" if v.isna().all() else
                         f"{v.mean():.3f} ± {v.std(ddof=1):.3f}" if len(v) > 1 else f"{v.mean():.3f}")
        print(f"| {s} | {c} | {len(g)} | " + " | ".join(cells) + " |")


def main() -> None:
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    for name in ("train", "evaluate"):
        q = sub.add_parser(name)
        q.add_argument("--sets", nargs="+", default=list(SETS), choices=list(SETS))
        q.add_argument("--configs", nargs="+", default=list(CONFIGS), choices=list(CONFIGS))
        q.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
        if name == "evaluate":
            q.add_argument("--cluster-seeds", type=int, nargs="+", default=[0, 1, 2])
        if name == "train":
            q.add_argument("--jobs", type=int, default=2)
            q.add_argument("--threads", type=int, default=1)
    c = sub.add_parser("child")
    c.add_argument("set")
    c.add_argument("config")
    c.add_argument("seed", type=int)
    c.add_argument("threads", type=int)
    args = p.parse_args()
    if args.cmd == "child":
        return train_one(args.set, args.config, args.seed, args.threads)
    return cmd_train(args) if args.cmd == "train" else cmd_evaluate(args)


if __name__ == "__main__":
    main()
