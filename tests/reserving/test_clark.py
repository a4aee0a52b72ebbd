"""Clark (2003) LDF and Cape Cod: a derivative-free reference, chainladder, R ChainLadder's tables.

* ``tests/reserving/naive_clark.py`` (Nelder-Mead fit, finite-difference information) agrees
  with the kernel to 1e-7 on parameters and reserves and 1e-4 on standard errors (the
  finite-difference Hessian's own error).
* chainladder-python 0.10 ``ClarkLDF`` (parameters, scale, pattern, Cape Cod ELR): as shipped,
  agreement to 2e-4 only, because its L-BFGS-B stops at scipy's default tolerance (at its
  parameters the likelihood is lower than at ours); with its own objective minimised to
  convergence (its ``minimize`` polished by Nelder-Mead) agreement to 3e-7. One difference kept:
  chainladder's Cape Cod ``scale_`` is computed from the LDF method's fitted increments (its
  ``incremental_fits_`` use latest / G), ours from premium x ELR as in Clark and R (hand check in
  the test).
* R ChainLadder's vignette (``ClarkLDF(RAA)``, ``maxage = 20``, ``G = "weibull"``,
  ``ClarkCapeCod(RAA, Premium = 40000, G = "weibull")``): Cape Cod reserves to the printed
  unit; LDF reserves within 0.15% (R's optimizer also stops early, ``factr = eps^-0.5``, and the
  LDF method has 12 parameters); loglogistic standard errors within 0.2% (1% truncated: R's
  early stop moves small reserves' errors most). Weibull standard errors differ by up to 2%: R's ``d2G.weibulldtheta2`` has ``d2G/domega2 =
  2 e^-u u log(x/theta) (1 - u)`` where the derivative is ``e^-u u log(x/theta)^2 (1 - u)``
  (hand-checked by finite differences in test_weibull_second_derivative; with R's expression put
  back into the information, R's published Weibull standard errors are reproduced to 0.15%).
* Clark (2003) section 4 (Taylor-Ashe): the paper's printed loglogistic parameters put through our
  conventions give its LDF reserve to the unit and its Cape Cod reserve and ELR to the printed
  precision; our fits have a higher likelihood than its Solver's and lie within 0.25% of them.
  Not reproduced: its scale 65,029 (61,577 Cape Cod) against 64,376 from its own parameters, so its
  standard errors are not checked here; and its Weibull reserve, 21,214,761 (0.13% off at its
  printed parameters).
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from reserving import ReservingError, TriangleSet, clark_cape_cod, clark_ldf
from reserving import _clark_kernels as _k
from tests.reserving import naive_clark
from tests.reserving.conftest import cl


def _sample(name):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        raw = cl.load_sample(name)
    return raw, TriangleSet.from_chainladder(raw)


@pytest.fixture(scope="module")
def raa():
    return _sample("raa")[1]


@pytest.mark.parametrize("name, growth, cape_cod", [
    ("raa", "loglogistic", False), ("raa", "weibull", False), ("raa", "loglogistic", True), ("raa", "weibull", True),
    ("genins", "weibull", False), ("genins", "loglogistic", True), ("genins", "weibull", True)])
def test_matches_naive_reference(name, growth, cape_cod):
    tri = _sample(name)[1]
    exposure = np.linspace(1.0, 1.4, tri.n_origins) * np.nanmax(tri.latest) * 2.0 if cape_cod else None
    fit = clark_cape_cod(tri, exposure, growth=growth) if cape_cod else clark_ldf(tri, growth=growth)
    params, sigma2, reserve, process, parameter, total = naive_clark.fit(tri, growth, exposure)
    assert fit.diagnostics.empty
    np.testing.assert_allclose([fit.omega[0], fit.theta[0]], params[-2:], rtol=1e-7)
    if cape_cod:
        np.testing.assert_allclose(fit.elr[0], params[0], rtol=1e-7)
    np.testing.assert_allclose(fit.scale[0], sigma2, rtol=1e-6)
    np.testing.assert_allclose(fit.ibnr[0], reserve, rtol=1e-6)
    np.testing.assert_allclose(fit.process[0], process, rtol=1e-6)
    np.testing.assert_allclose(fit.parameter[0], parameter, rtol=1e-4)
    np.testing.assert_allclose(fit.total_std_err[0], total, rtol=1e-4)


@pytest.mark.parametrize("name", ["raa", "genins", "ukmotor", "abc"])
@pytest.mark.parametrize("growth", ["loglogistic", "weibull"])
def test_matches_chainladder_to_its_optimizer_tolerance(name, growth):
    raw, tri = _sample(name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = cl.ClarkLDF(growth=growth).fit(raw)
    fit = clark_ldf(tri, growth=growth)
    theirs = np.array([model.omega_.values[0, 0], model.theta_.values[0, 0]])
    np.testing.assert_allclose([fit.omega[0], fit.theta[0]], theirs, rtol=2e-4)
    np.testing.assert_allclose(fit.scale[0], model.scale_.values[0, 0], rtol=2e-4)
    np.testing.assert_allclose(fit.ldf.values[0], model.ldf_.values[0, 0, 0], rtol=2e-4)
    ours_ll = naive_clark.loglik(naive_clark.profiled(np.log([fit.omega[0], fit.theta[0]]), tri, growth), tri, growth)
    their_ll = naive_clark.loglik(naive_clark.profiled(np.log(theirs), tri, growth), tri, growth)
    assert ours_ll >= their_ll


# R ChainLadder vignette, "Clark's methods" (RAA): FutureValue and StdError per origin, totals last.
R_LDF = ([4072, 4195, 6975, 9756, 11816, 9374, 10214, 17109, 14004, 23506, 111022],
         [2792, 2833, 4050, 5147, 5858, 4877, 5206, 7568, 7506, 17227, 36102])
R_LDF_MAXAGE20 = ([2334, 2610, 4666, 6962, 8933, 7460, 8505, 14816, 12532, 21566, 90382],
                  [1765, 1893, 2729, 3559, 4218, 3775, 4218, 6300, 6658, 15899, 26375])
R_LDF_WEIBULL = ([420, 613, 1409, 2661, 4239, 4299, 5800, 11580, 10727, 18185, 59933],
                 [700, 855, 1401, 2037, 2639, 2549, 3060, 4867, 5544, 12929, 19149])
R_CAPE_COD_WEIBULL = ([436, 725, 1189, 1921, 3047, 4741, 7206, 10651, 15176, 20444, 65536],
                      [692, 912, 1188, 1523, 1917, 2360, 2845, 3366, 3924, 4491, 12713])


def _table(fit):
    return (np.append(fit.ibnr[0], fit.totals["ibnr"].iloc[0]),
            np.append(fit.std_err[0], fit.total_std_err[0]))


@pytest.mark.parametrize("kwargs, published, se_tol", [
    ({}, R_LDF, 2e-3),
    ({"max_age": 240}, R_LDF_MAXAGE20, 1e-2),
    ({"growth": "weibull"}, R_LDF_WEIBULL, 2e-2),
])
def test_r_chainladder_ldf_tables(raa, kwargs, published, se_tol):
    reserve, se = _table(clark_ldf(raa, **kwargs))
    np.testing.assert_allclose(reserve, published[0], rtol=1.5e-3, atol=1.5)
    np.testing.assert_allclose(se, published[1], rtol=se_tol)


def test_r_chainladder_cape_cod_table(raa):
    fit = clark_cape_cod(raa, 40000.0, growth="weibull")
    reserve, se = _table(fit)
    assert round(float(fit.elr[0]), 3) == 0.566
    np.testing.assert_array_equal(np.round(reserve), R_CAPE_COD_WEIBULL[0])
    np.testing.assert_allclose(se, R_CAPE_COD_WEIBULL[1], rtol=2e-2)
    np.testing.assert_allclose(fit.ultimate[0], fit.latest[0] + fit.ibnr[0])


@pytest.mark.parametrize("curve", [_k.LOGLOGISTIC, _k.WEIBULL])
@pytest.mark.parametrize("x", [3.0, 30.0, 150.0])
def test_growth_derivatives_match_finite_differences(curve, x):
    w, t, h = 1.3, 40.0, 1e-5
    out = np.zeros(6)

    def g(w_, t_):
        _k.growth(x, w_, t_, curve, out)
        return out.copy()

    base = g(w, t)
    dw = (g(w + h, t) - g(w - h, t)) / (2 * h)
    dt = (g(w, t + h) - g(w, t - h)) / (2 * h)
    np.testing.assert_allclose(base[1:3], [dw[0], dt[0]], rtol=1e-7, atol=1e-12)
    np.testing.assert_allclose(base[3:6], [dw[1], dw[2], dt[2]], rtol=1e-6, atol=1e-11)


def test_weibull_second_derivative_is_not_r_chainladders():
    """R's ``d2ydom2 = 2 dydom (1 - u)`` against the finite difference of ``dG/domega``."""
    x, w, t, h = 30.0, 1.3, 40.0, 1e-5
    u = (x / t) ** w

    def dg_dw(w_):
        u_ = (x / t) ** w_
        return np.exp(-u_) * u_ * np.log(x / t)

    numeric = (dg_dw(w + h) - dg_dw(w - h)) / (2 * h)
    r_formula = 2 * dg_dw(w) * (1 - u)
    ours = np.exp(-u) * u * np.log(x / t) ** 2 * (1 - u)
    assert numeric == pytest.approx(ours, rel=1e-7)
    assert abs(r_formula / numeric - 1) > 1.0


