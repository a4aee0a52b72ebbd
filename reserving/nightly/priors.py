"""The Bornhuetter-Ferguson prior of the nightly job: the budget where there is one, else a trended PMPM.

Per segment and incurred month, the prior ultimate is the consortium's budget for the month shared
between its service lines (:func:`reserving.bornhuetter_ferguson.budget_prior`); where there is no
budget, the trended cost per member month of the recent mature months times the members
(:func:`reserving.bornhuetter_ferguson.trended_prior`), or a trended monthly cost when there is no
members table either.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from reserving.bornhuetter_ferguson import budget_prior, trended_prior
from reserving.triangle import TriangleSet


def prior(tri: TriangleSet, cl_ultimate, completion, budget: pd.DataFrame | None, members: pd.DataFrame | None,
          threshold: float) -> np.ndarray:
    """Prior ultimate (currency) per segment and origin, (n_segments, n_origins).

    Parameters
    ----------
    tri : TriangleSet
        Segments keyed by (consortium, service), monthly origins.
    cl_ultimate, completion : ndarray (n_segments, n_origins)
        Chain-ladder ultimates and completion (1 / CDF).
    budget : DataFrame, optional
        consortium, month, budget.
    members : DataFrame, optional
        consortium, [service,] month, members (member months).
    threshold : float
        Completion at and above which a month is mature.

    Examples
    --------
    >>> tri = TriangleSet.from_array([[[100., 150.], [90., np.nan]]], origin_start="2024-01", grain="M",
    ...     segments=pd.MultiIndex.from_tuples([("A", "er")], names=["consortium", "service"]))
    >>> budget = pd.DataFrame({"consortium": ["A"], "month": ["2024-02"], "budget": [160.]})
    >>> prior(tri, np.array([[150., 135.]]), np.array([[1., 2 / 3]]), budget, None, 0.75).tolist()
    [[150.0, 160.0]]
    """
    exposure = None if members is None else _exposure(tri, members)
    trended = trended_prior(cl_ultimate, completion, exposure, threshold)
    if budget is None:
        return trended
    from_budget = budget_prior(tri, budget, cl_ultimate, completion, threshold)
    return np.where(np.isfinite(from_budget), from_budget, trended)


def _exposure(tri: TriangleSet, members: pd.DataFrame) -> np.ndarray:
    """Member months per segment and origin (per consortium when the table has no service column)."""
    m = members.assign(month=pd.PeriodIndex(members["month"].astype(str), freq="M"),
                       consortium=members["consortium"].astype(str))
    keys = ["consortium", "service"] if "service" in m else ["consortium"]
    table = m.groupby([*keys, "month"])["members"].sum()
    seg = tri.segments.to_frame(index=False).astype(str)[keys]
    out = np.full((tri.n_segments, tri.n_origins), np.nan)
    for s, key in enumerate(seg.itertuples(index=False)):
        k = tuple(key) if len(keys) > 1 else key[0]
        if k in table.index.droplevel(-1):
            out[s] = table.loc[k].reindex(tri.origins).to_numpy(float)
    return out
