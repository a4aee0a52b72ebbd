"""Claims development triangles: a stack of cumulative triangles with labels.

A :class:`TriangleSet` holds ``values`` of shape ``(n_segments, n_origins, n_lags)``: cumulative
amounts by segment (e.g. consortium x service line), origin period (incurred month, quarter or
year) and development lag. Origins and lags share one grain (month, quarter or year), so
cell ``(s, i, j)`` lies on calendar period ``i + j`` counted from the first origin; the cells with
``i + j <= valuation_index`` are observed and the rest are the future the methods project.

Conventions, as in chainladder-python:

- ``development`` labels are ages in months at the end of each lag (12, 24, ... for annual data;
  1, 2, ... for monthly).
- ``NaN`` marks a cell with no data: a future cell, a missing observation, or an origin before a
  segment's first origin (a segment shorter than the others). A ``0`` is a real zero.
- The latest diagonal of an origin is its last finite observed value.

A single triangle is a set of one segment; every method works on either.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from _kit.parse import MAX_AMOUNT, AmountFormat, date_expected, parse_amounts, parse_dates
from reserving.errors import TriangleError

MONTHS_PER_PERIOD = {"M": 1, "Q": 3, "Y": 12}
_PANDAS_FREQ = {"M": "M", "Q": "Q", "Y": "Y"}


def _grain(grain: str) -> str:
    g = str(grain).upper()[:1]
    if g == "A":
        g = "Y"
    if g not in MONTHS_PER_PERIOD:
        raise TriangleError(f"grain {grain!r} is not one of 'M' (month), 'Q' (quarter), 'Y' (year)")
    return g


@dataclass(frozen=True, eq=False)
class TriangleSet:
    """A stack of cumulative claims triangles, one per segment.

    Parameters
    ----------
    values : ndarray, shape (n_segments, n_origins, n_lags)
        Cumulative amounts (currency). NaN where no data; zero is a real zero.
    segments : pandas.Index
        One label per segment; a MultiIndex when segments are keyed by several columns
        (e.g. ``consortium`` and ``service``).
    origins : pandas.PeriodIndex
        Origin (incurred) periods, consecutive, in the triangle's grain.
    valuation_index : int
        Calendar period of the valuation, counted from the first origin (``n_origins - 1`` when
        the latest origin is the valuation period).

    Build one with :meth:`from_array`, :meth:`from_frame`, :meth:`from_file` or
    :meth:`from_chainladder` rather than directly.

    Examples
    --------
    >>> import numpy as np
    >>> from reserving import TriangleSet
    >>> tri = TriangleSet.from_array([[100., 150., 160.], [110., 170., np.nan], [120., np.nan, np.nan]],
    ...                              origin_start="2021", grain="Y")
    >>> tri.shape
    (1, 3, 3)
    >>> tri.latest[0].tolist()
    [160.0, 170.0, 120.0]
    """

    values: np.ndarray
    segments: pd.Index
    origins: pd.PeriodIndex
    valuation_index: int

    def __post_init__(self):
        values = np.ascontiguousarray(self.values, dtype=np.float64)
        if values.ndim != 3:
            raise TriangleError(f"values must be 3-D (segments, origins, lags); got shape {values.shape}")
        n_seg, n_org, n_lag = values.shape
        if len(self.segments) != n_seg:
            raise TriangleError(f"{len(self.segments)} segment labels for {n_seg} segments")
        if len(self.origins) != n_org:
            raise TriangleError(f"{len(self.origins)} origin labels for {n_org} origins")
        if not isinstance(self.origins, pd.PeriodIndex):
            raise TriangleError("origins must be a pandas.PeriodIndex")
        if n_org > 1 and not (np.diff(self.origins.asi8) == 1).all():
            raise TriangleError("origins must be consecutive periods with no gaps")
        _grain(self.origins.freqstr)
        if self.valuation_index < n_org - 1:
            raise TriangleError(
                f"valuation_index {self.valuation_index} is before the latest origin ({n_org - 1})"
            )
        bad = np.isinf(values)
        if bad.any():
            s, i, j = np.argwhere(bad)[0]
            raise TriangleError(f"infinite value at {self.cell_name(s, i, j)}")
        beyond = ~np.isnan(values) & ~self._observed_mask(n_org, n_lag)[None]
        if beyond.any():
            s, i, j = np.argwhere(beyond)[0]
            raise TriangleError(
                f"value after the valuation date at {self.cell_name(s, i, j)}: "
                "cells with origin + lag beyond the valuation period must be NaN"
            )
        values.setflags(write=False)
        object.__setattr__(self, "values", values)

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_array(
        cls,
        values,
        origin_start="2000",
        grain: str = "Y",
        segments=None,
        cumulative: bool = True,
        valuation_index: int | None = None,
    ) -> TriangleSet:
        """Build from a 2-D (one triangle) or 3-D (segments, origins, lags) array.

        Parameters
        ----------
        values : array_like
            Amounts; NaN for cells with no data.
        origin_start : str or Period
            The first origin period, e.g. ``"2001"``, ``"2021Q1"``, ``"2023-01"``.
        grain : {'M', 'Q', 'Y'}
            Grain of origins and lags.
        segments : sequence or pandas.Index, optional
            Segment labels; default ``0, 1, ...`` named ``segment``.
        cumulative : bool
            False if ``values`` are incremental; they are accumulated along lags (NaN stays NaN).
        valuation_index : int, optional
            Calendar period of the valuation counted from the first origin; default the latest origin.

        Examples
        --------
        >>> TriangleSet.from_array([[1., 1.], [2., np.nan]], origin_start="2023-01", grain="M").origins
        PeriodIndex(['2023-01', '2023-02'], dtype='period[M]', name='origin')
        """
        arr = np.array(values, dtype=np.float64)
        if arr.ndim == 2:
            arr = arr[None]
        if arr.ndim != 3:
            raise TriangleError(f"values must be 2-D or 3-D; got {arr.ndim}-D")
        if not cumulative:
            arr = _accumulate(arr)
        g = _grain(grain)
        origins = pd.period_range(pd.Period(origin_start, freq=_PANDAS_FREQ[g]), periods=arr.shape[1], name="origin")
        if segments is None:
            segments = pd.RangeIndex(arr.shape[0], name="segment")
        elif not isinstance(segments, pd.Index):
            segments = pd.Index(list(segments), name="segment")
        vi = arr.shape[1] - 1 if valuation_index is None else int(valuation_index)
        return cls(arr, segments, origins, vi)

    @classmethod
    def from_frame(
        cls,
        frame: pd.DataFrame,
        origin: str,
        development: str,
        amount: str,
        segments: list[str] | tuple[str, ...] = (),
        grain: str = "M",
        valuation=None,
        cumulative: bool = False,
        source: str = "frame",
        dayfirst: bool = False,
        amount_format: AmountFormat | None = None,
    ) -> TriangleSet:
        """Build from a long table of amounts with origin and development (payment) dates.

        Each row is an amount at an origin date (e.g. incurred date) and a development date
        (e.g. paid date, or valuation date for cumulative snapshots). Rows are bucketed into
        periods of ``grain``; the lag is the number of whole periods from origin to development.

        Parameters
        ----------
        frame : DataFrame
            The long table.
        origin, development, amount : str
            Column names of the origin date, development date and amount.
        segments : list of str
            Columns that key a segment (e.g. ``["consortium", "service"]``); none for one triangle.
        grain : {'M', 'Q', 'Y'}
            Period of origins and lags.
        valuation : date-like, optional
            As-of date. Rows developed after it are an error; default the latest development date.
        cumulative : bool
            False (default): amounts are transactions (payments) and are summed then accumulated.
            True: amounts are cumulative snapshots at each development date.
        source : str
            Name used in error messages (e.g. the file name).
        dayfirst : bool
            Accept ``DD/MM/YYYY`` text dates as well as ``YYYY-MM-DD``; ``MM/DD/YYYY`` is never
            accepted. The rules are :mod:`_kit.parse`'s, the same as the nightly job's claim reader
            (which also accepts ``YYYY-MM`` and ``YYYY`` here, for origins labelled by period).
        amount_format : AmountFormat, optional
            Decimal and thousands separators of text amounts; default ``.`` and none, so
            ``"1,234.56"`` is an error unless ``AmountFormat(thousands=",")`` is given.

        Raises
        ------
        TriangleError
            A missing column, an empty segment key, a value that is not a date or a number (or is
            beyond 1e15 in size), a payment before its origin or after the valuation; the message
            names the row and column and never quotes the value.

        Notes
        -----
        Within a segment, cells in the observed region with no rows are zero for transactional
        data (nothing was paid) and missing (NaN) for cumulative snapshots. Origins before a
        segment's first origin are NaN (the segment is shorter than the others).

        Examples
        --------
        >>> df = pd.DataFrame({"incurred": ["2024-01-05", "2024-01-20", "2024-02-03"],
        ...                    "paid": ["2024-01-25", "2024-02-10", "2024-02-28"],
        ...                    "amount": [10.0, 5.0, 7.0]})
        >>> tri = TriangleSet.from_frame(df, "incurred", "paid", "amount", grain="M")
        >>> tri.values[0].tolist()
        [[10.0, 15.0], [7.0, nan]]
        """
        g = _grain(grain)
        freq = _PANDAS_FREQ[g]
        segments = list(segments)
        missing = [c for c in [origin, development, amount, *segments] if c not in frame.columns]
        if missing:
            raise TriangleError(f"{source}: missing column(s) {missing}; columns are {list(frame.columns)}")
        if len(frame) == 0:
            raise TriangleError(f"{source}: no rows")
        o_date = _parse_dates(frame[origin], origin, source, dayfirst)
        d_date = _parse_dates(frame[development], development, source, dayfirst)
        fmt = amount_format or AmountFormat()
        amt = parse_amounts(frame[amount], fmt)
        values = amt.to_numpy(dtype=float, na_value=np.nan)
        for bad, what in [(np.isnan(values), f"is not a number with {fmt.describe()}"),
                          (~np.isnan(values) & ~(np.abs(values) <= MAX_AMOUNT), f"is beyond {MAX_AMOUNT:.0e} in size")]:
            if bad.any():
                row = int(np.flatnonzero(bad)[0])
                raise TriangleError(f"{source}, row {row + 1}: amount in column {amount!r} {what}")
        for col in segments:
            key = frame[col]
            empty = (key.isna() | (key.astype("string").str.strip() == "")).to_numpy(dtype=bool)
            if empty.any():
                row = int(np.flatnonzero(empty)[0])
                raise TriangleError(f"{source}, row {row + 1}: segment column {col!r} is empty; "
                                    "give every row its segment or drop the row")
        o_per = o_date.dt.to_period(freq)
        d_per = d_date.dt.to_period(freq)
        lag = (d_per.array.asi8 - o_per.array.asi8).astype(np.int64)
        if (lag < 0).any():
            row = int(np.flatnonzero(lag < 0)[0])
            raise TriangleError(
                f"{source}, row {row + 1}: {development} {d_date.iloc[row].date()} is before "
                f"{origin} {o_date.iloc[row].date()}"
            )
        val_per = d_per.max() if valuation is None else pd.Timestamp(valuation).to_period(freq)
        late = (d_per.array.asi8 > val_per.ordinal)
        if late.any():
            row = int(np.flatnonzero(late)[0])
            raise TriangleError(
                f"{source}, row {row + 1}: {development} {d_date.iloc[row].date()} is after the valuation period {val_per}"
            )
        first = o_per.min()
        o_idx = (o_per.array.asi8 - first.ordinal).astype(np.int64)
        n_org = val_per.ordinal - first.ordinal + 1
        n_lag = n_org
        if segments:
            # each key column factorised on its own (sorted), then the combinations numbered in
            # lexicographic order: the same codes as factorising the rows' tuples, far faster
            parts = [pd.factorize(frame[c].astype(str), sort=True) for c in segments]
            combined = np.zeros(len(frame), dtype=np.int64)
            for part_codes, part_uniques in parts:
                combined = combined * len(part_uniques) + part_codes
            present, codes = np.unique(combined, return_inverse=True)
            labels = []
            for part_codes, part_uniques in reversed(parts):
                labels.insert(0, np.asarray(part_uniques, dtype=object)[present % len(part_uniques)])
                present = present // len(part_uniques)
            if len(segments) > 1:
                seg_index = pd.MultiIndex.from_arrays(labels, names=segments)
            else:
                seg_index = pd.Index(labels[0], name=segments[0])
        else:
            codes = np.zeros(len(frame), dtype=np.int64)
            seg_index = pd.Index(["all"], name="segment")
        n_seg = len(seg_index)
        cells = np.zeros((n_seg, n_org, n_lag))
        counts = np.zeros((n_seg, n_org, n_lag), dtype=np.int64)
        np.add.at(cells, (codes, o_idx, lag), amt.to_numpy(dtype=float))
        np.add.at(counts, (codes, o_idx, lag), 1)
        observed = _observed(n_org, n_lag, n_org - 1)
        first_origin = np.full(n_seg, n_org, dtype=np.int64)
        np.minimum.at(first_origin, codes, o_idx)
        started = np.arange(n_org)[None, :] >= first_origin[:, None]
        if cumulative:
            values = np.where(counts > 0, cells, np.nan)
        else:
            values = np.cumsum(cells, axis=2)
        values = np.where(observed[None] & started[:, :, None], values, np.nan)
        origins = pd.period_range(first, periods=n_org, freq=freq, name="origin")
        return cls(values, seg_index, origins, n_org - 1)

    @classmethod
    def from_file(cls, path, origin: str, development: str, amount: str, **kwargs) -> TriangleSet:
        """Read a CSV or Parquet file of amounts (see :meth:`from_frame` for the arguments).

        The file is read with DuckDB; error messages name the file and the row (1-based, data rows).
        """
        import duckdb

        path = Path(path)
        if not path.exists():
            raise TriangleError(f"{path}: no such file")
        if path.suffix.lower() in {".parquet", ".pq"}:
            query = "SELECT * FROM read_parquet($1)"
        else:
            query = "SELECT * FROM read_csv($1, header=true, all_varchar=true, quote='\"', escape='\"')"
        try:
            frame = duckdb.execute(query, [str(path)]).df()
        except duckdb.Error as exc:
            # DuckDB quotes the offending line, which may hold identifiers: keep only its first line.
            raise TriangleError(f"{path}: cannot be read: {str(exc).splitlines()[0]}") from None
        return cls.from_frame(frame, origin, development, amount, source=str(path), **kwargs)

    @classmethod
    def from_chainladder(cls, triangle, column: str | None = None, zeros: bool = False) -> TriangleSet:
        """Convert a ``chainladder.Triangle`` (single or multi-index) to a TriangleSet.

        Parameters
        ----------
        triangle : chainladder.Triangle
            Origin and development grains must be equal (e.g. both annual).
        column : str, optional
            Which value column to take; required when the triangle has several.
        zeros : bool
            chainladder stores triangles sparsely, so a real zero comes back as NaN (in clrd,
            whole origins with nothing paid look missing). True turns every NaN in the observed
            region from a segment's first non-empty origin onwards back into 0. Use it only when
            the source is known to be complete, as clrd is; the default keeps chainladder's view.

        Examples
        --------
        >>> import chainladder as cl
        >>> TriangleSet.from_chainladder(cl.load_sample("raa")).shape
        (1, 10, 10)
        """
        columns = list(triangle.columns)
        if column is None:
            if len(columns) != 1:
                raise TriangleError(f"the chainladder triangle has columns {columns}: pass column=")
            column = columns[0]
        if column not in columns:
            raise TriangleError(f"column {column!r} is not one of {columns}")
        if triangle.origin_grain != triangle.development_grain:
            raise TriangleError(
                f"origin grain {triangle.origin_grain} differs from development grain "
                f"{triangle.development_grain}; use triangle.grain('{triangle.origin_grain}{triangle.origin_grain}') first"
            )
        if not triangle.is_cumulative:
            triangle = triangle.incr_to_cum()
        values = np.asarray(triangle[column].values, dtype=np.float64)[:, 0]
        index = triangle.index
        if index.shape[1] > 1:
            segments = pd.MultiIndex.from_frame(index)
        else:
            segments = pd.Index(index.iloc[:, 0].to_numpy(), name=index.columns[0])
        g = _grain(triangle.origin_grain)
        origins = pd.PeriodIndex(triangle.origin, freq=_PANDAS_FREQ[g], name="origin")
        val = pd.Timestamp(triangle.valuation_date).to_period(_PANDAS_FREQ[g])
        n_org, n_lag = values.shape[1:]
        vi = val.ordinal - origins[0].ordinal
        observed = _observed(n_org, n_lag, vi)
        if zeros:
            started = np.maximum.accumulate(np.isfinite(values).any(axis=2), axis=1)
            values = np.where(started[:, :, None] & np.isnan(values), 0.0, values)
        values = np.where(observed[None], values, np.nan)
        return cls(values, segments, origins, vi)

    # ------------------------------------------------------------------ shape and labels
    @property
    def shape(self) -> tuple[int, int, int]:
        """(n_segments, n_origins, n_lags)."""
        return self.values.shape

    @property
    def n_segments(self) -> int:
        return self.values.shape[0]

    @property
    def n_origins(self) -> int:
        return self.values.shape[1]

    @property
    def n_lags(self) -> int:
        return self.values.shape[2]

    def __len__(self) -> int:
        return self.n_segments

    @property
    def grain(self) -> str:
        """'M', 'Q' or 'Y'."""
        return _grain(self.origins.freqstr)

    @property
    def development(self) -> np.ndarray:
        """Age in months at the end of each lag: 12, 24, ... (annual) or 1, 2, ... (monthly)."""
        return (np.arange(self.n_lags) + 1) * MONTHS_PER_PERIOD[self.grain]

    @property
    def valuation(self) -> pd.Timestamp:
        """The valuation date: the last day of the valuation period."""
        period = self.origins[0] + self.valuation_index
        return period.end_time.normalize()

    def segment_name(self, s: int) -> str:
        """Readable label of segment ``s`` for messages, e.g. ``consortium=North, service=acute``."""
        label = self.segments[s]
        names = self.segments.names
        if isinstance(label, tuple):
            return ", ".join(f"{n}={v}" for n, v in zip(names, label))
        return f"{names[0] or 'segment'}={label}"

    def cell_name(self, s: int, i: int, j: int) -> str:
        """Readable location of a cell for messages."""
        return f"segment {self.segment_name(s)}, origin {self.origins[i]}, development {self.development[j]}"

    # ------------------------------------------------------------------ derived views
    @property
    def observed(self) -> np.ndarray:
        """Boolean (n_origins, n_lags): cells at or before the valuation period."""
        return self._observed_mask(self.n_origins, self.n_lags)

    def _observed_mask(self, n_org: int, n_lag: int) -> np.ndarray:
        return _observed(n_org, n_lag, self.valuation_index)

    @property
    def latest_lag(self) -> np.ndarray:
        """(n_segments, n_origins) lag of each origin's latest finite value; -1 if it has none."""
        finite = np.isfinite(self.values)
        last = self.n_lags - 1 - np.argmax(finite[:, :, ::-1], axis=2)
        return np.where(finite.any(axis=2), last, -1)

    @property
    def latest(self) -> np.ndarray:
        """(n_segments, n_origins) latest diagonal: each origin's last finite value (NaN if none)."""
        lag = self.latest_lag
        out = np.take_along_axis(self.values, np.maximum(lag, 0)[:, :, None], axis=2)[:, :, 0]
        return np.where(lag >= 0, out, np.nan)

    @property
    def incremental(self) -> np.ndarray:
        """(n_segments, n_origins, n_lags) incremental amounts; NaN where the cumulative is NaN.

        After a missing cell the next increment is taken from the last finite cumulative value.
        """
        prev = _carry_forward(self.values)
        inc = self.values.copy()
        inc[:, :, 1:] = self.values[:, :, 1:] - np.nan_to_num(prev[:, :, :-1], nan=0.0)
        return inc

    @property
    def link_ratios(self) -> np.ndarray:
        """(n_segments, n_origins, n_lags - 1) age-to-age factors C[j+1] / C[j].

        NaN where either cell is missing or C[j] is zero.
        """
        num = self.values[:, :, 1:]
        den = self.values[:, :, :-1]
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(den != 0, num / den, np.nan)

    # ------------------------------------------------------------------ selection and export
    def __getitem__(self, key) -> TriangleSet:
        """Select segments by position, slice, boolean mask, label or list of labels."""
        if isinstance(key, (int, np.integer)):
            pos = np.array([key])
        elif isinstance(key, slice):
            pos = np.arange(self.n_segments)[key]
        elif isinstance(key, np.ndarray) and key.dtype == bool:
            pos = np.flatnonzero(key)
        elif isinstance(key, np.ndarray) and np.issubdtype(key.dtype, np.integer):
            pos = key
        else:
            labels = key if isinstance(key, list) else [key]
            pos = self.segments.get_indexer(labels)
            if (pos < 0).any():
                missing = [k for k, p in zip(labels, pos) if p < 0]
                raise TriangleError(f"no segment labelled {missing}; the first segments are {list(self.segments[:5])}")
        return TriangleSet(self.values[pos], self.segments[pos], self.origins, self.valuation_index)

    def to_frame(self) -> pd.DataFrame:
        """Long table of observed cells: segment columns, origin, development, cumulative value."""
        s, i, j = np.nonzero(np.isfinite(self.values))
        seg = self.segments[s].to_frame(index=False)
        seg["origin"] = self.origins[i]
        seg["development"] = self.development[j]
        seg["value"] = self.values[s, i, j]
        return seg

    def __repr__(self) -> str:
        return (
            f"TriangleSet({self.n_segments} segments x {self.n_origins} origins x {self.n_lags} lags, "
            f"grain={self.grain}, origins {self.origins[0]}..{self.origins[-1]}, valuation {self.valuation.date()})"
        )


