"""Large claims developed apart (``large_claims="separate"``): against a pandas reference built from the lines.

Reference: the lines capped by hand at their service's ``np.quantile`` (DuckDB's ``quantile_cont``),
the excess share ``a`` as the sum of the excess over the sum of the amounts, the capped triangle by
:meth:`reserving.TriangleSet.from_frame` and its chain ladder, so ``IBNR = C_A (CDF_A - 1) / (1 - a)``.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from reserving import TriangleSet, chain_ladder
from reserving.errors import ReservingError
from reserving.nightly import run_nightly_job
from reserving.nightly.claims import LARGE_QUANTILE, read_claims
from reserving.nightly.large_claims import separate
from reserving.nightly.synthetic import generate_claims

SERVICES = ["acute_inpatient", "emergency"]


@pytest.fixture(scope="module")
def sample():
    return generate_claims(n_consortia=2, services=SERVICES, n_months=18, as_of="2024-06-30", lines_per_cell=40,
                           seed=4)


def _reference(lines: pd.DataFrame, as_of):
    """(capped triangles, excess share per service) from the lines, with pandas."""
    cap = lines.groupby("service")["amount"].transform(lambda x: np.quantile(x, LARGE_QUANTILE))
    capped = lines.assign(amount=np.minimum(lines["amount"], cap))
    share = (lines["amount"] - capped["amount"]).groupby(lines["service"]).sum() / lines.groupby("service")[
        "amount"].sum()
    tri = TriangleSet.from_frame(capped, "incurred_date", "paid_date", "amount", segments=["consortium", "service"],
                                 grain="M", valuation=as_of)
    return tri, share


def test_the_grossed_up_triangles_and_excess_match_the_lines(sample):
    claims = read_claims(sample.lines, as_of=sample.as_of)
    ref, share = _reference(sample.lines, sample.as_of)
    sep = separate(claims.attritional, claims.large_lines)
    np.testing.assert_allclose(sep.share.reindex(share.index), share, rtol=1e-9)
    assert (share > 0.01).all()
    gross = 1 / (1 - share.reindex(ref.segments.get_level_values(1)).to_numpy())
    np.testing.assert_allclose(sep.triangles.values, ref.values * gross[:, None, None], rtol=1e-9, equal_nan=True)
    for svc, excess in sep.excess.amounts.items():
        x = sample.lines.loc[sample.lines["service"] == svc, "amount"].to_numpy()
        thr = np.quantile(x, LARGE_QUANTILE)
        np.testing.assert_allclose(excess, np.sort(x[x > thr]) - thr, rtol=1e-9, atol=1e-6)


def test_the_job_reserves_the_grossed_up_chain_ladder_and_keeps_the_real_paid(sample, tmp_path):
    """Pure chain-ladder months (completion at least the blend threshold) carry ``C_A (CDF_A - 1) / (1 - a)``
    to 1e-9; ``paid`` is the claims' real paid; the setting is in ``summary.json``; the ranges are
    centred on the estimate and not zero-width where IBNR is material."""
    run = run_nightly_job(sample.lines, tmp_path / "out", n_sims=200, seed=2, budget=sample.budget,
                          large_claims="separate", progress=False)
    ref, share = _reference(sample.lines, sample.as_of)
    cl = chain_ladder(ref)
    gross = 1 / (1 - share.reindex(ref.segments.get_level_values(1)).to_numpy())
    expected = pd.DataFrame({"consortium": np.repeat(ref.segments.get_level_values(0), ref.n_origins),
                             "service": np.repeat(ref.segments.get_level_values(1), ref.n_origins),
                             "origin": np.tile(ref.origins.to_timestamp(), ref.n_segments),
                             "ibnr_ref": (cl.ibnr * gross[:, None]).ravel()})
    est = run.estimates.merge(expected, on=["consortium", "service", "origin"])
    pure = est[est["completion"] >= 0.75]
    assert len(pure) > 20
    np.testing.assert_allclose(pure["ibnr"], pure["ibnr_ref"], rtol=1e-9, atol=1e-6)
    paid = TriangleSet.from_frame(sample.lines, "incurred_date", "paid_date", "amount",
                                  segments=["consortium", "service"], grain="M", valuation=sample.as_of)
    assert est["paid"].sum() == pytest.approx(np.nansum(paid.latest), rel=1e-12)
    assert json.loads(run.outputs["summary"].read_text())["parameters"]["large_claims"] == "separate"
    material = est["ibnr"] > 1_000
    assert (est.loc[material, "ibnr_p95"] > est.loc[material, "ibnr_p75"]).all()


def test_seasonal_completion_applies_to_the_grossed_up_triangles(sample, tmp_path):
    """With ``seasonality="month"`` the separated estimate still carries the real paid, and an unknown
    setting is a named error."""
    run = run_nightly_job(sample.lines, tmp_path / "s", n_sims=50, budget=sample.budget, large_claims="separate",
                          seasonality="month", progress=False)
    params = json.loads(run.outputs["summary"].read_text())["parameters"]
    assert params["large_claims"] == "separate" and params["seasonality"] == "month"
    paid = TriangleSet.from_frame(sample.lines, "incurred_date", "paid_date", "amount",
                                  segments=["consortium", "service"], grain="M", valuation=sample.as_of)
    assert run.estimates["paid"].sum() == pytest.approx(np.nansum(paid.latest), rel=1e-12)
    with pytest.raises(ReservingError, match="large_claims must be one of"):
        run_nightly_job(sample.lines, tmp_path, n_sims=20, large_claims="apart", progress=False)
