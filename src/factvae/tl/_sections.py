"""Several tissue sections in one MuData: which column names them, each spot's section code,
and the domain x section composition table."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import FactVAEInputError
from ..keys import COMPOSITION_KEY, DOMAIN_KEY, SAMPLE_KEY, UNS_KEY, params_of


def section_key(mdata, batch_key: str | None = None) -> str | None:
    """The obs column naming each spot's section, or None for one section.

    `batch_key` when given; else the one the model was trained with
    (`uns['factvae']['params']['batch_key']`); else `obs['sample']` when present. A column
    with a single value means one section (None).

    Raises
    ------
    FactVAEInputError
        If `batch_key` is not an obs column, has missing values, or has a different value for
        every spot (an id, not a section).
    """
    explicit = batch_key is not None
    if batch_key is None:
        batch_key = params_of(mdata.uns, UNS_KEY).get("batch_key") or None
    if batch_key is None:
        batch_key = SAMPLE_KEY if SAMPLE_KEY in mdata.obs else None
    if batch_key is None:
        return None
    if batch_key not in mdata.obs:
        if not explicit:
            return None
        raise FactVAEInputError(f"is not a column of obs (columns: {list(mdata.obs.columns)[:8]}).",
                                field=f"obs['{batch_key}']",
                                fix="name the column that holds each spot's section "
                                    "(--batch-key), or leave it out for one section.")
    col = mdata.obs[batch_key]
    if col.isna().any():
        raise FactVAEInputError(f"has {int(col.isna().sum())} spots without a section.",
                                field=f"obs['{batch_key}']", fix="give every spot its section.")
    n = col.nunique()
    if n <= 1:
        return None
    if n == mdata.n_obs or n > max(50, mdata.n_obs // 10):
        raise FactVAEInputError(f"has {n} different values for {mdata.n_obs} spots: it names "
                                "spots, not sections.", field=f"obs['{batch_key}']",
                                fix="give the column that names each spot's tissue section "
                                    "(--batch-key), or leave it out for one section.")
    return batch_key


def section_codes(mdata, batch_key: str | None = None) -> np.ndarray | None:
    """Each spot's section as an int code (in the order of the column's categories), or None
    for one section."""
    key = section_key(mdata, batch_key)
    if key is None:
        return None
    return pd.Categorical(mdata.obs[key]).codes.astype(np.int64)


def section_names(mdata, batch_key: str | None = None) -> list[str]:
    """The sections' names in code order ([] for one section)."""
    key = section_key(mdata, batch_key)
    return [] if key is None else [str(c) for c in pd.Categorical(mdata.obs[key]).categories]


def composition_key(key_added: str = DOMAIN_KEY) -> str:
    """Where the composition of the domains in `obs[key_added]` is stored."""
    return COMPOSITION_KEY if key_added == DOMAIN_KEY else f"{key_added}_composition"


def domain_composition(mdata, *, groupby: str = DOMAIN_KEY, batch_key: str | None = None,
                       key_added: str = COMPOSITION_KEY, copy: bool = False):
    """How many spots of each domain each section holds (domains x sections).

    Parameters
    ----------
    mdata : MuData
        With domains in `obs[groupby]` and sections in `obs[batch_key]` (see `section_key`).
    groupby : str, default 'factvae_domain'
        The domain column.
    batch_key : str, optional
        The section column; default as `section_key`.
    key_added : str, default 'factvae_domain_composition'
        Where the table goes in `uns`.
    copy : bool, default False
        Return the table instead of storing it.

    Returns
    -------
    pandas.DataFrame or None
        With `copy`: domains x sections spot counts plus a 'total' column.

    Raises
    ------
    FactVAEInputError
        If `obs[groupby]` is missing, or as `section_key`.

    Notes
    -----
    Sets `mdata.uns[key_added] = {'params': {...}, 'table': DataFrame}` unless `copy`. With one
    section the table has one column, named 'all'.
    """
    if groupby not in mdata.obs:
        raise FactVAEInputError("is missing: no domains to count.", field=f"obs['{groupby}']",
                                fix="find domains first (factvae domains / find_domains).")
    key = section_key(mdata, batch_key)
    sections = mdata.obs[key].astype(str) if key else pd.Series("all", index=mdata.obs_names)
    table = pd.crosstab(mdata.obs[groupby], sections)
    table.index = table.index.astype(str)
    table.columns = table.columns.astype(str)
    table.index.name, table.columns.name = "domain", None
    table["total"] = table.sum(1)
    if copy:
        return table
    mdata.uns[key_added] = {"params": {"groupby": groupby, "batch_key": key or ""},
                            "table": table}
    return None
