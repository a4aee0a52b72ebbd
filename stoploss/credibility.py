"""Bühlmann-Straub credibility: blend a group's own experience with the manual rate.

For groups i with periods j, exposures w_ij (member-years) and observed rates X_ij (cost per
member-year), Bühlmann & Straub (1970), Klugman-Panjer-Willmot *Loss Models* (Buhlmann-Straub model, nonparametric estimation):

    X_i  = sum_j w_ij X_ij / w_i                   (group mean, w_i = sum_j w_ij)
    s^2  = sum_i sum_j w_ij (X_ij - X_i)^2 / sum_i (n_i - 1)           expected process variance
    a    = (sum_i w_i (X_i - X)^2 - s^2 (r - 1)) / (w - sum_i w_i^2 / w)  variance of hypothetical means
    k    = s^2 / a,   Z_i = w_i / (w_i + k)
    blended_i = Z_i X_i + (1 - Z_i) * manual

with X the exposure-weighted overall mean, r the number of groups and w the total exposure.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from stoploss.errors import StopLossError


def credibility_weight(exposure, k: float):
    """Z = w / (w + k) for exposure w (member-years) and credibility constant k = s^2 / a."""
    w = np.asarray(exposure, dtype=float)
    if not k >= 0 or not np.all(np.isfinite(w) & (w >= 0)):
        raise StopLossError("credibility_weight: exposure must be finite and >= 0, and k >= 0 "
                            "(inf for no credibility).")
    return w / (w + k) if k > 0 else np.ones_like(w)


@dataclass(frozen=True, eq=False)
class Credibility:
    """Bühlmann-Straub estimates: structural parameters and one row per group."""

    s2: float
    a: float
    k: float
    overall_mean: float
    summary: pd.DataFrame

    @property
    def totals(self) -> pd.Series:
        return pd.Series({"s2": self.s2, "a": self.a, "k": self.k, "overall_mean": self.overall_mean,
                          "groups": len(self.summary)})


def buhlmann_straub(experience: pd.DataFrame, manual=None, *, group: str = "group",
                    exposure: str = "exposure", rate: str = "rate") -> Credibility:
    """Bühlmann-Straub credibility from several periods of several groups' experience.

    Parameters
    ----------
    experience : DataFrame
        One row per group and period with columns ``group``, ``exposure`` (member-years) and
        ``rate`` (cost per member-year).
    manual : float or mapping group -> float, optional
        Manual rate to blend with; default the exposure-weighted overall mean.

    Returns
    -------
    Credibility
        ``summary`` has per group: exposure, own rate, Z, manual rate, blended rate.

    Examples
    --------
    >>> df = pd.DataFrame({"group": ["A", "A", "B", "B"], "exposure": [100, 100, 50, 50],
    ...                    "rate": [10.0, 14.0, 20.0, 24.0]})
    >>> round(float(buhlmann_straub(df).summary.loc["A", "Z"]), 4)
    0.9381
    """
    missing = {group, exposure, rate} - set(experience.columns)
    if missing:
        raise StopLossError(f"buhlmann_straub: experience is missing column(s) {sorted(missing)}.")
    df = experience[[group, exposure, rate]].copy()
    no_id = df[group].isna()
    if no_id.any():
        row = int(np.flatnonzero(no_id.to_numpy())[0])
        raise StopLossError(f"buhlmann_straub: row {row} has no {group!r}; fill in the group id "
                            "(rows without one would be left out of every estimate).")
    bad = ~(np.isfinite(df[exposure]) & (df[exposure] > 0) & np.isfinite(df[rate]))
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise StopLossError(f"buhlmann_straub: row {row} has a non-positive exposure or missing rate.")
    df["wx"] = df[exposure] * df[rate]
    g = df.groupby(group, sort=True)
    w_i = g[exposure].sum()
    n_i = g.size()
    x_i = g["wx"].sum() / w_i
    if len(w_i) < 2 or (n_i - 1).sum() < 1:
        raise StopLossError("buhlmann_straub: need at least two groups and one group with two periods.")
    w = float(w_i.sum())
    x_bar = float((w_i * x_i).sum() / w)
    dev = df[exposure] * (df[rate] - df[group].map(x_i)) ** 2
    s2 = float(dev.sum() / (n_i - 1).sum())
    a = float(((w_i * (x_i - x_bar) ** 2).sum() - s2 * (len(w_i) - 1)) / (w - (w_i**2).sum() / w))
    k = s2 / a if a > 0 else np.inf
    z = w_i / (w_i + k) if np.isfinite(k) else w_i * 0.0
    if manual is None:
        m = pd.Series(x_bar, index=w_i.index)
    elif np.isscalar(manual):
        m = pd.Series(float(manual), index=w_i.index)
    else:
        m = pd.Series(manual).reindex(w_i.index)
        if m.isna().any():
            raise StopLossError(f"buhlmann_straub: no manual rate for group(s) {list(m[m.isna()].index)}.")
    summary = pd.DataFrame({"exposure": w_i, "own_rate": x_i, "Z": z, "manual_rate": m,
                            "blended_rate": z * x_i + (1 - z) * m})
    return Credibility(s2, a, k, x_bar, summary)
