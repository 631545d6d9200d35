"""Speed and peak memory of FactVAE training, against a dense formulation of the same model (as
the authors' code runs it: the whole ATAC matrix densified in host memory, and a dense genes x
peaks cosine matrix and a dense G2P copy at every step), and optionally against the loop of
another source tree (an older commit) in the same run.

Each measurement runs in a fresh process that loads the counts from a .npz (made once, by a
separate process) and trains; peak memory is that process's maximum resident set size (and the
peak allocated GPU memory on CUDA). The sparse loop is timed over whole epochs of
`Trainer.run` (what users run) when an epoch has at most --max-steps mini-batches, else over
--max-steps mini-batches; the dense formulation over --dense-max-steps mini-batches.

    python benchmarks/bench_speed.py                       # all sizes, both formulations
    python benchmarks/bench_speed.py --sizes 1000x25000 --impl sparse
    git worktree add /tmp/before <commit>                  # then, side by side in one run:
    python benchmarks/bench_speed.py --impl sparse baseline --baseline-src /tmp/before/src
    python benchmarks/bench_speed.py --device cuda         # on a GPU machine

Results: benchmarks/results/speed.csv (a row added per run) and one line per run on stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import scipy.sparse as sp

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / "benchmarks" / "cache"
N_GENES = 2000
ATAC_DENSITY, RNA_DENSITY = 0.03, 0.15
N_INPUT = 100  # PCA / LSI components


def data_path(n, p) -> Path:
    return CACHE / f"counts_{n}x{p}.npz"


def make_data(n, p, seed=0):
    """Random sparse counts of realistic density (speed does not depend on the biology)."""
    rng = np.random.default_rng(seed)

    def counts(rows, cols, density):
        blocks = []
        for s in range(0, rows, 2000):
            r = min(2000, rows - s)
            nnz = rng.poisson(cols * density, r)
            indptr = np.r_[0, np.cumsum(nnz)]
            idx = rng.integers(0, cols, int(indptr[-1]))
            data = (1 + rng.poisson(0.5, idx.size)).astype(np.float32)
            m = sp.csr_matrix((data, idx, indptr), shape=(r, cols))
            m.sum_duplicates()  # the rare repeated column within a row becomes one entry
            blocks.append(m)
        return sp.vstack(blocks, format="csr")

    CACHE.mkdir(parents=True, exist_ok=True)
    rna, atac = counts(n, N_GENES, RNA_DENSITY), counts(n, p, ATAC_DENSITY)
    # a prior of realistic size: ~3 linked peaks per gene
    gi = rng.integers(0, N_GENES, 3 * N_GENES)
    pj = rng.integers(0, p, 3 * N_GENES)
    np.savez(data_path(n, p), rna_data=rna.data, rna_indices=rna.indices, rna_indptr=rna.indptr,
             atac_data=atac.data, atac_indices=atac.indices, atac_indptr=atac.indptr,
             gi=gi, pj=pj, n=n, p=p)


def load(n, p):
    f = np.load(data_path(n, p))
    rna = sp.csr_matrix((f["rna_data"], f["rna_indices"], f["rna_indptr"]), shape=(n, N_GENES))
    atac = sp.csr_matrix((f["atac_data"], f["atac_indices"], f["atac_indptr"]), shape=(n, p))
    return rna, atac, f["gi"], f["pj"]


def run_one(n, p, impl, device, max_steps, threads, epochs=1, spatial=None,
            precision="float32"):
    """Train in this process; print a JSON line with timings and peak memory."""
    import torch

    import factvae
    from factvae.config import FactVAEConfig
    from factvae.model._module import FactVAEModule, kl_normal
    from factvae.model._trainer import Trainer
    from factvae.model._data import TrainingData
    from factvae.model._zinb import zinb_log_prob

    torch.set_num_threads(threads)
    rna, atac, gi, pj = load(n, p)
    rng = np.random.default_rng(0)
    x_rna = rng.normal(size=(n, N_INPUT)).astype(np.float32)
    x_atac = rng.normal(size=(n, N_INPUT)).astype(np.float32)
    ls_rna = np.log(np.asarray(rna.sum(1)).ravel() + 1).astype(np.float32)
    ls_atac = np.log(np.asarray(atac.sum(1)).ravel() + 1).astype(np.float32)
    cfg = FactVAEConfig(early_stopping=False)  # every spot in every epoch: steps as counted
    dev = torch.device(device)
    extra = {}
    if spatial:  # the spatial mode on a square grid of spots (8 neighbours each)
        extra = {"spatial": spatial, "spatial_neighbors": 8}
        cfg = cfg.updated(spatial=True, spatial_design=spatial)
    module = FactVAEModule(N_INPUT, N_GENES, N_INPUT, p, dispersion=cfg.dispersion, **extra)
    if precision == "bfloat16":  # the decoders' spots x features products (FactVAEConfig)
        module.rna.decoder.matmul_dtype = module.atac.decoder.matmul_dtype = torch.bfloat16
    data = TrainingData(x_rna, x_atac, rna, atac, ls_rna, ls_atac, gi, pj)
    if spatial:
        from factvae.tl._graph import spatial_neighbor_index

        side = int(np.ceil(np.sqrt(n)))
        grid = np.stack(np.meshgrid(np.arange(side), np.arange(side)), -1).reshape(-1, 2)[:n]
        data.neighbors = spatial_neighbor_index(grid.astype(float), 8)
    trainer = Trainer(module, data, cfg, dev)
    trainer.source  # the data on the device, as the first training step makes them
    n_steps = max(1, n // cfg.batch_size)
    steps = min(n_steps, max_steps)
    perm = np.random.default_rng(0).permutation(n)

    if impl == "dense":
        # the authors' formulation: dense counts on the host, dense cosine and G2P per step
        rna_dense, atac_dense = rna.toarray(), atac.toarray()
        g2p = torch.zeros(N_GENES, p, device=dev)
        g2p[torch.as_tensor(gi), torch.as_tensor(pj)] = 1.0

        def step(idx):
            b = data.batch(idx)
            module.train()
            terms = {}
            for name, vae, x_in, ls, X in (("rna", module.rna, b.x_rna, b.log_size_rna, rna_dense),
                                           ("atac", module.atac, b.x_atac, b.log_size_atac, atac_dense)):
                x = torch.as_tensor(X[idx], device=dev)
                mean, log_var = vae.encoder(x_in)
                z = mean + torch.randn_like(mean) * (0.5 * log_var).exp()
                log_mu, log_theta, pi = vae.decoder(z, ls)
                terms[name] = -zinb_log_prob(x, log_mu, log_theta, pi).sum(1).mean()
                terms["kl_" + name] = kl_normal(mean, log_var).mean()
            gn = torch.nn.functional.normalize(module.rna.decoder.feature, dim=1)
            pn = torch.nn.functional.normalize(module.atac.decoder.feature, dim=1)
            S = gn @ pn.T
            reg = ((S - g2p) ** 2 * g2p).sum() / g2p.sum()
            loss = (0.1 * terms["rna"] + 0.001 * terms["kl_rna"] + 0.002 * terms["atac"]
                    + 0.001 * terms["kl_atac"] + reg.exp())
            trainer.opt.zero_grad()
            loss.backward()
            trainer.opt.step()
            ssa = module.ssa_step_loss(b)
            trainer.opt_ssa.zero_grad()
            ssa.backward()
            trainer.opt_ssa.step()
    else:
        def step(idx):
            trainer.train_step(data.batch(idx))

    step(perm[:cfg.batch_size])  # warm-up (allocations, kernels), not timed
    if dev.type == "cuda":
        torch.cuda.synchronize()
    whole_epochs = impl != "dense" and n_steps <= max_steps
    t0 = time.perf_counter()
    if whole_epochs:  # the real loop, progress events and all
        trainer.epoch = 0
        for _ in trainer.run(epochs):
            pass
        steps = epochs * n_steps + 1
    else:
        for s in range(1, steps):
            step(perm[s * cfg.batch_size:(s + 1) * cfg.batch_size])
    if dev.type == "cuda":
        torch.cuda.synchronize()
    per_step = (time.perf_counter() - t0) / max(steps - 1, 1)
    peak_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 ** 2
    out = {"n_spots": n, "n_peaks": p, "n_genes": N_GENES, "impl": impl, "device": device,
           "threads": threads, "steps_timed": steps - 1, "steps_per_epoch": n_steps,
           "sec_per_step": per_step, "sec_per_epoch": per_step * n_steps,
           "extrapolated": not whole_epochs and steps < n_steps, "peak_rss_gb": peak_gb,
           "whole_epochs": whole_epochs, "torch": torch.__version__,
           "source": str(Path(factvae.__file__).parents[1]), "dispersion": cfg.dispersion,
           "spatial": spatial or "off", "precision": precision}
    if dev.type == "cuda":
        out["peak_gpu_gb"] = torch.cuda.max_memory_allocated() / 1024 ** 3
        out["gpu"] = torch.cuda.get_device_name()
    print("RESULT " + json.dumps(out), flush=True)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--sizes", nargs="+", default=["1000x25000", "10000x100000", "40000x100000"])
    p.add_argument("--impl", nargs="+", default=["sparse", "dense"],
                   choices=["sparse", "dense", "baseline"],
                   help="baseline: the sparse loop of --baseline-src")
    p.add_argument("--baseline-src", help="a source tree (its src/ folder) to time as 'baseline'")
    p.add_argument("--epochs", type=int, default=1, help="whole epochs timed (sparse)")
    p.add_argument("--spatial", choices=["attention", "aggregate", "smooth"],
                   help="time the spatial mode with this design (sparse only)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--precision", default="float32", choices=["float32", "bfloat16"],
                   help="the decoders' spots x features products (sparse loop)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--max-steps", type=int, default=400, help="steps timed per run (sparse)")
    p.add_argument("--dense-max-steps", type=int, default=12, help="steps timed per dense run")
    p.add_argument("--child", nargs=4, metavar=("N", "P", "IMPL", "STEPS"), help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        n, pk, impl, steps = args.child
        return run_one(int(n), int(pk), impl, args.device, int(steps), args.threads, args.epochs,
                       args.spatial, args.precision)
    results = ROOT / "benchmarks" / "results" / "speed.csv"
    for size in args.sizes:
        n, pk = (int(v) for v in size.split("x"))
        if not data_path(n, pk).exists():
            subprocess.run([sys.executable, "-c", f"import sys; sys.path.insert(0, {str(Path(__file__).parent)!r}); "
                            f"import bench_speed as b; b.make_data({n}, {pk})"], check=True)
        for impl in args.impl:
            steps = args.dense_max_steps if impl == "dense" else args.max_steps
            env = dict(os.environ)
            if impl == "baseline":
                env["PYTHONPATH"] = os.pathsep.join([args.baseline_src, env.get("PYTHONPATH", "")])
            proc = subprocess.run([sys.executable, __file__, "--device", args.device, "--threads",
                                   str(args.threads), "--epochs", str(args.epochs),
                                   "--precision", args.precision,
                                   *(["--spatial", args.spatial] if args.spatial else []), "--child",
                                   str(n), str(pk), "sparse" if impl == "baseline" else impl,
                                   str(steps)], capture_output=True, text=True, env=env)
            line = next((l for l in proc.stdout.splitlines() if l.startswith("RESULT ")), None)
            if line is None:
                rec = {"n_spots": n, "n_peaks": pk, "impl": impl, "device": args.device,
                       "error": (proc.stderr.strip().splitlines() or ["killed"])[-1][:200],
                       "returncode": proc.returncode}
            else:
                rec = json.loads(line[7:])
                rec["impl"] = impl
            print(json.dumps(rec), flush=True)
            append_row(results, rec)


def append_row(path: Path, rec: dict) -> None:
    """Add one result to a CSV, rewriting it with the union of the columns (a new column in a
    later run must not leave rows longer than the header)."""
    import pandas as pd

    old = read_rows(path) if path.exists() else pd.DataFrame()
    pd.concat([old, pd.DataFrame([rec])], ignore_index=True).to_csv(path, index=False)


def read_rows(path: Path):
    """A results CSV, also one written before `append_row` (rows longer than its header)."""
    import csv

    import pandas as pd

    with open(path, newline="") as fh:
        rows = list(csv.reader(fh))
    header, body = rows[0], rows[1:]
    width = max(len(r) for r in rows)
    header = header + [f"extra_{i}" for i in range(len(header), width)]
    return pd.DataFrame([r + [""] * (width - len(r)) for r in body], columns=header)


if __name__ == "__main__":
    main()
