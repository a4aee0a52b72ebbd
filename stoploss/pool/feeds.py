"""What the other two packages measured, read from their output files: the pool simulator's inputs.

Two column contracts, nothing else shared (no import of ``riskadjust`` or ``reserving``):

``validation.csv`` of ``python -m riskadjust validate`` (:func:`read_risk_models`)
    ``risk_model, r_squared, cpm, mape, n_members``, one row per budget formula: its name, the share
    of individual annual cost variance it explains (R-squared), Cumming's prediction measure, the
    mean absolute prediction error and the members it was measured on. The simulator uses
    ``r_squared``; the other columns are checked (numbers, ``n_members`` >= 1) and shown.

``consortia.csv`` of a nightly reserving run (:func:`read_ibnr_error`)
    ``consortium, paid, ibnr, ibnr_sd, ibnr_p75, ibnr_p95``, one row per consortium (currency).
    The simulator's IBNR error is a mean-one lognormal factor on a group's estimated outturn with
    coefficient of variation c (``PoolAssumptions.ibnr_cv``). The outturn is estimated as
    paid + IBNR, and its estimation error is the IBNR's (paid is known), so per consortium

        c_i = ibnr_sd_i / (paid_i + ibnr_i),

    and the simulator takes the median of c_i over the consortia (one figure for every list size:
    the run does not give a consortium's list size). The range of c_i is reported beside it. A
    consortium whose reserving failed keeps a row with no figures in that file: such rows (paid, ibnr
    and ibnr_sd all blank) are left out and counted (``IbnrError.without_figures``). Only
    the standard deviation enters; ``ibnr_p75`` and ``ibnr_p95`` are checked (increasing) but the
    shape is the simulator's lognormal, not the run's.

``severity.json`` of ``python -m stoploss fit`` (:func:`severity_record`, :func:`read_severity`)
    ``{"family": NAME, "parameters": {NAME: number, ...}}``: the fitted claimant severity of the
    lowest AIC, its parameters named as in :mod:`stoploss.severity` (``gpd``: xi, beta; ``pareto``:
    alpha, theta; ``lognormal``: mu, sigma; ``gamma``: alpha, theta; ``weibull``: tau, theta), in
    currency per claimant-year. The pool takes the cost above its tail threshold from it
    (:meth:`~stoploss.pool.cost_model.CostModel.with_tail`: a generalised Pareto tail is needed).

Missing columns, blank or non-numeric values and impossible values (negative paid or standard
deviation, R-squared outside [0, 1], a 95th percentile below the 75th) raise a
:class:`~stoploss.errors.StopLossError` naming the file, line and column; a consortium's name is
never quoted.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from _kit.tables import read_table
from _kit.validate import csv_line, numeric_column, require_columns
from stoploss.errors import StopLossError
from stoploss.severity import Gamma, GeneralizedPareto, Lognormal, Pareto, Severity, Weibull

RISK_MODEL_COLUMNS = ("risk_model", "r_squared", "cpm", "mape", "n_members")
IBNR_COLUMNS = ("consortium", "paid", "ibnr", "ibnr_sd", "ibnr_p75", "ibnr_p95")
#: Families of ``severity.json`` and their classes (parameters are the classes' fields).
SEVERITY_FAMILIES = {"gpd": GeneralizedPareto, "pareto": Pareto, "lognormal": Lognormal, "gamma": Gamma,
                     "weibull": Weibull}


def _names(frame: pd.DataFrame, column: str, source) -> list[str]:
    raw = frame[column]
    blank = raw.isna() | (raw.astype(str).str.strip() == "")
    if blank.any():
        row = int(np.flatnonzero(blank.to_numpy())[0])
        raise StopLossError("empty; a name is required", file=source, line=csv_line(source, row), column=column)
    names = raw.astype(str).str.strip()
    repeated = names.duplicated()
    if repeated.any():
        row = int(np.flatnonzero(repeated.to_numpy())[0])
        raise StopLossError("repeats an earlier row's name; one row per name", file=source,
                            line=csv_line(source, row), column=column)
    return list(names)


def read_risk_models(path) -> tuple[dict, pd.DataFrame]:
    """The budget formulas and their R-squared from ``riskadjust validate``'s ``validation.csv``.

    Returns
    -------
    dict, DataFrame
        risk_model -> r_squared, in file order; and the checked table (the contract's columns).

    Examples
    --------
    >>> import tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "validation.csv")
    >>> _ = open(path, "w").write("risk_model,r_squared,cpm,mape,n_members\\nage-sex,0.037,0.02,4100,50000\\n")
    >>> read_risk_models(path)[0]
    {'age-sex': 0.037}
    """
    source = str(path)
    frame = read_table(path, "risk models file", StopLossError)
    require_columns(frame, RISK_MODEL_COLUMNS, source, StopLossError)
    if frame.empty:
        raise StopLossError("no rows: at least one risk model is needed", file=source)
    names = _names(frame, "risk_model", source)
    out = pd.DataFrame({"risk_model": names})
    out["r_squared"] = numeric_column(frame, "r_squared", source, StopLossError, low=0.0, high=1.0)
    out["cpm"] = numeric_column(frame, "cpm", source, StopLossError, high=1.0)
    out["mape"] = numeric_column(frame, "mape", source, StopLossError, low=0.0)
    out["n_members"] = numeric_column(frame, "n_members", source, StopLossError, low=1.0)
    return dict(zip(names, out["r_squared"].tolist())), out


@dataclass(frozen=True, eq=False)
class IbnrError:
    """The IBNR estimation error of a nightly run, as the pool simulator's coefficient of variation.

    Attributes
    ----------
    cv : float
        Median over consortia of ibnr_sd / (paid + ibnr) (see the module docstring).
    by_consortium : DataFrame
        ``paid``, ``ibnr``, ``ibnr_sd`` and ``cv`` per consortium, in file order, without the names.
    source : str
        The file read.
    without_figures : int
        Rows left out because the run has no figures for that consortium (its reserving failed).
    """

    cv: float
    by_consortium: pd.DataFrame
    source: str
    without_figures: int = 0

    @property
    def totals(self) -> pd.Series:
        """The median, smallest and largest coefficient of variation and the number of consortia."""
        c = self.by_consortium["cv"]
        return pd.Series({"ibnr_cv": self.cv, "cv_min": float(c.min()), "cv_max": float(c.max()),
                          "consortia": len(c), "without_figures": self.without_figures})


def read_ibnr_error(directory) -> IbnrError:
    """The IBNR error CV from a nightly run's ``DIR/consortia.csv`` (see the module docstring).

    Examples
    --------
    >>> import tempfile, os
    >>> run = tempfile.mkdtemp()
    >>> _ = open(os.path.join(run, "consortia.csv"), "w").write(
    ...     "consortium,paid,ibnr,ibnr_sd,ibnr_p75,ibnr_p95\\nA,900,100,20,110,135\\nB,450,50,15,60,75\\n")
    >>> round(read_ibnr_error(run).cv, 3)   # median of 20/1000 and 15/500
    0.025
    """
    d = Path(directory)
    if not d.is_dir():
        raise StopLossError(f"--ibnr-from {str(d)!r}: not a directory; give a nightly run's output directory "
                            "holding consortia.csv")
    path = d / "consortia.csv"
    source = str(path)
    frame = read_table(path, "nightly consortia file", StopLossError)
    require_columns(frame, IBNR_COLUMNS, source, StopLossError)
    if frame.empty:
        raise StopLossError("no rows: at least one consortium is needed", file=source)
    _names(frame, "consortium", source)
    low = {"paid": 0.0, "ibnr_sd": 0.0}
    values = {c: numeric_column(frame, c, source, StopLossError, allow_missing=True, low=low.get(c))
              for c in IBNR_COLUMNS[1:]}
    failed = np.isnan(values["paid"]) & np.isnan(values["ibnr"]) & np.isnan(values["ibnr_sd"])
    if failed.all():
        raise StopLossError("no consortium has figures (paid, ibnr and ibnr_sd blank in every row)", file=source)
    for column, v in values.items():
        blank = np.isnan(v) & ~failed
        if blank.any():
            row = int(np.flatnonzero(blank)[0])
            raise StopLossError("empty; a value is required (a consortium without figures has paid, ibnr and "
                                "ibnr_sd all blank)", file=source, line=csv_line(source, row), column=column)
    paid, ibnr, sd, p75, p95 = (np.where(failed, 1.0, values[c]) for c in IBNR_COLUMNS[1:])
    for mask, column, what in ((paid + ibnr <= 0, "ibnr", "paid + ibnr is not positive, so the outturn has no "
                                                          "relative error"),
                               (p95 < p75, "ibnr_p95", "below ibnr_p75; percentiles must increase")):
        if mask.any():
            row = int(np.flatnonzero(mask)[0])
            raise StopLossError(what, file=source, line=csv_line(source, row), column=column)
    keep = ~failed
    cv = sd[keep] / (paid[keep] + ibnr[keep])
    table = pd.DataFrame({"paid": paid[keep], "ibnr": ibnr[keep], "ibnr_sd": sd[keep], "cv": cv})
    return IbnrError(float(np.median(cv)), table, source, int(failed.sum()))


def severity_record(family: str, severity: Severity) -> dict:
    """The ``severity.json`` record of a fitted severity (the contract in the module docstring).

    Examples
    --------
    >>> severity_record("gpd", GeneralizedPareto(0.3, 20_000.0))
    {'family': 'gpd', 'parameters': {'xi': 0.3, 'beta': 20000.0}}
    """
    if SEVERITY_FAMILIES.get(family) is not type(severity):
        raise StopLossError(f"severity.json: family {family!r} does not name a {type(severity).__name__}.")
    return {"family": family, "parameters": {k: float(v) for k, v in vars(severity).items()}}


def read_severity(path) -> Severity:
    """The severity of a ``severity.json`` (``python -m stoploss fit``), checked.

    Raises
    ------
    StopLossError
        The file is missing or not JSON, the family unknown, a parameter missing, extra or not a
        finite number, or the parameters impossible; the message names the file and the key.
    """
    import json

    path = Path(path)
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except OSError:
        raise StopLossError("cannot read the severity file", file=path) from None
    except ValueError:
        raise StopLossError("is not JSON; give the severity.json that `python -m stoploss fit` writes",
                            file=path) from None
    if not isinstance(record, dict) or record.get("family") not in SEVERITY_FAMILIES:
        raise StopLossError(f"needs a 'family', one of {', '.join(SEVERITY_FAMILIES)}", file=path)
    kind = SEVERITY_FAMILIES[record["family"]]
    names = list(kind.__dataclass_fields__)
    params = record.get("parameters")
    if not isinstance(params, dict) or sorted(params) != sorted(names):
        raise StopLossError(f"'parameters' of a {record['family']} must be exactly {', '.join(names)}", file=path)
    for name in names:
        value = params[name]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not np.isfinite(value):
            raise StopLossError(f"parameter {name!r} must be a finite number", file=path)
    try:
        return kind(**{n: float(params[n]) for n in names})
    except StopLossError as exc:
        raise StopLossError(exc.message, file=path) from None
