"""Merz-Wüthrich one-year CDR: kernel against the naive reference, identities, mw2008 figures, errors."""

from __future__ import annotations

import numpy as np
import pytest

from reserving import ReservingError, TriangleSet, mack
from reserving._merz_wuthrich_kernels import merz_wuthrich_batch
from reserving.merz_wuthrich import merz_wuthrich
from tests.reserving import naive_merz_wuthrich as naive


def _random_stack(rng, n_seg, n_org, n_lag):
    values = np.full((n_seg, n_org, n_lag), np.nan)
    for s in range(n_seg):
        for i in range(n_org):
            k = min(n_org - 1 - i, n_lag - 1)
            incr = rng.gamma(2.0, 100.0 * (0.6 ** np.arange(k + 1)))
            values[s, i, : k + 1] = np.cumsum(incr)
    return TriangleSet.from_array(values, origin_start="2001", grain="Y")


@pytest.mark.parametrize("shape", [(3, 6, 6), (2, 9, 9), (4, 10, 7)])
def test_kernel_matches_naive_reference(shape):
    rng = np.random.default_rng(sum(shape))
    tri = _random_stack(rng, *shape)
    res = merz_wuthrich(tri)
    m = mack(tri, sigma="mack")
    n_fac = tri.n_lags - 1
    for s in range(tri.n_segments):
        rows = [[None if np.isnan(v) else float(v) for v in row] for row in tri.values[s]]
        f = m.chain_ladder.development.ldf_values[s, :n_fac].tolist()
        s2 = (m.chain_ladder.development.sigma[s, :n_fac] ** 2).tolist()
        per_origin, total = naive.msep(rows, f, s2)
        np.testing.assert_allclose(res.msep[s], per_origin, rtol=1e-10, atol=1e-9)
        assert res.total_msep[s] == pytest.approx(total, rel=1e-10)


def test_one_period_left_equals_mack_and_one_year_is_below_run_off(samples):
    # Merz & Wüthrich (2008) section 3: for the origin with one development year left the
    # one-year CDR is the whole run-off, so its msep is Mack's; otherwise it is smaller.
    for name in ("mw2008", "genins", "raa"):
        res = merz_wuthrich(samples[name][1])
        mack_se = res.mack.std_err[0]
        assert res.cdr_std_err[0, 1] == pytest.approx(mack_se[1], rel=1e-8)  # Mack via its recursion: 2e-9 apart
        assert (res.cdr_std_err[0, 2:] < mack_se[2:]).all()
        assert res.total_cdr_std_err[0] < res.mack.total_std_err[0]
        assert res.cdr_std_err[0, 0] == 0.0


def test_mw2008_figures(samples):
    res = merz_wuthrich(samples["mw2008"][1])
    ours = np.append(res.cdr_std_err[0, 1:], res.total_cdr_std_err[0])
    # Our figures, pinned (hand-checked against the naive reference above and the identity for 2002).
    pinned = [566.174, 1486.560, 3923.099, 9722.860, 28442.625, 20954.301, 28119.343, 53320.889, 81080.611]
    np.testing.assert_allclose(ours, pinned, atol=5e-4)
    assert res.totals["ibnr"].iloc[0] == pytest.approx(2237826.107, abs=1e-3)
    assert res.mack.total_std_err[0] == pytest.approx(108401.387, abs=1e-3)
    # Merz & Wüthrich (2008, CAS E-Forum) table of sqrt(msep) of the CDR, as recalled by the author of
    # this test: the paper could not be retrieved here, so this is NOT a verified published figure.
    # 2004-2009 agree to the unit; 2002 and 2003 differ by 0.8 and 1.4 (0.15%, 0.10%) and the total by 0.6,
    # consistent with the paper's rounded parameters. To confirm with the paper.
    recalled = [567, 1488, 3923, 9723, 28443, 20954, 28119, 53320, 81080]
    np.testing.assert_allclose(ours, recalled, rtol=2e-3)


def test_summary_totals_and_errors(samples):
    res = merz_wuthrich(samples["mw2008"][1])
    assert list(res.summary.columns) == ["latest", "ultimate", "ibnr", "cdr_std_err", "mack_std_err"]
    assert list(res.totals.columns) == ["latest", "ultimate", "ibnr", "cdr_std_err", "mack_std_err"]
    values = samples["mw2008"][1].values.copy()
    values[0, 3, 2] = np.nan
    holed = TriangleSet.from_array(values[0], origin_start="2001", grain="Y")
    with pytest.raises(ReservingError, match="origin 2004, development 36 is missing"):
        merz_wuthrich(holed)
    with pytest.raises(ReservingError, match="at least as many origins"):
        merz_wuthrich(TriangleSet.from_array(values[0, 4:], origin_start="2005", grain="Y"))