def test_batched_equals_one_by_one():
    tris = [_sample(n)[1] for n in ("raa", "genins")]
    both = TriangleSet.from_array(np.stack([t.values[0] / t.values[0, 0, 0] for t in tris]),
                                  origin_start="1981", grain="Y")
    fit = clark_ldf(both, growth="weibull")
    for s in range(2):
        one = clark_ldf(both[s], growth="weibull")
        np.testing.assert_allclose(fit.ibnr[s], one.ibnr[0], rtol=1e-12)
        np.testing.assert_allclose(fit.total_std_err[s], one.total_std_err[0], rtol=1e-12)


def test_truncation_and_pattern(raa):
    fit = clark_ldf(raa, max_age=240)
    w, t = fit.omega[0], fit.theta[0]
    age = raa.development[raa.latest_lag[0]] - 6.0
    expected = naive_clark.growth(234.0, w, t, "loglogistic") / naive_clark.growth(age, w, t, "loglogistic")
    np.testing.assert_allclose(fit.cdf[0], expected, rtol=1e-12)
    np.testing.assert_allclose(fit.ultimate[0], raa.latest[0] * expected, rtol=1e-12)


def test_bad_input(raa):
    with pytest.raises(ReservingError, match="growth 'gamma'"):
        clark_ldf(raa, growth="gamma")
    with pytest.raises(ReservingError, match="max_age 60"):
        clark_ldf(raa, max_age=60)
    with pytest.raises(ReservingError, match="exposure"):
        clark_cape_cod(raa, 0.0)
    values = raa.values.copy()
    values[0, -1, 0] = -5.0
    bad = TriangleSet.from_array(values[0], origin_start="1981", grain="Y")
    with pytest.raises(ReservingError, match="origin 1990 has latest value -5"):
        clark_ldf(bad)


