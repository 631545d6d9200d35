"""Where a training step's time goes (CPU): torch's profiler over mini-batches of the real
step, each operator's self time summed into the parts of the model, for float32 and bfloat16
decoder products.

    python benchmarks/bench_profile.py --sizes 9000x24000 10000x100000 --threads 2

Counts are the random sparse counts of bench_speed.py (speed does not depend on the biology).
Results: benchmarks/results/profile.csv; a table on stdout.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_speed as bs  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
PARTS = {  # operator -> part of the step
    "aten::mm": "decoder products (spots x features)",
    "aten::addmm": "encoders", "aten::linear": "encoders",
    "aten::softplus": "ZINB zero case (element-wise)", "aten::sigmoid": "ZINB zero case (element-wise)",
    "aten::mul": "ZINB zero case (element-wise)", "aten::neg": "ZINB zero case (element-wise)",
    "aten::neg_": "ZINB zero case (element-wise)", "aten::mul_": "ZINB zero case (element-wise)",
    "aten::sub_": "ZINB zero case (element-wise)", "aten::sub": "ZINB zero case (element-wise)",
    "aten::exp": "ZINB zero case (element-wise)", "aten::add": "ZINB zero case (element-wise)",
    "aten::sum": "ZINB zero case (element-wise)",
    "aten::lgamma": "ZINB non-zero entries", "aten::digamma": "ZINB non-zero entries",
    "aten::index": "gathers and scatters", "aten::index_add_": "gathers and scatters",
    "aten::_log_softmax": "softmax", "aten::_softmax": "softmax",
    "aten::_log_softmax_backward_data": "softmax", "aten::_softmax_backward_data": "softmax",
    "aten::_fused_adam_": "optimiser", "aten::bernoulli_": "encoders (dropout)",
    "aten::_to_copy": "bfloat16 casts", "aten::copy_": "bfloat16 casts",
}


def profile(n, p, threads, precision, steps=6):
    import torch
    from torch.profiler import ProfilerActivity
    from torch.profiler import profile as torch_profile

    from factvae.config import FactVAEConfig
    from factvae.model._module import FactVAEModule
    from factvae.model._trainer import Trainer
    from factvae.model._data import TrainingData
    from factvae.model._device import tune_cpu_allocator

    torch.set_num_threads(threads)
    if not bs.data_path(n, p).exists():
        bs.make_data(n, p)
    rna, atac, gi, pj = bs.load(n, p)
    rng = np.random.default_rng(0)
    x = [rng.normal(size=(n, bs.N_INPUT)).astype(np.float32) for _ in range(2)]
    ls = [np.log(np.asarray(X.sum(1)).ravel() + 1).astype(np.float32) for X in (rna, atac)]
    cfg = FactVAEConfig(early_stopping=False, precision=precision)
    module = FactVAEModule(bs.N_INPUT, bs.N_GENES, bs.N_INPUT, p, dispersion=cfg.dispersion)
    dtype = torch.bfloat16 if precision == "bfloat16" else None
    module.rna.decoder.matmul_dtype = module.atac.decoder.matmul_dtype = dtype
    data = TrainingData(x[0], x[1], rna, atac, ls[0], ls[1], gi, pj)
    trainer = Trainer(module, data, cfg, torch.device("cpu"))
    tune_cpu_allocator()
    torch.set_flush_denormal(True)

    def batch():
        return data.batch(np.sort(rng.choice(n, cfg.batch_size, replace=False)))

    trainer.source  # the data on the device, as training makes them
    for _ in range(3):
        trainer.train_step(batch())
    t0 = time.perf_counter()
    for _ in range(steps):
        trainer.train_step(batch())
    per_step = (time.perf_counter() - t0) / steps
    with torch_profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(steps):
            trainer.train_step(batch())
    rows = [(e.key, e.self_cpu_time_total / 1e3 / steps) for e in prof.key_averages()]
    df = pd.DataFrame(rows, columns=["op", "ms_per_step"])
    df["part"] = df["op"].map(PARTS).fillna("other")
    parts = df.groupby("part")["ms_per_step"].sum()
    share = parts / parts.sum()
    return per_step, share


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", nargs="+", default=["1000x25000", "9000x24000", "10000x100000"])
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    out = []
    for size in args.sizes:
        n, p = map(int, size.split("x"))
        for precision in ("float32", "bfloat16"):
            per_step, share = profile(n, p, args.threads, precision)
            for part, frac in share.items():
                out.append({"n_spots": n, "n_peaks": p, "precision": precision,
                            "sec_per_step": per_step, "part": part, "share": frac,
                            "ms_per_step": frac * per_step * 1e3})
            print(f"{size} {precision}: {per_step * 1e3:.0f} ms/step, "
                  f"{per_step * max(1, n // 128):.2f} s/epoch", flush=True)
    df = pd.DataFrame(out)
    (ROOT / "benchmarks" / "results").mkdir(exist_ok=True)
    df.to_csv(ROOT / "benchmarks" / "results" / "profile.csv", index=False)
    pd.set_option("display.width", 200)
    print(df.pivot_table(index="part", columns=["n_peaks", "precision"], values="ms_per_step")
          .round(1))


if __name__ == "__main__":
    main()
