"""The synthetic claims generator: seeded, consistent with its truth, realistic lags by service."""

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from reserving.nightly.synthetic import generate_claims, write_parquet_dataset

SERVICES = ["acute_inpatient", "prescribing", "mental_health"]


def _lag_months(lines):
    inc = pd.to_datetime(lines["incurred_date"]).dt.to_period("M")
    paid = pd.to_datetime(lines["paid_date"]).dt.to_period("M")
    return paid.array.asi8 - inc.array.asi8


def test_same_seed_same_lines_and_consortia_are_independent_streams():
    a = generate_claims(n_consortia=3, services=SERVICES, n_months=12, as_of="2024-06-30", seed=11)
    b = generate_claims(n_consortia=3, services=SERVICES, n_months=12, as_of="2024-06-30", seed=11)
    pd.testing.assert_frame_equal(a.lines, b.lines)
    c = generate_claims(n_consortia=2, services=SERVICES, n_months=12, as_of="2024-06-30", seed=11)
    pd.testing.assert_frame_equal(c.lines, a.lines[a.lines["consortium"] != "C003"].reset_index(drop=True))
    d = generate_claims(n_consortia=3, services=SERVICES, n_months=12, as_of="2024-06-30", seed=12)
    assert not d.lines["amount"].equals(a.lines["amount"])


def test_truth_paid_is_the_sum_of_the_lines_and_nothing_is_paid_after_as_of():
    s = generate_claims(n_consortia=2, services=SERVICES, n_months=18, as_of="2024-06-30", max_lag_months=12, seed=4)
    assert (s.lines["paid_date"] <= s.as_of).all()
    assert (s.lines["paid_date"] >= s.lines["incurred_date"]).all()
    assert s.lines["claim_id"].is_unique
    lines = s.lines.assign(origin=s.lines["incurred_date"].dt.to_period("M"))
    paid = lines.groupby(["consortium", "service", "origin"])["amount"].sum()
    truth = s.truth.set_index(["consortium", "service", "origin"])
    np.testing.assert_allclose(paid.reindex(truth.index).fillna(0).to_numpy(), truth["paid"].to_numpy(), rtol=1e-12)
    assert (truth["ultimate"] >= truth["paid"] - 1e-9).all()
    np.testing.assert_allclose(truth["ibnr"], truth["ultimate"] - truth["paid"], rtol=1e-12)
    # origins older than the delay cap are fully paid; the latest are not
    assert truth.xs("2023-01", level="origin")["ibnr"].abs().max() == 0
    assert truth.xs("2024-06", level="origin")["ibnr"].min() > 0


def test_expected_ibnr_is_the_mean_of_the_ibnr():
    """``expected_ibnr`` against the IBNR of 60 generated datasets (no large claims, so the amounts
    have a variance and the mean converges): per service the summed IBNR over the summed expectation
    is 1 within 4 standard errors (of the per-dataset ratios), and every month with an expectation
    of nothing unpaid (older than the delay cap) has no IBNR."""
    frames = [generate_claims(n_consortia=3, services=["acute_inpatient", "prescribing"], n_months=36,
                              large_claim_prob=0.0, seed=seed).truth.assign(seed=seed) for seed in range(60)]
    truth = pd.concat(frames, ignore_index=True)
    per_seed = truth.groupby(["service", "seed"])[["ibnr", "expected_ibnr"]].sum()
    for service, t in per_seed.groupby(level=0):
        ratio = t["ibnr"] / t["expected_ibnr"]
        assert abs(t["ibnr"].sum() / t["expected_ibnr"].sum() - 1) < 4 * ratio.std() / np.sqrt(len(ratio)), service
    assert (truth.loc[truth["expected_ibnr"] == 0, "ibnr"] == 0).all()
    assert (truth["expected_ibnr"] > 0).sum() > 0


def test_lags_by_service_are_realistic():
    s = generate_claims(n_consortia=4, services=SERVICES, n_months=36, as_of="2024-12-31", lines_per_cell=80, seed=2)
    old = s.lines[s.lines["incurred_date"] < "2023-01-01"]   # fully developed origins
    lag = pd.Series(_lag_months(old), index=old.index)
    mean = lag.groupby(old["service"]).mean()
    assert mean["prescribing"] < 1.0 < mean["mental_health"] < mean["acute_inpatient"]
    share_late = (lag[old["service"] == "acute_inpatient"] >= 12).mean()
    assert 0.02 < share_late < 0.2, share_late   # a long tail: some acute claims pay after a year


def test_budget_and_members_cover_every_consortium_month_and_bad_rows_are_added():
    s = generate_claims(n_consortia=2, services=SERVICES, n_months=6, as_of="2024-06-30", bad_rows=6, seed=1)
    assert len(s.budget) == len(s.members) == 12
    assert (s.budget["budget"] > 0).all() and (s.members["members"] > 0).all()
    assert (s.lines["consortium"] == "C999").sum() == 1
    assert s.lines["claim_id"].duplicated().sum() == 1


def test_parquet_dataset_is_written_in_chunks_with_the_same_lines(tmp_path):
    path = tmp_path / "claims.parquet"
    truth, budget = write_parquet_dataset(path, n_consortia=3, services=SERVICES, n_months=6, as_of="2024-06-30",
                                  lines_per_cell=10, seed=5, consortia_per_chunk=2)
    s = generate_claims(n_consortia=3, services=SERVICES, n_months=6, as_of="2024-06-30", lines_per_cell=10, seed=5)
    table = pq.read_table(path).to_pandas()
    assert len(table) == len(s.lines)
    np.testing.assert_allclose(table["amount"].sum(), s.lines["amount"].sum(), rtol=1e-12)
    pd.testing.assert_frame_equal(truth, s.truth)
    pd.testing.assert_frame_equal(budget, s.budget)


def test_bundled_sample_is_the_documented_generator_output(tmp_path):
    from importlib import resources

    from reserving.nightly.synthetic import write_demo_sample

    write_demo_sample(tmp_path)
    bundled = resources.files("reserving") / "data"
    for name in ("sample_claims.csv", "sample_budget.csv", "sample_members.csv", "sample_segments.csv"):
        assert (tmp_path / name).read_bytes() == (bundled / name).read_bytes(), name
