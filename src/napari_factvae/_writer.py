"""napari writer: File > Save Selected Layer(s) on the spots layer saves the domains as they are
now (after renames, merges and recolouring in the Legend): `.csv` (spot, x, y, domain, colour),
`.h5mu` (the whole dataset with its results) or `.zarr` (SpatialData: the store the data came
from, its elements kept, with result tables; else one built from the dataset)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from factvae.io._suffix import RESULT_SUFFIXES, write

from ._core._domain_table import write_domain_table
from ._core._map_state import MUDATA_KEY


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
        write_domain_table(mdata, p)
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
