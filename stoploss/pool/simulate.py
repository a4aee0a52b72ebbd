"""How large must a group be to hold a risk-bearing budget? The pool-risk simulator.

A group of N registered patients holds a budget for a year. Each simulated year is a random
group-year:

* the group's patients are drawn from the morbidity mix of a :class:`~stoploss.pool.cost_model.CostModel`
  (optionally with a group-level mix: Dirichlet around the national mix, so the group's expected
  cost per head varies between groups with coefficient of variation ``mix_cv``);
* each patient's annual cost comes from the cost model given their class;
* the budget is the sum of the patients' predicted costs under a formula of stated quality R-squared
  (the share of individual cost variance it explains). The formula recognises each patient's
  morbidity class with probability rho = R^2 / R^2_max (independently), predicting E[X | class], and
  otherwise predicts the national mean; that prediction is E[X | what the formula knows], so its
  R-squared is exactly rho x R^2_max, where R^2_max is the cost model's between-class share. The
  group's deviation then has a systematic part, (1 - rho) x its morbidity excess, that the formula
  misses, and a random part;
* optional specific stop-loss at an attachment a: the group keeps min(X, a) of each patient and pays a
  premium of (1 + loading) x N x E[(X - a)+] (national rate per head);
* optional common shock (lognormal year effect of stated CV, and an epidemic year with stated
  probability and uplift) and IBNR estimation error (lognormal of stated CV), multiplying the group's
  retained cost (the stop-loss recoveries are not leveraged by the shock);
* optional aggregate stop-loss paying outturn above a stated multiple of budget, priced at
  (1 + loading) x its simulated expected payment.

Reported per (list size, attachment, formula): the distribution of (outturn - budget) / budget, P
(overspend > 2%, 5%, 10%), the reserve at 99.5% (VaR and TVaR, as fractions of budget), premiums, and
the expected number of groups of a national population (``national_population / N`` groups) that
overspend by more than 5% in a year; for a sweep, the smallest list size that keeps P(overspend > 5%)
below a chosen level, with and without stop-loss.

Patients are not simulated one by one: per year, the counts per class, per cost band and per
formula are drawn exactly (multinomial, binomial), and only the spread of costs within a cost band
(at most a factor 2 wide) is drawn as a moment-matched beta (see ``stoploss/pool/_kernels.py``). All sizes of a sweep are
nested in one growing group per year, and all attachments are applied to the same patients.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from _kit.random import stream_keys
from stoploss.pool import _kernels as K
from stoploss.pool.cost_model import CostModel, default_cost_model
from stoploss.errors import StopLossError

#: 20 list sizes from 5,000 to 1,000,000, equally spaced in logarithm (rounded to 100).
DEFAULT_SIZES = tuple(int(n) for n in np.round(np.geomspace(5_000, 1_000_000, 20), -2))
#: Specific attachments in currency units; ``None`` is no specific stop-loss.
DEFAULT_ATTACHMENTS = (25_000, 50_000, 75_000, 100_000, 150_000, 200_000, 300_000, 400_000, 500_000, None)
#: Budget formulas by R-squared of individual annual cost: none, and the NHS person-based formula's
#: age-sex (3.7%) and age-sex + diagnoses (12.6%) figures (Dixon et al., BMJ 2011;342:d2934).
DEFAULT_RISK_MODELS = {"per head": 0.0, "age-sex": 0.037, "age-sex + diagnoses": 0.126}
OVERSPEND = (0.02, 0.05, 0.10)
LEVELS = (0.01, 0.05, 0.25, 0.50, 0.75, 0.95, 0.99)
VAR_LEVEL = 0.995
_BLOCK_YEARS = 256
_BODY_EDGE = 25_000.0
_TOP_EDGE = 500_000.0
#: Crump, Cubbon, Drummond, Hawkes & Marchment, "Fundholding in general practice and financial risk",
#: BMJ 1991;302:1582-4: 5th-95th percentile spread of annual cost as a share of the mean.
CRUMP_1991 = {9_000: 0.275, 24_000: 0.153, 179_400: 0.057}
_Z95 = 1.6448536269514722  # the standard normal's 95th percentile


@dataclass(frozen=True)
class PoolAssumptions:
    """Everything about a group-year except its size, attachment and budget formula.

    Parameters
    ----------
    cost_model : CostModel, optional
        Annual cost per patient by morbidity class; default :func:`~stoploss.pool.cost_model.default_cost_model`.
    loading : float
        Specific stop-loss premium loading on the expected excess (0.1 = 10%).
    aggregate_attachment : float or None
        Aggregate stop-loss attachment as a multiple of budget (e.g. 1.10); None for no cover.
    aggregate_loading : float
        Aggregate stop-loss premium loading on its expected payment.
    shock_cv : float
        Coefficient of variation of a lognormal common year effect on costs (e.g. unfunded price rise).
    epidemic_probability, epidemic_uplift : float
        Probability of an epidemic year and the proportional rise in costs in one.
    ibnr_cv : float
        Coefficient of variation of the (lognormal, mean one) error in the estimated outturn from IBNR.
    mix_cv : float
        Coefficient of variation between groups of expected cost per head from their morbidity mix
        (0: every group's patients are drawn from the national mix).
    national_population : float
        Registered population of the national set of groups (default 56 million, England).
    """

    cost_model: CostModel = field(default_factory=default_cost_model)
    loading: float = 0.0
    aggregate_attachment: float | None = None
    aggregate_loading: float = 0.0
    shock_cv: float = 0.0
    epidemic_probability: float = 0.0
    epidemic_uplift: float = 0.0
    ibnr_cv: float = 0.0
    mix_cv: float = 0.0
    national_population: float = 56_000_000.0

    def __post_init__(self):
        for name in ("loading", "aggregate_loading", "shock_cv", "epidemic_uplift", "ibnr_cv", "mix_cv"):
            v = getattr(self, name)
            if not (np.isfinite(v) and v >= 0):
                raise StopLossError(f"PoolAssumptions: {name} must be a finite number >= 0, got {v!r}.")
        if not 0 <= self.epidemic_probability <= 1:
            raise StopLossError(f"PoolAssumptions: epidemic_probability must be in [0, 1], got "
                                f"{self.epidemic_probability!r}.")
        if self.aggregate_attachment is not None and not self.aggregate_attachment > 0:
            raise StopLossError(f"PoolAssumptions: aggregate_attachment is a multiple of budget (e.g. 1.1), got "
                                f"{self.aggregate_attachment!r}.")
        if not self.national_population > 0:
            raise StopLossError("PoolAssumptions: national_population must be positive.")
        cm = self.cost_model
        top = float(np.sqrt(cm.between_share * cm.var)) / cm.mean
        if self.mix_cv > 0 and self.mix_cv >= top:
            raise StopLossError(f"PoolAssumptions: mix_cv {self.mix_cv} is not below {top:.3f}, the largest "
                                "coefficient of variation of cost per head that a mix of this cost model's "
                                "classes can give.")

    @property
    def mix_concentration(self) -> float:
        """Dirichlet concentration c with sd(group cost per head) / mean = mix_cv (0 for no group mix)."""
        if self.mix_cv == 0:
            return 0.0
        cm = self.cost_model
        return cm.between_share * cm.var / (self.mix_cv * cm.mean) ** 2 - 1.0


@dataclass(frozen=True)
class _Simulation:
    retained: np.ndarray   # (S, J, Y)
    budget: np.ndarray     # (S, M, Y)
    factor: np.ndarray     # (Y,)
    premium: np.ndarray    # (S, J)


def _band_edges(cm: CostModel, attachments: list[float]) -> np.ndarray:
    """Band edges: every attachment, the tail threshold, and a ladder at most a factor 2 apart above the body."""
    low = min([_BODY_EDGE] + attachments)
    high = max([_TOP_EDGE, cm.tail_threshold] + attachments)
    edges = sorted({low, high, cm.tail_threshold, *attachments})
    out = [edges[0]]
    for e in edges[1:]:
        steps = int(np.ceil(np.log(e / out[-1]) / np.log(2.0) - 1e-12))
        out.extend(out[-1] * (e / out[-1]) ** (np.arange(1, steps) / steps))
        out.append(e)
    return np.array(out)


def _check_sizes(sizes) -> np.ndarray:
    arr = np.asarray(sizes)
    if arr.ndim != 1 or arr.size == 0 or not np.all(np.equal(np.mod(arr, 1), 0)) or np.any(arr < 1):
        raise StopLossError(f"list sizes must be whole numbers of patients >= 1, got {sizes!r}.")
    arr = arr.astype(np.int64)
    if np.any(np.diff(arr) <= 0):
        raise StopLossError("list sizes must be given in increasing order, each once.")
    return arr


def _check_attachments(attachments) -> list:
    out = []
    for a in attachments:
        if a is not None and not (np.isfinite(a) and a > 0):
            raise StopLossError(f"attachment {a!r} must be a positive amount in currency units, or None for none.")
        out.append(None if a is None else float(a))
    return out


def _recognise(cm: CostModel, risk_models: dict) -> np.ndarray:
    rho = []
    for name, r2 in risk_models.items():
        if not 0 <= r2 <= cm.between_share:
            raise StopLossError(
                f"risk model {name!r}: R-squared {r2!r} must lie in [0, {cm.between_share:.4f}], the share of "
                "individual cost variance the cost model's classes can explain; use a cost model with more "
                "between-class spread for a better formula."
            )
        rho.append(r2 / cm.between_share if r2 > 0 else 0.0)
    return np.array(rho)


def _check_years(n_years: int, seed) -> None:
    if int(n_years) != n_years or n_years < 1000:
        raise StopLossError(f"n_years must be a whole number >= 1000 (the 99.5% reserve needs it), got {n_years!r}.")
    if not isinstance(seed, (int, np.integer)) or seed < 0:
        raise StopLossError(f"seed must be a whole number >= 0 so the run can be repeated, got {seed!r}.")


def _simulate(sizes: np.ndarray, attachments: list, rho: np.ndarray, assumptions: PoolAssumptions, n_years: int,
              seed: int) -> _Simulation:
    cm = assumptions.cost_model
    finite = [a for a in attachments if a is not None]
    edges = _band_edges(cm, finite)
    prob, mean, var = cm.band_moments(edges)
    tail_mass = np.cumsum(prob[:, ::-1], axis=1)[:, ::-1]
    cond = np.divide(prob, tail_mass, out=np.zeros_like(prob), where=tail_mass > 0)
    lo = np.concatenate([[0.0, 0.0], edges])
    hi = np.concatenate([[0.0], edges, [np.inf]])
    width = np.where(np.isfinite(hi) & (hi > lo), hi - lo, 1.0)
    pos = np.clip((mean - lo) / width, 0.0, 1.0)
    nu = np.divide(pos * (1 - pos) * width**2, var, out=np.full_like(var, np.inf), where=var > 0)
    att_band = np.array([len(lo) if a is None else int(np.searchsorted(lo, a)) for a in attachments], dtype=np.int64)
    att_value = np.array([np.inf if a is None else a for a in attachments])
    key = stream_keys(int(seed), ["pool"])[0]
    retained = np.empty((len(sizes), len(attachments), n_years))
    budget = np.empty((len(sizes), len(rho), n_years))
    factor = np.empty(n_years)
    K.simulate_years(key, _BLOCK_YEARS, sizes, cm.share, assumptions.mix_concentration, cond, pos, nu,
                     lo, hi, cm.tail_alpha, cm.tail_shift, cm.class_mean, cm.mean, rho, att_band, att_value,
                     float(np.sqrt(np.log1p(assumptions.shock_cv**2))),
                     assumptions.epidemic_probability, assumptions.epidemic_uplift,
                     float(np.sqrt(np.log1p(assumptions.ibnr_cv**2))), retained, budget, factor)
    excess = np.array([0.0 if a is None else float(cm.excess(a)) for a in attachments])
    premium = (1.0 + assumptions.loading) * sizes[:, None] * excess[None, :]
    return _Simulation(retained, budget, factor, premium)


def _frame(stats: np.ndarray, agg: np.ndarray, sizes, attachments, risk_models: dict,
           assumptions: PoolAssumptions) -> pd.DataFrame:
    """One row per (risk model, attachment, size) from the describe_all statistics."""
    cm = assumptions.cost_model
    names = (["mean", "sd"] + [f"p_over_{round(t * 100)}pct" for t in OVERSPEND]
             + [f"q{round(p * 100):02d}" for p in LEVELS] + ["var_995", "tvar_995"])
    rows = []
    for m, (name, r2) in enumerate(risk_models.items()):
        for j, a in enumerate(attachments):
            for s, n in enumerate(sizes):
                expected = n * cm.mean
                premium = 0.0 if a is None else (1 + assumptions.loading) * n * float(cm.excess(a))
                row = {"risk_model": name, "r_squared": r2, "attachment": np.nan if a is None else a,
                       "n_patients": int(n), "expected_budget": expected, "specific_premium": premium,
                       "specific_premium_pct": premium / expected, "aggregate_premium_pct": agg[s, j, m]}
                row.update(dict(zip(names, stats[s, j, m])))
                row["spread_5_95"] = row["q95"] - row["q05"]
                row["n_groups"] = assumptions.national_population / n
                row["groups_over_5pct"] = row["n_groups"] * row["p_over_5pct"]
                rows.append(row)
    return pd.DataFrame(rows)


def _deviation(retained: np.ndarray, budget: np.ndarray, factor: np.ndarray, premium: float,
               assumptions: PoolAssumptions) -> tuple[np.ndarray, np.ndarray]:
    """(outturn - budget) / budget and the aggregate premium (fraction of budget) for one size and attachment.

    outturn = factor x retained + premium. An aggregate stop-loss attaching at A x budget pays
    max(outturn / budget - A, 0) of budget and costs (1 + loading) x its simulated mean. Shapes:
    retained, factor (Y,); budget (M, Y); returns (M, Y) and (M,).
    """
    dev = (factor * retained + premium)[None, :] / budget - 1.0
    if assumptions.aggregate_attachment is None:
        return dev, np.zeros(dev.shape[0])
    paid = np.maximum(dev + 1.0 - assumptions.aggregate_attachment, 0.0)
    agg = (1.0 + assumptions.aggregate_loading) * paid.mean(axis=1)
    return dev - paid + agg[:, None], agg


def _statistics(dev: np.ndarray) -> np.ndarray:
    """Statistics of deviations ``dev`` (M, Y), one row per formula.

    [mean, sd, P(dev > t) for t in OVERSPEND, q_p for p in LEVELS, VaR, TVaR]: q_p is the lower
    empirical quantile x_(ceil(p Y)), VaR the one at VAR_LEVEL, TVaR the mean of the
    floor((1 - VAR_LEVEL) Y) largest values.
    """
    n = dev.shape[1]
    x = np.sort(dev, axis=1)
    idx = [max(int(np.ceil(p * n)) - 1, 0) for p in LEVELS + (VAR_LEVEL,)]
    tail = max(int(np.floor((1.0 - VAR_LEVEL) * n + 1e-9)), 1)
    over = [(x > t).mean(axis=1) for t in OVERSPEND]
    return np.column_stack([x.mean(axis=1), x.std(axis=1, ddof=1), *over, x[:, idx], x[:, n - tail:].mean(axis=1)])


def _describe(sim: _Simulation, assumptions: PoolAssumptions) -> tuple[np.ndarray, np.ndarray]:
    n_sizes, n_att, _ = sim.retained.shape
    n_models = sim.budget.shape[1]
    stats = np.empty((n_sizes, n_att, n_models, 2 + len(OVERSPEND) + len(LEVELS) + 2))
    agg = np.empty((n_sizes, n_att, n_models))
    for s in range(n_sizes):
        for j in range(n_att):
            dev, agg[s, j] = _deviation(sim.retained[s, j], sim.budget[s], sim.factor, sim.premium[s, j], assumptions)
            stats[s, j] = _statistics(dev)
    return stats, agg


@dataclass(frozen=True, eq=False)
class PoolResult:
    """One group configuration simulated year by year.

    Attributes
    ----------
    summary : DataFrame
        One row: the statistics of (outturn - budget) / budget (see :func:`simulate_pool`).
    deviation : ndarray, shape (n_years,)
        (outturn - budget) / budget per simulated year, after any stop-loss.
    outturn, budget : ndarray, shape (n_years,)
        Currency units: the group's outturn (retained cost x year factor + specific premium, before
        any aggregate stop-loss) and its budget, per simulated year.
    """

    summary: pd.DataFrame
    deviation: np.ndarray
    outturn: np.ndarray
    budget: np.ndarray

    @property
    def totals(self) -> pd.Series:
        """The summary row as a Series."""
        return self.summary.iloc[0]


def simulate_pool(n_patients: int, *, attachment: float | None = None, risk_model: str | float = "age-sex",
                  assumptions: PoolAssumptions | None = None, n_years: int = 100_000, seed: int = 0) -> PoolResult:
    """Simulate one group's annual outturn against its budget.

    Parameters
    ----------
    n_patients : int
        Registered list size N.
    attachment : float, optional
        Specific stop-loss attachment per patient-year (currency units); None for no cover.
    risk_model : str or float
        A name in ``DEFAULT_RISK_MODELS`` or the formula's R-squared of individual cost (0 = per head).
    assumptions : PoolAssumptions, optional
        Cost model, loadings, aggregate cover, shocks, IBNR error, group mix.
    n_years : int
        Simulated group-years (>= 1000).
    seed : int
        Seed; the result is identical for a seed whatever the number of threads.

    Returns
    -------
    PoolResult
        ``summary`` columns: ``mean``, ``sd``, ``p_over_2pct``/``5pct``/``10pct`` (probability of an
        overspend above 2%, 5%, 10% of budget), quantiles ``q01`` ... ``q99``, ``spread_5_95``,
        ``var_995`` and ``tvar_995`` (reserve as a fraction of budget), ``specific_premium``
        (currency) and ``_pct`` (of expected budget), ``aggregate_premium_pct``, ``n_groups`` and
        ``groups_over_5pct`` (expected number of the national set overspending by more than 5%).

    Examples
    --------
    >>> from stoploss.pool import simulate_pool
    >>> r = simulate_pool(50_000, attachment=100_000, risk_model="age-sex", n_years=2_000, seed=1)
    >>> r.deviation.shape
    (2000,)
    >>> round(float(r.totals["specific_premium_pct"]), 4)  # E[(X - 100,000)+] / E[X]: 1/3 - 1% x 20
    0.1333
    """
    assumptions = assumptions or PoolAssumptions()
    name, r2 = (risk_model, DEFAULT_RISK_MODELS.get(risk_model)) if isinstance(risk_model, str) else (
        f"R2={risk_model:g}", float(risk_model))
    if r2 is None:
        raise StopLossError(f"risk_model {risk_model!r} is not one of {list(DEFAULT_RISK_MODELS)}; "
                            "or give its R-squared as a number.")
    _check_years(n_years, seed)
    sizes = _check_sizes([n_patients])
    attachments = _check_attachments([attachment])
    models = {name: r2}
    sim = _simulate(sizes, attachments, _recognise(assumptions.cost_model, models), assumptions, n_years, seed)
    dev, agg = _deviation(sim.retained[0, 0], sim.budget[0], sim.factor, sim.premium[0, 0], assumptions)
    stats = _statistics(dev)[None, None]
    outturn = sim.factor * sim.retained[0, 0] + sim.premium[0, 0]
    return PoolResult(_frame(stats, agg[None, None], sizes, attachments, models, assumptions), dev[0], outturn,
                      sim.budget[0, 0])


def crump_comparison(assumptions: PoolAssumptions | None = None, n_years: int = 100_000,
                     seed: int = 0) -> pd.DataFrame:
    """Our 5th-95th percentile spread of annual cost / mean beside Crump et al.'s, at their two sizes.

    Per-head budget, no stop-loss, no shocks or IBNR error: ``simulated`` is the random variation of
    patients' costs alone; ``simulated_with_group_mix`` (only when ``assumptions.mix_cv > 0``) adds
    the between-group morbidity mix. ``normal`` is 2 z_0.95 CV / sqrt(N) for our
    per-person CV; ``per_person_cv_crump`` is the per-person CV that the published spread implies by
    the same normal formula.
    """
    base = assumptions or PoolAssumptions()
    cm = base.cost_model
    rows = []
    for n, published in CRUMP_1991.items():
        row = {"n_patients": n, "crump_1991": published}
        for label, mix_cv in (("simulated", 0.0), ("simulated_with_group_mix", base.mix_cv)):
            if label == "simulated" or mix_cv > 0:
                plain = PoolAssumptions(cost_model=cm, mix_cv=mix_cv)
                res = simulate_pool(n, risk_model=0.0, assumptions=plain, n_years=n_years, seed=seed)
                row[label] = float(res.totals["spread_5_95"])
        row.update({"normal": 2 * _Z95 * np.sqrt(cm.var / n) / cm.mean,
                    "per_person_cv_crump": published * np.sqrt(n) / (2 * _Z95),
                    "per_person_cv_ours": np.sqrt(cm.var) / cm.mean})
        rows.append(row)
    return pd.DataFrame(rows)


@dataclass(frozen=True, eq=False)
class SweepResult:
    """Risk against list size for every attachment and budget formula.

    Attributes
    ----------
    summary : DataFrame
        One row per (risk_model, attachment, n_patients); columns as in :func:`simulate_pool`
        (attachment NaN = no specific stop-loss).
    level : float
        The chosen ceiling on P(overspend > 5%) used by :attr:`totals`.
    assumptions : PoolAssumptions
    """

    summary: pd.DataFrame
    level: float
    assumptions: PoolAssumptions

    def smallest_size(self, level: float | None = None, overspend: float = 0.05) -> pd.DataFrame:
        """Smallest simulated list size from which P(overspend > ``overspend``) stays below ``level``.

        Rows are risk models, columns attachments ("none" for no specific stop-loss); NaN where no
        simulated size reaches the level. "Stays" means that size and every larger one qualify. The
        smallest simulated size is a bound: the true answer may be below it.
        """
        level = self.level if level is None else level
        col = f"p_over_{round(overspend * 100)}pct"
        if col not in self.summary:
            raise StopLossError(f"overspend must be one of {OVERSPEND}, got {overspend!r}.")
        out = {}
        for (model, att), g in self.summary.groupby(["risk_model", "attachment"], dropna=False, sort=False):
            g = g.sort_values("n_patients")
            ok = (g[col].to_numpy() < level)[::-1]
            run = int(np.argmin(ok)) if not ok.all() else len(ok)
            label = "none" if np.isnan(att) else f"{att:,.0f}"
            out.setdefault(label, {})[model] = g["n_patients"].to_numpy()[len(ok) - run] if run else np.nan
        return pd.DataFrame(out)

    @property
    def totals(self) -> pd.DataFrame:
        """:meth:`smallest_size` at the sweep's ``level`` for a 5% overspend."""
        return self.smallest_size()


