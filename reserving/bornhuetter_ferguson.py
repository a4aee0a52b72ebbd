"""Bornhuetter-Ferguson, its priors, and the health-practice blend for immature incurred months.

Bornhuetter & Ferguson (1972): with a prior (a priori) ultimate ``U0`` for an origin and the
chain-ladder cumulative development factor ``CDF`` from its latest lag, the expected unpaid share
is ``1 - 1/CDF``, so

    IBNR_BF = U0 * (1 - 1/CDF)        ultimate_BF = paid + IBNR_BF

``1/CDF`` is the *completion factor*: the share of the ultimate expected to be paid by now.

Health practice for the latest incurred months, where little has been paid and the chain-ladder
multiplies a small, noisy amount by a large factor: blend the chain-ladder ultimate with the BF
ultimate, giving the chain-ladder the weight of its completion,

    w = min(completion / threshold, 1)
    ultimate = w * ultimate_CL + (1 - w) * ultimate_BF

so months at least ``threshold`` complete are pure chain-ladder and a month with nothing yet
paid is pure BF. ``method="chain_ladder"`` switches the blend off; ``method="bf"`` uses BF for
every origin.

Priors (ultimate cost per segment and incurred month, currency):

- :func:`budget_prior`: the consortium's budget for the month (e.g. from risk-adjusted
  capitation), split across its service lines in proportion to their chain-ladder ultimates over
  the recent mature months.
- :func:`trended_prior`: the segment's cost per member per month (PMPM) over the recent mature
  months, trended log-linearly to each month and multiplied by its member months (or, without
  members, the trended monthly cost).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from _kit.validate import require_columns
from reserving.chain_ladder import ChainLadder, chain_ladder
from reserving.errors import ReservingError
from reserving.results import diagnostics_frame
from reserving.selections import selected_priors
from reserving.triangle import TriangleSet

METHODS = ("blend", "bf", "chain_ladder")


@dataclass(frozen=True)
class BornhuetterFergusonResult:
    """Per segment and origin: paid, prior, completion, the weight given to the chain-ladder, ultimate, IBNR.

    Arrays are (n_segments, n_origins). ``method_used`` says per origin which estimate applies:
    ``chain_ladder`` (weight 1), ``bf`` (weight 0), ``blend`` (in between), or
    ``chain_ladder (no prior)`` where no prior was available. ``development`` is the chain ladder
    behind ``completion`` when the function developed ``tri`` itself (``cdf=None``), and
    ``prior_rows`` the diagnostic rows of the selected priors.
    """

    triangles: TriangleSet
    paid: np.ndarray
    prior: np.ndarray
    completion: np.ndarray
    weight_cl: np.ndarray
    ultimate: np.ndarray
    ibnr: np.ndarray
    method_used: np.ndarray
    development: ChainLadder | None = None
    prior_rows: tuple = ()

    @property
    def diagnostics(self) -> pd.DataFrame:
        """The applied selections: the chain ladder's rows (when it developed ``tri``), then the selected priors."""
        priors = diagnostics_frame(self.triangles, list(self.prior_rows))
        if self.development is None:
            return priors
        return pd.concat([self.development.diagnostics, priors]) if self.prior_rows else self.development.diagnostics

    @property
    def summary(self) -> pd.DataFrame:
        """One row per segment and origin."""
        tri = self.triangles
        index = pd.MultiIndex.from_tuples(
            [(*_tuple(s), o) for s in tri.segments for o in tri.origins],
            names=[*tri.segments.names, "origin"],
        )
        cols = {"paid": self.paid, "prior": self.prior, "completion": self.completion,
                "weight_cl": self.weight_cl, "ultimate": self.ultimate, "ibnr": self.ibnr,
                "method": self.method_used}
        return pd.DataFrame({k: np.asarray(v).ravel() for k, v in cols.items()}, index=index)

    @property
    def totals(self) -> pd.DataFrame:
        """Per segment: paid, ultimate and IBNR summed over origins."""
        return pd.DataFrame({"paid": np.nansum(self.paid, axis=1), "ultimate": np.nansum(self.ultimate, axis=1),
                             "ibnr": np.nansum(self.ibnr, axis=1)}, index=self.triangles.segments)


