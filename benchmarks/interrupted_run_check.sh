#!/usr/bin/env bash
# The interrupted-run check (issue 10): train, Ctrl-C (SIGINT) half-way, resume with the command
# the CLI prints, and compare with an uninterrupted run of the same seed. Run from a fresh clone
# after `bash scripts/setup.sh test`:   bash benchmarks/interrupted_run_check.sh [WORKDIR]
set -u
cd "$(dirname "${BASH_SOURCE[0]}")/.."
F="${FACTVAE:-.venv/bin/factvae}"
D="${1:-/tmp/factvae-interrupt-check}"; rm -rf "$D"; mkdir -p "$D"
"$F" simulate --out "$D/sim.h5mu" --n-spots 600 --n-peaks 4000 --seed 1 >/dev/null
"$F" run --mudata "$D/sim.h5mu" --out "$D/straight.h5mu" --epochs 12 --threads 1 --n-domains 4 > "$D/straight.log" 2>&1
"$F" run --mudata "$D/sim.h5mu" --out "$D/cut.h5mu" --epochs 12 --threads 1 --n-domains 4 > "$D/cut.log" 2>&1 &
pid=$!
until grep -q "/12 \[" "$D/cut.log" 2>/dev/null && tr '\r' '\n' < "$D/cut.log" | grep -q " [3-9]/12 "; do sleep 0.5; done
kill -INT "$pid"; wait "$pid"; echo "exit code after SIGINT: $? (130 expected)"
tr '\r' '\n' < "$D/cut.log" | grep "^factvae: interrupted"
cmd=$(grep -o "factvae run .*--overwrite" "$D/cut.log" | head -1)
eval "${F%factvae}${cmd} --threads 1 --n-domains 4" > "$D/resume.log" 2>&1; echo "resume exit code: $?"
grep "resuming" "$D/resume.log"
"${F%factvae}python" - "$D" <<'PY'
import sys, warnings
import mudata, numpy as np
warnings.simplefilter("ignore")
d = sys.argv[1]
a, b = mudata.read_h5mu(f"{d}/straight.h5mu"), mudata.read_h5mu(f"{d}/cut.h5mu")
print("max |embedding, uninterrupted - interrupted and resumed| =",
      float(np.abs(a.obsm["X_factvae"] - b.obsm["X_factvae"]).max()))
print("same domains:", bool((a.obs["factvae_domain"].astype(str).to_numpy()
                             == b.obs["factvae_domain"].astype(str).to_numpy()).all()))
PY
