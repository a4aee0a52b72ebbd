"""Shared fixtures: chainladder sample triangles and chainladder's results on them, computed once."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

cl = pytest.importorskip("chainladder")

from reserving import TriangleSet  # noqa: E402

SAMPLES = ["raa", "genins", "abc", "mortgage", "ukmotor", "mw2008", "mw2014"]


def anchor_mack(triangle, sigma="log-linear", tail=None, **development):
    """chainladder 0.10.1's Mack fit: (ldf, ultimate, per-origin std err, total std err, X_)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        dev = cl.Development(sigma_interpolation=sigma, **development).fit_transform(triangle)
        if tail is not None:
            dev = tail.fit_transform(dev)
        model = cl.MackChainladder().fit(dev)
        return {
            "ldf": model.X_.ldf_.values[:, 0, 0, :],
            "ultimate": model.ultimate_.values[:, 0, :, 0],
            "std_err": model.mack_std_err_.values[:, 0, :, -1],
            "total": model.total_mack_std_err_.values[:, 0],
            "sigma": model.X_.sigma_.values[:, 0, 0, :],
            "std_err_ldf": model.X_.std_err_.values[:, 0, 0, :],
        }


@pytest.fixture(scope="session")
def samples():
    """The single-triangle chainladder samples as (chainladder.Triangle, TriangleSet)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return {name: (t, TriangleSet.from_chainladder(t)) for name in SAMPLES for t in [cl.load_sample(name)]}


@pytest.fixture(scope="session")
def clrd():
    """Every clrd triangle, paid and incurred: {column: (chainladder.Triangle, TriangleSet)}."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        full = cl.load_sample("clrd")
        return {col: (full[col], TriangleSet.from_chainladder(full, column=col)) for col in ["CumPaidLoss", "IncurLoss"]}


def rel_err(ours, theirs):
    ours, theirs = np.asarray(ours, float), np.asarray(theirs, float)
    return np.abs(ours - theirs) / np.maximum(np.abs(theirs), 1e-300)


def to_chainladder(values, first_year=2001):
    """A hand-built annual cumulative triangle (2-D array, NaN = no data) as a chainladder.Triangle."""
    values = np.asarray(values, dtype=float)
    rows = [(f"{first_year + i}-01-01", f"{first_year + i + j}-12-31", values[i, j])
            for i in range(values.shape[0]) for j in range(values.shape[1]) if np.isfinite(values[i, j])]
    frame = pd.DataFrame(rows, columns=["origin", "valuation", "amount"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return cl.Triangle(frame, origin="origin", development="valuation", columns=["amount"], cumulative=True)