def test_segment_with_fewer_origins_equals_its_own_fit(raa):
    values = raa.values[0].copy()
    short = values.copy()
    short[:2] = np.nan
    both = TriangleSet.from_array(np.stack([values, short]), origin_start="1981", grain="Y")
    alone = TriangleSet.from_array(values[2:], origin_start="1983", grain="Y")
    fit, ref = clark_ldf(both, growth="weibull"), clark_ldf(alone, growth="weibull")
    np.testing.assert_allclose([fit.omega[1], fit.theta[1]], [ref.omega[0], ref.theta[0]], rtol=1e-10)
    np.testing.assert_allclose(fit.ibnr[1, 2:], ref.ibnr[0], rtol=1e-9)
    np.testing.assert_allclose(fit.total_std_err[1], ref.total_std_err[0], rtol=1e-9)
    assert np.isnan(fit.ibnr[1, :2]).all() and fit.diagnostics.empty


def _with_r_second_derivative(tri, fit, exposure=None):
    """Standard errors at our fit with R's ``d2G/domega2 = 2 e^-u u log(x/theta) (1 - u)`` in the information.

    The finite-difference Hessian of the true likelihood plus, in its (omega, omega) entry, the
    difference R's formula makes: ``sum (c/mu - 1) U (Delta(x_to) - Delta(x_from))``.
    """
    w, t = fit.omega[0], fit.theta[0]
    x_lat = (tri.development - tri.development[0] / 2.0)[tri.latest_lag[0]]
    if exposure is None:
        params = np.concatenate([tri.latest[0] / naive_clark.growth(x_lat, w, t, "weibull"), [w, t]])
    else:
        params = np.array([fit.elr[0], w, t])
    hess = naive_clark.hessian(params, tri, "weibull", exposure)
    i, x0, x1, c = naive_clark._cells(tri)

    def excess(x):
        out = np.zeros_like(x)
        u = (x[x > 0] / t) ** w
        v, log_x = np.exp(-u) * u, np.log(x[x > 0] / t)
        out[x > 0] = (2 * v * log_x - v * log_x**2) * (1 - u)
        return out

    ult = params[:-2][i] if exposure is None else params[0] * exposure[i]
    mu = ult * (naive_clark.growth(x1, w, t, "weibull") - naive_clark.growth(x0, w, t, "weibull"))
    hess[-2, -2] += np.sum((c / mu - 1) * ult * (excess(x1) - excess(x0)))

    def reserves(p):
        return (p[:-2] if exposure is None else p[0] * exposure) * (1 - naive_clark.growth(x_lat, p[-2], p[-1],
                                                                                             "weibull"))

    grad = naive_clark.reserve_gradient(params, reserves)
    cov = -fit.scale[0] * grad.T @ np.linalg.solve(hess, grad)
    r = reserves(params)
    return np.append(np.sqrt(fit.scale[0] * r + np.diag(cov)), np.sqrt(fit.scale[0] * r.sum() + cov.sum()))


