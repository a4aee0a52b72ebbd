"""Allocation and settlement on hand-worked examples (arithmetic shown in comments)."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import example, given, settings, strategies as st

from _kit.errors import EngineError
from riskadjust import PopulationError, RiskAdjustError, RiskModelError
from riskadjust.allocate import AllocationError, allocate, to_pennies
from riskadjust.settle import SettlementError, SharedSavings, settle

GROUPS = pd.DataFrame({"group": ["A", "B", "C"], "exposure": [1000.0, 2000.0, 1000.0],
                       "risk": [1.5, 1.0, 0.5], "area_factor": [1.0, 1.1, 0.9],
                       "baseline": [300_000.0, 520_000.0, 180_000.0]})
# need = 1500, 2200, 450 (total 4150); envelope 1,037,500 -> target = 250 per unit of need


def test_targets_without_pace_of_change():
    r = allocate(GROUPS, 1_037_500)
    assert r.summary["target"].tolist() == pytest.approx([375_000, 550_000, 112_500])
    assert r.summary["allocation"].tolist() == [375_000, 550_000, 112_500]
    # baseline distance from target: A (300000-375000)/375000 = -20%, C +60%
    assert r.summary["baseline_distance_from_target"].tolist() == pytest.approx([-0.2, 520 / 550 - 1, 0.6])


def test_pace_of_change_hand_worked():
    # floors: baseline x 1.01 = 303000, 525200, 181800; A also >= 375000 x (1 - 0.15) = 318750
    # floors = 318750, 525200, 181800 -> 1,025,750; left = 11,750
    # gaps to target: A 56,250, B 24,800, C 0 (total 81,050); left < gaps, so each closes 11750/81050
    r = allocate(GROUPS, 1_037_500, min_growth=0.01, max_below_target=0.15)
    f = 11_750 / 81_050
    want = [318_750 + f * 56_250, 525_200 + f * 24_800, 181_800]
    assert r.summary["allocation"].to_numpy() == pytest.approx(want, abs=0.01)
    assert round(r.summary["allocation"].sum(), 2) == 1_037_500
    assert r.summary["growth"].min() >= 0.01 - 1e-6
    assert r.summary["distance_from_target"]["A"] >= -0.15 - 1e-9


def test_groups_above_target_keep_their_floor():
    # envelope 1.2m: targets 1.2m x (1500, 2200, 450) / 4150 = 433,734.94, 636,144.58, 130,120.48
    # floors 303,000, 525,200, 181,800 (C is above target); left = 190,000
    # gaps A 130,734.94, B 110,944.58 -> each closes 190,000 / 241,679.52 of its gap
    r = allocate(GROUPS, 1_200_000, min_growth=0.01)
    t = 1_200_000 * np.array([1500, 2200, 450]) / 4150
    gaps = t[:2] - np.array([303_000, 525_200])
    want = np.array([303_000, 525_200]) + 190_000 * gaps / gaps.sum()
    assert r.summary["allocation"].to_numpy()[:2] == pytest.approx(want, abs=0.01)
    assert r.summary["allocation"]["C"] == 181_800


def test_infeasible_floors_say_what_to_do():
    with pytest.raises(AllocationError, match="lower min_growth"):
        allocate(GROUPS, 1_000_000, min_growth=0.05)


@pytest.mark.parametrize("value", [np.nan, np.inf, -1.0])
def test_bad_baseline_is_named(value):
    g = GROUPS.assign(baseline=[300_000.0, value, 180_000.0])
    with pytest.raises(AllocationError, match=r"^groups, column 'baseline': .* \(row 1\)$"):
        allocate(g, 1_037_500, min_growth=0.01)
    with pytest.raises(AllocationError, match=r"^g\.csv, line 3, column 'baseline': "):
        allocate(g, 1_037_500, source="g.csv")


@pytest.mark.parametrize("envelope", [-1_000.0, 0.0, np.nan, np.inf])
def test_envelope_must_be_positive(envelope):
    with pytest.raises(AllocationError, match="^envelope must be (above 0|a finite number)"):
        allocate(GROUPS, envelope)


@pytest.mark.parametrize("amounts", [[1.0, np.nan], [1.0, np.inf], [1.0, -0.5], [0.0, 0.0]])
def test_pennies_reject_bad_amounts(amounts):
    with pytest.raises(AllocationError, match="finite"):
        to_pennies(np.array(amounts), 100.0)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.floats(0.001, 1e7), min_size=1, max_size=30), st.integers(1, 10**11))
@example([1.0, 1.0, 1.0], 48_182_843_842)  # broke the float-pounds version
def test_pennies_sum_exactly(amounts, cents):
    out = to_pennies(np.array(amounts), cents / 100)
    assert out.dtype == np.int64
    assert int(out.sum()) == cents
    exact = np.array(amounts) * cents / np.sum(amounts)
    assert np.all(np.abs(out - exact) < 1 + 1e-6 * cents)


def test_national_envelope_is_exact_in_pence():
    """A 150bn envelope between 3 groups: floats in pounds could not hold every penny."""
    g = pd.DataFrame({"group": ["A", "B", "C"], "exposure": [1.0, 1.0, 1.0], "risk": [1.0, 1.0, 1.0]})
    s = allocate(g, 150_000_000_000.01).summary
    assert s["allocation_pence"].tolist() == [5_000_000_000_001, 5_000_000_000_000, 5_000_000_000_000]
    assert int(s["allocation_pence"].sum()) == 15_000_000_000_001


CORRIDORS = [(0.0, 0.02, 0.0), (0.02, 0.05, 0.5), (0.05, float("inf"), 0.8)]


def test_loss_with_corridors_withhold_and_carve_outs():
    # net = 1,100,000 - 20,000 = 1,080,000; gain = -80,000 (8% of budget)
    # payer: 0 on 0-20k, 50% of 20k-50k = 15,000, 80% of 50k-80k = 24,000 -> 39,000 of the loss
    # withheld 100,000 all released: due to provider = 100,000 + 39,000
    s = settle(1_000_000, 1_100_000, withhold=0.10, carve_outs=20_000, corridors=CORRIDORS).summary.iloc[0]
    assert s["gain"] == -80_000
    assert s["payer_share"] == pytest.approx(-39_000)
    assert s["due_to_provider"] == pytest.approx(139_000)
    assert s["due_to_payer"] == 0
    assert s["provider_result"] == pytest.approx(-41_000)


def test_gain_with_corridors_owed_back_to_payer():
    # gain = 1,000,000 - 930,000 = 70,000: payer takes 15,000 + 80% x 20,000 = 31,000; no withhold
    s = settle(1_000_000, 930_000, corridors=CORRIDORS).summary.iloc[0]
    assert s["payer_share"] == pytest.approx(31_000)
    assert s["due_to_payer"] == pytest.approx(31_000)
    assert s["provider_result"] == pytest.approx(39_000)


def test_shared_savings_minimum_cap_and_quality_withhold():
    terms = SharedSavings(rate=0.5, minimum_rate=0.02, cap_rate=0.04)
    r = settle([1_000_000] * 3, [940_000, 990_000, 880_000], withhold=0.15, withhold_returned=[1.0, 1.0, 0.6],
               shared_savings=terms, corridors=CORRIDORS)
    s = r.summary
    # 1: gain 60,000 >= 20,000: provider keeps 30,000 (cap 40,000); payer 30,000; due 150,000 - 30,000
    # 2: gain 10,000 < 20,000: provider keeps nothing; due 150,000 - 10,000
    # 3: gain 120,000: keeps min(60,000, 40,000); payer 80,000; 60% of 150,000 released = 90,000 - 80,000
    assert s["payer_share"].tolist() == pytest.approx([30_000, 10_000, 80_000])
    assert s["due_to_provider"].tolist() == pytest.approx([120_000, 140_000, 10_000])
    assert s["provider_result"].tolist() == pytest.approx([30_000, 0, 40_000 - 60_000])
    assert r.totals["due_to_provider"] == pytest.approx(270_000)


def test_errors_share_the_package_base():
    """Every riskadjust error is a RiskAdjustError, hence an EngineError the command line reports."""
    for cls in (AllocationError, SettlementError, PopulationError, RiskModelError):
        assert issubclass(cls, RiskAdjustError)
    assert issubclass(RiskAdjustError, EngineError)


def test_overlapping_corridors_rejected():
    with pytest.raises(SettlementError, match="inside the previous band"):
        settle(1.0, 1.0, corridors=[(0.0, 0.05, 0.5), (0.03, 0.1, 0.5)])
