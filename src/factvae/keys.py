"""Every key FactVAE reads or writes, the domain colours and the kinds of per-spot feature, in
one place (as squidpy's `Key`): a test fails on a `factvae_...` key spelled anywhere else.

Import the names from here; the modules that produce each result re-export theirs for old code.
All keys we write carry the `factvae` prefix (`X_factvae` for embeddings, scanpy's convention
for `obsm`), except the scanpy/squidpy conventions we follow on purpose (`obsm['spatial']`,
`uns['spatial']`, `obsm['X_pca']`, `obsm['X_lsi']`, `var['highly_variable']`) and the motif
annotation a user may bring (`atac.varm['motif']`, `atac.uns['motif_names']`).

Functions that write a result take scanpy's `key_added` and keep their parameters in
`uns[key_added]['params']`. `upgrade(mdata)` renames the keys older versions wrote.
"""

# model outputs (model.py)
EMBEDDING_KEY = "X_factvae"             # obsm: z per modality; mdata.obsm: the joint code
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
LOGNORM_KEY = "factvae_lognorm"         # rna layers: log1p(counts / total * 1e4)
TOTAL_COUNTS_KEY = "factvae_total_counts"  # mod obs
N_GENES_KEY = "factvae_n_genes"         # rna obs: genes detected
N_PEAKS_KEY = "factvae_n_peaks"         # atac obs: peaks detected

# domains (domains.py)
DOMAIN_KEY = "factvae_domain"           # obs: categorical domains; uns[f"{key}_colors"],
                                        # uns[key]['params']
DOMAIN_MARKERS_KEY = "factvae_domain_markers"  # uns: {'params', 'table'}
DOMAIN_MOTIFS_KEY = "factvae_domain_motifs"    # uns: {'params', 'table'}

# regulation and motifs (regulation.py, motifs.py)
REGULATION_KEY = "factvae_regulation"
MOTIF_Z_KEY = "factvae_motif_z"         # atac obsm: deviations on augmented accessibility;
                                        # atac uns[key]['params']
MOTIF_Z_RAW_KEY = "factvae_motif_z_raw"  # atac obsm: deviations on raw counts (key + '_raw')
MOTIF_Z_NAMES_KEY = "factvae_motif_z_names"  # atac uns: the motifs of both (key + '_names')
MOTIF_SCAN_KEY = "factvae_motif_scan"   # atac uns: parameters of a FASTA scan
REGION_MARKERS_KEY = "factvae_region_markers"  # uns: {'params', 'table'} of a drawn region

# inputs and SpatialData (io/)
INPUT_KEY = "factvae_input"             # uns: the files a dataset was read from, its spot count
SDATA_KEY = "factvae_sdata"             # uns: where the data came from (store, tables, elements)
JOINT_KEY = "factvae_joint"             # table.uns: which obs/obsm/uns entries are the MuData's
KEPT_KEY = "factvae_kept"               # table obs/var: the spots/features with results (QC
                                        # dropped the others: kept in the table, results missing)
WRITTEN_KEY = "factvae_written"         # table.uns: the obs/obsm/var/varm/layers entries we wrote
SPOTS = "spots"                         # the shapes element our tables annotate
REGION_KEY = "region"                   # table.obs: the element a row annotates (scverse)
INSTANCE_KEY = "spot_id"                # table.obs: the row's instance in that element
DOMAIN_COLUMNS = (DOMAIN_KEY, "domain")
SPATIAL_GRAPH_KEY = "spatial"             # obsp['spatial_connectivities'] etc. (squidpy's)  # obs columns drawn as domains, first found wins

# several tissue sections (io/_sections.py, tl/_sections.py)
SAMPLE_KEY = "sample"                   # obs: the section of each spot (the column users name)
SECTIONS_KEY = "factvae_sections"       # uns: the sections, their spot counts, the feature merge
COMPOSITION_KEY = "factvae_domain_composition"  # uns: {'params', 'table'} domain x section
RNA_WEIGHT_KEY = "factvae_rna_weight"   # obs: each spot's RNA weight in the joint code

