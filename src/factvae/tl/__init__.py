"""Tools, scanpy-style: train the model, then the analyses that read its results.

`factvae.tl.train`, `.FactVAE`, `.find_domains`, `.rename_domains`, `.domain_markers`,
`.suggest_n_domains`, `.infer_regulation`, `.augment_atac`, `.iter_augmented_atac`,
`.gene_activity`, `.motif_deviations`, `.domain_motifs`, `.scan_motifs`, `.region_markers`,
`.joint_code`, `.modality_weights`, `.domain_composition`.
Functions that add a result take `key_added` where a user may want two side by side (domains,
markers, motifs).

Private modules: `_graph` (the kNN, UMAP and spatial neighbour graphs), `_cluster` (Leiden,
K-means, mixtures, the silhouette suggestion, refinement), `_domains`, `_markers`, `_augment`,
`_motifs` (deviations) with `_motif_scan` (which peaks hold which motifs), `_regions` (markers of a drawn region), `_neighbourhood` (the spatial graph in squidpy's
layout, squidpy's neighbourhood enrichment of the domains), `_regulation` with `_regulation_scores` and
`_regulation_null` (the scores and their nulls), `_joint` (the joint code: the paper's
concatenation or per-spot modality weights), `_sections` (several tissue sections: their
column, codes and the domain x section composition)."""

from .._lazy import lazy_names, table

_WHERE = table(
    _domains="find_domains rename_domains compute_domains store_domains",
    _cluster="cluster suggest_n_domains",
    _markers="domain_markers",
    _regulation="infer_regulation to_bedpe",
    _augment="augment_atac iter_augmented_atac gene_activity",
    _motifs="motif_deviations domain_motifs",
    _motif_scan="scan_motifs read_motif_matrix",
    _regions="region_markers",
    _neighbourhood="spatial_neighbors domain_enrichment",
    _joint="joint_code modality_weights",
    _sections="domain_composition section_codes section_key section_names",
)
_WHERE.update({"train": "..model._model", "FactVAE": "..model._model",
               "FactVAEConfig": "..config"})
__all__ = sorted(_WHERE)
__getattr__, __dir__ = lazy_names(__name__, _WHERE)
