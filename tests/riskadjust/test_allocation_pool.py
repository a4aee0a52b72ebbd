"""Growth ceilings, unmet need, the high-cost pool, convergence paths and settlement in pence.

Hand-worked examples (arithmetic in comments) and hypothesis invariants: the pennies and the pool
sum exactly to the envelope; floors and ceilings hold to the penny; the allocation is the slow
bisection reference's (``naive_pace``) to within a penny; the pool pays out what it collected
less its stated balance, exactly.
"""

import numpy as np
import pandas as pd
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from riskadjust import score
from riskadjust.allocate import AllocationError, allocate, allocation_path
from riskadjust.cli import main
from riskadjust.settle import SettlementError, settle
from tests.riskadjust.naive import naive_pace

TWO = pd.DataFrame({"group": ["A", "B"], "exposure": [1000, 1000], "risk": [1.2, 0.8],
                    "baseline": [480_000, 520_000]})


def test_ceiling_binds_and_the_rest_goes_below_ceilings():
    # targets 618,000 and 412,000; floors 484,800 and 525,200; ceilings 499,200 and 540,800
    # A closes its gap only to its ceiling 499,200; 1,030,000 - 499,200 - 525,200 = 5,600 goes to B
    s = allocate(TWO, 1_030_000, min_growth=0.01, max_growth=0.04).summary
    assert s["allocation"].tolist() == [499_200.0, 530_800.0]
    assert s["ceiling"].tolist() == [499_200.0, 540_800.0] and s["floor"].tolist() == [484_800.0, 525_200.0]
    with pytest.raises(AllocationError, match="the growth ceilings allow 1,040,000.00 but the envelope shares"):
        allocate(TWO, 1_050_000, max_growth=0.04)
    with pytest.raises(AllocationError, match="the group at row 0 has a floor above its ceiling"):
        allocate(TWO, 1_030_000, min_growth=0.05, max_growth=0.04)


def test_unmet_need_component():
    # equal need; 10% of the envelope by need x unmet_need, all of it A's (B's index is 0):
    # A = 1,000,000 x (0.9 x 0.5 + 0.1 x 1) = 550,000
    g = pd.DataFrame({"group": ["A", "B"], "exposure": [1.0, 1.0], "risk": [1.0, 1.0], "unmet_need": [2.0, 0.0]})
    s = allocate(g, 1_000_000, unmet_need_share=0.1).summary
    assert s["allocation"].tolist() == [550_000.0, 450_000.0]
    with pytest.raises(AllocationError, match="missing column"):
        allocate(g.drop(columns="unmet_need"), 1_000_000, unmet_need_share=0.1)


def test_high_cost_pool_is_top_sliced():
    # 30,000 into the pool; 1,000,000 shared 60:40
    s = allocate(TWO, 1_030_000, high_cost_pool=30_000)
    assert s.summary["allocation"].tolist() == [600_000.0, 400_000.0]
    assert s.totals["high_cost_pool"] == 30_000 and s.totals["allocated"] == 1_000_000


def test_convergence_path_reaches_target_on_the_glide_path():
    # targets 60:40 of each envelope; baselines 540,000 and 460,000; no group shrinks (min_growth 0)
    # year 1 (1,040,000): targets 624,000 / 416,000; floors 540,000 / 460,000; A closes its gap: 580,000
    # year 2 (1,100,000): targets 660,000 / 440,000; A's floor 660,000 x 0.95 = 627,000; left 13,000 -> 640,000
    # year 3 (1,200,000): targets 720,000 / 480,000 are the floors (A: distance 0; B: min growth): on target
    g = TWO.assign(baseline=[540_000, 460_000])
    p = allocation_path(g, [1_040_000, 1_100_000, 1_200_000], min_growth=0.0, max_below_target=[0.15, 0.05, 0.0])
    s = p.summary
    assert list(s.index.get_level_values("year").unique()) == [1, 2, 3]
    assert s["allocation"].xs("A", level="group").tolist() == [580_000.0, 640_000.0, 720_000.0]
    assert s["allocation"].xs("B", level="group").tolist() == [460_000.0, 460_000.0, 480_000.0]
    assert p.totals["largest_distance_below"][3] == 0.0
    assert s.loc[(2, "A"), "baseline"] == s.loc[(1, "A"), "allocation"]
    year2 = allocate(g.assign(baseline=s.xs(1, level="year")["allocation"].to_numpy()), 1_100_000,
                     min_growth=0.0, max_below_target=0.05)
    assert year2.summary["allocation_pence"].tolist() == s.xs(2, level="year")["allocation_pence"].tolist()
    with pytest.raises(AllocationError, match="one per year"):
        allocation_path(TWO, [1e6, 1e6], max_below_target=[0.1, 0.1, 0.1])


