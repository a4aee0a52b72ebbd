"""The nightly job's selected estimate: Bornhuetter-Ferguson blended with the chain-ladder by completion.

The prior ultimate per segment and incurred month is the consortium's budget for the month shared
between its service lines (:func:`reserving.bornhuetter_ferguson.budget_prior`); where there is no
budget, the trended cost per member month of the recent mature months times the members
(:func:`reserving.bornhuetter_ferguson.trended_prior`), or a trended monthly cost when there is no
members table either. With the selected IBNR come the payments expected in the month after the
as-of date (for actual against expected at the next run).

The actuary's per-origin choices (:mod:`reserving.selections`) override the job's rule for their
origin only. A ``prior`` row gives the a priori ultimate ``value x member months`` (a PMPM) when a
members table is given, else ``value x`` the job's prior (a loss ratio on the budget, or on the
trended cost where there is no budget). A ``method`` row makes the origin's ultimate

- ``chain_ladder``: the chain-ladder ultimate (weight 1 on the chain ladder);
- ``bf``: Bornhuetter-Ferguson on the origin's prior (weight 0);
- ``benktander``: Benktander-Hovinen, two iterations from the prior, which is the credibility
  mixture ``c U_CL + (1 - c) U_BF`` with ``c`` the completion (Mack 2000, ASTIN Bulletin 30(2)):
  weight ``c``;
- ``cape_cod``: Bornhuetter-Ferguson on ``LR x E``, ``E`` the member months (or, without members,
  the job's prior, as an on-level premium) and ``LR = sum paid / sum E / CDF`` over the segment's
  origins with data and exposure (the classical Cape Cod, :func:`reserving.cape_cod`), or the
  origin's selected prior ratio where it has one;
- ``expected_loss_ratio``: the prior itself. In the blend (and so in the ranges, which simulate
  the blend) it is Bornhuetter-Ferguson on the equivalent prior ``(prior - paid) / (1 - c)``, whose
  ultimate is the prior; an origin with nothing left to develop (``c = 1``) cannot take it.

:attr:`Selection.overrides` lists every origin overridden, the job's method and prior beside the
selected ones, with who and why.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from _kit.validate import csv_line
from reserving.bornhuetter_ferguson import BornhuetterFergusonResult, bornhuetter_ferguson, budget_prior
from reserving.bornhuetter_ferguson import trended_prior
from reserving.chain_ladder import ChainLadder
from reserving.errors import ReservingError
from reserving.nightly.outturn import expected_next_payments
from reserving.selections import METHODS, Selections
from reserving.triangle import TriangleSet


@dataclass(frozen=True)
class Selection:
    """The selected estimate, (n_segments, n_origins) arrays.

    Attributes
    ----------
    completion : ndarray
        Chain-ladder completion, 1 / CDF.
    prior : ndarray
        A priori ultimate (currency), the selected priors in place.
    bf : BornhuetterFergusonResult
        Paid, selected ultimate and IBNR, the method used per cell; its ``prior`` is the one the
        blend uses (``prior`` except on an ``expected_loss_ratio`` origin, see the module notes).
    expected_next : ndarray
        Payments expected in the month after the as-of date (currency).
    overrides : DataFrame, optional
        With selections: per overridden segment and origin, the job's (indicated) and the selected
        method, prior and ultimate, who and why (:data:`OVERRIDE_COLUMNS`).
    """

    completion: np.ndarray
    prior: np.ndarray
    bf: BornhuetterFergusonResult
    expected_next: np.ndarray
    overrides: pd.DataFrame | None = None


#: Columns of :attr:`Selection.overrides`.
OVERRIDE_COLUMNS = ["segment", "origin", "indicated_method", "selected_method", "indicated_prior",
                    "selected_prior", "indicated_ultimate", "selected_ultimate", "who", "why"]


def select(tri: TriangleSet, cl: ChainLadder, budget: pd.DataFrame | None, members: pd.DataFrame | None, *,
           method: str, threshold: float, selections: Selections | None = None, next_completion=None) -> Selection:
    """The selected estimate of every segment of ``tri`` from its chain-ladder ``cl``.

    ``method`` and ``threshold`` are as in :func:`reserving.bornhuetter_ferguson`; ``budget`` and
    ``members`` as in :func:`prior`; ``selections`` the actuary's per-origin ``method`` and
    ``prior`` rows (module notes), checked against ``tri``. ``next_completion`` (n_segments,
    n_origins), when given, is the completion one month on behind ``expected_next`` (seasonal
    completion, :mod:`.seasonal`); by default the chain-ladder pattern's at the next lag.

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
    overrides = None
    if selections is not None:
        exposure = None if members is None else _exposure(tri, members)
        indicated = bf
        base = prior_ if exposure is None else exposure
        prior_, ratio = _selected_priors(tri, prior_, base, exposure is not None, selections)
        bf = bornhuetter_ferguson(tri, prior_, cl.cdf, cl_ultimate=cl.ultimate, method=method, threshold=threshold)
        prior_, bf = _override(tri, cl, prior_, ratio, base, bf, selections)
        overrides = _overrides(tri, indicated, bf, prior_, selections)
    cdf_pattern = cl.development.cdf_values
    lag = np.maximum(cl.latest_lag, 0)
    next_cdf = np.where(lag + 1 < tri.n_lags,
                        np.take_along_axis(cdf_pattern, np.minimum(lag + 1, tri.n_lags - 1), axis=1), 1.0)
    if next_completion is None:
        next_completion = 1.0 / next_cdf
    return Selection(completion, prior_, bf, expected_next_payments(np.nan_to_num(bf.ibnr), completion, next_completion),
                     overrides)


