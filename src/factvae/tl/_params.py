"""The parameters of the domain and regulation tools, declared once (as `FactVAEConfig` is for
the model): `find_domains` / `infer_regulation` check their arguments with them, the CLI builds
its flags from them and the widgets their ranges, so the three cannot disagree."""

from __future__ import annotations

from dataclasses import dataclass

from .._options import check_declared, declared_options, option
from ..errors import FactVAEInputError

DOMAIN_METHODS = ("leiden", "kmeans", "gmm")
SCORES = ("contact_correlation", "abc", "correlation", "raw_correlation", "paper", "distance")
DEFAULT_SCORE = "contact_correlation"  # the best by measurement (docs/benchmarks.md 3)
# scores that read the spots (a domain restricts them); the others are one number per pair
SPOT_SCORES = frozenset({"contact_correlation", "abc", "correlation", "raw_correlation"})
MODEL_SCORES = {"paper", "correlation", "abc", "contact_correlation"}  # computed from the model
SCORE_HELP = {
    "contact_correlation": "power-law contact with the TSS x exp(5 x correlation of augmented "
                           "accessibility with denoised expression)",
    "abc": "activity by contact (Fulco 2019): augmented accessibility x power-law contact, as a "
           "share of the gene's candidates",
    "correlation": "correlation of augmented accessibility with denoised expression across spots",
    "raw_correlation": "correlation of raw counts over metacells (never sees the model)",
    "paper": "cosine of the feature embeddings (the paper)",
    "distance": "power-law contact with the TSS alone (the baseline)",
}
DEFAULT_PAIRS = 100_000   # random pairs in the paper score's null
DEFAULT_MATCHED = 200     # matched background peaks per candidate (Signac's default)


@dataclass
class DomainParams:
    """What `find_domains` (and the domain step of `factvae run`, and the Domains widget) take."""

    method: str = option("leiden", "Leiden (default), K-means or a Gaussian mixture",
                         flag="--method", label="Domain method", choices=DOMAIN_METHODS)
    n_domains: int | None = option(
        None, "number of domains (Leiden: the resolution is searched; without it K-means and gmm "
        "suggest one by silhouette)", flag="--n-domains", label="Number of domains",
        minimum=1, metavar="K", fix="use e.g. --n-domains 5, or leave it out.")
    resolution: float | None = option(
        None, "Leiden resolution (default 1.0)", flag="--resolution", label="Resolution", minimum=0, above=True,
        metavar="R", fix="use e.g. --resolution 1.0 (larger: more domains).")
    refine: int = option(0, "rounds of spatial majority refinement (default 0: off)",
                         flag="--refine", label="Refinement rounds", minimum=0,
                         metavar="ROUNDS", fix="use --refine 0 (off) or 1.")
    spatial_weight: float = option(
        0.0, "weight of the spatial neighbour graph in [0, 1] (default 0: off)",
        flag="--spatial-weight", label="Spatial weight", minimum=0.0, maximum=1.0, step=0.05,
        metavar="W", fix="use e.g. --spatial-weight 0.3, or 0 (off).")
    # the kNN graph counts the spot itself: one neighbour would leave every spot alone
    n_neighbors: int = option(15, "kNN graph size (default 15)", flag="--neighbors",
                              label="Neighbours", minimum=2,
                              fix="use e.g. --neighbors 15 (the default).")

    options = classmethod(declared_options)

    def validate(self, *, by_flag: bool = False) -> "DomainParams":
        """One clear error for the first parameter out of range (`by_flag`: named by its CLI
        flag); the checks that need the data (a number of domains below the spot count) are
        `cluster`'s. Returns self."""
        check_declared(self, by_flag=by_flag)
        if self.n_domains not in (None, "auto") and self.resolution is not None:
            raise FactVAEInputError("give either a number of domains or a resolution, not both.",
                                    field="--n-domains / --resolution" if by_flag
                                    else "n_domains / resolution", fix="drop one of the two.")
        return self


@dataclass
class RegulationParams:
    """What `infer_regulation` (and `factvae regulation`, and the Regulation widget) take."""

    score: str = option(DEFAULT_SCORE, "; ".join(f"{k}: {v}" for k, v in SCORE_HELP.items())
                        + f" (default {DEFAULT_SCORE})", flag="--score",
                        label="Score", choices=SCORES)
    window: int = option(150_000, "bp around the TSS (default 150 kb)", flag="--window",
                         label="Window (bp)", minimum=0, above=True, maximum=10_000_000,
                         step=10_000, fix="use e.g. 150000 (150 kb around the TSS).")
    # the z-score divides by the background's spread: it needs two draws
    n_background: int | None = option(
        None, "null draws: matched peaks per candidate (correlation scores, default 200) or "
        "random pairs (paper, default 100000)", flag="--background", minimum=2, gui=False,
        fix=f"leave it out (the default) or use e.g. {DEFAULT_MATCHED} (matched peaks) / "
            f"{DEFAULT_PAIRS} (random pairs).")
    domain: str | None = option(None, "score with this domain's spots only (its activity and "
                                "correlation)", flag="--domain", label="Spots", metavar="DOMAIN")

    options = classmethod(declared_options)

    def validate(self, *, by_flag: bool = False) -> "RegulationParams":
        """One clear error for the first parameter out of range; returns self."""
        check_declared(self, by_flag=by_flag)
        if self.domain is not None and self.score not in SPOT_SCORES:
            raise FactVAEInputError(
                f"the score {self.score!r} does not depend on the spots, so a domain changes "
                "nothing.", field="--domain" if by_flag else "domain",
                fix=f"leave the domain out, or use one of {sorted(SPOT_SCORES)}.")
        return self