def test_r_weibull_standard_errors_come_from_its_second_derivative(raa):
    """With R's d2G/domega2 put back, R's published Weibull standard errors are reproduced to 0.15%."""
    ldf = _with_r_second_derivative(raa, clark_ldf(raa, growth="weibull"))
    np.testing.assert_allclose(ldf, R_LDF_WEIBULL[1], rtol=1.5e-3)
    cape_cod = _with_r_second_derivative(raa, clark_cape_cod(raa, 40000.0, growth="weibull"), np.full(10, 40000.0))
    np.testing.assert_allclose(cape_cod, R_CAPE_COD_WEIBULL[1], rtol=1e-3)


def _polished_minimize(fun, x0, bounds):
    """scipy's L-BFGS-B as chainladder calls it, then Nelder-Mead restarts to the maximum's precision."""
    from scipy.optimize import minimize

    best = minimize(fun, x0, bounds=bounds, method="L-BFGS-B")
    for _ in range(3):
        best = minimize(fun, best.x, bounds=bounds, method="Nelder-Mead",
                        options={"xatol": 1e-12, "fatol": 1e-14, "maxiter": 20000, "maxfev": 40000})
    return best


@pytest.mark.parametrize("name, growth, cape_cod", [
    ("raa", "loglogistic", False), ("raa", "weibull", False), ("genins", "loglogistic", False),
    ("genins", "loglogistic", True), ("genins", "weibull", True)])
def test_matches_chainladder_with_its_optimizer_run_to_convergence(monkeypatch, name, growth, cape_cod):
    """chainladder's own ClarkLDF objective, minimised to convergence, agrees with ours to 3e-7."""
    import chainladder.development.clark as chainladder_clark

    monkeypatch.setattr(chainladder_clark, "minimize", _polished_minimize)
    raw, tri = _sample(name)
    premium = np.arange(tri.n_origins) * 400000.0 + 10000000.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if cape_cod:
            weight = raw.latest_diagonal
            weight.values = premium[None, None, :, None]
            model = cl.ClarkLDF(growth=growth).fit(raw, sample_weight=weight)
        else:
            model = cl.ClarkLDF(growth=growth).fit(raw)
    fit = clark_cape_cod(tri, premium, growth=growth) if cape_cod else clark_ldf(tri, growth=growth)
    np.testing.assert_allclose([fit.omega[0], fit.theta[0]], [model.omega_.values[0, 0], model.theta_.values[0, 0]],
                               rtol=3e-7)
    np.testing.assert_allclose(fit.ldf.values[0], model.ldf_.values[0, 0, 0], rtol=3e-7)
    if not cape_cod:
        np.testing.assert_allclose(fit.scale[0], model.scale_.values[0, 0], rtol=3e-7)
        return
    np.testing.assert_allclose(fit.elr[0], model.elr_.values[0, 0], rtol=3e-7)
    # chainladder's Cape Cod scale_ takes its fitted increments from the LDF method's ultimates
    # (latest / G, its incremental_fits_) instead of premium x ELR: recomputed that way from our fit
    # it is chainladder's; ours is Clark's (and R's, whose published Cape Cod errors we reproduce)
    i, x0, x1, c = naive_clark._cells(tri)
    w, t = fit.omega[0], fit.theta[0]
    x_lat = (tri.development - tri.development[0] / 2.0)[tri.latest_lag[0]]
    ult = tri.latest[0] / naive_clark.growth(x_lat, w, t, growth)
    mu = ult[i] * (naive_clark.growth(x1, w, t, growth) - naive_clark.growth(x0, w, t, growth))
    np.testing.assert_allclose(np.sum((c - mu) ** 2 / mu) / (c.size - 3), model.scale_.values[0, 0], rtol=3e-7)