@st.composite
def allocation_cases(draw):
    n = draw(st.integers(2, 8))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    g = pd.DataFrame({"group": [f"G{i}" for i in range(n)], "exposure": rng.uniform(100, 10_000, n).round(1),
                      "risk": rng.uniform(0.5, 2.0, n).round(3), "area_factor": rng.uniform(0.9, 1.2, n).round(3),
                      "baseline": (rng.uniform(1e5, 1e7, n) * 100).round() / 100,
                      "unmet_need": rng.uniform(0, 3, n).round(2)})
    envelope = round(g["baseline"].sum() * draw(st.floats(0.95, 1.15)), 2)
    rules = {"min_growth": draw(st.one_of(st.none(), st.floats(-0.05, 0.04))),
             "max_growth": draw(st.one_of(st.none(), st.floats(0.0, 0.3))),
             "max_below_target": draw(st.one_of(st.none(), st.floats(0.0, 0.5))),
             "unmet_need_share": draw(st.sampled_from([0.0, 0.1, 0.25])),
             "high_cost_pool": round(envelope * draw(st.sampled_from([0.0, 0.01, 0.05])), 2)}
    return g, envelope, rules


@settings(max_examples=200, deadline=None)
@given(allocation_cases())
def test_allocation_invariants(case):
    g, envelope, rules = case
    try:
        r = allocate(g, envelope, **rules)
    except AllocationError as exc:
        assert any(m in str(exc) for m in ("floors need", "ceilings allow", "floor above its ceiling"))
        return
    s = r.summary
    pool_pence = round(rules["high_cost_pool"] * 100)
    assert int(s["allocation_pence"].sum()) + pool_pence == round(envelope * 100)  # to the penny
    b = g["baseline"].to_numpy()
    a = s["allocation_pence"].to_numpy()
    if rules["min_growth"] is not None:
        assert np.all(a >= b * (1 + rules["min_growth"]) * 100 - 1e-6)
    if rules["max_growth"] is not None:
        assert np.all(a <= b * (1 + rules["max_growth"]) * 100 + 1e-6)
    if rules["max_below_target"] is not None:
        assert np.all(a >= s["target"].to_numpy() * (1 - rules["max_below_target"]) * 100 - 1e-6)
    want = naive_pace(s["target"].to_numpy(), s["floor"].to_numpy(), s["ceiling"].to_numpy(),
                      (round(envelope * 100) - pool_pence) / 100)
    assert np.max(np.abs(a / 100 - want)) <= 0.01 + 1e-6 * envelope / 1e6


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 6), st.integers(0, 2**32 - 1), st.sampled_from(["full", "pro_rata"]), st.floats(0.0, 2.0))
def test_pool_pays_what_it_collected_less_its_balance(n, seed, rule, fill):
    rng = np.random.default_rng(seed)
    budget = (rng.uniform(1e5, 1e6, n) * 100).round() / 100
    actual = (budget * rng.uniform(0.8, 1.3, n) * 100).round() / 100
    high = (actual * rng.uniform(0, 0.2, n) * 100).round() / 100
    pool = round(float(high.sum()) * fill, 2)
    r = settle(budget, actual, high_cost=high, pool=pool, pool_rule=rule, withhold=0.1,
               loss_corridors=[(0.02, np.inf, 0.75)], gain_corridors=[(0.05, np.inf, 0.5)])
    s, acct = r.summary, r.pool
    paid = int(s["pool_paid_pence"].sum())
    assert paid == acct["paid_pence"] == acct["collected_pence"] - acct["balance_pence"]  # exact, in pence
    assert acct["collected_pence"] == round(pool * 100) and acct["paid"] == paid / 100
    claims = np.round(high * 100).astype(np.int64)
    if rule == "full":
        assert np.array_equal(s["pool_paid_pence"].to_numpy(), claims)
    else:
        assert paid == min(int(claims.sum()), round(pool * 100)) and acct["balance_pence"] >= 0
        assert np.all(s["pool_paid_pence"].to_numpy() <= claims)
    for col in ("pool_paid_pence", "payer_share_pence", "due_to_provider_pence", "due_to_payer_pence"):
        assert s[col].dtype == np.int64
    due = s["due_to_provider_pence"] - s["due_to_payer_pence"]
    released = np.round(s["withhold_released"] * 100).astype(np.int64)
    assert np.array_equal(due, released - s["payer_share_pence"] + s["pool_paid_pence"])


