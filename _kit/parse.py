"""Strict parsing of dates and amounts, one definition for pandas and for DuckDB SQL.

Every reader of the engine parses text dates and amounts with the rules here, so two readers of
the same file cannot disagree (one reading ``03/01/2024`` as 3 January, the other as 1 March).

Dates
    ``YYYY-MM-DD`` (ISO, optionally followed by a time), and ``DD/MM/YYYY`` only when the
    caller says so (``dayfirst=True``, the ``--dayfirst`` option). ``MM/DD/YYYY`` is never
    guessed: any other form is not a date.
Amounts
    Digits with an optional sign, decimal part and exponent. The decimal separator is ``.``
    unless the caller says ``,``; a thousands separator (``,``, ``.``, space or ``'``) is accepted
    only when given, and then only in groups of three (``1,234.56``). Otherwise ``"1,234.56"`` is
    not a number. Amounts beyond :data:`MAX_AMOUNT` in size are refused.

Each function comes in two forms that share the patterns: :func:`parse_dates` /
:func:`parse_amounts` over a pandas Series, and :func:`sql_date` / :func:`sql_amount`, which
return a DuckDB SQL expression over a text expression.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from _kit.errors import EngineError

#: Largest amount accepted in size (currency); beyond it a value is a corrupt field, not a claim.
MAX_AMOUNT = 1e15

_ISO = (r"\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?([+-]\d{2}(:?\d{2})?|Z)?)?", "%Y-%m-%d", 0, 10)
_DAYFIRST = (r"\d{2}/\d{2}/\d{4}", "%d/%m/%Y", 0, 10)
_PERIODS = [(r"\d{4}-\d{2}", "%Y-%m", 0, 7), (r"\d{4}", "%Y", 0, 4)]
_THOUSANDS = {",", ".", " ", "'"}


def date_formats(dayfirst: bool = False, periods: bool = False) -> list[tuple[str, str, int, int]]:
    """The accepted date forms: (full-match regex, strptime format, start, length of the date part).

    ``periods`` adds ``YYYY-MM`` and ``YYYY`` (the first day of the month or year), for tables
    whose origins are labelled by period rather than dated.

    Examples
    --------
    >>> [f[1] for f in date_formats(dayfirst=True)]
    ['%Y-%m-%d', '%d/%m/%Y']
    """
    return [_ISO] + ([_DAYFIRST] if dayfirst else []) + (_PERIODS if periods else [])


def date_expected(dayfirst: bool = False) -> str:
    """The accepted forms in words, for messages.

    Examples
    --------
    >>> date_expected()
    'YYYY-MM-DD (for DD/MM/YYYY give --dayfirst)'
    """
    return "YYYY-MM-DD or DD/MM/YYYY" if dayfirst else "YYYY-MM-DD (for DD/MM/YYYY give --dayfirst)"


def parse_dates(values: pd.Series, dayfirst: bool = False, periods: bool = False) -> pd.Series:
    """``values`` as dates (datetime64, midnight); NaT where a value is not a date in an accepted form.

    Values that already are dates are kept; text must match :func:`date_formats` exactly.

    Examples
    --------
    >>> parse_dates(pd.Series(["2024-01-05", "05/01/2024", "2024-13-01"])).dt.day.tolist()
    [5.0, nan, nan]
    >>> parse_dates(pd.Series(["05/01/2024"]), dayfirst=True).dt.month.tolist()
    [1]
    """
    if pd.api.types.is_datetime64_any_dtype(values):
        out = values.dt.tz_localize(None) if getattr(values.dt, "tz", None) is not None else values
        return out.dt.normalize()
    text = values.astype("string").str.strip()
    out = pd.Series(pd.NaT, index=values.index, dtype="datetime64[ns]")
    for regex, fmt, start, length in date_formats(dayfirst, periods):
        match = text.str.fullmatch(regex).fillna(False).astype(bool) & out.isna()
        if match.any():
            part = text[match].str.slice(start, start + length)
            out[match] = pd.to_datetime(part, format=fmt, errors="coerce")
    return out


def sql_date(expr: str, dayfirst: bool = False) -> str:
    """A DuckDB expression: the text ``expr`` as a DATE, NULL where it is not one (see :func:`parse_dates`).

    Examples
    --------
    >>> import duckdb
    >>> duckdb.sql("SELECT " + sql_date("'05/01/2024'", dayfirst=True) + " AS d").fetchall()
    [(datetime.date(2024, 1, 5),)]
    """
    text = f"trim(CAST({expr} AS VARCHAR))"
    cases = " ".join(
        f"WHEN regexp_full_match({text}, '{regex}') "
        f"THEN CAST(try_strptime(substr({text}, {start + 1}, {length}), '{fmt}') AS DATE)"
        for regex, fmt, start, length in date_formats(dayfirst)
    )
    return f"(CASE {cases} END)"


@dataclass(frozen=True)
class AmountFormat:
    """How amounts are written: the decimal separator and the thousands separator (or none).

    Examples
    --------
    >>> AmountFormat(decimal=",", thousands=".").describe()
    "decimal ',' and thousands '.'"
    """

    decimal: str = "."
    thousands: str | None = None

    def __post_init__(self):
        if self.decimal not in {".", ","}:
            raise EngineError(f"decimal separator must be '.' or ',', not {self.decimal!r}")
        if self.thousands is not None and self.thousands not in _THOUSANDS:
            raise EngineError(f"thousands separator must be one of {sorted(_THOUSANDS)} or none, "
                              f"not {self.thousands!r}")
        if self.thousands == self.decimal:
            raise EngineError(f"the decimal and thousands separators are both {self.decimal!r}")

    def describe(self) -> str:
        """The format in words, for messages."""
        return f"decimal {self.decimal!r} and " + (
            f"thousands {self.thousands!r}" if self.thousands else "no thousands separator")

    def regex(self) -> str:
        """Full-match regex of an amount in this format."""
        d = "\\" + self.decimal
        whole = r"\d+"
        if self.thousands:
            t = "\\" + self.thousands if self.thousands != " " else " "
            whole = rf"(\d+|\d{{1,3}}({t}\d{{3}})+)"
        return rf"[+-]?({whole}({d}\d*)?|{d}\d+)([eE][+-]?\d+)?"


def parse_amounts(values: pd.Series, fmt: AmountFormat = AmountFormat()) -> pd.Series:
    """``values`` as float64; NaN where a value is not a number in ``fmt`` (numbers are kept).

    Examples
    --------
    >>> parse_amounts(pd.Series(["1,234.56", "12.5"])).tolist()
    [nan, 12.5]
    >>> parse_amounts(pd.Series(["1,234.56"]), AmountFormat(thousands=",")).tolist()
    [1234.56]
    """
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        return values.astype(float)
    text = values.astype("string").str.strip()
    ok = text.str.fullmatch(fmt.regex()).fillna(False).astype(bool)
    plain = text.where(ok)
    if fmt.thousands:
        plain = plain.str.replace(fmt.thousands, "", regex=False)
    plain = plain.str.replace(fmt.decimal, ".", regex=False)
    return pd.to_numeric(plain, errors="coerce").astype(float).where(ok, np.nan)


def sql_amount(expr: str, fmt: AmountFormat = AmountFormat()) -> str:
    """A DuckDB expression: the text ``expr`` as a DOUBLE, NULL where it is not a number in ``fmt``.

    Examples
    --------
    >>> import duckdb
    >>> duckdb.sql("SELECT " + sql_amount("'1.234,5'", AmountFormat(",", ".")) + " AS a").fetchall()
    [(1234.5,)]
    """
    text = f"trim(CAST({expr} AS VARCHAR))"
    plain = text if not fmt.thousands else f"replace({text}, '{_sql(fmt.thousands)}', '')"
    if fmt.decimal != ".":
        plain = f"replace({plain}, '{fmt.decimal}', '.')"
    return f"(CASE WHEN regexp_full_match({text}, '{_sql(fmt.regex())}') THEN try_cast({plain} AS DOUBLE) END)"


def _sql(text: str) -> str:
    return text.replace("'", "''")