# annotations a user may bring (motifs/)
MOTIF_KEY = "motif"                     # atac.varm: peaks x motifs, 0/1
MOTIF_NAMES_KEY = "motif_names"         # atac.uns
GC_KEY = "gc_content"                   # atac.var

# napari layer metadata (the plugin)
LAYER_MUDATA_KEY = "factvae_mudata"     # layer.metadata: the MuData a layer shows
LAYER_MAP_KEY = "factvae_map"           # layer.metadata: the domain map of a spots layer
LAYER_DOMAINS_OF_KEY = "factvae_domains_of"  # layer.metadata: the spots layer a raster belongs to
LAYER_VALUES_OF_KEY = "factvae_values_of"    # layer.metadata: the layer an overlay paints
LAYER_PENDING_IMAGE_KEY = "factvae_pending_image"  # layer.metadata: a pyramid still being built
LAYER_SECTION_KEY = "factvae_section"  # napari image / label layers: the section(s) shown

# the kinds of per-spot value an overlay, a region test or `factvae.get.spot_values` reads:
# kind -> (what, which values)
FEATURE_KINDS = {
    "gene (raw)": ("rna", "raw"), "gene (normalised)": ("rna", "normalised"),
    "peak (raw)": ("atac", "raw"), "peak (augmented)": ("atac", "augmented"),
    "motif (raw)": ("motif", "raw"), "motif (augmented)": ("motif", "augmented"),
    "gene activity (raw)": ("activity", "raw"),
    "gene activity (augmented)": ("activity", "augmented"),
}
# region markers test every kind but raw gene counts (normalised expression is the one to rank)
REGION_KINDS = tuple(k for k in FEATURE_KINDS if k != "gene (raw)")

# Domain colours, in napari and in the static pictures alike. The first 10: Okabe-Ito (black left
# out: it vanishes on a dark canvas) and three more picked to stay apart under simulated protan-,
# deuter- and tritanopia (CIEDE2000 >= 10.9 between any two, as Okabe-Ito's own). The next 20:
# picked greedily from glasbey and tab20 colours of mid lightness (seen on a black canvas and on
# H&E), CIEDE2000 >= 14 for all 30.
PALETTE = ["#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00", "#CC79A7",
           "#A13B72", "#BDE6BF", "#F7B6D2",
           "#706B01", "#8C3BFF", "#FF1C44", "#00EB01", "#00D6D4", "#85A301", "#BCB6FF",
           "#8C564B", "#FFA079", "#038287", "#018700", "#E452FF", "#876EB1", "#E1CD9C",
           "#8E8C5E", "#0CE8A1", "#8287FF", "#8E6D49", "#D60000", "#C16E72"]


def palette(n: int) -> list[str]:
    """The domain colours: n hex colours.

    Colour-blind-safe up to 10, distinguishable up to 30 (PALETTE); beyond that the 30 and
    then evenly spaced colours of a long colormap.

    The one palette for domains, in napari and in the static pictures alike.

    Parameters
    ----------
    n : int
        The number of colours.

    Returns
    -------
    list of str
        n colours as '#RRGGBB': the first n of `PALETTE`, then colours of matplotlib's
        'gist_ncar' colormap.
    """
    if n <= len(PALETTE):
        return PALETTE[:n]
    import matplotlib

    cmap = matplotlib.colormaps["gist_ncar"]
    extra = n - len(PALETTE)
    return PALETTE + [matplotlib.colors.to_hex(cmap(0.05 + 0.9 * i / extra)) for i in range(extra)]


# Domain colours. The first 10: Okabe-Ito (black left out: it vanishes on a dark canvas) and
# three more picked to stay apart under simulated protan-, deuter- and tritanopia (CIEDE2000
# >= 10.9 between any two, as Okabe-Ito's own). The next 20: picked greedily from glasbey and
# tab20 colours of mid lightness (seen on a black canvas and on H&E), CIEDE2000 >= 14 for all 30.


