"""The spots' domains as a table (spot, [section,] x, y, domain, colour), as they are now (after renames,
merges and recolouring in the Legend): what the napari writer saves as .csv and the Domains
widget exports."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ._map_state import domain_key


def domain_table(mdata) -> pd.DataFrame:
    """One row per spot: name, its section (several sections: their coordinates overlap), x, y
    (obsm['spatial']), domain and its colour."""
    from factvae.errors import FactVAEInputError
    from factvae.tl._sections import section_key

    key = domain_key(mdata)
    table = pd.DataFrame({"spot": np.asarray(mdata.obs_names, dtype=str)})
    try:
        batch = section_key(mdata)
    except FactVAEInputError:  # an obs['sample'] that names spots: no sections to say
        batch = None
    if batch is not None:
        table[batch] = mdata.obs[batch].astype(str).to_numpy()
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


def write_domain_table(mdata, path) -> pd.DataFrame:
    """Write `domain_table(mdata)` atomically: tab-separated for .tsv, else comma-separated."""
    from factvae.io._write import write_atomically

    table = domain_table(mdata)
    sep = "\t" if Path(path).suffix == ".tsv" else ","
    write_atomically(path, lambda tmp: table.to_csv(tmp, sep=sep, index=False))
    return table
