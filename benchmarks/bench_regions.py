"""Region markers: time per kind and peak memory, on simulated tissues trained 1 epoch (the
speed does not depend on how well the model is trained), a polygon around one inner domain.

    python benchmarks/bench_regions.py --sizes 1500x1000x8000 10000x2000x100000

Results: benchmarks/results/regions.json and stdout. Peak memory is the process's (ru_maxrss),
before and after the markers: simulating and training come first.
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from pathlib import Path


ROOT = Path(__file__).resolve().parents[1]


def _rss() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 2)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", nargs="+", default=["1500x1000x8000", "10000x2000x100000"])
    args = parser.parse_args()
    import factvae
    from factvae.tl._regions import KINDS, region_markers
    from shapely.geometry import MultiPoint

    out = {}
    for size in args.sizes:
        n_spots, n_genes, n_peaks = map(int, size.split("x"))
        m = factvae.simulate(n_spots=n_spots, n_genes=n_genes, n_peaks=n_peaks, seed=0)
        m = factvae.preprocess(m)
        factvae.add_gene_peak_prior(m)
        factvae.train(m, epochs=1, device="cpu")
        t0 = time.perf_counter()
        factvae.motif_deviations(m)
        motifs_s = time.perf_counter() - t0
        inside = (m.obs["domain"] == "D3").to_numpy()
        hull = MultiPoint(m.obsm["spatial"][inside]).convex_hull
        res = {"motif_deviations_s": round(motifs_s, 1), "n_region": None, "kinds": {},
               "peak_rss_gb_before_markers": _rss()}
        for kind in KINDS:
            t0 = time.perf_counter()
            table = region_markers(m, hull, kinds=[kind], key_added=None)
            res["kinds"][kind] = round(time.perf_counter() - t0, 2)
        t0 = time.perf_counter()
        region_markers(m, hull)
        res["all_kinds_s"] = round(time.perf_counter() - t0, 2)
        res["n_region"] = m.uns["factvae_region_markers"]["params"]["n_region"]
        res["peak_rss_gb"] = _rss()  # a peak higher than before the markers is theirs
        res["rows"] = int(len(table))
        out[size] = res
        print(size, json.dumps(res), flush=True)
    (ROOT / "benchmarks" / "results" / "regions.json").write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