def _tuple(label):
    return label if isinstance(label, tuple) else (label,)


def bornhuetter_ferguson(
    tri: TriangleSet,
    prior,
    cdf=None,
    cl_ultimate=None,
    method: str = "bf",
    threshold: float = 0.75,
    *,
    selections=None,
) -> BornhuetterFergusonResult:
    """Bornhuetter-Ferguson ultimates, optionally blended with the chain-ladder by completion.

    Parameters
    ----------
    tri : TriangleSet
        The paid triangles; their latest diagonal is the paid to date.
    prior : array_like, (n_segments, n_origins)
        Prior ultimate per segment and origin (currency). NaN where none: the origin keeps the
        chain-ladder estimate (needs ``cl_ultimate``).
    cdf : array_like, (n_segments, n_origins), optional
        Chain-ladder cumulative development factor from each origin's latest lag to ultimate (>= 1
        for a growing pattern; the completion factor is ``1 / cdf``). None: develop ``tri`` with
        :func:`reserving.chain_ladder` (default factor options and the ``selections``), which then
        also gives ``cl_ultimate`` when that is not given.
    cl_ultimate : array_like, (n_segments, n_origins), optional
        Chain-ladder ultimates; required for ``method="blend"`` or ``"chain_ladder"`` with a given ``cdf``.
    method : {'bf', 'blend', 'chain_ladder'}
        ``bf``: BF everywhere. ``blend``: chain-ladder weight ``min(completion / threshold, 1)``.
        ``chain_ladder``: the chain-ladder everywhere (the switch to turn BF off).
    threshold : float
        Completion at and above which ``blend`` is pure chain-ladder.
    selections : Selections, optional
        The actuary's selections (:mod:`reserving.selections`): a ``prior`` row replaces that
        origin's prior ultimate (currency, as ``prior``); ``factor``, ``average`` and ``exclude``
        rows act on the development, so they need ``cdf=None`` (with a given ``cdf`` they are
        refused: apply them in the :func:`reserving.chain_ladder` that made it). Each applied
        selection is a row of ``diagnostics``.

    Examples
    --------
    >>> tri = TriangleSet.from_array([[100., 150.], [90., np.nan]], origin_start="2024-01", grain="M")
    >>> r = bornhuetter_ferguson(tri, prior=[[160., 160.]], cdf=[[1.0, 1.5]])
    >>> r.ibnr.round(4).tolist()
    [[0.0, 53.3333]]
    >>> r = bornhuetter_ferguson(tri, [[160., 160.]], [[1.0, 1.5]], cl_ultimate=[[150., 135.]],
    ...                          method="blend", threshold=0.8)
    >>> r.weight_cl.round(4).tolist(), r.ultimate.round(2).tolist()
    ([[1.0, 0.8333]], [[150.0, 136.39]])
    >>> from reserving import Selections
    >>> sel = Selections.from_frame(pd.DataFrame({"item": ["prior"], "origin": ["2024-02"], "value": ["200"],
    ...                                           "who": ["A. Actuary"], "why": ["new contract"]}))
    >>> bornhuetter_ferguson(tri, [[160., 160.]], selections=sel).ibnr.round(4).tolist()   # 200 x (1 - 1/1.5)
    [[0.0, 66.6667]]
    """
    if method not in METHODS:
        raise ReservingError(f"method {method!r} is not one of {METHODS}")
    if not 0 < threshold <= 1:
        raise ReservingError(f"threshold {threshold} must be in (0, 1]")
    shape = (tri.n_segments, tri.n_origins)
    developed = None
    if cdf is None:
        developed = chain_ladder(tri, selections=selections)
        cdf = developed.cdf
        cl_ultimate = developed.ultimate if cl_ultimate is None else cl_ultimate
    elif selections is not None and selections.has_development():
        raise ReservingError(f"{selections.source}: factor, average and exclude selections act on the development; "
                             "with a given cdf apply them in the chain_ladder that made it, or pass cdf=None")
    prior, prior_rows = selected_priors(tri, _as_2d(prior, shape, "prior"), selections, "prior ultimate")
    cdf = _as_2d(cdf, shape, "cdf")
    if (cdf[np.isfinite(cdf)] <= 0).any():
        s, i = np.argwhere(np.isfinite(cdf) & (cdf <= 0))[0]
        raise ReservingError(f"cdf {cdf[s, i]} at origin {tri.origins[i]} is not positive", segment=tri.segment_name(s))
    paid = tri.latest
    completion = 1.0 / cdf
    bf_ult = paid + prior * (1.0 - completion)
    if method == "bf":
        weight = np.zeros(shape)
        cl = np.full(shape, np.nan) if cl_ultimate is None else _as_2d(cl_ultimate, shape, "cl_ultimate")
    else:
        if cl_ultimate is None:
            raise ReservingError(f"method={method!r} needs cl_ultimate (the chain-ladder ultimates)")
        cl = _as_2d(cl_ultimate, shape, "cl_ultimate")
        weight = np.ones(shape) if method == "chain_ladder" else np.clip(completion / threshold, 0.0, 1.0)
    no_prior = ~np.isfinite(prior) & (weight < 1)
    if no_prior.any() and not np.isfinite(cl[no_prior]).all():
        s, i = np.argwhere(no_prior & ~np.isfinite(cl))[0]
        raise ReservingError(f"no prior and no chain-ladder ultimate at origin {tri.origins[i]}",
                             segment=tri.segment_name(s))
    weight = np.where(no_prior, 1.0, weight)
    ultimate = np.where(weight >= 1, cl, np.where(weight <= 0, bf_ult, weight * cl + (1 - weight) * bf_ult))
    ultimate = np.where(np.isnan(paid), np.nan, ultimate)
    labels = np.where(weight >= 1, "chain_ladder", np.where(weight <= 0, "bf", "blend")).astype(object)
    labels[no_prior] = "chain_ladder (no prior)"
    return BornhuetterFergusonResult(tri, paid, prior, completion, weight, ultimate, ultimate - paid, labels,
                                     developed, tuple(prior_rows))


