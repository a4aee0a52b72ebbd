"""Benktander: Bornhuetter-Ferguson iterated towards the chain ladder.

    U_0 = prior,   U_{k+1} = latest + (1 - 1/CDF) U_k

Benktander (1976), Mack (2000) "Credible claims reserves: the Benktander method", ASTIN
Bulletin 30(2). One iteration is Bornhuetter-Ferguson, two is Benktander-Hovinen, many is the
chain ladder. Matches chainladder-python 0.10 ``Benktander(apriori, n_iters)``.
"""

from __future__ import annotations

import numpy as np

from reserving._exposure import ExposureResult, per_origin, result
from reserving.chain_ladder import chain_ladder
from reserving.selections import selected_priors
from reserving.triangle import TriangleSet


def benktander(
    tri: TriangleSet,
    apriori,
    exposure=None,
    *,
    average: str = "volume",
    n_periods: int | None = None,
    drop_high=None,
    drop_low=None,
    exclude=None,
    tail=None,
    selections=None,
    n_iters: int = 1,
) -> ExposureResult:
    """Benktander ultimates: ``n_iters`` Bornhuetter-Ferguson steps from an a priori ultimate.

    With ``q = 1 - 1/CDF`` (the share still to come at each origin's latest age),

        U_n = latest * (1 + q + ... + q^(n-1)) + q^n * prior

    (Mack 2000, ASTIN Bulletin 30(2), eq. 2.3). ``n_iters=1`` is Bornhuetter-Ferguson,
    ``n_iters=0`` the expected loss ratio.

    Parameters
    ----------
    tri : TriangleSet
        Cumulative triangles (currency).
    apriori : float or array_like (I,) or (S, I)
        Without ``exposure``: the a priori ultimate per origin (currency). With ``exposure``: the
        a priori loss ratio (or cost per member per month), so that ``prior = apriori * exposure``.
    exposure : float or array_like (I,) or (S, I), optional
        Earned premium (currency) or member months per origin.
    average, n_periods, drop_high, drop_low, exclude, tail
        The development-factor options of :func:`reserving.chain_ladder`, same order, keyword-only.
    selections : Selections, optional
        The actuary's selections (:mod:`reserving.selections`): development rows act on the
        pattern behind ``cdf``; a ``prior`` row replaces that origin's ``apriori`` in its units (the
        loss ratio with ``exposure``, else the a priori ultimate); a row of ``diagnostics`` each.
    n_iters : int
        Number of iterations, 0 or more.

    Returns
    -------
    ExposureResult
        ``.summary`` (latest, exposure, loss_ratio, prior, cdf, ultimate, ibnr) and ``.totals``.

    Examples
    --------
    >>> import numpy as np
    >>> from reserving import TriangleSet, benktander
    >>> tri = TriangleSet.from_array([[100., 150.], [90., np.nan]], origin_start="2024", grain="Y")
    >>> r = benktander(tri, [160., 160.], n_iters=2)      # cdf of the second origin 1.5, q = 1/3
    >>> r.ultimate.round(4).tolist()                      # 90 + 90/3 + 160/9
    [[150.0, 137.7778]]
    """
    cl_result = chain_ladder(tri, average=average, n_periods=n_periods, drop_high=drop_high, drop_low=drop_low,
                             exclude=exclude, tail=tail, selections=selections)
    if exposure is None:
        prior, rows = selected_priors(tri, per_origin(tri, apriori, "apriori"), selections, "prior ultimate")
        exposure_arr = np.full(prior.shape, np.nan)
        loss_ratio = np.full(prior.shape, np.nan)
    else:
        exposure_arr = per_origin(tri, exposure, "exposure")
        loss_ratio, rows = selected_priors(tri, per_origin(tri, apriori, "apriori"), selections, "loss ratio")
        prior = loss_ratio * exposure_arr
    return result("benktander", cl_result, exposure_arr, loss_ratio, prior, n_iters, rows)
