"""The plugin's session model: one `Dataset` per MuData shown in the viewer, evented and
Qt-free (psygnal only; no napari or Qt import), as napari-animation keeps its model apart from
its Qt layer. (Which layers of a viewer show which dataset is `_viewer_datasets`.)

Workers compute and return; the widgets hand the result to the dataset on the main thread
(`store_results`, `store_domains`, `store_motifs`, `replace`), and the dataset is the one that
changes the MuData and says so: its own `changed(what)` signal, and the session-wide
`events.changed(mdata, what)` that widgets following "the current dataset" listen to. So a
widget's lists (genes with embeddings, motifs) follow a dataset that changed without a layer
being added."""

from __future__ import annotations

import weakref

from psygnal import Signal


class SessionEvents:
    # (the MuData, what changed: 'data' | 'results' | 'domains' | 'motifs' | 'markers')
    changed = Signal(object, str)


events = SessionEvents()
RENAME_WAITS = ("New domains are being computed: rename or merge once they are shown (the "
                "current ones, renamed now, would be replaced by them).")
_DATASETS: dict[int, "Dataset"] = {}   # id(mdata) -> its Dataset, dropped with the MuData


class Dataset:
    changed = Signal(str)  # what changed (see SessionEvents)

    def __init__(self, mdata):
        self.mdata = mdata
        # new domains are being computed (a worker): renaming or merging the current ones now
        # would be lost when the new ones are stored, so the widgets refuse it until then
        self.finding_domains = False

    # --- changes, each on the main thread, each announced -----------------------------------
    def _announce(self, what: str) -> None:
        self.changed.emit(what)
        events.changed.emit(self.mdata, what)

    def replace(self, mdata) -> None:
        """Preprocessing made a new (filtered) MuData: the dataset now holds that one."""
        _DATASETS.pop(id(self.mdata), None)
        self.mdata = mdata
        _register(mdata, self)
        self._announce("data")

    def store_results(self, model, results: dict) -> None:
        """What `FactVAE.compute_results` gave (in a worker) into the MuData."""
        model.apply_results(results)
        self._announce("results")

    def store_domains(self, labels, record: dict, key_added: str | None = None) -> None:
        from factvae.tl._domains import store_domains
        from factvae.keys import DOMAIN_KEY

        store_domains(self.mdata, labels, record, key_added=key_added or DOMAIN_KEY)
        self._announce("domains")

    def store_region_markers(self, table, params: dict) -> None:
        from factvae.keys import REGION_MARKERS_KEY

        self.mdata.uns[REGION_MARKERS_KEY] = {"params": params, "table": table}
        self._announce("markers")

    def store_motifs(self, result: dict) -> None:
        from factvae.tl._motifs import store_motif_deviations

        store_motif_deviations(self.mdata, result)
        self._announce("motifs")


def _register(mdata, dataset: Dataset) -> None:
    key = id(mdata)
    _DATASETS[key] = dataset
    try:  # forget the dataset with its MuData (ids are reused after garbage collection)
        weakref.finalize(mdata, _DATASETS.pop, key, None)
    except TypeError:  # an object without weak references: kept for the session
        pass


def dataset_of(mdata) -> Dataset:
    """The session's Dataset for this MuData (made on first use)."""
    found = _DATASETS.get(id(mdata))
    if found is None or found.mdata is not mdata:
        found = Dataset(mdata)
        _register(mdata, found)
    return found