def _genins_increments():
    tri = TriangleSet.from_chainladder(cl.load_sample("genins"))
    return tri, np.diff(np.concatenate([np.zeros((10, 1)), tri.values[0]], axis=1), axis=1)


def _paper_fit(incr, omega, theta, premium=None):
    """Clark (2003) section 4 evaluated at given loglogistic parameters, written out independently:
    ages at the average date of loss (12k - 6 months), ULT_i = paid_i / G(latest) (LDF) or
    ELR = sum paid / sum P_i G(latest_i) (Cape Cod), reserves to 240 months (G(234)), and the ODP
    log-likelihood sum c log(mu) - mu."""
    ages = np.arange(1, 11) * 12.0 - 6.0
    g = ages**omega / (ages**omega + theta**omega)
    g_latest = g[::-1]                                  # origin i is observed to lag 9 - i
    g_max = 234.0**omega / (234.0**omega + theta**omega)
    ult = np.nansum(incr, axis=1) / g_latest if premium is None else np.nansum(incr) / (premium @ g_latest) * premium
    mu = ult[:, None] * np.diff(np.concatenate([[0.0], g]))[None, :]
    seen = ~np.isnan(incr)
    loglik = np.sum(np.where(seen, np.nan_to_num(incr) * np.log(mu) - mu, 0.0))
    return float(np.sum(ult * (g_max - g_latest))), loglik, ult


def test_clark_2003_published_example():
    # Clark (2003), "LDF Curve-Fitting and Stochastic Reserving", section 4: Taylor-Ashe (genins),
    # loglogistic, average date of loss, truncated at 240 months. The paper prints its Solver's
    # parameters and reserves: LDF omega 1.434294, theta 48.6249, reserve 28,987,633; Cape Cod
    # (premium 10,000,000 + 400,000 a year) omega 1.447634, theta 48.0205, ELR 59.78%, reserve 29,707,484.
    tri, incr = _genins_increments()
    premium = 10_000_000 + 400_000 * np.arange(10.0)
    # 1. our conventions (ages, truncation) are the paper's: its parameters give its reserves, to the
    #    rounding of the printed parameters (LDF to the unit, Cape Cod within 1e-6 relative)
    paper_ldf, paper_ldf_ll, _ = _paper_fit(incr, 1.434294, 48.6249)
    assert paper_ldf == pytest.approx(28_987_633, abs=1.0)
    paper_cc, paper_cc_ll, ult_cc = _paper_fit(incr, 1.447634, 48.0205, premium)
    assert paper_cc == pytest.approx(29_707_484, rel=1e-6)
    assert ult_cc[0] / premium[0] == pytest.approx(0.5978, abs=5e-5)
    # 2. our fits are the maximum the paper's Solver stopped short of: a higher likelihood, and
    #    parameters and reserves within 0.25% of the printed ones
    for fit, paper, reserve, params, tol in (
            (clark_ldf(tri, max_age=240), paper_ldf_ll, 28_987_633, (1.434294, 48.6249), 2.5e-3),
            (clark_cape_cod(tri, premium, max_age=240), paper_cc_ll, 29_707_484, (1.447634, 48.0205), 2.5e-3)):
        ours_reserve, ours_ll, _ = _paper_fit(incr, fit.omega[0], fit.theta[0],
                                              premium if fit.method == "cape_cod" else None)
        assert np.nansum(fit.ibnr) == pytest.approx(ours_reserve, rel=1e-9)   # our fit's reserve, same formula
        assert ours_ll > paper
        assert np.nansum(fit.ibnr) == pytest.approx(reserve, rel=tol)
        np.testing.assert_allclose([fit.omega[0], fit.theta[0]], params, rtol=tol)
