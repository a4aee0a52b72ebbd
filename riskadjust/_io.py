"""Reading CSV/Parquet tables and writing files atomically (temporary file, then ``os.replace``)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pandas as pd


def read_table(path: str | os.PathLike, **kwargs) -> pd.DataFrame:
    """Read a ``.csv`` or ``.parquet`` file into a DataFrame (CSV columns are read as given)."""
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"{p}: no such file")
    if p.suffix.lower() in (".parquet", ".pq"):
        return pd.read_parquet(p)
    return pd.read_csv(p, **kwargs)


def write_table(frame: pd.DataFrame, path: str | os.PathLike, index: bool = False) -> None:
    """Write ``frame`` to ``.csv`` or ``.parquet`` (chosen by suffix) atomically."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=p.parent, prefix=p.name + ".", suffix=".tmp")
    os.close(fd)
    try:
        if p.suffix.lower() in (".parquet", ".pq"):
            frame.to_parquet(tmp, index=index)
        else:
            frame.to_csv(tmp, index=index)
        os.replace(tmp, p)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def write_text(text: str, path: str | os.PathLike) -> None:
    """Write ``text`` to ``path`` atomically."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=p.parent, prefix=p.name + ".", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, p)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
