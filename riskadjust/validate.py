"""Predictive performance of a risk model on (held-out) members.

With exposure weights ``w`` (member-years), annualised actual cost ``y`` and predicted annual cost
``p`` (both in currency per member-year), and ``ybar = sum(w y) / sum(w)``:

* R-squared: ``1 - sum w (y - p)^2 / sum w (y - ybar)^2``;
* Cumming's prediction measure: ``1 - sum w |y - p| / sum w |y - ybar|`` (Cumming et al.,
  *A comparative analysis of claims-based methods of health risk assessment*, Society of
  Actuaries, 2002);
* mean absolute prediction error: ``sum w |y - p| / sum w``;
* predictive ratio of a set of members: ``sum w p / sum w y`` (1 = fairly funded, below 1 =
  under-funded), by decile of predicted cost (equal numbers of members) and by group.

When the model was fitted to cost truncated at a cap, ``actual`` is the capped cost; pass the
untruncated annualised cost as ``uncapped`` to get the predictive ratios against what members
really cost as well (``by_decile_uncapped``, ``by_group_uncapped``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from riskadjust.errors import RiskAdjustError


@dataclass(frozen=True, eq=False)
class ValidationResult:
    """Fit measures and predictive ratios (currency per member-year; no identifiers)."""

    r2: float
    cpm: float
    mape: float
    by_decile: pd.DataFrame
    by_group: pd.DataFrame | None
    by_decile_uncapped: pd.DataFrame | None = None
    by_group_uncapped: pd.DataFrame | None = None

    @property
    def summary(self) -> pd.DataFrame:
        """Predictive ratios by group if groups were given, else by decile of predicted cost."""
        return self.by_group if self.by_group is not None else self.by_decile

    @property
    def totals(self) -> dict:
        return {"r2": self.r2, "cpm": self.cpm, "mape": self.mape,
                "members": int(self.by_decile["members"].sum())}


def _ratios(key: np.ndarray, w: np.ndarray, y: np.ndarray, p: np.ndarray, name: str) -> pd.DataFrame:
    df = pd.DataFrame({name: key, "w": w, "wy": w * y, "wp": w * p})
    out = df.groupby(name, sort=True).agg(members=("w", "size"), exposure=("w", "sum"), actual=("wy", "sum"),
                                         predicted=("wp", "sum"))
    out["actual_pmpy"] = out["actual"] / out["exposure"]
    out["predicted_pmpy"] = out["predicted"] / out["exposure"]
    out["predictive_ratio"] = out["predicted"] / out["actual"]
    return out


def validate(predicted, actual, exposure=None, groups=None, uncapped=None) -> ValidationResult:
    """Measure how well annual ``predicted`` cost matches annualised ``actual`` cost.

    Parameters
    ----------
    predicted, actual : array-like (n,)
        Predicted and actual cost per member-year (currency); ``actual`` as the model was fitted
        to (capped, if a cap was used).
    exposure : array-like (n,), optional
        Member-years (weights); default 1 for everyone.
    groups : array-like (n,), optional
        Group label per member (e.g. practice) for predictive ratios by group.
    uncapped : array-like (n,), optional
        Actual cost per member-year before any cap: adds predictive ratios against it, by the same
        deciles and groups.

    Examples
    --------
    >>> v = validate([1.0, 2.0, 3.0], [1.0, 2.0, 3.0])
    >>> v.r2, v.cpm, v.mape
    (1.0, 1.0, 0.0)
    """
    p = np.asarray(predicted, dtype=float)
    y = np.asarray(actual, dtype=float)
    w = np.ones_like(y) if exposure is None else np.asarray(exposure, dtype=float)
    if not (p.shape == y.shape == w.shape):
        raise RiskAdjustError(f"predicted, actual and exposure must have one value per member: {p.shape}, {y.shape}, "
                              f"{w.shape}")
    ybar = np.sum(w * y) / np.sum(w)
    r2 = 1.0 - np.sum(w * (y - p) ** 2) / np.sum(w * (y - ybar) ** 2)
    abs_err = np.sum(w * np.abs(y - p))
    cpm = 1.0 - abs_err / np.sum(w * np.abs(y - ybar))
    mape = abs_err / np.sum(w)
    rank = np.empty(p.size, dtype=np.int64)
    rank[np.argsort(p, kind="stable")] = np.arange(p.size)
    decile = rank * 10 // max(p.size, 1) + 1
    by_group = None if groups is None else _ratios(np.asarray(groups), w, y, p, "group")
    dec_u = group_u = None
    if uncapped is not None:
        u = np.asarray(uncapped, dtype=float)
        if u.shape != y.shape:
            raise RiskAdjustError(f"uncapped must have one value per member: {u.shape}, expected {y.shape}")
        dec_u = _ratios(decile, w, u, p, "decile")
        group_u = None if groups is None else _ratios(np.asarray(groups), w, u, p, "group")
    return ValidationResult(float(r2), float(cpm), float(mape), _ratios(decile, w, y, p, "decile"), by_group,
                            dec_u, group_u)
