#!/usr/bin/env bash
# One prepared GPU check (for the device tool: torch with CUDA, no anndata/scanpy needed):
#   1. the CUDA path of the loop: resident and streamed batches, no host sync inside an epoch;
#   2. speed at 10k x 100k and 40k x 100k, sparse loop against the dense formulation.
# Writes JSON lines to $OUT (or ./gpu-check). Untested on a GPU until a session is lent one.
#   run: bash benchmarks/gpu_check.sh      (about 6-8 minutes on an H100/H200)
set -uo pipefail
out="${OUT:-gpu-check}"; mkdir -p "$out"
export PYTHONPATH="$PWD/src:${PYTHONPATH:-}" PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total --format=csv | tee "$out/gpu.txt"
python3 - <<'PY' 2>&1 | tee "$out/cuda_path.log"
import json, time, numpy as np, scipy.sparse as sp, torch
from factvae.config import FactVAEConfig
from factvae.module import FactVAEModule
from factvae.trainer import Trainer, TrainingData
rng = np.random.default_rng(0)
n, g, p = 2000, 300, 5000
def counts(c, d):
    return sp.random(n, c, density=d, format="csr", random_state=0, dtype=np.float32,
                     data_rvs=lambda k: 1 + rng.poisson(0.5, k)).astype(np.float32)
rna, atac = counts(g, 0.2), counts(p, 0.03)
x = rng.normal(size=(n, 50)).astype(np.float32)
ls_r = np.log(np.asarray(rna.sum(1)).ravel() + 1).astype(np.float32)
ls_a = np.log(np.asarray(atac.sum(1)).ravel() + 1).astype(np.float32)
gi, pj = rng.integers(0, g, 500), rng.integers(0, p, 500)
nbr = rng.integers(0, n, (n, 8))
res = {}
for resident in (True, False):
    torch.manual_seed(0)
    m = FactVAEModule(50, g, 50, p, spatial="attention", spatial_neighbors=8)
    d = TrainingData(x, x, rna, atac, ls_r, ls_a, gi, pj, neighbors=nbr)
    t = Trainer(m, d, FactVAEConfig(spatial=True), torch.device("cuda"), data_on_device=resident)
    t0 = time.perf_counter()
    for _ in t.run(3):
        pass
    torch.cuda.synchronize()
    res[resident] = (time.perf_counter() - t0, m.atac.decoder.feature.detach().cpu().numpy())
diff = float(np.abs(res[True][1] - res[False][1]).max())
print("RESULT " + json.dumps({"check": "resident_vs_streamed_cuda", "max_abs_diff": diff,
                              "sec_resident": res[True][0], "sec_streamed": res[False][0]}))
PY
python3 benchmarks/bench_speed.py --device cuda --sizes 10000x100000 40000x100000 \
    --impl sparse dense --max-steps 400 --dense-max-steps 50 --epochs 2 2>&1 | tee "$out/speed.jsonl"
