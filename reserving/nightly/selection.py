"""The nightly job's selected estimate: Bornhuetter-Ferguson blended with the chain-ladder by completion.

The prior ultimate per segment and incurred month is the consortium's budget for the month shared
between its service lines (:func:`reserving.bornhuetter_ferguson.budget_prior`); where there is no
budget, the trended cost per member month of the recent mature months times the members
(:func:`reserving.bornhuetter_ferguson.trended_prior`), or a trended monthly cost when there is no
members table either. With the selected IBNR come the payments expected in the month after the
as-of date (for actual against expected at the next run).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from reserving.bornhuetter_ferguson import BornhuetterFergusonResult, bornhuetter_ferguson, budget_prior
from reserving.bornhuetter_ferguson import trended_prior
from reserving.chain_ladder import ChainLadder
from reserving.nightly.outturn import expected_next_payments
from reserving.triangle import TriangleSet


@dataclass(frozen=True)
class Selection:
    """The selected estimate, (n_segments, n_origins) arrays.

    Attributes
    ----------
    completion : ndarray
        Chain-ladder completion, 1 / CDF.
    prior : ndarray
        BF prior ultimate (currency).
    bf : BornhuetterFergusonResult
        Paid, selected ultimate and IBNR, the method used per cell.
    expected_next : ndarray
        Payments expected in the month after the as-of date (currency).
    """

    completion: np.ndarray
    prior: np.ndarray
    bf: BornhuetterFergusonResult
    expected_next: np.ndarray


def select(tri: TriangleSet, cl: ChainLadder, budget: pd.DataFrame | None, members: pd.DataFrame | None, *,
           method: str, threshold: float, next_completion=None) -> Selection:
    """The selected estimate of every segment of ``tri`` from its chain-ladder ``cl``.

    ``method`` and ``threshold`` are as in :func:`reserving.bornhuetter_ferguson`; ``budget`` and
    ``members`` as in :func:`prior`. ``next_completion`` (n_segments, n_origins), when given, is the
    completion one month on behind ``expected_next`` (seasonal completion, :mod:`.seasonal`); by
    default the chain-ladder pattern's at the next lag.

    Examples
    --------
    >>> tri = TriangleSet.from_array([[[100., 150.], [90., np.nan]]], origin_start="2024-01", grain="M",
    ...     segments=pd.MultiIndex.from_tuples([("A", "er")], names=["consortium", "service"]))
    >>> from reserving import chain_ladder
    >>> budget = pd.DataFrame({"consortium": ["A"], "month": ["2024-02"], "budget": [160.]})
    >>> sel = select(tri, chain_ladder(tri), budget, None, method="bf", threshold=0.75)
    >>> sel.prior.tolist(), sel.bf.ibnr.round(2).tolist(), sel.expected_next.round(2).tolist()
    ([[150.0, 160.0]], [[0.0, 53.33]], [[0.0, 53.33]])
    """
    completion = 1.0 / cl.cdf
    prior_ = prior(tri, cl.ultimate, completion, budget, members, threshold)
    bf = bornhuetter_ferguson(tri, prior_, cl.cdf, cl_ultimate=cl.ultimate, method=method, threshold=threshold)
    cdf_pattern = cl.development.cdf_values
    lag = np.maximum(cl.latest_lag, 0)
    next_cdf = np.where(lag + 1 < tri.n_lags,
                        np.take_along_axis(cdf_pattern, np.minimum(lag + 1, tri.n_lags - 1), axis=1), 1.0)
    if next_completion is None:
        next_completion = 1.0 / next_cdf
    return Selection(completion, prior_, bf, expected_next_payments(np.nan_to_num(bf.ibnr), completion, next_completion))


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
