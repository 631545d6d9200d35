"""Putting a dataset on the viewer: its tissue image and spots layers added (in place of older
layers of the same names) and its domain map shown; and the once-a-session hint for smooth
panning over a large tissue pyramid."""

from __future__ import annotations

from .._core._layers import SECTION_KEY, spot_layers
from .._core._map_state import MAP_KEY, MUDATA_KEY, RASTER_KEY
from .._core._viewer_datasets import raster_of
from ._map_display import show


def show_dataset(viewer, mdata, name: str = "factvae", layers: list | None = None):
    """Add the tissue image and spots of `mdata` (in place of layers of the same names; a
    replaced dataset's domain raster is reused) and draw its domain map. `layers`: the output of
    `spot_layers(mdata)` when made in a worker (names get the `name` prefix here). Several
    sections: one tissue layer each ('<name> tissue <section>'); the tissue layers of a replaced
    dataset's sections that `mdata` does not have are removed."""
    layers = layers if layers is not None else spot_layers(mdata)
    layers = [(data, {**kwargs, "name": f"{name} {kwargs['name']}".strip()}, kind)
              for data, kwargs, kind in layers]
    _remove_old_sections(viewer, mdata, name, {kwargs["name"] for _, kwargs, _ in layers})
    added = []
    for data, kwargs, kind in layers:
        old = viewer.layers[kwargs["name"]] if kwargs["name"] in viewer.layers else None
        if (kind == "image" and old is not None and getattr(old, "rgb", None) == kwargs["rgb"]
                and old.multiscale == kwargs.get("multiscale", False)):
            old.data = data  # the tissue again: napari collects garbage on each removal (~0.4 s)
            old.translate = kwargs.get("translate", (0.0,) * old.ndim)  # a section's place
            old.scale = kwargs.get("scale", (1.0,) * old.ndim)
            old.metadata.pop(SECTION_KEY, None)
            old.metadata.update(kwargs.get("metadata", {}))
            added.append(old)
            continue
        if old is not None:
            owner = old.metadata.get(MUDATA_KEY)
            raster = raster_of(viewer, owner) if owner is not None else None
            if raster is not None:  # kept for the new data, redrawn by `show`
                raster.metadata[RASTER_KEY] = mdata
            viewer.layers.remove(old)
        added.append(getattr(viewer, f"add_{kind}")(data, **kwargs))
    if any(getattr(layer, "multiscale", False) for layer in added):
        suggest_async_rendering()
    if added and MAP_KEY in added[-1].metadata:
        show(viewer, added[-1])
    return added


def _remove_old_sections(viewer, mdata, name: str, new: set) -> None:
    """The tissue layers (and section names) of a dataset shown before under `name` that the
    new one does not replace: a section it lacks, the one tissue of a dataset of one section
    when it has several, the section names when it has one. A section's tissue that is only
    missing from `new` (its pyramid not built) stays."""
    from factvae.errors import FactVAEInputError
    from factvae.tl._sections import section_names

    try:
        sections = set(section_names(mdata))
    except FactVAEInputError:  # an obs['sample'] naming spots: shown as one section
        sections = set()
    for layer in list(viewer.layers):
        if layer.name in new:
            continue
        tag = layer.metadata.get(SECTION_KEY)
        single = layer.name == f"{name} tissue".strip() and tag is None and sections
        section = (isinstance(tag, str) and tag not in sections
                   and layer.name == f"{name} tissue {tag}".strip())
        labels = isinstance(tag, list) and layer.name == f"{name} sections".strip()
        if (single and layer._type_string == "image") or section or labels:
            viewer.layers.remove(layer)


_HINTED = []


def suggest_async_rendering() -> None:
    """Once a session, when a tissue pyramid is shown while napari loads tiles on the GUI thread:
    say which preference makes panning smooth (measured: pan stalls 100-120 ms -> ~60 ms at
    30,000 px, docs/benchmarks.md 5b). The user's settings are never changed for them."""
    from napari.settings import get_settings
    from napari.utils.notifications import show_info

    if _HINTED or get_settings().experimental.async_:
        return
    _HINTED.append(True)
    show_info("Large tissue image: for smooth panning turn on Preferences > Experimental > "
              "Render Images Asynchronously.")
