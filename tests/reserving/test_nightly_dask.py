"""The nightly job on a Dask cluster gives the numbers of a run on one machine.

A local cluster of two worker processes (so everything sent to them is pickled, as on a real
cluster), small batches so that several are in flight at once.
"""

import numpy as np
import pandas as pd
import pytest

from reserving.nightly.job import run_nightly_job
from reserving.nightly.synthetic import generate_claims

distributed = pytest.importorskip("dask.distributed")


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
    with distributed.Client(cluster) as c:
        yield c
    cluster.close()


def test_cluster_run_equals_the_local_run(tmp_path, client):
    s = generate_claims(n_consortia=4, services=["emergency", "outpatient"], n_months=18, as_of="2024-06-30",
                        lines_per_cell=30, seed=3)
    options = dict(n_sims=300, budget=s.budget, progress=False, chunk_mb=0.05)   # a batch per consortium
    here = run_nightly_job(s.lines, tmp_path / "here", **options)
    there = run_nightly_job(s.lines, tmp_path / "there", scheduler=client, **options)
    # equal to 1e-10: two runs in one process can differ in the last bits of a sum (the compiled
    # array layout a kernel runs under depends on what ran before); the streams are the same
    pd.testing.assert_frame_equal(here.estimates, there.estimates, check_exact=False, rtol=1e-10)
    for name in ("segments.csv", "consortia.csv", "forecast.csv"):
        a, b = (pd.read_csv(r.outputs["db"].parent / name) for r in (here, there))
        pd.testing.assert_frame_equal(a, b, check_exact=False, rtol=1e-10, obj=name)
    assert there.parameters == here.parameters
    assert np.isfinite(there.estimates["ibnr_p95"]).all()


def test_an_unreachable_scheduler_is_a_named_error(tmp_path):
    from reserving.errors import ReservingError

    s = generate_claims(n_consortia=1, services=["emergency"], n_months=6, as_of="2024-06-30", seed=1)
    with pytest.raises(ReservingError, match="cannot reach the Dask scheduler at tcp://127.0.0.1:1"):
        run_nightly_job(s.lines, tmp_path / "x", n_sims=20, progress=False, scheduler="tcp://127.0.0.1:1")
