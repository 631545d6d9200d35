"""Does a change of layout change results? `factvae run` on the same input with the same seed in
two checkouts (each imported from its own `src/`), then the embeddings (max abs difference) and
the domains (identical labels) compared.

    python benchmarks/compare_checkouts.py /path/to/old/checkout [--new .] [--epochs 30]
        [--domain-args "--spatial-weight 0.3 --refine 1"]

Writes benchmarks/results/compare_checkouts.json and prints one line per output; exits 1 when
the embeddings differ by more than --tolerance (1e-6) or any domain label differs."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent


def run(checkout: Path, data: Path, out: Path, args) -> None:
    env = {**os.environ, "PYTHONPATH": str(checkout / "src")}
    cmd = [sys.executable, "-m", "factvae.cli", "run", "--mudata", str(data), "--out", str(out),
           "--epochs", str(args.epochs), "--n-domains", str(args.n_domains), "--threads", "1",
           "--seed", str(args.seed), "--device", "cpu", "--overwrite", *args.domain_args.split()]
    subprocess.run(cmd, env=env, check=True, capture_output=True, text=True)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("old", type=Path, help="the other checkout (its src/ is imported)")
    p.add_argument("--new", type=Path, default=HERE.parent)
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--n-domains", type=int, default=5)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--tolerance", type=float, default=1e-6)
    p.add_argument("--domain-args", default="", help="more `factvae run` domain options")
    args = p.parse_args()
    import mudata as md
    import numpy as np

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        data = tmp / "sim.h5mu"
        env = {**os.environ, "PYTHONPATH": str(args.new / "src")}
        subprocess.run([sys.executable, "-m", "factvae.cli", "simulate", "--out", str(data),
                        "--n-spots", "800", "--n-genes", "400", "--n-peaks", "3000",
                        "--seed", str(args.seed)], env=env, check=True, capture_output=True)
        results = {}
        for name, checkout in (("old", args.old), ("new", args.new)):
            run(checkout.resolve(), data, tmp / f"{name}.h5mu", args)
            results[name] = md.read_h5mu(tmp / f"{name}.h5mu")
        old, new = results["old"], results["new"]
        rows = {}
        for where, a, b in (("obsm['X_factvae']", old.obsm["X_factvae"], new.obsm["X_factvae"]),
                            ("rna.obsm['X_factvae']", old.mod["rna"].obsm["X_factvae"],
                             new.mod["rna"].obsm["X_factvae"]),
                            ("atac.obsm['X_factvae']", old.mod["atac"].obsm["X_factvae"],
                             new.mod["atac"].obsm["X_factvae"]),
                            ("rna.varm['factvae_feature']", old.mod["rna"].varm["factvae_feature"],
                             new.mod["rna"].varm["factvae_feature"])):
            rows[where] = float(np.max(np.abs(np.asarray(a) - np.asarray(b))))
        from sklearn.metrics import adjusted_rand_score

        a, b = (r.obs["factvae_domain"].astype(str).to_numpy() for r in (old, new))
        same_domains = bool((a == b).all())
        ari = float(adjusted_rand_score(a, b))
        truth = md.read_h5mu(data).obs["domain"].astype(str)  # the simulated tissue's domains
        vs_truth = {name: float(adjusted_rand_score(truth.loc[r.obs_names],
                                                    r.obs["factvae_domain"].astype(str)))
                    for name, r in results.items()}
    ok = all(v <= args.tolerance for v in rows.values()) and same_domains
    for where, v in rows.items():
        print(f"{where}: max |old - new| = {v:.3g}")
    print(f"obs['factvae_domain']: {'identical' if same_domains else 'DIFFERENT'} "
          f"(ARI old vs new {ari:.4f}; against the simulated truth: old {vs_truth['old']:.4f}, "
          f"new {vs_truth['new']:.4f})")
    tag = ("_".join(args.domain_args.replace("--", "").split()) or "defaults") + f"_seed{args.seed}"
    out = HERE / "results" / f"compare_checkouts_{tag}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({"old": str(args.old), "new": str(args.new), "epochs": args.epochs,
                               "seed": args.seed, "max_abs_difference": rows,
                               "domain_args": args.domain_args, "domains_identical": same_domains,
                               "domains_ari": ari, "ari_vs_truth": vs_truth, "ok": ok}, indent=1) + "\n")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