def _as_2d(values, shape, name) -> np.ndarray:
    arr = np.asarray(values, dtype=np.float64)
    if arr.shape != shape:
        raise ReservingError(f"{name} has shape {arr.shape}; expected (n_segments, n_origins) = {shape}")
    return arr


def mature(completion: np.ndarray, threshold: float, n_months: int) -> np.ndarray:
    """Boolean (n_segments, n_origins): the last ``n_months`` origins per segment with completion >= threshold."""
    ok = np.isfinite(completion) & (completion >= threshold)
    from_end = np.cumsum(ok[:, ::-1], axis=1)[:, ::-1]
    return ok & (from_end <= n_months)


def trended_prior(
    cl_ultimate: np.ndarray,
    completion: np.ndarray,
    exposure: np.ndarray | None = None,
    threshold: float = 0.75,
    n_months: int = 12,
) -> np.ndarray:
    """Trended cost per exposure unit from the recent mature months, times exposure.

    Per segment, over the last ``n_months`` origins with completion >= ``threshold``: fit
    ``log(ultimate / exposure) = a + b * t`` by least squares (t = origin position) when every
    value is positive and there are at least 3, otherwise take the mean cost per exposure (no
    trend). The prior for origin ``t`` is ``exp(a + b t) * exposure[t]``.

    Parameters
    ----------
    cl_ultimate, completion : (n_segments, n_origins)
    exposure : (n_segments, n_origins), optional
        Member months; default 1 for every month (a trended monthly cost).

    Returns
    -------
    ndarray (n_segments, n_origins); NaN for a segment with no mature month.

    Examples
    --------
    >>> ult = np.array([[100., 110., 121., 50.]])
    >>> trended_prior(ult, np.array([[1., 1., 0.9, 0.2]]), threshold=0.75).round(6).tolist()
    [[100.0, 110.0, 121.0, 133.1]]
    """
    exposure = np.ones_like(cl_ultimate) if exposure is None else np.asarray(exposure, dtype=float)
    use = mature(completion, threshold, n_months) & np.isfinite(cl_ultimate) & (exposure > 0)
    out = np.full(cl_ultimate.shape, np.nan)
    t = np.arange(cl_ultimate.shape[1], dtype=float)
    for s in range(cl_ultimate.shape[0]):
        idx = np.flatnonzero(use[s])
        if idx.size == 0:
            continue
        rate = cl_ultimate[s, idx] / exposure[s, idx]
        if idx.size >= 3 and (rate > 0).all():
            b, a = np.polyfit(t[idx], np.log(rate), 1)
            out[s] = np.exp(a + b * t) * exposure[s]
        else:
            out[s] = rate.mean() * exposure[s]
    return out