def Triangle(values, **kwargs) -> TriangleSet:
    """A single triangle: a :class:`TriangleSet` of one segment built from a 2-D array.

    Examples
    --------
    >>> Triangle([[1., 2.], [1., np.nan]], origin_start="2020").shape
    (1, 2, 2)
    """
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim != 2:
        raise TriangleError(f"a single triangle is 2-D (origins, lags); got shape {arr.shape}")
    return TriangleSet.from_array(arr, **kwargs)


def _observed(n_org: int, n_lag: int, valuation_index: int) -> np.ndarray:
    return (np.arange(n_org)[:, None] + np.arange(n_lag)[None, :]) <= valuation_index


def _accumulate(incremental: np.ndarray) -> np.ndarray:
    """Cumulate along lags; NaN cells stay NaN and do not break the running sum."""
    out = np.cumsum(np.nan_to_num(incremental, nan=0.0), axis=2)
    return np.where(np.isnan(incremental), np.nan, out)


def _carry_forward(values: np.ndarray) -> np.ndarray:
    """Replace each NaN by the last finite value before it along lags (NaN if none)."""
    idx = np.where(np.isfinite(values), np.arange(values.shape[2])[None, None, :], -1)
    np.maximum.accumulate(idx, axis=2, out=idx)
    out = np.take_along_axis(values, np.maximum(idx, 0), axis=2)
    return np.where(idx >= 0, out, np.nan)


def _parse_dates(column: pd.Series, name: str, source: str, dayfirst: bool) -> pd.Series:
    parsed = parse_dates(column, dayfirst, periods=True)
    bad = parsed.isna()
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise TriangleError(f"{source}, row {row + 1}: {name} is not a date in {date_expected(dayfirst)}")
    return parsed
