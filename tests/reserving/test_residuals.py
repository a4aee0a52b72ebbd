"""Residuals of the chain ladder against chainladder-python, statsmodels' GLM, a naive reference and closed forms."""

import math
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reserving import ReservingError, TriangleError, TriangleSet, bootstrap_odp, residuals
from tests.reserving import naive_residuals

cl = pytest.importorskip("chainladder")

#: Agreement with the independent references, absolute (residuals are of order 1 to 500 here).
ATOL = 1e-10


def _anchor_pearson(triangle, **development):
    """Unscaled Pearson residuals of chainladder's chain-ladder expectation, as its BootstrapODPSample computes them."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = cl.Chainladder().fit(cl.Development(**development).fit_transform(triangle))
    expected = fit.full_expectation_.cum_to_incr().values[0, 0, :, : triangle.shape[-1]]
    return (triangle.cum_to_incr().values[0, 0] - expected) / np.sqrt(np.abs(expected))


@pytest.mark.parametrize("name", ["raa", "genins"])
def test_pearson_residuals_and_scale_equal_chainladder(samples, name):
    t, tri = samples[name]
    res = residuals(tri)
    ref = _anchor_pearson(t)
    cells = np.isfinite(ref)
    assert (np.isfinite(res.pearson[0]) == cells).all()
    np.testing.assert_allclose(res.pearson[0][cells], ref[cells], rtol=0, atol=ATOL)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        boot = cl.BootstrapODPSample(n_sims=10, random_state=1).fit(t)
    assert res.scale[0] == pytest.approx(float(boot.scale_), rel=1e-12)
    n, p = cells.sum(), tri.n_origins + tri.n_lags - 1
    assert (res.n_obs[0], res.n_par[0]) == (n, p)
    np.testing.assert_allclose(res.pearson_scaled[0][cells], ref[cells] / math.sqrt(boot.scale_), rtol=0, atol=ATOL)
    np.testing.assert_allclose(res.pearson_adjusted[0][cells], ref[cells] * math.sqrt(n / (n - p)), rtol=0, atol=ATOL)
    assert res.scale[0] == bootstrap_odp(tri, n_sims=2, seed=1).scale[0]  # one fit, one scale


def test_scaled_pearson_residuals_equal_statsmodels_poisson_glm(samples):
    """The ODP model as a quasi-Poisson GLM (log link, origin and development factors): E&V 2002, section 2.3."""
    sm = pytest.importorskip("statsmodels.api")
    _, tri = samples["raa"]
    i, j = np.nonzero(np.isfinite(tri.incremental[0]))
    data = pd.DataFrame({"q": tri.incremental[0][i, j], "origin": i.astype(str), "dev": j.astype(str)})
    design = pd.get_dummies(data[["origin", "dev"]], drop_first=True, dtype=float).assign(const=1.0)
    glm = sm.GLM(data["q"], design, family=sm.families.Poisson()).fit(scale="X2", tol=1e-14)
    res = residuals(tri)
    np.testing.assert_allclose(res.fitted[0][i, j], glm.fittedvalues, rtol=1e-10)
    np.testing.assert_allclose(res.pearson_scaled[0][i, j], glm.resid_pearson / math.sqrt(glm.scale), rtol=0, atol=1e-8)
    assert res.scale[0] == pytest.approx(glm.scale, rel=1e-10)


@pytest.mark.parametrize("name", ["raa", "genins"])
@pytest.mark.parametrize("options", [{}, {"drop_high": 1, "n_periods": 5}, {"average": "simple"},
                                     {"average": "regression"}])
def test_mack_residuals_equal_chainladder_std_residuals(samples, name, options):
    t, tri = samples[name]
    res = residuals(tri, kinds=["mack"], **options)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = cl.Development(**options).fit(t).std_residuals_.values[0, 0]
    ours, used = res.mack[0][: ref.shape[0]], res.mack_used[0][: ref.shape[0]]
    np.testing.assert_allclose(ours[used], ref[used], rtol=0, atol=ATOL)
    assert (ours[np.isfinite(ours) & ~used] == 0).all()
    assert np.isnan(res.mack[0][-1]).all() and res.pearson is None  # the newest origin has no link ratio


def test_batched_residuals_equal_naive_reference():
    rng = np.random.default_rng(11)
    n = 7
    inc = rng.gamma(2.0, 500.0, (3, n, n)) * np.array([1.0, 0.8, 0.5, 0.3, 0.15, 0.08, 0.03])
    values = np.cumsum(inc, axis=2)
    values = np.where(np.add.outer(np.arange(n), np.arange(n)) < n, values, np.nan)
    values[2, :2] = np.nan  # a segment with two origins fewer
    tri = TriangleSet.from_array(values, origin_start="2018", grain="Y", segments=["a", "b", "c"])
    exclude = np.zeros((3, n, n - 1), dtype=bool)
    exclude[1, 2, 1] = exclude[1, 0, 3] = exclude[2, 4, 0] = True
    res = residuals(tri, exclude=exclude)
    for s in range(3):
        pearson, phi, n_obs, n_par, mack = naive_residuals.residuals(values[s].tolist(), n - 1, exclude[s].tolist())
        np.testing.assert_allclose(res.pearson[s], np.array(pearson), rtol=0, atol=ATOL)
        np.testing.assert_allclose(res.mack[s], np.array(mack), rtol=0, atol=ATOL)
        assert (res.n_obs[s], res.n_par[s]) == (n_obs, n_par)
        assert res.scale[s] == pytest.approx(phi, rel=1e-12)
    assert res.pearson[1, 2, 2] == res.mack[1, 2, 1] == 0 and not res.mack_used[1, 2, 1]


def test_long_view_labels_each_residual_with_its_periods(samples):
    _, tri = samples["raa"]
    res = residuals(tri)
    frame = res.frame.set_index("kind")
    mack, pearson = frame.loc["mack"], frame.loc["pearson"]
    first = mack[(mack["origin"] == tri.origins[1]) & (mack["development"] == 12)].iloc[0]
    assert first["residual"] == res.mack[0, 1, 0] and first["calendar"] == tri.origins[2]  # observed at 24 months
    cell = pearson[(pearson["origin"] == tri.origins[3]) & (pearson["development"] == 36)].iloc[0]
    assert cell["residual"] == res.pearson[0, 3, 2] and cell["calendar"] == tri.origins[5]
    means = res.mean_by("calendar")
    used = mack[mack["used"]]
    assert means["mean"].tolist() == pytest.approx(used.groupby("calendar")["residual"].mean().tolist(), rel=1e-15)
    assert means["count"].sum() == res.mack_used.sum() == 45  # every link ratio of raa is used
    assert set(res.summary.index.get_level_values("kind")) == {"pearson", "pearson_scaled", "pearson_adjusted", "mack"}


@st.composite
def _triangles(draw):
    n_seg, n = draw(st.integers(1, 3)), draw(st.integers(4, 8))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    inc = rng.gamma(draw(st.floats(0.3, 5.0)), 100.0, (n_seg, n, n)) * np.exp(-rng.uniform(0.1, 1.0) * np.arange(n))
    values = np.cumsum(inc + 1e-3, axis=2)
    values = np.where(np.add.outer(np.arange(n), np.arange(n)) < n, values, np.nan)
    exclude = (rng.uniform(size=(n_seg, n, n - 1)) < draw(st.sampled_from([0.0, 0.1]))) & np.isfinite(values[:, :, 1:])
    exclude[:, 0, :] = False  # keep a link ratio in every lag
    return TriangleSet.from_array(values, origin_start="2015", grain="Y"), exclude


@settings(max_examples=40, deadline=None)
@given(case=_triangles(), average=st.sampled_from(["volume", "simple"]))
def test_residuals_are_finite_zero_where_excluded_and_add_up(case, average):
    tri, exclude = case
    res = residuals(tri, exclude=exclude, average=average)
    link = np.isfinite(tri.values[:, :, 1:])
    for kind in ("pearson", "pearson_scaled", "pearson_adjusted"):
        values = res.values(kind)
        assert np.isfinite(values[np.isfinite(tri.values)]).all() and np.isnan(values[np.isnan(tri.values)]).all()
        assert (values[:, :, 1:][exclude] == 0).all()
    assert np.isfinite(res.mack[link]).all() and (res.mack[exclude] == 0).all()
    assert not res.mack_used[exclude].any() and res.mack_used[link & ~exclude].all()
    # the chain-ladder fit adds up to the data along every origin whatever the factors: sum_j (q - m) = 0
    q, m = tri.incremental, res.fitted
    rows = np.nansum(q - m, axis=2)
    assert np.abs(rows).max() <= 1e-9 * np.nanmax(tri.values)
    if average == "volume" and not exclude.any():
        # ... and along every development (the ODP maximum-likelihood equations): sum_i r sqrt(m) = 0
        cols = np.nansum(res.pearson * np.sqrt(np.abs(m)), axis=1)
        assert np.abs(cols).max() <= 1e-9 * np.nanmax(tri.values)
        assert np.abs(np.nansum(res.pearson * np.sqrt(np.abs(m)), axis=2)).max() <= 1e-9 * np.nanmax(tri.values)


def test_bad_input_is_named():
    values = np.cumsum(np.full((1, 4, 4), 10.0), axis=2)
    values = np.where(np.add.outer(np.arange(4), np.arange(4)) < 4, values, np.nan)
    values[0, 1, 1] = np.nan
    tri = TriangleSet.from_array(values, origin_start="2020", grain="Y")
    with pytest.raises(TriangleError, match="the Pearson residuals' ODP fit needs every cell.*origin 2021, development 24 is missing"):
        residuals(tri)
    mack = residuals(tri, kinds="mack").mack[0]  # Mack's residuals need no complete triangle
    assert np.isfinite(mack[0]).all() and np.isnan(mack[1]).all() and mack[2, 0] == 0
    with pytest.raises(ReservingError, match="kinds must be some of"):
        residuals(tri, kinds=["deviance"])
    with pytest.raises(TriangleError, match="needs a TriangleSet"):
        residuals(values)
    with pytest.raises(ReservingError, match="were not computed"):
        residuals(tri, kinds="mack").values("pearson")
    with pytest.raises(ReservingError, match="by must be one of"):
        residuals(tri, kinds="mack").mean_by("diagonal")
