"""Ranges of the selected IBNR from the ODP bootstrap, run a few consortia at a time.

The bootstrap (:func:`reserving.bootstrap_odp`) gives ranges for the chain-ladder; where the
selected estimate differs (the BF blend), each segment-origin's samples ``x`` are moved to it as
``ratio * x + shift`` (:func:`adjustment`): scaled by ``selected / bootstrap mean`` when both are
positive (the spread moves with the estimate), shifted by the difference otherwise.

Percentiles of one segment-origin are the bootstrap's own percentiles adjusted the same way (an
increasing affine map keeps percentiles), and sums over origins, service lines and consortia are
weighted sums of the samples, so no adjusted copy of the samples is made. Segments are
bootstrapped in batches of whole consortia whose samples fit in ``chunk_mb``; the bootstrap keys
each segment's random stream by its label, so batching does not change the numbers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from _kit.progress import Progress
from reserving.bootstrap import QUANTILES as BOOTSTRAP_QUANTILES
from reserving.bootstrap import bootstrap_odp
from reserving.nightly.isolation import NoSegmentReserved, isolate
from reserving.triangle import TriangleSet

#: The percentiles reported (``ibnr_p75``, ``ibnr_p95``).
QUANTILES = (0.75, 0.95)


@dataclass(frozen=True)
class Ranges:
    """Percentiles of the selected IBNR (currency) for the segments the bootstrap could reserve.

    Attributes
    ----------
    keep : ndarray (S,)
        Positions, in the triangles given to :func:`ranges`, of the segments reserved (ascending).
    segment_q : ndarray (2, S, I)
        75th and 95th percentiles per segment and origin.
    segment_total_q : ndarray (2, S)
        The same of each segment's total over origins.
    consortia : list of str
        The consortia with at least one segment reserved, in the order of the segments.
    consortium_total_q : ndarray (C, 2)
        Percentiles of each consortium's total.
    consortium_by_origin : DataFrame
        consortium, origin, ibnr, ibnr_p75, ibnr_p95.
    period : ndarray (C, n_sims)
        Each consortium's simulated IBNR over the origins of the period (the outturn's months).
    national_q : ndarray (2, I)
        Percentiles of the national IBNR per origin.
    """

    keep: np.ndarray
    segment_q: np.ndarray
    segment_total_q: np.ndarray
    consortia: list
    consortium_total_q: np.ndarray
    consortium_by_origin: pd.DataFrame
    period: np.ndarray
    national_q: np.ndarray


def bootstrap_ranges(tri: TriangleSet, selected_ibnr: np.ndarray, in_period: np.ndarray, errors: list, *,
                     average: str, n_periods, n_sims: int, seed: int, chunk_mb: float,
                     progress: bool = True) -> Ranges:
    """Bootstrap ``tri`` batch by batch and reduce the adjusted samples to percentiles.

    Parameters
    ----------
    tri : TriangleSet
        Segments keyed by (consortium, service), monthly origins.
    selected_ibnr : ndarray (n_segments, n_origins)
        The selected IBNR estimate the samples are moved to (currency).
    in_period : bool ndarray (n_origins,)
        Origins whose IBNR counts towards the period (``Ranges.period``).
    errors : list
        Segment errors; a segment the bootstrap fails on is appended and left out.
    average, n_periods
        Chain-ladder factor options, as in :func:`reserving.bootstrap_odp`.
    n_sims, seed : int
        Simulations per segment; seed of the random streams.
    chunk_mb : float
        Memory for bootstrap samples per batch of consortia (MB).
    progress : bool
        A progress bar on stderr counting the consortia done.

    Raises
    ------
    NoSegmentReserved
        When the bootstrap fails for every segment.

    Examples
    --------
    >>> from reserving.nightly.synthetic import generate_claims
    >>> from reserving.nightly.claims import read_claims
    >>> tri = read_claims(generate_claims(n_consortia=2, services=["emergency"], n_months=8,
    ...                                   as_of="2024-08-31", seed=1).lines).triangles
    >>> r = bootstrap_ranges(tri, np.zeros((2, 8)), np.ones(8, bool), [], average="volume", n_periods=None,
    ...                      n_sims=50, seed=1, chunk_mb=400, progress=False)
    >>> r.consortia, r.segment_q.shape, r.period.shape
    (['C001', 'C002'], (2, 2, 8), (2, 50))
    """
    cons_of_seg = tri.segments.get_level_values(0)
    bar = Progress("simulate", len(pd.unique(cons_of_seg)), progress)
    at = [BOOTSTRAP_QUANTILES.index(q) for q in QUANTILES]
    keep, seg_q, seg_total_q, cons_rows, cons_period, cons_names = [], [], [], [], [], []
    national = np.zeros((tri.n_origins, n_sims))
    for pos in batches(tri, n_sims, chunk_mb):
        sub, boot = isolate(tri[pos], lambda x: bootstrap_odp(x, average=average, n_periods=n_periods,
                                                              n_sims=n_sims, seed=seed), errors, "bootstrap")
        if boot is None:
            bar.step(len(pd.unique(cons_of_seg[pos])))
            continue
        kept = pos[np.asarray(tri.segments[pos].isin(sub.segments))]
        selected = np.nan_to_num(selected_ibnr[kept])
        raw = np.asarray(boot.samples).transpose(0, 2, 1)          # (S, I, n_sims), contiguous
        if np.isnan(raw).any():
            raw = np.nan_to_num(raw)
        ratio, shift = adjustment(np.nan_to_num(boot.mean), selected)
        keep.append(kept)
        q = np.nan_to_num(boot.quantiles[:, :, at])                # (S, I, 2)
        seg_q.append(np.moveaxis(q * ratio[:, :, None] + shift[:, :, None], 2, 0))
        totals = np.einsum("sin,si->sn", raw, ratio) + shift.sum(axis=1)[:, None]
        seg_total_q.append(np.quantile(totals, QUANTILES, axis=1))
        cons = sub.segments.get_level_values(0)
        for c in pd.unique(cons):
            mine = np.asarray(cons == c)
            block = np.einsum("sin,si->in", raw[mine], ratio[mine]) + shift[mine].sum(axis=0)[:, None]
            q = np.quantile(block, QUANTILES, axis=1)
            cons_rows.append(pd.DataFrame({"consortium": c, "origin": sub.origins, "ibnr": selected[mine].sum(axis=0),
                                           "ibnr_p75": q[0], "ibnr_p95": q[1]}))
            total_q = np.quantile(block.sum(axis=0), QUANTILES)
            cons_names.append((c, total_q[0], total_q[1]))
            cons_period.append(block[in_period].sum(axis=0))
            national += block
        bar.step(len(pd.unique(cons_of_seg[pos])))
        del raw, boot
    if not keep:
        raise NoSegmentReserved("bootstrap failed for every segment; see the segment errors")
    keep = np.concatenate(keep)
    order = np.argsort(keep)
    return Ranges(
        keep=keep[order],
        segment_q=np.concatenate(seg_q, axis=1)[:, order],
        segment_total_q=np.concatenate(seg_total_q, axis=1)[:, order],
        consortia=[c for c, _, _ in cons_names],
        consortium_total_q=np.array([[p75, p95] for _, p75, p95 in cons_names]).reshape(-1, 2),
        consortium_by_origin=pd.concat(cons_rows, ignore_index=True),
        period=np.array(cons_period).reshape(len(cons_names), n_sims),
        national_q=np.quantile(national, QUANTILES, axis=1),
    )


def batches(tri: TriangleSet, n_sims: int, chunk_mb: float) -> list[np.ndarray]:
    """Segment positions in batches of whole consortia, each batch's samples within ``chunk_mb``.

    Examples
    --------
    >>> tri = TriangleSet.from_array(np.tile([[1., 1.], [1., np.nan]], (3, 1, 1)), origin_start="2024-01", grain="M",
    ...     segments=pd.MultiIndex.from_tuples([("A", "er"), ("A", "op"), ("B", "er")]))
    >>> [b.tolist() for b in batches(tri, n_sims=1000, chunk_mb=0.1)]
    [[0, 1], [2]]
    """
    per_segment = n_sims * tri.n_origins * 8 * 2.5 / 2**20  # bootstrap IBNR and cash samples, working sums
    limit = max(int(chunk_mb / per_segment), 1)
    cons = tri.segments.get_level_values(0)
    out, current = [], []
    for c in pd.unique(cons):
        pos = list(np.flatnonzero(cons == c))
        if current and len(current) + len(pos) > limit:
            out.append(np.array(current))
            current = []
        current += pos
    if current:
        out.append(np.array(current))
    return out


def adjustment(mean: np.ndarray, selected: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per segment and origin, ``(ratio, shift)`` moving bootstrap samples to the selected estimate.

    ``ratio = selected / mean`` and no shift where both are positive (the spread scales with the
    estimate); otherwise ratio 1 and ``shift = selected - mean``.

    Examples
    --------
    >>> [a.tolist() for a in adjustment(np.array([10., 0.]), np.array([15., 3.]))]
    [[1.5, 1.0], [0.0, 3.0]]
    """
    scale = (mean > 0) & (selected > 0)
    ratio = np.divide(selected, mean, out=np.ones_like(mean), where=scale)
    return ratio, np.where(scale, 0.0, selected - mean)