def test_asymmetric_corridors_hand_worked():
    # budget 1,000,000. Loss 80,000: payer takes 75% beyond 2% = 0.75 x 60,000 = 45,000.
    # Gain 80,000: payer takes 50% beyond 5% = 0.5 x 30,000 = 15,000.
    kw = dict(loss_corridors=[(0.02, float("inf"), 0.75)], gain_corridors=[(0.05, float("inf"), 0.5)])
    s = settle([1_000_000] * 2, [1_080_000, 920_000], **kw).summary
    assert s["payer_share"].tolist() == [-45_000.0, 15_000.0]
    assert s["due_to_provider"].tolist() == [45_000.0, 0.0] and s["due_to_payer"].tolist() == [0.0, 15_000.0]
    # symmetric corridors still apply to the side not replaced
    s = settle(1_000_000, 920_000, corridors=[(0.0, float("inf"), 0.1)], loss_corridors=[]).summary
    assert s["payer_share"].tolist() == [8_000.0]


def test_settlement_rounds_to_pennies_and_refuses_fractions():
    # gain 0.03 beyond 0 at 50%: 0.015 rounds half away from zero to 0.02
    s = settle(100.00, 99.97, corridors=[(0.0, 1.0, 0.5)]).summary
    assert s["payer_share_pence"].tolist() == [2]
    with pytest.raises(SettlementError, match="budget: amounts must be whole pennies"):
        settle(100.001, 90.0)
    with pytest.raises(SettlementError, match="cannot claim more from the pool than it spent"):
        settle(100.0, 50.0, high_cost=60.0, pool=10.0)


def test_pool_pays_back_cost_above_the_cap_with_settle(tmp_path):
    """Pro rata: claims 90,000 + 10,000 on a pool of 80,000 are paid 72,000 + 8,000 (80%)."""
    pd.DataFrame({"contract": ["X", "Y"], "budget": [500_000, 500_000], "actual": [560_000, 470_000],
                  "high_cost": [90_000, 10_000]}).to_csv(tmp_path / "c.csv", index=False)
    assert main(["settle", "--contracts", str(tmp_path / "c.csv"), "--pool", "80000", "--pool-rule", "pro_rata",
                 "--loss-corridors", "0.02:inf:0.5", "--out", str(tmp_path / "s.csv")]) == 0
    s = pd.read_csv(tmp_path / "s.csv")
    assert s["pool_paid"].tolist() == [72_000.0, 8_000.0]
    # X: net 560,000 - 72,000 = 488,000, a gain of 12,000 (no gain corridor); Y: gain 38,000
    assert s["gain"].tolist() == [12_000.0, 38_000.0] and s["payer_share"].tolist() == [0.0, 0.0]


