"""Seeded synthetic claim lines with the truth they were drawn from.

Each consortium x service x incurred month has a Poisson number of claim lines whose mean follows
the consortium's membership, the service's frequency, a seasonal cycle and an annual trend.
Each line has a severity drawn from a service-specific lognormal, with an occasional very large
claim (Pareto excess), and a payment delay drawn from a service-specific gamma distribution in
days with a long-tailed mixture component (acute inpatient and specialised care pay slowly;
prescribing, emergency and outpatient pay fast). Delays are capped at ``max_lag_months`` so every
claim is eventually paid inside the window and the truth is exact.

The truth (every line, paid before or after the as-of date) is summed per segment and incurred
month into ``ultimate``; the claim lines written out are only those paid on or before the as-of
date, as a real extract would be. IBNR estimated from the lines can then be compared with
``truth.ultimate - truth.paid``.

Random streams: one generator per consortium from the engine's seeding scheme
(:func:`_kit.random.generator` ``(seed, "consortium", name)``), so a consortium's lines do not
change when other consortia are added and the result is the same however it is chunked.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from scipy import stats

from _kit.publish import write_atomic
from _kit.random import generator
from reserving.errors import ReservingError

#: name -> (share of claim lines, mean cost per line, lognormal sigma, delay gamma shape,
#:          delay gamma mean in days, probability of a long-tail delay, long-tail mean in days)
SERVICES: dict[str, tuple[float, float, float, float, float, float, float]] = {
    "acute_inpatient": (0.10, 3200.0, 0.9, 1.6, 75.0, 0.12, 330.0),
    "outpatient": (0.25, 160.0, 0.6, 1.8, 40.0, 0.03, 150.0),
    "emergency": (0.12, 260.0, 0.7, 2.0, 28.0, 0.02, 120.0),
    "mental_health": (0.08, 900.0, 0.9, 1.4, 60.0, 0.08, 240.0),
    "community": (0.15, 120.0, 0.7, 1.8, 35.0, 0.04, 150.0),
    "prescribing": (0.22, 45.0, 0.8, 3.0, 12.0, 0.0, 0.0),
    "maternity": (0.04, 2100.0, 0.6, 1.8, 50.0, 0.05, 200.0),
    "specialised": (0.04, 5200.0, 1.0, 1.3, 90.0, 0.15, 420.0),
}

_COLUMNS = ["consortium", "service", "incurred_date", "paid_date", "amount", "claim_id", "patient_id"]


@dataclass(frozen=True)
class SyntheticClaims:
    """Generated claim lines and the truth behind them.

    Attributes
    ----------
    lines : DataFrame
        Claim lines paid on or before ``as_of``: consortium, service, incurred_date, paid_date
        (datetime64), amount (currency), claim_id (int), patient_id (str, fictitious).
    truth : DataFrame
        One row per consortium, service and incurred month (``origin``, a monthly Period):
        ``ultimate`` (every line ever paid), ``paid`` (paid by ``as_of``), ``ibnr`` = ultimate - paid,
        ``expected_ibnr`` its expectation given the consortium's size and growth (lines x mean cost,
        large claims included, x the probability of being unpaid at ``as_of``): heavy-tailed large
        claims make the sum of ``ibnr`` fall short of it in most samples.
    members : DataFrame
        consortium, month (Period), members (member months).
    budget : DataFrame
        consortium, month (Period), budget (currency): expected cost times a consortium-level
        funding factor, so some consortia are under-funded.
    as_of : Timestamp
    """

    lines: pd.DataFrame
    truth: pd.DataFrame
    members: pd.DataFrame
    budget: pd.DataFrame
    as_of: pd.Timestamp
    bad_rows: int = field(default=0)

    def write(self, directory, fmt: str = "parquet") -> dict[str, Path]:
        """Write claims (``claims.parquet`` or ``claims.csv``), truth, members and budget CSVs.

        Every file is written atomically (:func:`_kit.publish.write_atomic`).
        """
        directory = Path(directory)
        paths = {}
        claims = directory / f"claims.{fmt}"
        if fmt == "parquet":
            write_atomic(claims, lambda p: self.lines.to_parquet(p, index=False))
        else:
            write_atomic(claims, lambda p: self.lines.to_csv(p, index=False, date_format="%Y-%m-%d"))
        paths["claims"] = claims
        for name in ("truth", "members", "budget"):
            frame = getattr(self, name).copy()
            for col in ("origin", "month"):
                if col in frame:
                    frame[col] = frame[col].astype(str)
            paths[name] = write_atomic(directory / f"{name}.csv", lambda p, f=frame: f.to_csv(p, index=False))
        return paths


def generate_claims(
    n_consortia: int = 6,
    services: list[str] | None = None,
    n_months: int = 36,
    as_of="2024-12-31",
    lines_per_cell: float = 60.0,
    trend: float = 0.05,
    seasonality: float = 0.08,
    large_claim_prob: float = 0.002,
    max_lag_months: int = 30,
    bad_rows: int = 0,
    seed: int = 0,
) -> SyntheticClaims:
    """Generate claim lines for ``n_consortia`` x ``services`` over ``n_months`` incurred months.

    Parameters
    ----------
    n_consortia : int
        Number of consortia (named ``C001``, ``C002``, ...).
    services : list of str, optional
        Keys of :data:`SERVICES`; default all eight.
    n_months : int
        Incurred months, ending with the month of ``as_of``.
    as_of : date-like
        The extract date: a month end. Lines paid after it are not in ``lines`` (but are in the truth).
    lines_per_cell : float
        Average number of claim lines per consortium, service and month (before trend and season).
    trend : float
        Annual claims cost trend (0.05 = 5% a year), applied to frequency.
    seasonality : float
        Amplitude of a winter peak in frequency (0.08 = +8% in January, -8% in July).
    large_claim_prob : float
        Probability that a line is a very large claim (Pareto excess, alpha 1.8, on 20x the mean).
    max_lag_months : int
        Payment delays are capped at this many months (the truth is then complete).
    bad_rows : int
        Number of deliberately faulty lines appended (bad dates, bad amounts, paid before
        incurred, duplicate claim ids, an unknown consortium) to exercise validation.
    seed : int

    Examples
    --------
    >>> s = generate_claims(n_consortia=2, services=["emergency"], n_months=6, as_of="2024-06-30", seed=1)
    >>> sorted(s.lines["consortium"].unique())
    ['C001', 'C002']
    >>> bool((s.truth["ultimate"] >= s.truth["paid"] - 1e-6).all())
    True
    """
    chunks = list(generate_chunks(n_consortia, services, n_months, as_of, lines_per_cell, trend,
                                  seasonality, large_claim_prob, max_lag_months, seed))
    lines = pd.concat([c[0] for c in chunks], ignore_index=True)
    truth = pd.concat([c[1] for c in chunks], ignore_index=True)
    members = pd.concat([c[2] for c in chunks], ignore_index=True)
    budget = pd.concat([c[3] for c in chunks], ignore_index=True)
    if bad_rows:
        for col in ("incurred_date", "paid_date"):
            lines[col] = lines[col].dt.strftime("%Y-%m-%d")
        lines = pd.concat([lines, _bad_rows(lines, bad_rows, generator(seed, "bad rows"))],
                          ignore_index=True)
    return SyntheticClaims(lines, truth, members, budget, pd.Timestamp(as_of), bad_rows)


def generate_chunks(n_consortia, services, n_months, as_of, lines_per_cell, trend, seasonality,
                    large_claim_prob, max_lag_months, seed, consortia_per_chunk: int = 1):
    """Yield ``(lines, truth, members, budget)`` DataFrames a few consortia at a time.

    Same arguments as :func:`generate_claims`; used directly to write tens of millions of lines
    to Parquet in bounded memory (see :func:`write_parquet_dataset`).
    """
    services = list(SERVICES) if services is None else list(services)
    unknown = [s for s in services if s not in SERVICES]
    if unknown:
        raise ReservingError(f"unknown service(s) {unknown}; choose from {list(SERVICES)}")
    as_of = pd.Timestamp(as_of)
    if as_of != as_of + pd.offsets.MonthEnd(0):
        raise ReservingError(f"as_of {as_of.date()} is not a month end; use {(as_of + pd.offsets.MonthEnd(0)).date()}")
    last = as_of.to_period("M")
    months = pd.period_range(last - (n_months - 1), last, freq="M", name="month")
    pending = []
    for c in range(n_consortia):
        pending.append(_consortium(f"C{c + 1:03d}", c, seed, services, months, as_of,
                                   lines_per_cell, trend, seasonality, large_claim_prob, max_lag_months))
        if len(pending) == consortia_per_chunk or c == n_consortia - 1:
            yield tuple(pd.concat([p[k] for p in pending], ignore_index=True) for k in range(4))
            pending = []


def _consortium(name, index, seed, services, months, as_of, lines_per_cell, trend, seasonality,
                large_claim_prob, max_lag_months):
    rng = generator(seed, "consortium", name)
    n_m = len(months)
    t = np.arange(n_m) - (n_m - 1)
    size = rng.lognormal(0.0, 0.5)
    growth = np.exp(rng.normal(0.01, 0.01) * t / 12)
    members = np.round(100_000 * size * growth)
    season = 1 + seasonality * np.cos(2 * np.pi * (months.month.to_numpy() - 1) / 12)
    trend_f = (1 + trend) ** (t / 12)
    shares = np.array([SERVICES[s][0] for s in services])
    shares = shares / shares.sum() * len(services)
    month_start = months.start_time.to_numpy().astype("datetime64[D]").astype(np.int64)
    days_in_month = months.days_in_month.to_numpy()
    as_of_day = np.datetime64(as_of.date(), "D").astype(np.int64)
    cap_days = int(max_lag_months * 30.4)

    lines, truth = [], []
    expected_cost = np.zeros(n_m)
    for k, svc in enumerate(services):
        _, mean_cost, sigma, shape, mean_delay, p_tail, tail_mean = SERVICES[svc]
        lam = lines_per_cell * shares[k] * size * growth * season * trend_f
        counts = rng.poisson(lam)
        n = int(counts.sum())
        origin = np.repeat(np.arange(n_m), counts)
        incurred = month_start[origin] + (rng.random(n) * days_in_month[origin]).astype(np.int64)
        mu = np.log(mean_cost) - sigma**2 / 2
        amount = rng.lognormal(mu, sigma, n)
        large = rng.random(n) < large_claim_prob
        amount[large] += 20 * mean_cost * (rng.pareto(1.8, int(large.sum())) + 1)
        amount = np.round(amount, 2)
        delay = rng.gamma(shape, mean_delay / shape, n)
        if p_tail > 0:
            tail = rng.random(n) < p_tail
            delay[tail] = rng.exponential(tail_mean, int(tail.sum()))
        delay = np.minimum(delay.astype(np.int64), cap_days)
        paid = incurred + delay
        seen = paid <= as_of_day
        ult = np.bincount(origin, weights=amount, minlength=n_m)
        pd_ = np.bincount(origin[seen], weights=amount[seen], minlength=n_m)
        line_cost = mean_cost + large_claim_prob * 20 * mean_cost * (1 + 1 / 0.8)
        unpaid = _unpaid_share(as_of_day - month_start, days_in_month, shape, mean_delay, p_tail, tail_mean, cap_days)
        truth.append(pd.DataFrame({"consortium": name, "service": svc, "origin": months,
                                   "ultimate": ult, "paid": pd_, "ibnr": ult - pd_,
                                   "expected_ibnr": lam * line_cost * unpaid}))
        expected_cost += lam * line_cost
        m = int(seen.sum())
        lines.append(pd.DataFrame({
            "consortium": name,
            "service": svc,
            "incurred_date": incurred[seen].astype("datetime64[D]"),
            "paid_date": paid[seen].astype("datetime64[D]"),
            "amount": amount[seen],
            "claim_id": np.int64(index) * 10**9 + k * 10**8 + np.arange(m, dtype=np.int64),
            "patient_id": _patient_ids(rng, m),
        }))
    funding = rng.uniform(0.9, 1.1)
    lines_df = pd.concat(lines, ignore_index=True)
    lines_df = lines_df.sort_values(["paid_date", "claim_id"], kind="stable", ignore_index=True)
    return (
        lines_df,
        pd.concat(truth, ignore_index=True),
        pd.DataFrame({"consortium": name, "month": months, "members": members}),
        pd.DataFrame({"consortium": name, "month": months, "budget": np.round(expected_cost * funding, 2)}),
    )


def _unpaid_share(days_left, days_in_month, shape, mean_delay, p_tail, tail_mean, cap_days) -> np.ndarray:
    """Probability that a line of each incurred month is still unpaid at the as-of date.

    A line incurred ``d`` days before the as-of date (uniform over its month's days) with delay
    ``D`` (gamma, or with probability ``p_tail`` exponential; whole days, capped at ``cap_days``)
    is unpaid when ``floor(D) > d``, i.e. ``D >= d + 1`` and ``d < cap_days``.
    """
    out = np.zeros(len(days_left))
    for m, (first, n_days) in enumerate(zip(days_left, days_in_month)):
        d = first - np.arange(n_days)
        sf = (1 - p_tail) * stats.gamma.sf(d + 1, shape, scale=mean_delay / shape)
        if p_tail > 0:
            sf = sf + p_tail * stats.expon.sf(d + 1, scale=tail_mean)
        out[m] = np.where(d < cap_days, sf, 0.0).mean()
    return out


def _patient_ids(rng, n: int) -> np.ndarray:
    """Fictitious patient ids ``PT`` + 9 digits (a pool of ~n/3 patients, so patients repeat)."""
    pool = max(n // 3, 1)
    return np.char.add("PT", np.char.zfill(rng.integers(0, pool, n).astype(str), 9))


def _bad_rows(lines: pd.DataFrame, n: int, rng) -> pd.DataFrame:
    """``n`` faulty copies of real lines, cycling through the kinds of error validation must catch.

    Every sixth copy (kind 3) is left as it is: an exact duplicate, same claim id. The others get
    fresh claim ids and one fault each.
    """
    base = lines.iloc[rng.integers(0, len(lines), n)].reset_index(drop=True).astype(object)
    for i in range(n):
        kind = i % 6
        if kind != 3:
            base.loc[i, "claim_id"] = 9 * 10**12 + i
        if kind == 0:
            base.loc[i, "incurred_date"] = "2024-02-30"
        elif kind == 1:
            base.loc[i, "amount"] = "12,50O"
        elif kind == 2:
            earlier = pd.Timestamp(base.loc[i, "incurred_date"]) - pd.Timedelta(days=40)
            base.loc[i, "paid_date"] = earlier.strftime("%Y-%m-%d")
        elif kind == 4:
            base.loc[i, "consortium"] = "C999"
        else:
            base.loc[i, "paid_date"] = "2099-01-01"
    return base


def write_parquet_dataset(path, n_consortia: int, services=None, n_months: int = 48,
                          as_of="2024-12-31", lines_per_cell: float = 400.0, seed: int = 0,
                          consortia_per_chunk: int = 10, **kwargs) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Write claim lines for a national-scale run straight to one Parquet file, chunk by chunk.

    Memory stays bounded by one chunk of consortia. The file is written atomically
    (:func:`_kit.publish.write_atomic`). Returns the truth and budget tables.
    """
    truths, budgets = [], []
    schema = pa.schema([("consortium", pa.string()), ("service", pa.string()),
                        ("incurred_date", pa.date32()), ("paid_date", pa.date32()),
                        ("amount", pa.float64()), ("claim_id", pa.int64()), ("patient_id", pa.string())])
    gen = generate_chunks(n_consortia, services, n_months, as_of, lines_per_cell,
                          kwargs.get("trend", 0.05), kwargs.get("seasonality", 0.08),
                          kwargs.get("large_claim_prob", 0.002), kwargs.get("max_lag_months", 30), seed,
                          consortia_per_chunk=consortia_per_chunk)

    def write(tmp: Path) -> None:
        with pq.ParquetWriter(tmp, schema, compression="zstd") as writer:
            for lines, truth, _, budget in gen:
                writer.write_table(pa.Table.from_pandas(lines[_COLUMNS], schema=schema, preserve_index=False),
                                   row_group_size=1_000_000)
                truths.append(truth)
                budgets.append(budget)

    write_atomic(path, write)
    return pd.concat(truths, ignore_index=True), pd.concat(budgets, ignore_index=True)


DEMO_SERVICES = ["acute_inpatient", "outpatient", "emergency", "mental_health", "community", "prescribing"]


def write_demo_sample(directory) -> None:
    """Write the sample bundled in ``reserving/data`` (6 consortia x 6 services x 36 months, seed 2024).

    Files: ``sample_claims.csv`` (with 12 faulty lines), ``sample_budget.csv`` (to the financial year end, March 2025),
    ``sample_members.csv``, ``sample_segments.csv`` (the known segments) and ``sample_truth.csv``.
    """
    s = generate_claims(n_consortia=6, services=DEMO_SERVICES, n_months=36, as_of="2024-12-31",
                        lines_per_cell=35, bad_rows=12, seed=2024)
    directory = Path(directory)
    # the budget runs to the end of the financial year (April to March), as a commissioner's does:
    # January to March 2025 are the same months of 2024 plus 5% (the generator's trend)
    ahead = s.budget[s.budget["month"].between(pd.Period("2024-01", "M"), pd.Period("2024-03", "M"))]
    budget = pd.concat([s.budget, ahead.assign(month=ahead["month"] + 12, budget=(ahead["budget"] * 1.05).round(2))],
                       ignore_index=True).sort_values(["consortium", "month"], ignore_index=True)
    frames = {
        "sample_claims.csv": s.lines,
        "sample_budget.csv": budget.assign(month=budget["month"].astype(str)),
        "sample_members.csv": s.members.assign(month=s.members["month"].astype(str)),
        "sample_segments.csv": s.truth[["consortium", "service"]].drop_duplicates(),
        "sample_truth.csv": s.truth.assign(origin=s.truth["origin"].astype(str)),
    }
    for name, frame in frames.items():
        write_atomic(directory / name, lambda p, f=frame: f.to_csv(p, index=False, float_format="%.2f"))


def delay_payments(claims: SyntheticClaims, *, weekday: int | None = None,
                   slow_months: dict[int, float] | None = None) -> SyntheticClaims:
    """The same claims paid on a payer's calendar: in weekly runs, and more slowly in some months.

    Payments are only ever moved later, so the truth stays exact: a line's delay from incurred
    to paid is stretched by ``1 + slow_months[m]`` for claims incurred in calendar month ``m``
    (e.g. ``{12: 0.5}``: December's claims take half as long again), then the payment waits
    for the next ``weekday`` (0 Monday ... 4 Friday) on or after that date. Lines moved past
    ``as_of`` leave ``lines``; ``truth.paid`` and ``truth.ibnr`` are recomputed, ``ultimate``
    is unchanged.

    Examples
    --------
    >>> s = generate_claims(n_consortia=1, services=["emergency"], n_months=6, as_of="2024-06-30", seed=1)
    >>> d = delay_payments(s, weekday=4, slow_months={12: 0.5})
    >>> bool((d.lines["paid_date"].dt.weekday == 4).all()), bool(d.truth["paid"].sum() <= s.truth["paid"].sum())
    (True, True)
    """
    lines = claims.lines.copy()
    incurred = lines["incurred_date"].to_numpy().astype("datetime64[D]")
    paid = lines["paid_date"].to_numpy().astype("datetime64[D]")
    if slow_months:
        stretch = pd.Series(lines["incurred_date"].dt.month).map(lambda m: 1 + slow_months.get(m, 0.0)).to_numpy()
        delay = (paid - incurred).astype(np.int64)
        paid = incurred + np.ceil(delay * stretch).astype(np.int64).astype("timedelta64[D]")
    if weekday is not None:
        paid = paid + ((weekday - (paid.astype(np.int64) + 3) % 7) % 7).astype("timedelta64[D]")  # 1970-01-01 was a Thursday
    lines["paid_date"] = paid.astype("datetime64[ns]")
    lines = lines[lines["paid_date"] <= claims.as_of].reset_index(drop=True)
    origin = lines["incurred_date"].dt.to_period("M")
    paid_now = lines.groupby([lines["consortium"], lines["service"], origin.rename("origin")])["amount"].sum()
    truth = claims.truth.drop(columns=["paid", "ibnr"])
    key = pd.MultiIndex.from_frame(truth[["consortium", "service", "origin"]])
    truth["paid"] = paid_now.reindex(key).fillna(0.0).to_numpy()
    truth["ibnr"] = truth["ultimate"] - truth["paid"]
    return SyntheticClaims(lines, truth, claims.members, claims.budget, claims.as_of, claims.bad_rows)


@dataclass(frozen=True)
class SyntheticYear:
    """A whole financial year's claims valued part way through, and its true outturn.

    Attributes
    ----------
    claims : SyntheticClaims
        Claim lines paid by the valuation date ``claims.as_of`` (the truth covers every month to the
        year end); ``claims.members`` and ``claims.budget`` cover the whole year.
    year : PeriodIndex
        The twelve months of the financial year.
    outturn : DataFrame
        consortium, budget_year, actual (every line incurred in the year, paid whenever), overspend (bool).
    """

    claims: SyntheticClaims
    year: pd.PeriodIndex
    outturn: pd.DataFrame


def generate_year(valuation_month: int, n_consortia: int = 6, services: list[str] | None = None,
                  year_start="2024-04", history_months: int = 24, seed: int = 0, **kwargs) -> SyntheticYear:
    """Claims of a financial year valued after ``valuation_month`` of its months (1-12), with the true outturn.

    The same seed gives the same year whatever the valuation month: the lines are those of
    :func:`generate_claims` to the year end (``history_months`` before the year), kept when paid by
    the valuation date. The budget is each consortium's expected cost times its funding factor
    (0.9-1.1), so some consortia truly overspend. Other keywords go to :func:`generate_claims`.

    Examples
    --------
    >>> y = generate_year(3, n_consortia=2, services=["emergency"], history_months=12, seed=1)
    >>> str(y.claims.as_of.date()), y.outturn.columns.tolist()
    ('2024-06-30', ['consortium', 'budget_year', 'actual', 'overspend'])
    """
    if not 1 <= int(valuation_month) <= 12:
        raise ReservingError(f"valuation_month must be 1 to 12, not {valuation_month}")
    year = pd.period_range(pd.Period(year_start, freq="M"), periods=12, freq="M", name="month")
    full = generate_claims(n_consortia=n_consortia, services=services, n_months=history_months + 12,
                           as_of=year[-1].end_time.normalize(), seed=seed, **kwargs)
    as_of = year[int(valuation_month) - 1].end_time.normalize()
    lines = full.lines[full.lines["paid_date"] <= as_of].reset_index(drop=True)
    truth = full.truth.copy()
    seen = lines.assign(origin=lines["incurred_date"].dt.to_period("M")).groupby(
        ["consortium", "service", "origin"])["amount"].sum()
    truth["paid"] = seen.reindex(pd.MultiIndex.from_frame(truth[["consortium", "service", "origin"]])).fillna(0).to_numpy()
    truth["ibnr"] = truth["ultimate"] - truth["paid"]
    actual = truth[truth["origin"].isin(year)].groupby("consortium")["ultimate"].sum()
    budget = full.budget[full.budget["month"].isin(year)].groupby("consortium")["budget"].sum()
    outturn = pd.DataFrame({"consortium": actual.index, "budget_year": budget.reindex(actual.index).to_numpy(),
                            "actual": actual.to_numpy()})
    outturn["overspend"] = outturn["actual"] > outturn["budget_year"]
    claims = SyntheticClaims(lines, truth[truth["origin"] <= as_of.to_period("M")].reset_index(drop=True),
                             full.members, full.budget, as_of)
    return SyntheticYear(claims, year, outturn)