def sweep(sizes=DEFAULT_SIZES, attachments=DEFAULT_ATTACHMENTS, risk_models: dict | None = None, *,
          assumptions: PoolAssumptions | None = None, n_years: int = 100_000, seed: int = 0,
          level: float = 0.05) -> SweepResult:
    """Risk of overspending against list size, for each attachment and budget formula.

    Each simulated year grows one group through all ``sizes`` (nested) and applies every attachment
    to the same patients, so the curves are smooth and the whole grid costs about one largest group.

    Parameters
    ----------
    sizes : sequence of int
        Increasing list sizes (default: 20 from 5,000 to 1,000,000).
    attachments : sequence of float or None
        Specific stop-loss attachments (currency units); None for no cover.
    risk_models : dict, optional
        Name -> R-squared of individual cost (default ``DEFAULT_RISK_MODELS``).
    assumptions : PoolAssumptions, optional
    n_years : int
        Simulated group-years per list size.
    seed : int
    level : float
        Ceiling on P(overspend > 5%) for the smallest-size table (:attr:`SweepResult.totals`).

    Examples
    --------
    >>> from stoploss.pool import sweep
    >>> res = sweep([10_000, 100_000], [100_000, None], {"age-sex": 0.037}, n_years=2_000, seed=3)
    >>> res.summary.shape[0]
    4
    """
    assumptions = assumptions or PoolAssumptions()
    risk_models = dict(DEFAULT_RISK_MODELS if risk_models is None else risk_models)
    if not risk_models:
        raise StopLossError("risk_models is empty: give at least one name -> R-squared.")
    if not 0 < level < 1:
        raise StopLossError(f"level must be a probability in (0, 1), got {level!r}.")
    _check_years(n_years, seed)
    sizes = _check_sizes(sizes)
    attachments = _check_attachments(attachments)
    sim = _simulate(sizes, attachments, _recognise(assumptions.cost_model, risk_models), assumptions, n_years, seed)
    stats, agg = _describe(sim, assumptions)
    return SweepResult(_frame(stats, agg, sizes, attachments, risk_models, assumptions), level, assumptions)