def test_cli_allocate_path_and_pool(tmp_path):
    TWO.assign(baseline=[540_000, 460_000]).to_csv(tmp_path / "g.csv", index=False)
    assert main(["allocate", "--groups", str(tmp_path / "g.csv"), "--envelope", "1040000,1100000,1200000",
                 "--min-growth", "0", "--max-below-target", "0.15,0.05,0", "--out", str(tmp_path / "p.csv")]) == 0
    p = pd.read_csv(tmp_path / "p.csv")
    assert list(p.columns[:2]) == ["year", "group"] and len(p) == 6
    assert p["allocation"].tolist() == [580_000.0, 460_000.0, 640_000.0, 460_000.0, 720_000.0, 480_000.0]
    TWO.to_csv(tmp_path / "g.csv", index=False)
    assert main(["allocate", "--groups", str(tmp_path / "g.csv"), "--envelope", "1030000", "--high-cost-pool",
                 "30000", "--max-growth", "0.3", "--out", str(tmp_path / "a.csv")]) == 0
    assert pd.read_csv(tmp_path / "a.csv")["allocation"].tolist() == [600_000.0, 400_000.0]


def test_pool_brings_groups_near_their_cost_on_the_sample():
    """The issue's case: budgets fitted to cost capped at 50,000 leave the cost above the cap unfunded;
    a pool top-sliced by that amount and paid back per group brings every group near its cost."""
    from riskadjust import Population
    from riskadjust.calibrate import calibrate
    from riskadjust.settle import high_cost_by_group
    from riskadjust.synthetic import home_model, load_sample

    members, dx = load_sample()
    cap = 50_000.0
    r = calibrate(Population.from_frames(home_model(), members, dx), members["cost"], members["exposure"], cap=cap,
                  min_members=10)
    w = members["exposure"].to_numpy()
    predicted = score(r.model, Population.from_frames(home_model(), members, dx)).raw * r.denominator * w
    by = pd.DataFrame({"group": members["group"], "budget": predicted, "actual": members["cost"]}).groupby("group").sum()
    high = high_cost_by_group(members["cost"], members["group"], cap)  # a member-year here is at most 1 year
    assert high.sum() == pytest.approx(np.maximum(members["cost"] - cap, 0).sum(), rel=1e-12)
    budget = by["budget"].round(2)
    without = settle(budget, by["actual"]).summary
    pool = round(float(high.sum()), 2)
    s = settle(budget, by["actual"], high_cost=high.round(2), pool=pool, contracts=list(by.index))
    funded = (s.summary["budget"] + s.summary["pool_paid"]) / s.summary["actual"]
    before = without["budget"].to_numpy() / without["actual"].to_numpy()
    assert before.min() < 0.93  # without the pool some group is well short of its cost
    assert np.all(np.abs(funded.to_numpy() - 1) < np.abs(before - 1))  # every group nearer its cost
    assert s.pool["balance_pence"] == 0


@pytest.mark.parametrize("command, expected", [
    (["allocate", "--envelope", "1e6", "--unmet-need-share", "2"], "unmet_need_share must be at most 1"),
    (["allocate", "--envelope", "1e6,abc"], "--envelope '1e6,abc': expected a number"),
    (["allocate", "--envelope", "1e6", "--max-growth", "nan"], "max_growth must be a finite number"),
    (["allocate", "--envelope", "1e6", "--high-cost-pool", "2e6"], "the high-cost pool must be smaller"),
    (["allocate", "--envelope", "1e6", "--max-below-target", "0.1,0.2"], "one value per year needs one --envelope"),
    (["settle", "--pool", "nan"], "the pool collected must be a finite number"),
    (["settle", "--pool", "10.001"], "pool: amounts must be whole pennies"),
    (["settle", "--loss-corridors", "0.1:0.05:0.5"], "loss corridor 0 (0.1, 0.05, 0.5): need 0 <= lower < upper"),
    (["settle", "--gain-corridors", "0:1"], "--gain-corridors '0:1': each band is lower:upper:payer_share"),
])
def test_new_options_reject_bad_values_in_one_line(tmp_path, capsys, command, expected):
    TWO.to_csv(tmp_path / "g.csv", index=False)
    pd.DataFrame({"contract": ["X"], "budget": [100], "actual": [120], "high_cost": [30]}).to_csv(
        tmp_path / "c.csv", index=False)
    where = ["--groups", str(tmp_path / "g.csv")] if command[0] == "allocate" else ["--contracts", str(tmp_path / "c.csv")]
    assert main([command[0], *where, *command[1:], "--out", str(tmp_path / "o.csv")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and expected in err and err.count("\n") == 1 and "Warning" not in err
    assert not (tmp_path / "o.csv").exists()