def colors_key(key: str) -> str:
    """Where the colours of a categorical obs column live (scanpy's convention)."""
    return f"{key}_colors"


def domain_colours(uns, key: str, n: int) -> list[str]:
    """The colours of the n categories of obs column `key`: those stored in
    `uns[colors_key(key)]` when there are enough of them, else `palette(n)`: the one fallback
    for the static pictures, napari and the exported tables."""
    stored = [str(c) for c in uns.get(colors_key(key), [])]
    return stored[:n] if len(stored) >= n else palette(n)


def is_result_key(name) -> bool:
    """Whether a key is one of ours: the `factvae` prefix (obs, var, uns, varm, layers) or
    `X_factvae` (obsm embeddings). A table written into the user's store replaces these and
    leaves every other entry as the user had it."""
    return str(name).startswith((UNS_KEY, "X_" + UNS_KEY))


def params_of(uns, key: str) -> dict:
    """The parameters a result was made with (`uns[key]['params']`), or {}."""
    entry = uns.get(key)
    return dict(entry.get("params", {})) if isinstance(entry, dict) else {}


# keys older versions wrote -> (where, new key); `where` is 'MOD.slot'. Those in _SHARED_NAMES
# are names other tools use too (scanpy's QC writes obs['total_counts']): renamed only in a file
# our preprocessing wrote (uns['factvae_preprocess'] present), never in a user's input
_RENAMED = [
    ("rna.layers", "lognorm", LOGNORM_KEY),
    ("rna.obs", "total_counts", TOTAL_COUNTS_KEY), ("atac.obs", "total_counts", TOTAL_COUNTS_KEY),
    ("rna.obs", "n_genes", N_GENES_KEY), ("atac.obs", "n_peaks", N_PEAKS_KEY),
    ("atac.obsm", "motif_z_raw", MOTIF_Z_RAW_KEY),
    ("atac.uns", "motif_names_deviations", MOTIF_Z_NAMES_KEY),
    ("atac.uns", "motif_scan", MOTIF_SCAN_KEY),
]


_SHARED_NAMES = {"lognorm", "total_counts", "n_genes", "n_peaks"}


def upgrade(mdata) -> list[str]:
    """Rename, in place, the result keys older versions of FactVAE wrote (a file saved before
    the `factvae_` prefixes reopens with every result where today's code looks). Returns what
    was renamed. A key is only moved when the new one is absent (a user's own column stays)."""
    done = []
    ours = PREPROCESS_KEY in mdata.uns
    for where, old, new in _RENAMED:
        mod, slot = where.split(".")
        if mod not in mdata.mod or (not ours and old in _SHARED_NAMES):
            continue
        store = getattr(mdata.mod[mod], slot)
        if old in store and new not in store:
            store[new] = store.pop(old)
            done.append(f"{where}['{old}']")
    uns = mdata.uns
    if "factvae_domain_params" in uns and not params_of(uns, DOMAIN_KEY):
        uns[DOMAIN_KEY] = {"params": dict(uns.pop("factvae_domain_params"))}
        done.append("uns['factvae_domain_params']")
    atac_uns = mdata.mod["atac"].uns if "atac" in mdata.mod else {}
    if "motif_deviation_params" in atac_uns and MOTIF_Z_KEY not in atac_uns:
        atac_uns[MOTIF_Z_KEY] = {"params": dict(atac_uns.pop("motif_deviation_params"))}
        done.append("mod['atac'].uns['motif_deviation_params']")
    for key in (DOMAIN_MARKERS_KEY, DOMAIN_MOTIFS_KEY, REGULATION_KEY):  # a bare table
        if key in uns and not isinstance(uns[key], dict):
            params = uns.pop(f"{key}_params", {})
            uns[key] = {"params": dict(params), "table": uns[key]}
            done.append(f"uns['{key}']")
    return done
