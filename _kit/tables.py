"""Reading input tables (CSV or Parquet, by suffix) with errors that name the file, never a traceback."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from _kit.errors import EngineError


def read_table(path, what: str = "table", error=EngineError, **csv_options) -> pd.DataFrame:
    """Read ``path`` (``.parquet``/``.pq`` as Parquet, anything else as UTF-8 CSV).

    Parameters
    ----------
    path : path-like
        The file.
    what : str
        What the table is, for messages ("budget file", "groups file").
    error : type
        The :class:`~_kit.errors.EngineError` subclass to raise (the calling package's).
    **csv_options
        Passed to ``pandas.read_csv`` (e.g. ``dtype``).

    Raises
    ------
    EngineError
        The file is missing, empty, not valid CSV / Parquet or not UTF-8; the message names it.

    Examples
    --------
    >>> read_table("no/such.csv", "budget file")
    Traceback (most recent call last):
    ...
    _kit.errors.EngineError: no/such.csv: the budget file does not exist
    """
    p = Path(path)
    if not p.exists():
        raise error(f"the {what} does not exist", file=p)
    if p.is_dir():
        raise error(f"the {what} is a folder; give a file", file=p)
    try:
        if p.suffix.lower() in (".parquet", ".pq"):
            return pd.read_parquet(p)
        return pd.read_csv(p, encoding="utf-8", **csv_options)
    except pd.errors.EmptyDataError:
        raise error(f"the {what} is empty (no header line)", file=p) from None
    except pd.errors.ParserError as exc:
        raise error(f"the {what} is not valid CSV ({_first_line(exc)})", file=p) from None
    except UnicodeDecodeError as exc:
        raise error(f"the {what} is not UTF-8 text (byte {exc.start}); save it as UTF-8 CSV", file=p) from None
    except (OSError, ValueError) as exc:
        if isinstance(exc, EngineError):
            raise
        raise error(f"the {what} cannot be read as {'Parquet' if p.suffix.lower() in ('.parquet', '.pq') else 'CSV'}"
                    f" ({type(exc).__name__})", file=p) from None


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def is_table_path(value) -> bool:
    """Whether ``value`` is a path (not a DataFrame)."""
    return isinstance(value, (str, os.PathLike))
