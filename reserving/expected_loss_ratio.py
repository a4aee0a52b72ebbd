"""Expected loss ratio (or cost per member per month): ultimate = loss ratio x exposure.

The method ignores the claims to date; it is what an actuary uses for the newest origins or as
the a priori of Bornhuetter-Ferguson, Benktander and Cape Cod. Matches chainladder-python 0.10
``ExpectedLoss(apriori)``.
"""

from __future__ import annotations

from reserving._exposure import ExposureResult, per_origin, result
from reserving.chain_ladder import chain_ladder
from reserving.selections import selected_priors
from reserving.triangle import TriangleSet


def expected_loss_ratio(
    tri: TriangleSet,
    exposure,
    loss_ratio,
    *,
    average: str = "volume",
    n_periods: int | None = None,
    drop_high=None,
    drop_low=None,
    exclude=None,
    tail=None,
    selections=None,
) -> ExposureResult:
    """Expected-loss-ratio ultimates: ``ultimate = loss_ratio * exposure``, ``ibnr = ultimate - latest``.

    For health budgets, ``exposure`` is member months and ``loss_ratio`` the expected cost per
    member per month (PMPM, currency), so the ultimate is PMPM x member months.

    Parameters
    ----------
    tri : TriangleSet
        Cumulative triangles (currency).
    exposure : float or array_like (I,) or (S, I)
        Earned premium (currency) or member months per origin.
    loss_ratio : float or array_like (I,) or (S, I)
        Expected loss ratio, or cost per exposure unit (PMPM).
    average, n_periods, drop_high, drop_low, exclude, tail
        The development-factor options of :func:`reserving.chain_ladder`; they do not change the
        ultimate, only the ``cdf`` column reported beside it (the implied completion ``1/cdf``).
    selections : Selections, optional
        The actuary's selections (:mod:`reserving.selections`): development rows act on the
        pattern behind ``cdf``; a ``prior`` row replaces that origin's ``loss_ratio`` (a row of
        ``diagnostics`` each).

    Returns
    -------
    ExposureResult

    Examples
    --------
    >>> import numpy as np
    >>> from reserving import TriangleSet, expected_loss_ratio
    >>> tri = TriangleSet.from_array([[100., 150.], [90., np.nan]], origin_start="2024-01", grain="M")
    >>> r = expected_loss_ratio(tri, exposure=[1000., 1100.], loss_ratio=0.15)   # 0.15 per member month
    >>> r.ultimate.round(2).tolist(), r.ibnr.round(2).tolist()
    ([[150.0, 165.0]], [[0.0, 75.0]])
    """
    cl_result = chain_ladder(tri, average=average, n_periods=n_periods, drop_high=drop_high, drop_low=drop_low,
                             exclude=exclude, tail=tail, selections=selections)
    exposure_arr = per_origin(tri, exposure, "exposure")
    ratio, rows = selected_priors(tri, per_origin(tri, loss_ratio, "loss_ratio"), selections, "loss ratio")
    return result("expected_loss_ratio", cl_result, exposure_arr, ratio, ratio * exposure_arr, 0, rows)
