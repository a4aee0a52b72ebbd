"""Full-year forecast outturn per consortium: where the financial year will end, and how likely a deficit is.

For each consortium, the financial year (``fy_start_month`` to twelve months on) is

    outturn = paid to date + IBNR (incurred to date, not yet paid) + future (months still to be incurred)

``paid to date`` and ``IBNR`` are those of the year-to-date outturn (:mod:`.outturn`), with the
IBNR samples of :class:`.ranges.Ranges` (``period``). The future months are forecast per service:

    expected cost(c, s, month) = members(c, month) x PMPM(c, s) x exp(b_s t + g1_s cos w + g2_s sin w)

with ``t`` in years, ``w = 2 pi (calendar month - 1) / 12``: a level per consortium and service, an
annual trend ``exp(b_s) - 1`` and a yearly seasonal cycle per service shared by the consortia, fitted
(:func:`fit_trend`) by quasi-Poisson regression (log link, members as exposure; McCullagh & Nelder,
*Generalized Linear Models*, 2nd ed., section 6.2) to the estimated ultimate cost (paid + selected
IBNR) of the run's completed months, those at least :data:`MIN_COMPLETION` paid. With fewer than
12 completed months the seasonal terms are left out, with fewer than 6 the trend too (stated in
``ForecastResult.trend``). Each consortium's level is then shrunk towards the collective's by
Buhlmann-Straub credibility (:func:`credibility_levels`): a level estimated from its own months
alone follows its few large claims (right-skewed: most consortia's too low, a few far too high), and
consortia with a low forecast probability of a deficit overspent about twice as often as forecast.
Parameter uncertainty: the trend and seasonal terms' robust covariance (:func:`fit_trend`) and
the credibility levels' errors; each simulation draws the trend and seasonal terms of each service
and the collective level's error (shared by the consortia) and each consortium's own level error,
independently of each other (time is centred, so level and trend are nearly uncorrelated),
keeping the mean (lognormal correction).

Process variance is a compound Poisson model of per-patient annual cost (:func:`claimant_severity`,
kernel :mod:`._forecast_kernels`): claimants with annual cost ``X`` from the consortium's
distribution of cost per patient over the latest twelve incurred months, scaled up by that
window's (paid + IBNR) / paid: empirical below a threshold, a generalised Pareto tail fitted above
(:func:`fit_claimant_severity`, one tail index for all consortia); the months to come have
(expected cost / E[X]) claimants, each patient's cost falling where it occurs (episodes). Patients are pseudonymised inside DuckDB (a hash of the id) and only
anonymous costs per consortium reach Python; nothing per patient is kept or written. Without a
patient id column each claim line is taken to be its own patient: the process variance is then
that of independent lines (lower) and specific recoveries are understated.

The IBNR samples and the future are simulated together (same simulation index) and independently
of each other; the members of months not in the members table are those of the last month given
(none given: cost per month, members 1). Months after the as-of date have no IBNR: a month-12
valuation (no month left) without cover gives the year-to-date outturn exactly.

Budgets: a monthly budget table, or ``riskadjust allocate`` output (``group``, ``allocation``: the
year's amount) phased over the year flat or by the seasonal cycle (:func:`monthly_budget`,
:func:`seasonal_weights`).

Flags use the outturn's thresholds on the probability of a deficit net of cover: ``red`` at 0.5
and above, ``amber`` at 0.2 and above, ``green`` below, ``no budget`` without a budget for every
month of the year.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import duckdb
import numpy as np
import pandas as pd

from _kit.parse import AmountFormat, sql_amount, sql_date
from _kit.random import generator, stream_keys
from reserving.errors import ReservingError
from reserving.nightly._forecast_kernels import simulate_year
from reserving.nightly.claims import _csv_options, _files, _header, _quoted
from reserving.nightly.outturn import financial_year_months, period_budget
from reserving.triangle import TriangleSet
from stoploss import Empirical, GeneralizedPareto, Spliced, fit_severity

#: A month is "completed" for the trend fit when at least this share of its selected ultimate is paid.
MIN_COMPLETION = 0.5
#: Fewest claimants above the threshold for a Pareto tail.
MIN_TAIL = 30
#: Threshold of the Pareto tail: this quantile of each consortium's costs.
TAIL_QUANTILE = 0.90
#: Most normalised excesses the common tail index is fitted to.
MAX_POOLED = 50_000
#: Most claimants a simulation draws one by one (on average); those below are summed by their moments.
MAX_DRAWS = 100
#: Largest Pareto tail index used (1 would have no mean; 0.5 and above, no variance).
MAX_XI = 0.9
#: Thresholds on the probability of a deficit (net of cover) for the flags.
AMBER, RED = 0.2, 0.5
#: Columns of ``forecast.csv``.
COLUMNS = ["consortium", "budget_year", "paid_to_date", "ibnr", "future_mean", "outturn_mean", "outturn_p50",
           "outturn_p75", "outturn_p95", "prob_deficit", "expected_deficit", "recoveries_mean", "outturn_net_mean",
           "prob_deficit_net", "capital_995", "flag"]


@dataclass(frozen=True)
class TrendFit:
    """Quasi-Poisson fit of cost per member month of one service.

    ``level`` (C,) log PMPM per consortium at ``t_centre`` (NaN where the consortium has no month),
    ``level_var`` the variance of its own error and ``shared_var`` that of the error it shares with
    every consortium (the collective mean's, after :func:`credibility_levels`; 0 before);
    ``weight`` (C,) its trended member months ``sum_i exposure exp(x_i' theta)``; ``theta`` (k,)
    trend per year and seasonal cos / sin terms (the first k of them), ``cov`` (k, k) their robust
    covariance; ``phi`` the dispersion; ``n_months`` completed months used.
    """

    level: np.ndarray
    level_var: np.ndarray
    theta: np.ndarray
    cov: np.ndarray
    phi: float
    t_centre: float
    n_months: int
    weight: np.ndarray | None = None
    shared_var: np.ndarray | None = None

    def covariates(self, t, calendar_month) -> np.ndarray:
        """(T, k) design of months at ``t`` (months, same origin as the fit) and calendar month 1-12."""
        return _design(np.asarray(t, float), np.asarray(calendar_month), self.t_centre, self.theta.size)


def _design(t, month, centre, k) -> np.ndarray:
    w = 2 * np.pi * (month - 1) / 12
    return np.column_stack([(t - centre) / 12, np.cos(w), np.sin(w)])[:, :k]


def fit_trend(cost, exposure, t, calendar_month, use, max_iter: int = 50) -> TrendFit:
    """Fit ``E cost[c, i] = exposure[c, i] exp(level_c + x_i' theta)`` by quasi-Poisson regression.

    Parameters
    ----------
    cost, exposure : array_like (C, T)
        Estimated ultimate cost (currency) and member months of each consortium and month.
    t : array_like (T,)
        Month number (consecutive integers).
    calendar_month : array_like (T,)
        1-12.
    use : bool array_like (C, T)
        Completed months to fit on.

    Notes
    -----
    ``cov`` is the robust (sandwich) covariance of ``theta``, ``A^-1 B A^-1 n / (n - p)`` with
    ``A = sum mu_i x_i x_i'`` and ``B = sum (y_i - mu_i)^2 x_i x_i'`` over the ``n`` cells and ``p``
    parameters (White 1980; HC1 in MacKinnon & White 1985), not ``phi A^-1``: large claims
    (heavy-tailed monthly costs) in months far from the centre move the trend more than a common
    dispersion allows. On 24 synthetic years the model-based standard error of the annual trend
    was 0.77 of its actual spread (17% of the years more than 2 of them off), the robust one 0.89 (4%).
    ``level_var`` is the quasi-Poisson ``phi (A^-1)_cc``.

    Examples
    --------
    >>> t = np.arange(24); month = (t + 3) % 12 + 1
    >>> e = np.full((2, 24), 1000.0)
    >>> cost = e * [[10.0], [20.0]] * np.exp(0.05 * t / 12 + 0.1 * np.cos(2 * np.pi * (month - 1) / 12))
    >>> f = fit_trend(cost, e, t, month, np.ones((2, 24), bool))
    >>> np.round(f.theta, 6).tolist(), np.round(np.exp(f.level), 4).tolist()  # level at the centre, month 11.5
    ([0.05, 0.1, -0.0], [10.4908, 20.9817])
    """
    y, e = np.asarray(cost, float), np.asarray(exposure, float)
    use = np.asarray(use, bool) & np.isfinite(y) & (y >= 0) & np.isfinite(e) & (e > 0)
    t = np.asarray(t, float)
    months_used = np.flatnonzero(use.any(axis=0))
    k = 3 if months_used.size >= 12 else 1 if months_used.size >= 6 else 0
    cons = np.flatnonzero(use.any(axis=1) & ((y * use).sum(axis=1) > 0))
    n_c = y.shape[0]
    if cons.size == 0:
        none = np.full(n_c, np.nan)
        return TrendFit(none, none, np.zeros(k), np.zeros((k, k)), np.nan, 0.0, 0, none, none)
    centre = float(t[months_used].mean())
    rows_c, rows_t = np.nonzero(use[cons])
    yy, ee = y[cons][rows_c, rows_t], e[cons][rows_c, rows_t]
    x = np.zeros((yy.size, cons.size + k))
    x[np.arange(yy.size), rows_c] = 1.0
    x[:, cons.size:] = _design(t[rows_t], np.asarray(calendar_month)[rows_t], centre, k)
    beta = np.zeros(cons.size + k)
    beta[:cons.size] = np.log(np.bincount(rows_c, yy, cons.size) / np.bincount(rows_c, ee, cons.size))
    for _ in range(max_iter):
        mu = ee * np.exp(x @ beta)
        info = x.T @ (x * mu[:, None])
        step = np.linalg.solve(info, x.T @ (yy - mu))
        beta += step
        if np.max(np.abs(step)) < 1e-10:
            break
    mu = ee * np.exp(x @ beta)
    inv = np.linalg.inv(x.T @ (x * mu[:, None]))
    dof = max(yy.size - beta.size, 1)
    phi = float(np.sum((yy - mu) ** 2 / np.where(mu > 0, mu, np.inf)) / dof)
    robust = inv @ (x.T @ (x * ((yy - mu) ** 2)[:, None])) @ inv * (yy.size / dof)
    level, level_var, weight = np.full(n_c, np.nan), np.full(n_c, np.nan), np.full(n_c, np.nan)
    level[cons] = beta[:cons.size]
    level_var[cons] = phi * np.diag(inv)[:cons.size]
    weight[cons] = np.bincount(rows_c, mu, cons.size) / np.exp(beta[:cons.size])
    return TrendFit(level, level_var, beta[cons.size:], robust[cons.size:, cons.size:], phi, centre,
                    int(months_used.size), weight, np.where(np.isfinite(level), 0.0, np.nan))


def credibility_levels(fit: TrendFit) -> TrendFit:
    """Each consortium's level shrunk towards the collective's by Buhlmann-Straub credibility.

    On the natural scale (PMPM), with ``W_c`` the consortium's trended member months
    (``fit.weight``), ``m_c = exp(level_c)`` its own estimate (its cost / ``W_c``), ``m`` the
    collective's (all cost / all ``W``) and ``v = phi m`` the process variance per unit weight
    (``Var m_c = v / W_c``, quasi-Poisson): the variance of the true PMPMs between consortia is

        a = max(0, (sum_c W_c (m_c - m)^2 - (r - 1) v) / (W - sum_c W_c^2 / W))

    (``r`` consortia, ``W = sum W_c``; Klugman, Panjer & Willmot, *Loss Models*, 4th ed., section
    19.2, nonparametric Buhlmann-Straub), the credibility ``Z_c = W_c / (W_c + v / a)`` (0 when
    ``a = 0``) and the level ``log(Z_c m_c + (1 - Z_c) m)``. Its error has an own part, variance
    ``Z_c^2 v / W_c + (1 - Z_c)^2 a``, and a part shared by all consortia, ``(1 - Z_c)^2 Var m``
    with ``Var m = a sum_c W_c^2 / W^2 + v / W``, both relative to the level squared
    (``level_var``, ``shared_var``). A consortium's large claims then move its own forecast only
    as far as the spread between consortia supports. One consortium: unchanged.

    Examples
    --------
    >>> f = TrendFit(np.log([8.0, 12.0]), np.zeros(2), np.zeros(0), np.zeros((0, 0)), 100.0, 0.0, 12,
    ...              np.array([1000.0, 1000.0]), np.zeros(2))
    >>> np.round(np.exp(credibility_levels(f).level), 4).tolist()  # m = 10, v = 1000, a = 7, Z = 0.875
    [8.25, 11.75]
    """
    ok = np.isfinite(fit.level) & (fit.weight > 0)
    if ok.sum() < 2:
        return fit
    w, m_c = fit.weight[ok], np.exp(fit.level[ok])
    total = w.sum()
    m = float(w @ m_c / total)
    v = fit.phi * m
    a = max(0.0, float((w @ (m_c - m) ** 2 - (w.size - 1) * v) / (total - w @ w / total)))
    z = w / (w + v / a) if a > 0 else np.zeros(w.size) if v > 0 else np.ones(w.size)
    m_tilde = z * m_c + (1 - z) * m
    var_m = a * (w @ w) / total**2 + v / total
    level, own, shared = fit.level.copy(), fit.level_var.copy(), fit.shared_var.copy()
    level[ok] = np.log(m_tilde)
    own[ok] = (z**2 * v / w + (1 - z) ** 2 * a) / m_tilde**2
    shared[ok] = (1 - z) ** 2 * var_m / m_tilde**2
    return replace(fit, level=level, level_var=own, shared_var=shared)


@dataclass(frozen=True)
class ClaimantSeverity:
    """Annual cost per claimant (patient with any cost) of each consortium, reduced to what the kernel needs.

    Each consortium's severity is spliced (:func:`fit_claimant_severity`): its empirical costs up to a
    threshold and a generalised Pareto tail above; with too few claimants for a tail, the empirical
    costs alone. ``mean`` E[X]; ``split`` the cost above which claimants are drawn one by one
    (:func:`claimant_severity`); ``p_tail`` P(X > split); ``m1, m2`` E[X | X <= split],
    E[X^2 | X <= split]; above the split a claimant is ``t`` plus a Pareto excess (``xi``, ``beta``)
    with probability ``q_gpd``, otherwise one of the empirical costs in (split, t] (``tail``,
    consortium ``c``'s at ``tail[tail_start[c]:tail_start[c + 1]]``, drawn uniformly);
    ``distributions`` the fitted :class:`stoploss.Severity` of each (for pricing); ``claimants`` observed.
    """

    mean: np.ndarray
    split: np.ndarray
    p_tail: np.ndarray
    q_gpd: np.ndarray
    t: np.ndarray
    xi: np.ndarray
    beta: np.ndarray
    m1: np.ndarray
    m2: np.ndarray
    tail: np.ndarray
    tail_start: np.ndarray
    distributions: list
    claimants: np.ndarray


def fit_claimant_severity(costs) -> list:
    """Each consortium's severity from its annual costs per claimant (a list of arrays, currency).

    Spliced (:class:`stoploss.Spliced`): the empirical costs up to the consortium's
    :data:`TAIL_QUANTILE` quantile ``t``, a generalised Pareto tail above. One tail index for all
    consortia (a few dozen costs above a threshold give a very noisy index on their own): fitted
    by :func:`stoploss.fit_severity` (``"gpd"``) to every consortium's excesses over its ``t``
    divided by their mean (at most :data:`MAX_POOLED` of them, evenly spaced in rank), within
    [0, :data:`MAX_XI`]; each consortium's scale from its mean excess (``E[X - t | X > t] =
    beta / (1 - xi)``). With fewer than :data:`MIN_TAIL` costs above ``t``, :class:`stoploss.Empirical` alone.

    Examples
    --------
    >>> [type(d).__name__ for d in fit_claimant_severity([np.arange(1.0, 11.0)])]
    ['Empirical']
    """
    kept, pooled = [], []
    for c, x in enumerate(costs):
        x = np.asarray(x, float)
        if x.size == 0 or x.sum() <= 0:
            raise ReservingError(f"consortium number {c + 1} has no patient with a positive cost in the "
                                 "latest twelve months: its severity cannot be fitted")
        t = float(np.quantile(x, TAIL_QUANTILE))
        excess = x[x > t] - t
        kept.append((x, t, excess) if excess.size >= MIN_TAIL else (x, None, None))
        if excess.size >= MIN_TAIL:
            pooled.append(excess / excess.mean())
    xi = 0.0
    if pooled:
        y = np.sort(np.concatenate(pooled))
        y = y[np.linspace(0, y.size - 1, min(y.size, MAX_POOLED)).astype(np.int64)]
        xi = float(np.clip(fit_severity(y, "gpd").distribution.xi, 0.0, MAX_XI))
    return [Empirical(x) if t is None else
            Spliced(Empirical(x[x <= t]), GeneralizedPareto(xi, float(e.mean()) * (1 - xi)), t, float(np.mean(x > t)))
            for x, t, e in kept]


def claimant_severity(distributions, attachment=None, claimants=None) -> ClaimantSeverity:
    """Reduce each consortium's fitted severity (:func:`fit_claimant_severity`) for :func:`simulate`.

    The split is the Pareto threshold, raised where ``claimants`` (expected a year) would put more
    than :data:`MAX_DRAWS` a simulation above it, and lowered to the specific ``attachment``.
    Above a split beyond the threshold the tail is again generalised Pareto, its scale
    ``beta + xi (split - t)`` (threshold stability).

    Examples
    --------
    >>> s = claimant_severity([Empirical(np.arange(1.0, 101.0))], attachment=[90.0])
    >>> float(s.mean[0]), float(s.split[0]), round(float(s.p_tail[0]), 9), s.tail.tolist()[:3]
    (50.5, 90.0, 0.1, [91.0, 92.0, 93.0])
    """
    n = len(distributions)
    att = np.full(n, np.inf) if attachment is None else np.asarray(attachment, float)
    keys = ("mean", "split", "p_tail", "q_gpd", "t", "xi", "beta", "m1", "m2", "claimants")
    out = {k: np.zeros(n) for k in keys}
    tails = []
    for c, d in enumerate(distributions):
        spliced = isinstance(d, Spliced)
        body = d.body if spliced else d
        t = d.threshold if spliced else float(body.values[-1])
        cap = t
        if spliced and claimants is not None and claimants[c] > MAX_DRAWS:
            cap = max(t, float(d.quantile(1.0 - MAX_DRAWS / claimants[c])))
        split = min(cap, att[c])
        p_tail = float(d.sf(split))
        p_below = 1.0 - p_tail
        out["mean"][c], out["split"][c], out["p_tail"][c] = d.mean(), split, p_tail
        if p_below > 0:
            out["m1"][c] = float(d.lev(split) - split * p_tail) / p_below
            out["m2"][c] = float(d.lev2(split) - split**2 * p_tail) / p_below
        if spliced:
            above = max(split, t)
            out["q_gpd"][c] = d.tail_prob / p_tail if split < t else 1.0
            out["t"][c], out["xi"][c] = above, d.tail.xi
            out["beta"][c] = d.tail.beta + d.tail.xi * (above - t)
        else:
            out["t"][c], out["beta"][c] = t, 1.0
        x = body.values
        out["claimants"][c] = x.size
        tails.append(x[(x > split) & (x <= t)])  # equally weighted costs (as fitted), drawn uniformly
    start = np.concatenate([[0], np.cumsum([t.size for t in tails])]).astype(np.int64)
    return ClaimantSeverity(out["mean"], out["split"], out["p_tail"], out["q_gpd"], out["t"], out["xi"], out["beta"],
                            out["m1"], out["m2"], np.concatenate(tails) if tails else np.zeros(0), start,
                            list(distributions), out["claimants"])


@dataclass(frozen=True)
class Cover:
    """Stop-loss cover per consortium (arrays (C,), currency): specific attachment, limit and
    coinsurance (share reimbursed), aggregate attachment and limit, premium. No cover: attachments
    infinite, premium 0."""

    attachment: np.ndarray
    limit: np.ndarray
    coinsurance: np.ndarray
    aggregate_attachment: np.ndarray
    aggregate_limit: np.ndarray
    premium: np.ndarray

    @classmethod
    def none(cls, n: int) -> Cover:
        inf = np.full(n, np.inf)
        return cls(inf, inf, np.ones(n), inf, inf, np.zeros(n))


@dataclass(frozen=True)
class YearSimulation:
    """Simulated gross cost and recoveries of the year, (C, n_sims) each (currency)."""

    gross: np.ndarray
    recovered: np.ndarray


def simulate(consortia, paid, ibnr_samples, future_samples, todate, severity: ClaimantSeverity,
             cover: Cover, seed: int) -> YearSimulation:
    """Simulate the year per consortium (kernel :func:`._forecast_kernels.simulate_year`).

    ``paid`` (C,) paid to date; ``ibnr_samples`` and ``future_samples`` (C, n_sims) IBNR and expected
    future cost per simulation; ``todate`` (C,) expected incurred to date (its claimants' specific
    recoveries).

    Examples
    --------
    >>> sev = claimant_severity([Empirical(np.full(100, 10.0))])
    >>> s = simulate(["A"], [50.0], [[5.0, 5.0]], [[0.0, 0.0]], [55.0], sev, Cover.none(1), seed=1)
    >>> s.gross.tolist(), s.recovered.tolist()
    ([[55.0, 55.0]], [[0.0, 0.0]])
    """
    ibnr = np.ascontiguousarray(ibnr_samples, dtype=float)
    fut = np.ascontiguousarray(future_samples, dtype=float)
    keys = stream_keys(seed, [("forecast", str(c)) for c in consortia])
    f = np.ascontiguousarray
    gross, rec = simulate_year(keys, f(paid, float), ibnr, fut, f(todate, float), severity.mean,
                               severity.p_tail, severity.m1, severity.m2, severity.tail, severity.tail_start,
                               severity.q_gpd, severity.t, severity.xi, severity.beta,
                               f(cover.attachment, float), f(cover.limit, float), f(cover.coinsurance, float),
                               f(cover.aggregate_attachment, float), f(cover.aggregate_limit, float))
    return YearSimulation(gross, rec)


@dataclass(frozen=True)
class ForecastResult:
    """Full-year forecast per consortium (``summary``, columns :data:`COLUMNS`), the national position
    (``totals``), the fitted trend and seasonality per service (``trend``) and what was assumed."""

    summary: pd.DataFrame
    totals: pd.Series
    trend: pd.DataFrame
    assumptions: list
    year: pd.PeriodIndex


def future_expected(fits: dict, exposure_future, t_future, month_future, n_sims: int, seed: int):
    """Expected future cost per consortium, (C,) and per simulation (C, n_sims) with the parameters' uncertainty.

    ``fits`` maps service -> :class:`TrendFit`; ``exposure_future`` maps service -> (C, F) member months
    of the months to come at ``t_future`` (months) in calendar months ``month_future``. Each simulation
    multiplies a month's cost by ``exp(d - v / 2)``, ``d ~ N(0, v)`` the error of its log (so the mean stays):
    the trend and seasonal terms' error and the collective level's (``shared_var``) are drawn once per
    simulation for all consortia, each consortium's own level error independently.

    Examples
    --------
    >>> f = TrendFit(np.log([10.0]), np.array([0.0]), np.zeros(0), np.zeros((0, 0)), 1.0, 0.0, 3, None, np.zeros(1))
    >>> m, s = future_expected({"er": f}, {"er": np.array([[100.0, 100.0]])}, [1, 2], [5, 6], 4, seed=1)
    >>> np.round(m, 6).tolist(), np.round(s, 6).tolist()
    ([2000.0], [[2000.0, 2000.0, 2000.0, 2000.0]])
    """
    n_c = next(iter(exposure_future.values())).shape[0] if exposure_future else 0
    mean, samples = np.zeros(n_c), np.zeros((n_c, n_sims))
    for s, fit in fits.items():
        x = fit.covariates(t_future, month_future)
        base = np.nan_to_num(exposure_future[s] * np.exp(fit.level[:, None] + x @ fit.theta))  # (C, F)
        rng = generator(seed, "forecast", "parameters", s)
        d_theta = rng.multivariate_normal(np.zeros(fit.theta.size), fit.cov, n_sims) if fit.theta.size else \
            np.zeros((n_sims, 0))
        shared = np.exp(d_theta @ x.T - 0.5 * np.einsum("fk,kl,fl->f", x, fit.cov, x))      # (n_sims, F)
        v, u = np.nan_to_num(fit.level_var), np.nan_to_num(fit.shared_var)
        common = rng.standard_normal(n_sims)                                                  # collective mean's error
        own = np.exp(rng.standard_normal((n_c, n_sims)) * np.sqrt(v)[:, None] + np.sqrt(u)[:, None] * common
                     - 0.5 * (v + u)[:, None])
        mean += base.sum(axis=1)
        samples += (base @ shared.T) * own
    return mean, samples


def forecast(consortia, paid, ibnr, ibnr_samples, future_mean, future_samples,
             severity: ClaimantSeverity, budget_year, year: pd.PeriodIndex, cover: Cover | None = None,
             seed: int = 0, trend: pd.DataFrame | None = None, assumptions=()) -> ForecastResult:
    """Full-year outturn per consortium, gross and net of cover, against the year's budget.

    Parameters
    ----------
    consortia : sequence of str
    paid, ibnr : array_like (C,)
        Paid to date and selected IBNR on the months of the year so far (currency).
    ibnr_samples : array_like (C, n_sims)
        Simulated IBNR of the same months, centred on ``ibnr``.
    future_mean, future_samples : array_like (C,), (C, n_sims)
        Expected cost of the months still to be incurred, and per simulation (:func:`future_expected`).
    severity : ClaimantSeverity
    budget_year : array_like (C,)
        The year's budget (NaN: none).
    year : PeriodIndex
        The twelve months of the financial year.
    cover : Cover, optional
    seed : int

    Examples
    --------
    >>> sev = claimant_severity([Empirical(np.full(50, 2.0))])
    >>> r = forecast(["A"], [90.0], [10.0], [[0.0, 10.0, 20.0]], [0.0], [[0.0] * 3], sev, [105.0],
    ...              financial_year("2025-03-31"))
    >>> r.summary[["outturn_mean", "prob_deficit", "capital_995", "flag"]].round(6).values.tolist()
    [[100.0, 0.333333, 4.9, 'amber']]
    """
    paid, ibnr = np.asarray(paid, float), np.asarray(ibnr, float)
    future_mean = np.asarray(future_mean, float)
    budget = np.asarray(budget_year, float)
    n = len(paid)
    cover = cover or Cover.none(n)
    sim = simulate(consortia, paid, ibnr_samples, future_samples, paid + ibnr, severity, cover, seed)
    net = sim.gross - sim.recovered + cover.premium[:, None]
    has = np.isfinite(budget)
    b = np.where(has, budget, 0.0)[:, None]
    over, over_net = sim.gross - b, net - b
    mean = paid + ibnr + future_mean
    rec = sim.recovered.mean(axis=1)
    q = np.quantile(sim.gross, [0.5, 0.75, 0.95], axis=1)
    prob_net = np.where(has, (over_net > 0).mean(axis=1), np.nan)
    summary = pd.DataFrame({
        "consortium": [str(c) for c in consortia], "budget_year": budget, "paid_to_date": paid, "ibnr": ibnr,
        "future_mean": future_mean, "outturn_mean": mean, "outturn_p50": q[0], "outturn_p75": q[1],
        "outturn_p95": q[2], "prob_deficit": np.where(has, (over > 0).mean(axis=1), np.nan),
        "expected_deficit": np.where(has, np.maximum(over, 0).mean(axis=1), np.nan),
        "recoveries_mean": rec, "outturn_net_mean": mean - rec + cover.premium, "prob_deficit_net": prob_net,
        "capital_995": np.where(has, np.maximum(np.quantile(over_net, 0.995, axis=1), 0.0), np.nan),
        "flag": ["no budget" if not ok else "red" if p >= RED else "amber" if p >= AMBER else "green"
                 for p, ok in zip(prob_net, has)],
    })
    nat_gross, nat_net = sim.gross[has].sum(axis=0), net[has].sum(axis=0)
    b_nat = budget[has].sum()
    totals = pd.Series({
        "budget_year": b_nat, "paid_to_date": paid.sum(), "ibnr": ibnr.sum(), "future_mean": future_mean.sum(),
        "outturn_mean": mean.sum(), "outturn_p95": float(np.quantile(sim.gross.sum(axis=0), 0.95)),
        "recoveries_mean": rec.sum(), "outturn_net_mean": (mean - rec + cover.premium).sum(),
        "prob_deficit": float((nat_gross > b_nat).mean()) if has.any() else np.nan,
        "prob_deficit_net": float((nat_net > b_nat).mean()) if has.any() else np.nan,
        "capital_995": float(max(np.quantile(nat_net - b_nat, 0.995), 0.0)) if has.any() else np.nan,
        "red": int((summary["flag"] == "red").sum()), "amber": int((summary["flag"] == "amber").sum()),
    })
    return ForecastResult(summary, totals, trend if trend is not None else pd.DataFrame(), list(assumptions), year)


def financial_year(as_of, fy_start_month: int = 4) -> pd.PeriodIndex:
    """The twelve months of the financial year containing ``as_of``.

    Examples
    --------
    >>> y = financial_year("2024-06-30"); str(y[0]), str(y[-1])
    ('2024-04', '2025-03')
    """
    start = financial_year_months(as_of, fy_start_month)[0]
    return pd.period_range(start, periods=12, freq="M", name="month")


def patient_costs(source, consortium: str, incurred_date: str, paid_date: str, amount: str, patient: str | None,
                  as_of, months: int = 12, dayfirst: bool = False,
                  amount_format: AmountFormat | None = None) -> tuple[dict, bool]:
    """Cost per patient over the latest ``months`` incurred months to ``as_of``, per consortium (anonymous).

    Reads only the consortium, date, amount and patient columns of ``source`` (a DataFrame, or CSV /
    Parquet files as DuckDB reads them); patients are grouped by a hash of their id inside DuckDB, and
    the ids never reach Python. Lines whose dates or amount do not read, or paid after ``as_of``, are
    left out. Without ``patient`` (or when the column is absent) each line is its own patient.
    Returns ``({consortium: costs array}, whether patients were grouped by their id)``.

    Examples
    --------
    >>> lines = pd.DataFrame({"consortium": ["A", "A", "A"], "incurred_date": ["2024-05-01"] * 3,
    ...                       "paid_date": ["2024-05-20"] * 3, "amount": [10.0, 5.0, 7.0], "patient": ["x", "y", "x"]})
    >>> costs, by_patient = patient_costs(lines, "consortium", "incurred_date", "paid_date", "amount", "patient",
    ...                                   "2024-06-30")
    >>> sorted(costs["A"].tolist()), by_patient
    ([5.0, 17.0], True)
    """
    fmt = amount_format or AmountFormat()
    as_of = pd.Timestamp(as_of)
    first = (as_of.to_period("M") - (months - 1)).start_time.date()
    con = duckdb.connect()
    try:
        if isinstance(source, pd.DataFrame):
            cols = [c for c in (consortium, incurred_date, paid_date, amount, patient) if c and c in source.columns]
            con.register("_lines", source[cols].astype({c: "string" for c in cols if source[c].dtype == object}))
            rel = "_lines"
        else:
            rel = "(" + " UNION ALL BY NAME ".join(_file_lines(p) for p in _files(source)) + ")"
        names = {r[0] for r in con.execute(f"DESCRIBE SELECT * FROM {rel}").fetchall()}
        kinds = dict(con.execute(f"SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM {rel})").fetchall())

        def q(c):
            return '"' + c.replace('"', '""') + '"'

        def date(c):
            return f"CAST({q(c)} AS DATE)" if kinds[c].upper().startswith(("DATE", "TIMESTAMP")) else sql_date(q(c),
                                                                                                               dayfirst)
        amt = (f"CAST({q(amount)} AS DOUBLE)" if not kinds[amount].upper().startswith("VARCHAR")
               else sql_amount(q(amount), fmt))
        by_patient = bool(patient) and patient in names
        who = f"hash({q(patient)})" if by_patient else "row_number() OVER ()"
        frame = con.execute(
            f"""SELECT cons, sum(amt) AS cost FROM (
                    SELECT trim(CAST({q(consortium)} AS VARCHAR)) AS cons, {date(incurred_date)} AS inc,
                           {date(paid_date)} AS paid, {amt} AS amt, {who} AS who FROM {rel})
                WHERE inc >= ? AND paid <= ? AND inc <= paid AND amt IS NOT NULL AND cons IS NOT NULL
                GROUP BY cons, who HAVING sum(amt) > 0""", [first, as_of.date()]).df()
    except duckdb.Error as exc:
        raise ReservingError(f"cannot read the claim lines for the cost per patient: {type(exc).__name__}") from None
    finally:
        con.close()
    return {c: g["cost"].to_numpy(float) for c, g in frame.groupby("cons", sort=False)}, by_patient


def consortium_forecast(tri: TriangleSet, paid, ibnr, ibnr_samples, consortia, as_of, budget: pd.DataFrame,
                        members: pd.DataFrame | None, costs: dict, *, fy_start_month: int = 4, cover=None,
                        n_sims: int, seed: int, history_months: int = 36, by_patient: bool = True) -> ForecastResult:
    """The nightly job's full-year forecast from its triangles and selected estimates.

    ``paid`` and ``ibnr`` are (segments of ``tri``, origins), currency; ``ibnr_samples`` (C, n_sims)
    the consortia's simulated IBNR over the year's months so far (``Ranges.period``) in the order of
    ``consortia``; ``costs`` the cost per patient of each consortium (:func:`patient_costs`);
    ``cover`` a function of the fitted severity and the year's expectations returning a :class:`Cover`
    (:func:`reserving.nightly.cover.cover_for`), or None.
    """
    consortia = [str(c) for c in consortia]
    n_c = len(consortia)
    cons_idx = pd.Index(consortia).get_indexer(tri.segments.get_level_values(0).astype(str))
    services = tri.segments.get_level_values(1).astype(str)
    origins = pd.PeriodIndex(tri.origins, freq="M")
    year = financial_year(as_of, fy_start_month)
    now = pd.Timestamp(as_of).to_period("M")
    in_year = np.asarray(origins.isin(year) & (origins <= now))
    paid, ibnr = np.nan_to_num(paid), np.nan_to_num(ibnr)
    paid_c = np.bincount(cons_idx, np.where(in_year, paid, 0).sum(axis=1), n_c)
    ibnr_c = np.bincount(cons_idx, np.where(in_year, ibnr, 0).sum(axis=1), n_c)
    future = year[year > now]
    t_all = np.asarray([(m - origins[0]).n for m in origins], float)
    t_future = np.asarray([(m - origins[0]).n for m in future], float)
    recent = np.asarray(origins > now - history_months)
    ult = paid + ibnr
    completion = np.divide(paid, ult, out=np.zeros_like(ult), where=ult > 0)
    fits, exposure_future, rows = {}, {}, []
    for s in pd.unique(services):
        mine = np.flatnonzero(services == s)
        y = np.full((n_c, len(origins)), np.nan)
        done = np.zeros((n_c, len(origins)), bool)
        y[cons_idx[mine]] = ult[mine]
        done[cons_idx[mine]] = completion[mine] >= MIN_COMPLETION
        e = member_months(members, consortia, s, origins)
        fit = credibility_levels(fit_trend(y[:, recent], e[:, recent], t_all[recent], origins.month[recent],
                                           done[:, recent]))
        fits[s] = fit
        exposure_future[s] = member_months(members, consortia, s, future)
        rows.append(_trend_row(s, fit))
    fut_mean, fut_samples = future_expected(fits, exposure_future, t_future, future.month.to_numpy(), n_sims, seed) \
        if len(future) else (np.zeros(n_c), np.zeros((n_c, n_sims)))
    window = np.asarray(origins > now - 12)
    paid_w = np.bincount(cons_idx, np.where(window, paid, 0).sum(axis=1), n_c)
    ult_w = np.bincount(cons_idx, np.where(window, ult, 0).sum(axis=1), n_c)
    missing = [c for c in consortia if c not in costs]
    if missing:
        raise ReservingError(f"{len(missing)} consortia have no patient cost in the latest twelve months "
                             f"(first: {missing[0]}); their severity cannot be fitted")
    scale = np.divide(ult_w, paid_w, out=np.ones(n_c), where=paid_w > 0)
    scaled = [costs[c] * scale[i] for i, c in enumerate(consortia)]
    budget_year = period_budget(budget, consortia, year)
    year_mean = paid_c + ibnr_c + fut_mean
    fitted = fit_claimant_severity(scaled)
    cov = None if cover is None else cover(fitted, year_mean, budget_year)
    severity = claimant_severity(fitted, None if cov is None else cov.attachment,
                                 year_mean / np.array([d.mean() for d in fitted]))
    assumptions = [
        f"trend and seasonality per service from the completed months (at least {MIN_COMPLETION:.0%} paid) of the "
        f"latest {history_months}; see the trend table",
        f"{len(future)} months still to be incurred ({future[0] if len(future) else '-'} to {year[-1]})",
        "members of months not in the members table: the last month given" if members is not None else
        "no members table: cost per month trended (members 1)",
        "cost per patient: the latest twelve incurred months, scaled by (paid + IBNR) / paid of those months" +
        ("" if by_patient else "; the claims have no patient id column, so each claim line is taken to be its own "
         "patient (process variance and specific recoveries are understated)"),
    ]
    return forecast(consortia, paid_c, ibnr_c, ibnr_samples, fut_mean, fut_samples, severity, budget_year,
                    year, cov, seed, pd.DataFrame(rows), assumptions)


def _trend_row(service: str, fit: TrendFit) -> dict:
    """One service's fitted trend and seasonality, with 95% intervals, in words a reader can check."""
    k = fit.theta.size
    b = fit.theta[0] if k else 0.0
    se = float(np.sqrt(fit.cov[0, 0])) if k else np.nan
    amp = float(np.hypot(*fit.theta[1:3])) if k == 3 else 0.0
    peak = int(round(np.degrees(np.arctan2(fit.theta[2], fit.theta[1])) / 30)) % 12 + 1 if k == 3 else None
    return {"service": service, "months_used": fit.n_months, "annual_trend": np.expm1(b) if k else np.nan,
            "annual_trend_low": np.expm1(b - 1.96 * se) if k else np.nan,
            "annual_trend_high": np.expm1(b + 1.96 * se) if k else np.nan,
            "seasonal_amplitude": amp if k == 3 else np.nan, "peak_month": peak, "dispersion": fit.phi}


def member_months(members: pd.DataFrame | None, consortia, service: str, months: pd.PeriodIndex) -> np.ndarray:
    """(C, len(months)) member months of each consortium (and ``service`` when the table has a service
    column); months after the last given take its value, months before the first the first's; 1 without a table.

    Examples
    --------
    >>> m = pd.DataFrame({"consortium": ["A", "A"], "month": ["2024-01", "2024-02"], "members": [10., 12.]})
    >>> member_months(m, ["A"], "er", pd.period_range("2024-01", "2024-04", freq="M")).tolist()
    [[10.0, 12.0, 12.0, 12.0]]
    """
    if members is None:
        return np.ones((len(consortia), len(months)))
    m = members.assign(month=pd.PeriodIndex(members["month"].astype(str), freq="M"),
                       consortium=members["consortium"].astype(str))
    if "service" in m:
        m = m[m["service"].astype(str) == service]
    table = m.groupby(["consortium", "month"])["members"].sum().unstack("month")
    table = table.reindex(columns=table.columns.union(months)).sort_index(axis=1).ffill(axis=1).bfill(axis=1)
    return table.reindex(index=list(consortia), columns=months).to_numpy(float)


def _file_lines(path) -> str:
    """SQL for the lines of one claim file: Parquet as typed, CSV as text with the claim reader's
    options, lines that are not well-formed CSV skipped (the claim reader rejects them)."""
    suffixes = "".join(path.suffixes).lower()
    if ".parquet" in suffixes or suffixes.endswith(".pq"):
        return f"SELECT * FROM read_parquet({_quoted(path)})"
    return f"SELECT * FROM read_csv({_csv_options(path, _header(path))}, ignore_errors=true)"


#: Columns that mark a budget file as ``riskadjust allocate`` output (one annual amount per group).
ALLOCATION_COLUMNS = ("group", "allocation")


def is_allocation(frame: pd.DataFrame) -> bool:
    """Whether a budget table is ``riskadjust allocate`` output: ``group`` and ``allocation``, no ``month``."""
    return all(c in frame.columns for c in ALLOCATION_COLUMNS) and "month" not in frame.columns


def monthly_budget(allocation: pd.DataFrame, year: pd.PeriodIndex, weights=None) -> pd.DataFrame:
    """An annual allocation per group (``riskadjust allocate`` output) phased over the twelve months of ``year``.

    Column contract: ``group`` (the consortium, as in the claim lines) and ``allocation`` (currency
    for the financial year); other columns (targets, distances, pence) are ignored. ``weights``
    (12,) are the months' shares (default flat, 1/12 each). Returns consortium, month, budget.

    Examples
    --------
    >>> a = pd.DataFrame({"group": ["A"], "allocation": [1200.0], "target": [1100.0]})
    >>> b = monthly_budget(a, financial_year("2024-06-30"))
    >>> len(b), float(b["budget"].sum()), float(b["budget"].iloc[0])
    (12, 1200.0, 100.0)
    """
    w = np.full(12, 1 / 12) if weights is None else np.asarray(weights, float) / np.sum(weights)
    groups = allocation["group"].astype(str).str.strip().to_numpy()
    amounts = pd.to_numeric(allocation["allocation"], errors="coerce").to_numpy(float)
    if not np.all(np.isfinite(amounts)):
        raise ReservingError(f"allocation row {int(np.flatnonzero(~np.isfinite(amounts))[0])} is not a number",
                             column="allocation")
    if pd.Series(groups).duplicated().any():
        raise ReservingError("a group appears twice in the allocation; give one row per consortium", column="group")
    return pd.DataFrame({"consortium": np.repeat(groups, 12), "month": np.tile(year.astype(str), len(groups)),
                         "budget": (amounts[:, None] * w[None, :]).ravel()})


def seasonal_weights(tri: TriangleSet, ultimate, completion, members: pd.DataFrame | None,
                     year: pd.PeriodIndex) -> tuple[np.ndarray, TrendFit]:
    """Shares of the year's cost by month from the seasonal cycle of the completed months (no trend).

    One cycle for all consortia, fitted (:func:`fit_trend`) to each consortium's total over its
    services of ``ultimate`` (segments x origins) in months at least :data:`MIN_COMPLETION` complete.
    Flat when there are fewer than 12 such months. Returns the weights (12,) and the fit.
    """
    cons = tri.segments.get_level_values(0).astype(str)
    names = list(pd.unique(cons))
    idx = pd.Index(names).get_indexer(cons)
    origins = pd.PeriodIndex(tri.origins, freq="M")
    y = np.zeros((len(names), len(origins)))
    done = np.ones((len(names), len(origins)), bool)
    np.add.at(y, idx, np.nan_to_num(ultimate))
    for k, c in enumerate(idx):
        done[c] &= np.nan_to_num(completion[k]) >= MIN_COMPLETION
    totals = None if members is None else members.drop(columns="service", errors="ignore")
    e = member_months(totals, names, "all", origins)  # members over every service
    fit = fit_trend(y, e, np.arange(len(origins)), origins.month, done)
    if fit.theta.size < 3:
        return np.full(12, 1 / 12), fit
    x = fit.covariates(np.full(12, fit.t_centre), year.month)
    w = np.exp(x[:, 1:] @ fit.theta[1:])
    return w / w.sum(), fit
