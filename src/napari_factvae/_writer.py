"""napari writer: File > Save Selected Layer(s) on the spots layer saves the domains as they are
now (after renames, merges and recolouring in the Legend): `.csv` (spot, x, y, domain, colour),
`.h5mu` (the whole dataset with its results) or `.zarr` (SpatialData: the store the data came
from, its elements kept, with result tables; else one built from the dataset)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from factvae.io._suffix import RESULT_SUFFIXES, write

from ._domain_map import MUDATA_KEY, domain_key


def domain_table(mdata) -> pd.DataFrame:
    """One row per spot: name, x, y (obsm['spatial']), domain and its colour."""
    key = domain_key(mdata)
    table = pd.DataFrame({"spot": np.asarray(mdata.obs_names, dtype=str)})
    if "spatial" in mdata.obsm:
        xy = np.asarray(mdata.obsm["spatial"])
        table["x"], table["y"] = xy[:, 0], xy[:, 1]
    if key is not None:
        cat = mdata.obs[key].astype("category")
        table["domain"] = cat.to_numpy().astype(str)
        colours = list(mdata.uns.get(f"{key}_colors", []))
        if len(colours) >= len(cat.cat.categories):
            codes = cat.cat.codes.to_numpy()
            table["colour"] = np.where(codes >= 0, np.asarray(colours, dtype=object)[codes], "")
    return table


def write_domains(path: str, data, attributes: dict) -> list[str]:
    """The npe2 single-layer writer for a points layer."""
    from factvae.errors import FactVAEInputError

    p = Path(path)
    mdata = (attributes.get("metadata") or {}).get(MUDATA_KEY)
    suffix = p.suffix.lower()
    if mdata is None:
        if suffix != ".csv":
            raise FactVAEInputError("this points layer holds no FactVAE dataset, so it has no "
                                    "domains to save.", file=str(p), field="layer",
                                    fix="select the spots layer of a loaded dataset, or save as "
                                        ".csv (the points and their features).")
        features = pd.DataFrame(attributes.get("features") or {})
        pts = np.asarray(data)
        table = pd.concat([pd.DataFrame({"y": pts[:, -2], "x": pts[:, -1]}),
                           features.reset_index(drop=True)], axis=1)
        table.to_csv(p, index=False)
        return [str(p)]
    if suffix == ".csv":
        from factvae.io._write import write_atomically

        table = domain_table(mdata)
        write_atomically(p, lambda tmp: table.to_csv(tmp, index=False))
    elif suffix in RESULT_SUFFIXES:
        if suffix == ".zarr" and p.exists():  # a folder: the save dialog does not ask about those
            raise FactVAEInputError("already exists; a store is never replaced from the save "
                                    "dialog.", file=str(p), field="path",
                                    fix="choose a new name (or use factvae run --sdata X --out X "
                                        "--overwrite to update a store's tables).")
        # .h5mu: napari's save dialog has asked before replacing a file
        write(mdata, p, overwrite=suffix == ".h5mu")
    else:
        return []
    return [str(p)]
