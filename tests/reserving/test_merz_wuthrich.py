"""Merz-Wüthrich one-year CDR: kernel against the naive reference, identities, R ChainLadder's mw2008 output, errors."""

from __future__ import annotations

import numpy as np
import pytest

from reserving import ReservingError, TriangleSet, mack
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


def _alpha_form(values, f, s2):
    """The one-year msep in its linearised form (Merz & Wüthrich 2008, the approximation that drops
    the products of the small terms ``sigma_j^2 / (f_j^2 C)``, as also written in R's ChainLadder
    ``CDR``): ``alpha_j = C_{I-j,j} / S^{I+1}_j`` weights the parameter terms of the later columns.
    Independent algebra from the product (Gamma/Delta) form of the kernel."""
    n = values.shape[0]
    J = values.shape[1] - 1
    latest_lag = [min(n - 1 - i, J) for i in range(n)]
    ult = np.array([values[i, k] * np.prod(f[k:]) for i, k in enumerate(latest_lag)])
    col_upper = [values[: n - 1 - j, j].sum() for j in range(J)]          # S^I_j: origins with cell j+1
    col_all = [values[: n - j, j].sum() for j in range(J)]                # S^{I+1}_j: with the diagonal
    alpha = [values[n - 1 - j, j] / col_all[j] for j in range(J)]
    ratio = [s2[j] / f[j] ** 2 for j in range(J)]
    param = np.zeros(n)
    process = np.zeros(n)
    for i, k in enumerate(latest_lag):
        if k >= J:
            continue
        process[i] = ult[i] ** 2 * ratio[k] / values[i, k]
        param[i] = ratio[k] / col_upper[k] + sum(alpha[j] * ratio[j] / col_upper[j] for j in range(k + 1, J))
    per_origin = process + param * ult**2
    open_ = [i for i, k in enumerate(latest_lag) if k < J]
    total = process.sum() + sum(param[min(i, m)] * ult[i] * ult[m] for i in open_ for m in open_)
    return per_origin, total


@pytest.mark.parametrize("shape", [(3, 6, 6), (2, 9, 9), (4, 10, 7)])
def test_linear_form_matches_the_alpha_form_on_a_batch(shape):
    rng = np.random.default_rng(sum(shape) + 1)
    tri = _random_stack(rng, *shape)
    res = merz_wuthrich(tri, form="linear")
    dev = res.mack.chain_ladder.development
    n_fac = tri.n_lags - 1
    for s in range(tri.n_segments):
        per_origin, total = _alpha_form(tri.values[s], dev.ldf_values[s, :n_fac], dev.sigma[s, :n_fac] ** 2)
        np.testing.assert_allclose(res.msep[s], per_origin, rtol=1e-11, atol=1e-9)
        assert res.total_msep[s] == pytest.approx(total, rel=1e-11)


def test_mw2008_equals_the_alpha_form_of_the_formula(samples):
    tri = samples["mw2008"][1]
    res = merz_wuthrich(tri)
    dev = res.mack.chain_ladder.development
    n_fac = tri.n_lags - 1
    per_origin, total = _alpha_form(tri.values[0], dev.ldf_values[0, :n_fac], dev.sigma[0, :n_fac] ** 2)
    # the two forms differ by the dropped second-order products: 2.6e-6 at most on this triangle
    np.testing.assert_allclose(res.msep[0], per_origin, rtol=1e-5)
    assert res.total_msep[0] == pytest.approx(total, rel=1e-5)
    # the kernel's linear form is this algebra exactly
    linear = merz_wuthrich(tri, form="linear")
    np.testing.assert_allclose(linear.msep[0], per_origin, rtol=1e-12)
    assert linear.total_msep[0] == pytest.approx(total, rel=1e-12)
    assert res.totals["ibnr"].iloc[0] == pytest.approx(2237826.107, abs=1e-3)


# R ChainLadder's reference output for ``CDR(MackChainLadder(MW2008, est.sigma="Mack"))`` (its CDR help
# page example, printed to 4 decimals; CDR.MackChainLadder is by Wüthrich and Gesmann): CDR(1)S.E. per
# origin 2..9, then the total, and Mack.S.E. of the same rows.
R_CDR = [566.1744, 1486.5603, 3923.0986, 9722.8598, 28442.6216, 20954.2870, 28119.3180, 53320.8210, 81080.5468]
R_MACK = [566.1744, 1563.8075, 4157.2733, 10536.4380, 30319.4638, 35967.0384, 45090.1821, 69552.3397, 108401.3875]


def test_mw2008_reproduces_r_chainladder_cdr_output(samples):
    tri = samples["mw2008"][1]
    linear = merz_wuthrich(tri, form="linear")
    product = merz_wuthrich(tri)

    def row(res, se, total):
        return np.append(se[0, 1:], total[0])

    # the linear form is R's: equal to its printed figures (half a unit of the 4th decimal)
    np.testing.assert_allclose(row(linear, linear.cdr_std_err, linear.total_cdr_std_err), R_CDR, rtol=0, atol=5e-5)
    np.testing.assert_allclose(row(linear, linear.mack.std_err, linear.mack.total_std_err), R_MACK, rtol=0,
                               atol=5e-5)
    # the products as written differ from it by second-order terms only (at most 1.3e-6 relative here)
    np.testing.assert_allclose(row(product, product.cdr_std_err, product.total_cdr_std_err), R_CDR, rtol=2e-6)
    assert not np.allclose(row(product, product.cdr_std_err, product.total_cdr_std_err), R_CDR, rtol=1e-7, atol=0)
    # and both round to the unit figures of the paper's table (Merz & Wüthrich 2008) the same way
    np.testing.assert_array_equal(np.round(row(product, product.cdr_std_err, product.total_cdr_std_err)),
                                  np.round(R_CDR))


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
    with pytest.raises(ReservingError, match="form must be 'product' or 'linear'; got 'exact'"):
        merz_wuthrich(samples["mw2008"][1], form="exact")
