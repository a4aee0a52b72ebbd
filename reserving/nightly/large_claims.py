"""Large claims taken out of the development and loaded back: the nightly job's estimate (``large_claims="separate"``).

A chain ladder on claims with a heavy tail projects whatever large claims a month happens to have
paid: most months have paid none and project too little, the odd one projects its large claim by
the whole remaining development, and the factors themselves are ratios whose denominators are
mostly below their mean. On generated health claims with a Pareto tail the estimate ran about
1.5% above the exact expected outstanding, 3% to 5% in the months developed by the chain ladder;
developed apart, +0.9%, and the error's standard deviation fell from 11.5% to 5.7% nationally and
from 30% to 13% per consortium (400 datasets; ``tests/reserving/test_nightly_ranges.py``,
``benchmarks/bench_ranges.py``).

The usual remedy in reserving practice is to develop large claims apart from the attritional ones
(the development technique assumes a stable mix of claims: Friedland 2010, "Estimating Unpaid
Claims Using Basic Techniques", CAS, chapter 7). Here each line is capped at its service's
large-claim threshold (the
:data:`reserving.nightly.claims.LARGE_QUANTILE` of its amounts), the capped amounts are
developed, and the excess over the threshold is loaded back in proportion. With ``a`` the
service's excess share (the sum of its lines' excess over the threshold over the sum of all its
lines, pooled over consortia as the threshold is) and ``C_A`` the capped cumulative paid of a
segment, the estimate develops the grossed-up triangle ``C_A / (1 - a)``:

    IBNR = C_A[i, k] (CDF_A[k] - 1) / (1 - a)

with ``CDF_A`` the capped triangle's development (a pattern does not change with the gross-up).
A month's ultimate is its real paid plus this IBNR. The excess is assumed to be paid with the
attritional claims' delays; the Bornhuetter-Ferguson part uses the same pattern. The ranges
simulate the same model: the grossed-up triangle's bootstrap with ODP error, and the excess still
to come as a compound Poisson sum of the service's excess amounts
(:func:`reserving.nightly.ranges.simulate_ranges`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from reserving.chain_ladder import ChainLadder
from reserving.nightly.claims import LargeLines
from reserving.triangle import TriangleSet

#: The nightly job's ``large_claims`` settings: developed apart from the rest, or in the triangles as paid.
CHOICES = ("separate", "in-triangle")
#: The job's default, chosen on the coverage and bias over 400 generated datasets (benchmarks/bench_ranges.py).
DEFAULT = "separate"


@dataclass(frozen=True)
class Separated:
    """The grossed-up attritional triangles and what the job and its ranges need from them.

    Attributes
    ----------
    triangles : TriangleSet
        ``C_A / (1 - a)`` per segment (currency), the segments and origins of the job's triangles.
    excess : LargeLines
        Per service the large lines' excess over the threshold (the large claims the ranges draw).
    share : Series
        Per service the excess share ``a`` in [0, 1).
    """

    triangles: TriangleSet
    excess: LargeLines
    share: pd.Series


def separate(attritional: TriangleSet, lines: LargeLines) -> Separated:
    """Gross the capped triangles up by their service's excess share (module docstring).

    Parameters
    ----------
    attritional : TriangleSet
        Claims capped at the service's threshold (:attr:`reserving.nightly.claims.Claims.attritional`),
        segments keyed by (consortium, service).
    lines : LargeLines
        The services' thresholds, large amounts and total paid (:attr:`.claims.Claims.large_lines`).

    Examples
    --------
    >>> tri = TriangleSet.from_array([[[60., 90.], [70., np.nan]]], origin_start="2024-01", grain="M",
    ...     segments=pd.MultiIndex.from_tuples([("A", "er")], names=["consortium", "service"]))
    >>> big = LargeLines(pd.Series({"er": 40.0}), {"er": np.array([50.0, 60.0])}, pd.Series({"er": 300.0}))
    >>> s = separate(tri, big)                    # excess (10 + 20) / 300 = 0.1
    >>> s.share.tolist(), s.triangles.values[0, 0].tolist(), s.excess.amounts["er"].tolist()
    ([0.1], [66.66666666666667, 100.0], [10.0, 20.0])
    """
    services = pd.Index(lines.threshold.index)
    excess = {s: np.asarray(lines.amounts.get(s, np.zeros(0)), float) - float(lines.threshold[s]) for s in services}
    total = pd.Series({s: float(x.sum()) for s, x in excess.items()}, dtype=float)
    paid = lines.paid.reindex(services).to_numpy(float)
    share = pd.Series(np.divide(total.to_numpy(), paid, out=np.zeros(len(services)), where=paid > total.to_numpy()),
                      index=services)
    of_segment = share.reindex(attritional.segments.get_level_values(1)).fillna(0.0).to_numpy()
    grossed = TriangleSet(attritional.values / (1.0 - of_segment)[:, None, None], attritional.segments,
                          attritional.origins, attritional.valuation_index)
    return Separated(grossed, LargeLines(lines.threshold, excess, lines.paid), share)


def as_paid(separated: ChainLadder, paid: TriangleSet) -> ChainLadder:
    """The chain ladder of the grossed-up triangles carrying the claims' real paid to date.

    Its IBNR and pattern are the grossed-up triangles'; ``latest`` and ``ultimate`` (``latest +
    IBNR``) are those of ``paid``, the same segments' triangles of the claims as paid, so
    paid-to-date figures stay true.

    Examples
    --------
    >>> from reserving import chain_ladder
    >>> paid = TriangleSet.from_array([[100., 150.], [190., np.nan]], origin_start="2024-01", grain="M")
    >>> gross = TriangleSet.from_array([[100., 150.], [100., np.nan]], origin_start="2024-01", grain="M")
    >>> cl = as_paid(chain_ladder(gross), paid)     # a large claim in the newest month's 190
    >>> cl.ibnr[0].tolist(), cl.ultimate[0].tolist()
    ([0.0, 50.0], [150.0, 240.0])
    """
    latest = paid.latest
    return replace(separated, latest=latest, latest_lag=paid.latest_lag, ultimate=latest + separated.ibnr)
