"""Checks of input tables and settings, shared by the three packages.

Each check raises the calling package's :class:`~_kit.errors.EngineError` subclass (``error=``)
with a message naming the source (file or table), the line or column and what was expected. A
value is never quoted from an identifier column: a row is named by its line, not its contents.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from _kit.errors import EngineError


def csv_line(source, row: int) -> int | None:
    """Line in the file of data row ``row`` (0-based) when ``source`` is a CSV file with a header
    line, else None. Quoted values spanning lines are not counted.

    Examples
    --------
    >>> csv_line("members.csv", 0), csv_line("members table", 0)
    (2, None)
    """
    return row + 2 if str(source).lower().endswith(".csv") else None


def require_columns(frame: pd.DataFrame, columns, source, error=EngineError) -> None:
    """Raise when ``frame`` lacks any of ``columns``, naming them and the columns it has.

    Examples
    --------
    >>> require_columns(pd.DataFrame({"a": [1]}), ["a", "b"], "budget.csv")
    Traceback (most recent call last):
    ...
    _kit.errors.EngineError: budget.csv: missing column(s) 'b' (it has 'a')
    """
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        have = ", ".join(repr(str(c)) for c in frame.columns) or "none"
        raise error(f"missing column(s) {', '.join(repr(str(c)) for c in missing)} (it has {have})", file=source)


def reject_unknown_columns(frame: pd.DataFrame, allowed, source, error=EngineError) -> None:
    """Raise when ``frame`` has a column outside ``allowed`` (a misspelt optional column would
    otherwise be ignored and its default used silently).

    Examples
    --------
    >>> reject_unknown_columns(pd.DataFrame({"anual_trend": [0.1]}), ["annual_trend"], "groups.csv")
    Traceback (most recent call last):
    ...
    _kit.errors.EngineError: groups.csv, column 'anual_trend': unknown column; expected only 'annual_trend'
    """
    allowed = list(allowed)
    for col in frame.columns:
        if col not in allowed:
            raise error(f"unknown column; expected only {', '.join(repr(str(c)) for c in allowed)}",
                        file=source, column=col)


def numeric_column(frame: pd.DataFrame, column: str, source, error=EngineError, *, low=None, high=None,
                   allow_missing: bool = False) -> np.ndarray:
    """``frame[column]`` as float64, checked: numbers only, finite, within ``[low, high]``.

    The first offending row is named by its line (CSV) or position, never by its value.

    Examples
    --------
    >>> numeric_column(pd.DataFrame({"budget": [1.0, "n/a"]}), "budget", "budget.csv")
    Traceback (most recent call last):
    ...
    _kit.errors.EngineError: budget.csv, line 3, column 'budget': not a number
    """
    raw = frame[column]
    values = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=float)
    blank = raw.isna().to_numpy()
    problems = [
        (~blank & np.isnan(values), "not a number"),
        (np.isinf(values) | (np.abs(values) > 1e15), "not a finite amount (beyond 1e15)"),
    ]
    if not allow_missing:
        problems.insert(0, (blank, "empty; a value is required"))
    if low is not None:
        problems.append((values < low, f"below {low}"))
    if high is not None:
        problems.append((values > high, f"above {high}"))
    for mask, what in problems:
        if mask.any():
            row = int(np.flatnonzero(mask)[0])
            line = csv_line(source, row)
            raise error(what if line else f"{what} (row {row})", file=source, line=line, column=column)
    return values


def number(value, name: str, error=EngineError, *, low=None, high=None, low_open: bool = False,
           integer: bool = False) -> float:
    """A setting ``name`` checked to be a finite number in its range (``low`` excluded if ``low_open``).

    Examples
    --------
    >>> number(0.5, "cv", low=0)
    0.5
    >>> number(float("nan"), "normalisation", low=0, low_open=True)
    Traceback (most recent call last):
    ...
    _kit.errors.EngineError: normalisation must be a finite number, not nan
    """
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise error(f"{name} must be a number, not {type(value).__name__}") from None
    if not math.isfinite(x):
        raise error(f"{name} must be a finite number, not {x}")
    if integer and x != int(x):
        raise error(f"{name} must be a whole number, not {x}")
    if low is not None and (x <= low if low_open else x < low):
        raise error(f"{name} must be {'above' if low_open else 'at least'} {low}, not {x}")
    if high is not None and x > high:
        raise error(f"{name} must be at most {high}, not {x}")
    return x
