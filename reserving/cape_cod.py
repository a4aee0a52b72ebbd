"""Cape Cod (Stanard-Bühlmann): the a priori loss ratio estimated from the triangle itself.

Each origin's *used-up* exposure is ``E_i / CDF_i`` (the exposure times the share of its ultimate
reported so far). The Cape Cod loss ratio is reported losses over used-up exposure; the
generalised form (Struzzieri & Hussian 1998, "Using best practices to determine a best reserve
estimate", CAS Forum) weights origin ``i`` by ``decay^|i - k|`` when estimating origin ``k`` and
brings every origin's losses to the valuation date's cost level with an annual ``trend``:

    t_i   = (1 + trend) ** (m_i / 12)       m_i = months from the end of origin i to the valuation
    ELR_k = sum_i decay^|i-k| L_i t_i / sum_i decay^|i-k| E_i / CDF_i        (valuation cost level)
    LR_k  = ELR_k / t_k                                                      (origin k's cost level)
    U_k   = L_k + (1 - 1/CDF_k) LR_k E_k                                     (Bornhuetter-Ferguson)

``decay = 1`` and ``trend = 0`` give the classical Cape Cod, one loss ratio for all origins;
``decay -> 0`` gives each origin its own chain-ladder loss ratio, i.e. the chain ladder.
Matches chainladder-python 0.10 ``CapeCod(trend, decay, n_iters)`` (see the tests for the one
place it differs: origins with exposure but no claims data).
"""

from __future__ import annotations

import numpy as np

from reserving._exposure import ExposureResult, per_origin, result
from reserving.chain_ladder import chain_ladder
from reserving.errors import ReservingError
from reserving.selections import selected_priors
from reserving.triangle import TriangleSet


def cape_cod(
    tri: TriangleSet,
    exposure,
    *,
    average: str = "volume",
    n_periods: int | None = None,
    drop_high=None,
    drop_low=None,
    exclude=None,
    tail=None,
    selections=None,
    decay: float = 1.0,
    trend: float = 0.0,
    n_iters: int = 1,
) -> ExposureResult:
    """Cape Cod ultimates with the generalised decay and an annual trend.

    Parameters
    ----------
    tri : TriangleSet
        Cumulative triangles (currency).
    exposure : float or array_like (I,) or (S, I)
        Earned premium (currency) or member months per origin; positive for every origin with data.
    average, n_periods, drop_high, drop_low, exclude, tail
        The development-factor options of :func:`reserving.chain_ladder`, same order, keyword-only.
    selections : Selections, optional
        The actuary's selections (:mod:`reserving.selections`): development rows act on the
        pattern (and so on the used-up exposure and the Cape Cod loss ratio); a ``prior`` row
        replaces the Cape Cod loss ratio of that origin (at its own cost level) by the selected
        one, the other origins keeping the Cape Cod ratio estimated from all the data (the selected
        origin's claims still count in it); a row of ``diagnostics`` each.
    decay : float in [0, 1]
        Weight ``decay^|i-k|`` of origin ``i`` in the loss ratio of origin ``k``.
    trend : float
        Annual cost trend (0.03 = 3% a year) over the months from each origin's end to the valuation.
    n_iters : int
        Benktander iterations from the Cape Cod prior (1: Bornhuetter-Ferguson, as Cape Cod is defined).

    Returns
    -------
    ExposureResult
        ``loss_ratio`` is the Cape Cod loss ratio of each origin at its own cost level, ``prior``
        the Cape Cod expected ultimate ``loss_ratio * exposure``.

    Notes
    -----
    A negative cdf (from negative cumulatives) gives a negative used-up exposure; it is used as
    it comes, as chainladder does, and only a zero or non-finite decayed sum is an error.
    Origins with no claims data (e.g. before a segment's first origin) carry no exposure into
    the loss ratio and get a NaN ultimate. Plain numpy over the segment axis: the work is one
    (I x I) weighting per segment.

    Examples
    --------
    >>> import numpy as np
    >>> from reserving import TriangleSet, cape_cod
    >>> tri = TriangleSet.from_array([[100., 150.], [90., np.nan]], origin_start="2024", grain="Y")
    >>> r = cape_cod(tri, exposure=[200., 200.])   # (150 + 90) / (200 + 200/1.5) = 0.72
    >>> r.loss_ratio.round(4).tolist(), r.ultimate.round(4).tolist()
    ([[0.72, 0.72]], [[150.0, 138.0]])
    """
    if not np.isfinite(decay) or not 0.0 <= decay <= 1.0:
        raise ReservingError(f"decay {decay!r} must be between 0 and 1")
    if not np.isfinite(trend) or trend <= -1.0:
        raise ReservingError(f"trend {trend!r} must be a finite annual rate above -1 (e.g. 0.03 for 3%)")
    cl_result = chain_ladder(tri, average=average, n_periods=n_periods, drop_high=drop_high, drop_low=drop_low,
                             exclude=exclude, tail=tail, selections=selections)
    exposure_arr = per_origin(tri, exposure, "exposure", positive=True)
    latest, cdf = cl_result.latest, cl_result.cdf
    has = np.isfinite(latest)
    factor = trend_factors(tri, trend)
    used_up = np.where(has, exposure_arr / cdf, 0.0)
    trended = np.where(has, latest * factor[None, :], 0.0)
    pos = np.arange(tri.n_origins)
    weights = float(decay) ** np.abs(pos[:, None] - pos[None, :])          # (k, i)
    numerator = trended @ weights.T
    denominator = used_up @ weights.T
    bad = has & ~(np.isfinite(denominator) & (denominator != 0))
    if bad.any():
        s, k = np.argwhere(bad)[0]
        raise ReservingError(f"the Cape Cod loss ratio of origin {tri.origins[k]} has used-up exposure "
                             f"{denominator[s, k]:.6g} (decayed sum of exposure / cdf over the origins): "
                             "check the exposure and the factors, or raise decay",
                             segment=tri.segment_name(s))
    with np.errstate(divide="ignore", invalid="ignore"):
        loss_ratio = np.where(has, numerator / denominator / factor[None, :], np.nan)
    loss_ratio, rows = selected_priors(tri, loss_ratio, selections, "loss ratio")
    return result("cape_cod", cl_result, exposure_arr, loss_ratio, loss_ratio * exposure_arr, n_iters, rows)


def trend_factors(tri: TriangleSet, trend: float) -> np.ndarray:
    """(I,) ``(1 + trend) ** (m_i / 12)``, ``m_i`` the whole months from the end of origin i to the valuation.

    Examples
    --------
    >>> tri = TriangleSet.from_array([[1., 1.], [1., np.nan]], origin_start="2023", grain="Y")
    >>> trend_factors(tri, 0.10).round(6).tolist()
    [1.1, 1.0]
    """
    valuation = tri.valuation
    ends = tri.origins.end_time
    months = (valuation.year - ends.year) * 12 + (valuation.month - ends.month)
    return (1.0 + trend) ** (np.asarray(months, dtype=float) / 12.0)