def _selected_priors(tri, indicated_prior, base, per_member, selections):
    """(a priori ultimates with each ``prior`` row's ``value x base`` in place, (S, I) values NaN where none)."""
    prior_ = indicated_prior.copy()
    ratio = np.full(prior_.shape, np.nan)
    for s, rec in selections.rows_for(tri, "prior"):
        i = selections.origin_index(tri, rec["origin"])
        ratio[s, i] = float(rec["value"])
        prior_[s, i] = ratio[s, i] * base[s, i]
        _need(np.isfinite(prior_[s, i]), selections, rec, "the prior has nothing to apply to: "
              + ("the members table has no member months" if per_member else "the job has no prior")
              + " for this segment and month")
    return prior_, ratio


def _override(tri, cl, prior_, ratio, base, bf, selections):
    """(a priori ultimates, blend) with the per-origin ``method`` selections applied to ``bf``, the job's rule."""
    prior_ = prior_.copy()
    weight, blend_prior = bf.weight_cl.copy(), prior_.copy()
    labels = bf.method_used.copy()
    completion, paid = bf.completion, bf.paid
    for s, rec in selections.rows_for(tri, "method"):
        i = selections.origin_index(tri, rec["origin"])
        chosen = METHODS[rec["value"]]
        labels[s, i] = chosen
        if chosen == "chain_ladder":
            weight[s, i] = 1.0
            continue
        if chosen == "cape_cod" and not np.isfinite(ratio[s, i]):
            blend_prior[s, i] = prior_[s, i] = _cape_cod_ratio(s, tri, cl, base, selections, rec) * base[s, i]
        _need(np.isfinite(prior_[s, i]), selections, rec, "the job has no prior for this segment and month; "
              "give one (item prior)")
        weight[s, i] = float(np.clip(completion[s, i], 0.0, 1.0)) if chosen == "benktander" else 0.0
        if chosen == "expected_loss_ratio":
            _need(not completion[s, i] >= 1.0, selections, rec, "the month is complete by the pattern (completion 1): "
                  "an expected loss ratio would ignore what is paid; choose chain_ladder")
            blend_prior[s, i] = (prior_[s, i] - paid[s, i]) / (1.0 - completion[s, i])
    bf_ult = paid + blend_prior * (1.0 - completion)
    ultimate = np.where(weight >= 1, cl.ultimate, np.where(weight <= 0, bf_ult,
                                                           weight * cl.ultimate + (1 - weight) * bf_ult))
    ultimate = np.where(np.isnan(paid), np.nan, ultimate)
    return prior_, replace(bf, prior=blend_prior, weight_cl=weight, ultimate=ultimate, ibnr=ultimate - paid,
                           method_used=labels)


def _cape_cod_ratio(s, tri, cl, exposure, selections, rec) -> float:
    """Segment ``s``'s Cape Cod loss ratio: paid over used-up exposure ``E / CDF`` of its origins with both."""
    use = np.isfinite(cl.latest[s]) & np.isfinite(exposure[s]) & (exposure[s] > 0)
    used_up = (exposure[s, use] / cl.cdf[s, use]).sum()
    _need(use.any() and used_up > 0, selections, rec, "Cape Cod needs origins with paid claims and exposure "
          "(member months, or the job's prior) in the segment")
    return float(cl.latest[s, use].sum() / used_up)


def _need(ok, selections, rec, what) -> None:
    if not ok:
        raise ReservingError(f"{rec['item']} {rec['value']} for origin {rec['origin']}: {what}",
                             file=selections.source, line=csv_line(selections.source, rec.name), column="value",
                             segment=rec["segment"])


def _overrides(tri, indicated: BornhuetterFergusonResult, selected: BornhuetterFergusonResult, prior_,
               selections: Selections) -> pd.DataFrame:
    """Per overridden segment and origin: :data:`OVERRIDE_COLUMNS`."""
    choices = selections.origin_choices(tri)
    if choices.empty:
        return pd.DataFrame(columns=OVERRIDE_COLUMNS)
    labels = ["/".join(map(str, x)) if isinstance(x, tuple) else str(x) for x in tri.segments]
    s = pd.Index(labels).get_indexer(choices["segment"])
    i = tri.origins.get_indexer(choices["origin"])
    return pd.DataFrame({
        "segment": choices["segment"], "origin": choices["origin"].astype(str),
        "indicated_method": indicated.method_used[s, i], "selected_method": selected.method_used[s, i],
        "indicated_prior": indicated.prior[s, i], "selected_prior": prior_[s, i],
        "indicated_ultimate": indicated.ultimate[s, i], "selected_ultimate": selected.ultimate[s, i],
        "who": choices["who"], "why": choices["why"]}, columns=OVERRIDE_COLUMNS)


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