def budget_prior(
    tri: TriangleSet,
    budget: pd.DataFrame,
    cl_ultimate: np.ndarray,
    completion: np.ndarray,
    threshold: float = 0.75,
    n_months: int = 12,
) -> np.ndarray:
    """Each consortium's monthly budget split across its service lines.

    The split is each service's share of the consortium's chain-ladder ultimates over the last
    ``n_months`` mature origins (completion >= ``threshold``).

    Parameters
    ----------
    tri : TriangleSet
        Segments keyed by (consortium, service).
    budget : DataFrame
        Columns ``consortium``, ``month`` (anything ``pandas.Period`` reads, e.g. ``2024-03``)
        and ``budget`` (currency for the consortium and month).
    cl_ultimate, completion : (n_segments, n_origins)

    Returns
    -------
    ndarray (n_segments, n_origins); NaN where the consortium has no budget for the month.

    Examples
    --------
    >>> tri = TriangleSet.from_array(np.full((2, 2, 2), np.nan), origin_start="2024-01", grain="M",
    ...     segments=pd.MultiIndex.from_tuples([("A", "er"), ("A", "op")], names=["consortium", "service"]))
    >>> b = pd.DataFrame({"consortium": ["A", "A"], "month": ["2024-01", "2024-02"], "budget": [100., 200.]})
    >>> budget_prior(tri, b, np.array([[30., 0.], [10., 0.]]), np.array([[1., .1], [1., .1]])).tolist()
    [[75.0, 150.0], [25.0, 50.0]]
    """
    require_columns(budget, ["consortium", "month", "budget"], "budget", error=ReservingError)
    cons = tri.segments.get_level_values(0).astype(str)
    months = pd.PeriodIndex(pd.PeriodIndex(budget["month"].astype(str), freq="M"))
    table = pd.Series(budget["budget"].to_numpy(float),
                      index=pd.MultiIndex.from_arrays([budget["consortium"].astype(str), months]))
    table = table.groupby(level=[0, 1]).sum()
    grid = pd.MultiIndex.from_product([pd.Index(cons.unique()), tri.origins])
    by_cons = table.reindex(grid).to_numpy().reshape(len(cons.unique()), tri.n_origins)
    rows = pd.Index(cons.unique()).get_indexer(cons)
    use = mature(completion, threshold, n_months) & np.isfinite(cl_ultimate)
    recent = np.where(use, cl_ultimate, 0.0).sum(axis=1)
    cons_total = pd.Series(recent).groupby(rows).transform("sum").to_numpy()
    share = np.divide(recent, cons_total, out=np.full(len(recent), np.nan), where=cons_total > 0)
    return by_cons[rows] * share[:, None]
