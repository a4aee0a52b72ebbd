"""Ranges of the selected IBNR from the stochastic Bornhuetter-Ferguson blend, a few consortia at a time.

The selected estimate blends the chain ladder and BF by completion (:mod:`.selection`); its range
comes from the same model (:func:`reserving.stochastic_bf`): per simulation the development
pattern of a bootstrap pseudo triangle, the prior ultimate with its own error, the selection's blend
weights and process error. Given each service's largest claim lines (the nightly job does), the
large claims still to come are a compound Poisson sum of those amounts (:func:`large_claims`),
the chain ladder's paid to date has its large claims redrawn in each simulation, and the rest has
ODP error; the ODP scale per service is the triangles' Pearson scale or, given the
claim lines' moments, the larger of it and the lines' compound Poisson scale (:func:`line_scale`).
The prior's error is estimated once per run from the complete months
(:func:`reserving.stochastic_bf.prior_error`: each segment's part by service line, a consortium
part shared by its service lines, an incurred-month part shared by every segment) and stated in
the outputs (:attr:`Ranges.assumptions`). With ``dependence`` on (the default) the consortium and
month shocks are shared, so sums over service lines, consortia and the nation are not sums of
independent ranges; off, each segment draws its own.

Percentiles of every level (cell, segment total, consortium by origin and in total, national) are
taken from sums of the simulations. Segments are simulated in batches of whole consortia whose
samples fit in ``chunk_mb``; every segment's and shock's random stream is keyed by its label, so
batching and threads do not change the numbers.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from _kit.progress import Progress
from reserving._bootstrap_kernels import column_statistics
from reserving.chain_ladder import ChainLadder
from reserving.nightly.claims import LARGE_QUANTILE, LargeLines
from reserving.nightly.isolation import NoSegmentReserved, isolate
from reserving.nightly.selection import Selection
from reserving.stochastic_bf import LargeClaims, odp_scale, prior_error, stochastic_bf
from reserving.triangle import TriangleSet

#: The percentiles reported (``ibnr_p75``, ``ibnr_p95``).
QUANTILES = (0.75, 0.95)
#: The range method, as stated in the outputs.
METHOD = "stochastic Bornhuetter-Ferguson blend (England & Verrall 2002; Mack 2008)"


@dataclass(frozen=True)
class Ranges:
    """Percentiles and standard deviations of the selected IBNR (currency) at every level.

    Attributes
    ----------
    keep : ndarray (S,)
        Positions, in the triangles given to :func:`simulate_ranges`, of the segments reserved (ascending).
    segment_q : ndarray (2, S, I)
        75th and 95th percentiles per segment and origin.
    segment_total_q : ndarray (2, S)
        The same of each segment's total over origins.
    segment_total_sd : ndarray (S,)
        Standard deviation of each segment's total.
    consortia : list of str
        The consortia with at least one segment reserved, in the order of the segments.
    consortium_total_q : ndarray (C, 2)
        Percentiles of each consortium's total.
    consortium_total_sd : ndarray (C,)
        Standard deviation of each consortium's total.
    consortium_by_origin : DataFrame
        consortium, origin, ibnr, ibnr_p75, ibnr_p95.
    period : ndarray (C, n_sims)
        Each consortium's simulated IBNR over the origins of the period (the outturn's months).
    national_q : ndarray (2, I)
        Percentiles of the national IBNR per origin.
    national_total_q : ndarray (2,)
        Percentiles of the national total.
    national_total_sd : float
    assumptions : dict
        The method, the prior's estimated error (log standard deviations and CV), the process
        scale, the large claims (threshold, lines and share per service), whether the shocks are
        shared (``dependence``), simulations and seed: written to ``summary.json``.
    """

    keep: np.ndarray
    segment_q: np.ndarray
    segment_total_q: np.ndarray
    segment_total_sd: np.ndarray
    consortia: list
    consortium_total_q: np.ndarray
    consortium_total_sd: np.ndarray
    consortium_by_origin: pd.DataFrame
    period: np.ndarray
    national_q: np.ndarray
    national_total_q: np.ndarray
    national_total_sd: float
    assumptions: dict


def simulate_ranges(tri: TriangleSet, cl: ChainLadder, sel: Selection, in_period: np.ndarray, errors: list, *,
                    threshold: float, average: str, n_periods, n_sims: int, seed: int, chunk_mb: float,
                    dependence: bool = True, line_moments: pd.DataFrame | None = None,
                    large_lines: LargeLines | None = None, redraw_paid: bool = True,
                    progress: bool = True, client=None, recentre: np.ndarray | None = None) -> Ranges:
    """Simulate the selected IBNR of ``tri`` batch by batch and reduce the simulations to ranges.

    Parameters
    ----------
    tri : TriangleSet
        Segments keyed by (consortium, service), monthly origins.
    cl : ChainLadder
        The chain ladder of ``tri`` (its ultimates of the complete months measure the prior's error).
    sel : Selection
        The selected estimate: prior, blend weights, IBNR (:func:`.selection.select`).
    in_period : bool ndarray (n_origins,)
        Origins whose IBNR counts towards the period (``Ranges.period``).
    errors : list
        Segment errors; a segment the simulation fails on is appended and left out.
    threshold : float
        Completion at and above which a month is complete enough to measure the prior's error.
    average, n_periods
        Chain-ladder factor options, as in :func:`reserving.chain_ladder`.
    n_sims, seed : int
        Simulations per segment; seed of the random streams.
    chunk_mb : float
        Memory for simulations per batch of consortia (MB).
    dependence : bool
        Share the prior's consortium and incurred-month shocks between segments (default).
    line_moments : DataFrame, optional
        ``amount`` and ``amount_sq`` per segment of the claim lines (:attr:`.claims.Claims.line_moments`).
        Given, the ODP process scale of a service is the larger of the triangles' Pearson scale and
        the lines' (:func:`line_scale`); None (the nightly job's default), the Pearson scale alone.
    large_lines : LargeLines, optional
        Each service's largest lines (:attr:`.claims.Claims.large_lines`; the nightly job's default).
        Given, the large claims still to come are simulated as a compound Poisson sum of these
        amounts and the rest with ODP error (:func:`large_claims`); None, ODP error alone.
    redraw_paid : bool
        With ``large_lines``, redraw the large claims of the chain ladder's paid to date in each
        simulation (default); off when ``tri`` holds no large claims (the excess taken out,
        :mod:`.large_claims`).
    progress : bool
        A progress bar on stderr counting the consortia done.
    client : dask.distributed.Client, optional
        Simulate the batches on the cluster's workers, a few ahead of the one being summarised
        (:func:`_batch_results`); the random streams are keyed by segment label, so the numbers
        are those of a run on one machine.
    recentre : ndarray (n_segments, n_origins), optional
        The selected IBNR the ranges are to be centred on when it is not ``sel``'s (seasonal
        completion, :mod:`.seasonal`): each cell's simulations are scaled by ``recentre / sel``'s
        IBNR (unchanged where that is not positive), and the ``ibnr`` columns are ``recentre``.

    Raises
    ------
    NoSegmentReserved
        When the simulation fails for every segment.

    Examples
    --------
    >>> from reserving import chain_ladder
    >>> from reserving.nightly.synthetic import generate_claims
    >>> from reserving.nightly.claims import read_claims
    >>> from reserving.nightly.selection import select
    >>> s = generate_claims(n_consortia=2, services=["emergency"], n_months=8, as_of="2024-08-31", seed=1)
    >>> tri = read_claims(s.lines).triangles
    >>> cl = chain_ladder(tri)
    >>> sel = select(tri, cl, s.budget, None, method="blend", threshold=0.75)
    >>> r = simulate_ranges(tri, cl, sel, np.ones(8, bool), [], threshold=0.75, average="volume", n_periods=None,
    ...                     n_sims=50, seed=1, chunk_mb=400, progress=False)
    >>> open_ = sel.bf.ibnr > 0                            # no cell with IBNR to come has a zero-width range
    >>> r.consortia, r.segment_q.shape, r.period.shape, bool((r.segment_q[1] > r.segment_q[0])[open_].all())
    (['C001', 'C002'], (2, 2, 8), (2, 50), True)
    """
    cons_of_seg = tri.segments.get_level_values(0)
    bar = Progress("simulate", len(pd.unique(cons_of_seg)), progress)
    fitted, phi = isolate(tri, lambda x: odp_scale(x, average=average, n_periods=n_periods), errors, "simulate")
    if phi is None:
        raise NoSegmentReserved("the simulation failed for every segment; see the segment errors")
    usable = np.flatnonzero(tri.segments.isin(fitted.segments))
    cons = fitted.segments.get_level_values(0).astype(str)
    services = fitted.segments.get_level_values(1).astype(str)
    phi = pd.Series(phi).groupby(services).transform("mean").to_numpy()   # one severity mix per service
    if line_moments is not None:
        phi = np.fmax(phi, line_scale(line_moments.reindex(fitted.segments), services))
    err = prior_error(cl.ultimate[usable], sel.prior[usable], sel.completion[usable] >= threshold, cons,
                      services, phi)
    large = None if large_lines is None else large_claims(large_lines, services)
    weight = np.where(np.isfinite(sel.bf.weight_cl), sel.bf.weight_cl, 1.0)   # origins with no data: none to blend
    simulator = _Simulator(tri.segments, usable, sel.bf.prior, weight, err, phi, large,
                           dict(dependence=dependence, average=average, n_periods=n_periods, n_sims=n_sims, seed=seed,
                                redraw_paid=redraw_paid))

    def simulate(sub: TriangleSet):
        n_cons = len(pd.unique(sub.segments.get_level_values(0)))   # the bar fills with the batch's share done
        return simulator(sub, progress=lambda share: bar.partial(share * n_cons))

    keep, seg_q, seg_total_q, seg_total_sd, cons_rows, cons_period, cons_stats = [], [], [], [], [], [], []
    national = np.zeros((tri.n_origins, n_sims))
    plan = [pos[np.isin(pos, usable)] for pos in batches(tri, n_sims, chunk_mb)]
    for pos, sub, sim in _batch_results(plan, tri, simulate, simulator, client, errors):
        if sim is None:
            bar.step(len(pd.unique(cons_of_seg[pos])))
            continue
        kept = pos[np.asarray(tri.segments[pos].isin(sub.segments))]
        keep.append(kept)
        samples = sim.samples                                      # (S, I, n_sims)
        if recentre is not None:
            samples = samples * _scale(recentre[kept], sel.bf.ibnr[kept])[:, :, None]
        seg_q.append(_spread(samples)[1])
        sd, q = _spread(samples.sum(axis=1))
        seg_total_q.append(q)
        seg_total_sd.append(sd)
        selected = np.nan_to_num((sel.bf.ibnr if recentre is None else recentre)[kept])
        names = sub.segments.get_level_values(0)
        for c in pd.unique(names):
            mine = np.asarray(names == c)
            block = samples[mine].sum(axis=0)
            q = _spread(block)[1]
            cons_rows.append(pd.DataFrame({"consortium": c, "origin": sub.origins, "ibnr": selected[mine].sum(axis=0),
                                           "ibnr_p75": q[0], "ibnr_p95": q[1]}))
            sd, total_q = _spread(block.sum(axis=0))
            cons_stats.append((c, total_q[0], total_q[1], sd))
            cons_period.append(block[in_period].sum(axis=0))
            national += block
        bar.step(len(pd.unique(cons_of_seg[pos])))
        del samples, sim
    if not keep:
        raise NoSegmentReserved("the simulation failed for every segment; see the segment errors")
    keep = np.concatenate(keep)
    order = np.argsort(keep)
    national_sd, national_total_q = _spread(national.sum(axis=0))
    return Ranges(
        keep=keep[order],
        segment_q=np.concatenate(seg_q, axis=1)[:, order],
        segment_total_q=np.concatenate(seg_total_q, axis=1)[:, order],
        segment_total_sd=np.concatenate(seg_total_sd)[order],
        consortia=[c for c, *_ in cons_stats],
        consortium_total_q=np.array([[p75, p95] for _, p75, p95, _ in cons_stats]).reshape(-1, 2),
        consortium_total_sd=np.array([sd for *_, sd in cons_stats]),
        consortium_by_origin=pd.concat(cons_rows, ignore_index=True),
        period=np.array(cons_period).reshape(len(cons_stats), n_sims),
        national_q=_spread(national)[1],
        national_total_q=national_total_q,
        national_total_sd=float(national_sd),
        assumptions={"method": METHOD, "prior_cv": round(err.cv, 6),
                     "prior_log_sd": {"segment_mean": round(float(np.sqrt(np.mean(err.segment_sd**2))), 6),
                                      "consortium": round(err.group_sd, 6),
                                      "incurred_month": round(err.calendar_sd, 6)},
                     "prior_error_from": f"{err.n_cells} complete segment-months (completion >= {threshold:g}): "
                                         "chain-ladder ultimate against prior, less ODP process variance",
                     "process_scale": {
                         "from": "per service, the larger of the triangles' Pearson scale and the claim lines' "
                                 "sum x^2 / sum x (compound Poisson)" if line_moments is not None
                         else "per service, the triangles' Pearson scale",
                         "by_service": {k: round(float(v), 2) for k, v in pd.Series(phi, index=services)
                                        .groupby(level=0, sort=False).first().items()}},
                     "large_claims": "none" if large is None else {
                         "from": f"lines above the {LARGE_QUANTILE:.1%} quantile of the service's amounts, "
                                 "a compound Poisson of their amounts; the rest ODP; the paid's large claims "
                                 "redrawn" if redraw_paid else
                                 f"the excess of lines over the {LARGE_QUANTILE:.1%} quantile of the service's "
                                 "amounts, developed apart: a compound Poisson of the excess amounts; the capped "
                                 "claims ODP",
                         "by_service": {k: {"threshold": round(float(large_lines.threshold[k]), 2),
                                            "lines": int(len(x)), "share": round(float(a), 6)}
                                        for k, x, a in zip(dict.fromkeys(services), large.amounts,
                                                           pd.Series(large.share, index=services)
                                                           .groupby(level=0, sort=False).first())}},
                     "dependence": "shared consortium and incurred-month shocks on the prior" if dependence
                     else "none: every segment draws its own prior shocks",
                     "n_sims": int(n_sims), "seed": int(seed)}
        | ({} if recentre is None else {"seasonal": "simulated without the seasonal completion, then each cell's "
                                                    "simulations scaled by its seasonal / plain selected IBNR"}),
    )


def _scale(target: np.ndarray, selected: np.ndarray) -> np.ndarray:
    """``target / selected`` where ``selected`` is positive and ``target`` finite, else 1."""
    ok = (selected > 0) & np.isfinite(target)
    return np.divide(target, selected, out=np.ones(selected.shape), where=ok)


def line_scale(moments: pd.DataFrame, services) -> np.ndarray:
    """ODP scale of each segment's service from its claim lines: ``phi = sum x^2 / sum x``, pooled per service.

    Paid claims of a segment-month are a compound Poisson sum ``S = X_1 + ... + X_N``, ``N`` Poisson,
    so ``E S = E N E X`` and ``Var S = E N E X^2``: ``phi = Var S / E S = E X^2 / E X`` is the
    scale of the over-dispersed Poisson model's ``Var = phi x mean`` (England & Verrall 2002,
    BAJ 8(3)). Each line is one claim (a repeated claim id is rejected by the reader), so the lines
    estimate it directly, large claims included, where the Pearson residuals of a triangle of sums
    rarely see them. The estimate pools the lines of every consortium in a
    service (ratio of sums): the scale is a property of the service's severity, and one
    consortium's lines may not yet hold the large claim it is exposed to. With claim counts more
    dispersed than Poisson the variance is larger still, so this is a floor for the process scale,
    and :func:`simulate_ranges` keeps the Pearson scale where it is larger. NaN for a service whose
    net amount is not positive. The gamma process matched to this variance is less skewed than a
    compound Poisson with Pareto-tailed claims: its 75th percentile sits high (see
    ``tests/reserving/test_nightly_ranges.py``).

    Parameters
    ----------
    moments : DataFrame
        ``amount`` and ``amount_sq`` per segment (:attr:`.claims.Claims.line_moments`).
    services : sequence (S,)
        Service of each segment (row of ``moments``).

    Examples
    --------
    >>> m = pd.DataFrame({"amount": [30.0, 10.0, 5.0], "amount_sq": [500.0, 100.0, 25.0]})
    >>> line_scale(m, ["er", "er", "op"]).tolist()           # (500 + 100) / 40; 25 / 5
    [15.0, 15.0, 5.0]
    """
    pooled = moments[["amount", "amount_sq"]].groupby(np.asarray(services)).transform("sum")
    amount = pooled["amount"].to_numpy(float)
    return np.divide(pooled["amount_sq"].to_numpy(float), amount, out=np.full(len(amount), np.nan),
                     where=amount > 0)


def large_claims(lines: LargeLines, services) -> LargeClaims:
    """Each segment's large claims for the simulation: its service's share of large claims and their amounts.

    The share ``a`` of a service is the sum of its lines above the large-claim threshold over the
    sum of all its lines (pooled over consortia, as the amounts: a consortium's lines may not yet
    hold the large claim it is exposed to). The simulation then draws the large claims still to
    come as ``Poisson(a m / mu_L)`` claims, each one of the service's large amounts (``mu_L`` their
    mean), and the rest with ODP error (:mod:`reserving._stochastic_bf_kernels`): large claims
    are assumed to be paid with the same delays as the rest of the service. A service with no
    line above its threshold has share 0.

    The prior's error (:func:`reserving.stochastic_bf.prior_error`) is still measured against the
    ODP scale alone: the large claims' moment variance (infinite for a Pareto tail with alpha below
    2) overstates their spread on the log scale of a complete month, and taking it out left no
    segment error at all on the generated data (``tests/reserving/test_nightly_ranges.py``).

    Parameters
    ----------
    lines : LargeLines
        Per service: threshold, large amounts, total paid (:attr:`.claims.Claims.large_lines`).
    services : sequence (S,)
        Service of each segment.

    Examples
    --------
    >>> lines = LargeLines(pd.Series({"er": 90.0, "op": 40.0}), {"er": np.array([100.0, 300.0]), "op": np.zeros(0)},
    ...                    pd.Series({"er": 4000.0, "op": 500.0}))
    >>> big = large_claims(lines, ["er", "op", "er"])
    >>> big.share.tolist(), big.kind.tolist()          # (100 + 300) / 4000
    ([0.1, 0.0, 0.1], [0, 1, 0])
    """
    services = np.asarray(services).astype(str)
    names = list(dict.fromkeys(services))
    amounts = tuple(np.asarray(lines.amounts.get(n, np.zeros(0)), float) for n in names)
    paid = lines.paid.reindex(names).to_numpy(float)
    large = np.array([x.sum() for x in amounts])
    share = np.divide(large, paid, out=np.zeros(len(names)), where=(paid > large) & (large > 0))
    kind = pd.Index(names).get_indexer(services)
    return LargeClaims(share[kind], amounts, kind)


def _spread(x: np.ndarray) -> tuple:
    """Standard deviation and :data:`QUANTILES` over the last axis of ``x`` (1, 2 or 3 dimensions):
    ``sd`` of shape ``x.shape[:-1]`` and quantiles ``(2, *x.shape[:-1])`` (numpy's default, type 7).

    Examples
    --------
    >>> sd, q = _spread(np.arange(101.0))
    >>> round(float(sd), 4), q.round(9).tolist()
    (29.3002, [75.0, 95.0])
    """
    cols = np.ascontiguousarray(x.reshape(1, -1, x.shape[-1]))
    _, sd, q = column_statistics(cols, np.array(QUANTILES), np.zeros(cols.shape[:2]))
    return sd.reshape(x.shape[:-1]), np.moveaxis(q[0], 1, 0).reshape((len(QUANTILES), *x.shape[:-1]))


def batches(tri: TriangleSet, n_sims: int, chunk_mb: float) -> list[np.ndarray]:
    """Segment positions in batches of whole consortia, each batch's samples within ``chunk_mb``.

    Examples
    --------
    >>> tri = TriangleSet.from_array(np.tile([[1., 1.], [1., np.nan]], (3, 1, 1)), origin_start="2024-01", grain="M",
    ...     segments=pd.MultiIndex.from_tuples([("A", "er"), ("A", "op"), ("B", "er")]))
    >>> [b.tolist() for b in batches(tri, n_sims=1000, chunk_mb=0.1)]
    [[0, 1], [2]]
    """
    per_segment = n_sims * tri.n_origins * 8 * 2.5 / 2**20  # simulated IBNR, quantile and sum working copies
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


@dataclass(frozen=True)
class _Simulator:
    """The stochastic BF of a batch of segments, given everything it needs (so it can be sent to a worker)."""

    segments: pd.Index
    usable: np.ndarray
    prior: np.ndarray
    weight: np.ndarray
    err: object
    phi: np.ndarray
    large: LargeClaims | None
    options: dict = field(default_factory=dict)

    def __call__(self, sub: TriangleSet, progress=None):
        at = self.segments.get_indexer(sub.segments)
        here = np.searchsorted(self.usable, at)
        return stochastic_bf(sub, self.prior[at], self.weight[at], prior_error=self.err.take(here),
                             scale=self.phi[here], large=None if self.large is None else self.large.take(here),
                             progress=progress, **self.options)


def _isolated(simulator: _Simulator, sub: TriangleSet):
    """On a worker: the batch's simulation with failing segments left out, and their errors."""
    errors: list = []
    return isolate(sub, simulator, errors, "simulate"), errors


def _batch_results(plan, tri: TriangleSet, simulate, simulator: _Simulator, client, errors: list):
    """Yield ``(positions, segments kept, simulation)`` batch by batch, in order.

    Without a client each batch runs here. With one, batches are submitted to the cluster two per
    worker ahead of the one being consumed, so memory holds a few batches' samples at a time.
    """
    if client is None:
        for pos in plan:
            yield (pos, *(isolate(tri[pos], simulate, errors, "simulate") if len(pos) else (None, None)))
        return
    ahead = 2 * max(1, len(client.scheduler_info().get("workers", {})))
    pending: deque = deque()
    todo = iter(plan)
    while True:
        while len(pending) < ahead:
            pos = next(todo, None)
            if pos is None:
                break
            pending.append((pos, client.submit(_isolated, simulator, tri[pos], pure=False) if len(pos) else None))
        if not pending:
            return
        pos, future = pending.popleft()
        if future is None:
            yield pos, None, None
            continue
        (sub, sim), failed = future.result()
        errors.extend(failed)
        yield pos, sub, sim
