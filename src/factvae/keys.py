"""Every key FactVAE reads or writes in a MuData, in one place (as squidpy's `Key`).

Import the names from here; the modules that produce each result re-export theirs for old code.
All keys we write carry the `factvae` prefix (`X_factvae` for embeddings, scanpy's convention
for `obsm`), except the scanpy/squidpy conventions we follow on purpose (`obsm['spatial']`,
`uns['spatial']`, `obsm['X_pca']`, `obsm['X_lsi']`, `layers['lognorm']`, `var['highly_variable']`).
"""

# model outputs (model.py)
EMBEDDING_KEY = "X_factvae"             # obsm: z per modality; mdata.obsm: concat(z_a, z_r)
OWN_EMBEDDING_KEY = "X_factvae_own"     # mod obsm, spatial mode: each spot's code alone
FEATURE_KEY = "factvae_feature"         # mod varm: gene / peak embeddings
LSE_KEY = "factvae_lse"                 # atac obs: log-sum-exp for augmentation on demand
SELF_WEIGHT_KEY = "factvae_self_weight"  # mod obs, spatial mode: share of its code a spot keeps
UNS_KEY = "factvae"                     # uns: parameters, history, timings, versions

# preprocessing and prior (preprocess.py, prior.py)
LOG_SIZE_KEY = "factvae_log_size"       # mod obs: ln(total counts)
PREPROCESS_KEY = "factvae_preprocess"   # uns: preprocessing parameters
PRIOR_PAIRS_KEY = "factvae_g2p"         # uns: gene-peak pairs by name
PRIOR_INFO_KEY = "factvae_prior"        # uns: prior summary

# domains (domains.py)
DOMAIN_KEY = "factvae_domain"           # obs: categorical domains; uns[f"{key}_colors"]
DOMAIN_PARAMS_KEY = "factvae_domain_params"
DOMAIN_MARKERS_KEY = "factvae_domain_markers"

# regulation and motifs (regulation.py, motifs.py)
REGULATION_KEY = "factvae_regulation"
MOTIF_Z_KEY = "factvae_motif_z"         # atac obsm: deviations on augmented accessibility


def colors_key(key: str) -> str:
    """Where the colours of a categorical obs column live (scanpy's convention)."""
    return f"{key}_colors"
