"""Input and output: `load_paired` reads every input form (an `.h5mu`, an RNA + ATAC pair of
`.h5ad`, a SpatialData `.zarr`), `read` and `write` choose the format by the path's suffix, and
the writers never leave a half-written file in place of a good one.

Private modules: `_read` (one modality's file and its checks), `_assemble` (the paired MuData),
`_load` (`load_paired`, `load_sections`), `_write` (atomic writes, `.h5mu`, `.h5ad` pairs), `_suffix` (read and
write by suffix), `_spatialdata` / `_spatialdata_write` (SpatialData in and out), `_store` (a store on disk), `_sections` (several tissue sections in one MuData), `_spatial`
(the tissue image and spot coordinates), `_images` (image pyramids)."""

from .._lazy import lazy_names, table

_WHERE = table(
    _read="MAX_COUNT MODALITIES counts_matrix",
    _assemble="assemble pair_spots spot_coordinates",
    _load="load_paired load_sections",
    _write="portable_strings write_atomically write_h5ad_pair write_h5mu",
    _spatialdata="read_sdata restore_joint",
    _store="damaged_element is_spatialdata_store open_store",
    _spatialdata_write="channel_names result_tables to_spatialdata write_spatialdata",
    _suffix="read write RESULT_SUFFIXES",
    _layout="section_layout SectionLayout SectionPlacement",
    _sections="concat_sections merged_peaks describe_sections",
    _spatial="attach_image read_image tissue_view TissueView default_spot_diameter spot_pitch",
)
__all__ = sorted(_WHERE)
__getattr__, __dir__ = lazy_names(__name__, _WHERE)
