"""Per-segment failure isolation: one segment that cannot be reserved does not stop the others.

A method runs on every segment at once (the kernels are fastest that way). If it fails, each
segment is run alone to find the ones that fail; they are recorded as segment errors (consortium,
service, error) and left out, and the method runs again on the rest. A run fails as a whole only
when no segment is left (:class:`NoSegmentReserved`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from reserving.errors import ReservingError
from reserving.mack import mack
from reserving.triangle import TriangleSet

#: Columns of the segment errors table.
ERROR_COLUMNS = ["consortium", "service", "error"]


class SegmentError(ReservingError):
    """A method gave no usable result for one segment (named by ``segment=``)."""


class NoSegmentReserved(ReservingError, RuntimeError):
    """A stage failed for every segment, so the run cannot complete (nothing is published).

    A ``RuntimeError`` too, as the failure of a run rather than of its input.
    """


def label(tri: TriangleSet, s: int) -> tuple[str, str]:
    """``(consortium, service)`` of segment position ``s`` as text.

    Examples
    --------
    >>> tri = TriangleSet.from_array([[1., 2.], [1., np.nan]], origin_start="2024-01", grain="M",
    ...     segments=pd.MultiIndex.from_tuples([("A", 7)], names=["consortium", "service"]))
    >>> label(tri, 0)
    ('A', '7')
    """
    c, v = tri.segments[s]
    return str(c), str(v)


def drop_unpaid(tri: TriangleSet, errors: list) -> TriangleSet:
    """``tri`` without the segments whose accepted lines pay nothing at all (nothing to develop).

    Each dropped segment is appended to ``errors``.

    Examples
    --------
    >>> tri = TriangleSet.from_array([[[1., 2.], [1., np.nan]], [[0., 0.], [0., np.nan]]], origin_start="2024-01",
    ...     grain="M", segments=pd.MultiIndex.from_tuples([("A", "er"), ("A", "op")], names=["consortium", "service"]))
    >>> errors = []
    >>> list(drop_unpaid(tri, errors).segments), [e["service"] for e in errors]
    ([('A', 'er')], ['op'])
    """
    bad = np.nansum(np.abs(tri.latest), axis=1) == 0
    for s in np.flatnonzero(bad):
        c, v = label(tri, s)
        errors.append({"consortium": c, "service": v, "error": "no payments in the accepted lines: nothing to develop"})
    return tri[~bad] if bad.any() else tri


def checked_mack(tri: TriangleSet, *, average: str, n_periods, selections=None):
    """:func:`reserving.mack` with the given factor options, refusing a non-finite chain-ladder ultimate.

    Raises
    ------
    SegmentError
        For the first segment with an origin that has data and no finite ultimate; the message
        names the origin and what the chain-ladder's diagnostics say about the segment.
    """
    mk = mack(tri, average=average, n_periods=n_periods,
              selections=None if selections is None else selections.within(tri))
    cl = mk.chain_ladder
    has_data = cl.latest_lag >= 0
    bad = (has_data & ~np.isfinite(cl.ultimate)).any(axis=1)
    if bad.any():
        s = int(np.flatnonzero(bad)[0])
        i = int(np.flatnonzero(has_data[s] & ~np.isfinite(cl.ultimate[s]))[0])
        diag = cl.diagnostics
        detail = "; ".join(diag.loc[[tri.segments[s]], "detail"].astype(str)) if tri.segments[s] in diag.index else ""
        raise SegmentError(f"chain-ladder ultimate is not finite for origin {tri.origins[i]}"
                           + (f" ({detail})" if detail else ""), segment=label(tri, s))
    return mk


def isolate(tri: TriangleSet, fn, errors: list, stage: str):
    """Run ``fn`` on all segments; if it fails, find the failing segments one by one, drop them, rerun.

    Each failing segment is appended to ``errors`` with ``"<stage>: <what failed>"``.

    Returns
    -------
    (TriangleSet, result)
        The segments kept and ``fn``'s result on them, or ``(tri, None)`` when every segment fails.

    Examples
    --------
    >>> tri = TriangleSet.from_array([[[1., 2.], [1., np.nan]], [[0., 0.], [0., np.nan]]], origin_start="2024-01",
    ...     grain="M", segments=pd.MultiIndex.from_tuples([("A", "er"), ("A", "op")], names=["consortium", "service"]))
    >>> def total(x):
    ...     if (np.nansum(x.values, axis=(1, 2)) == 0).any():
    ...         raise ReservingError("nothing paid")
    ...     return np.nansum(x.values)
    >>> errors = []
    >>> kept, result = isolate(tri, total, errors, "sum")
    >>> list(kept.segments), float(result), errors
    ([('A', 'er')], 4.0, [{'consortium': 'A', 'service': 'op', 'error': 'sum: nothing paid'}])
    """
    try:
        return tri, fn(tri)
    except Exception:  # noqa: BLE001 - any failure: look for the segments that cause it
        ok = np.array([_segment_runs(tri, s, fn, errors, stage) for s in range(tri.n_segments)], dtype=bool)
    if not ok.any():
        return tri, None
    tri = tri[ok]
    return tri, fn(tri)


def _segment_runs(tri: TriangleSet, s: int, fn, errors: list, stage: str) -> bool:
    """Run ``fn`` on segment ``s`` alone; on failure record the error for the segment and return False."""
    try:
        fn(tri[s])
    except Exception as exc:  # noqa: BLE001 - one segment's failure is reported, the others go on
        c, v = label(tri, s)
        what = exc.message if isinstance(exc, SegmentError) else str(exc)   # the row names the segment
        errors.append({"consortium": c, "service": v, "error": f"{stage}: {what}"})
        return False
    return True


def failed_services(errors: list) -> pd.Series:
    """Number of service lines that could not be reserved, per consortium (only those with any).

    Examples
    --------
    >>> failed_services([{"consortium": "A", "service": "er", "error": "x"}]).to_dict()
    {'A': 1}
    """
    if not errors:
        return pd.Series(dtype=int, name="services_failed")
    frame = pd.DataFrame(errors, columns=ERROR_COLUMNS)
    return frame.groupby("consortium", sort=False)["service"].nunique().rename("services_failed")
