"""Bad input to every ``python -m riskadjust`` command and public reader: a named error with exit 1, or a
correct result; never a traceback, and never a patient id in a message or an output."""

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from riskadjust import Population
from riskadjust.allocate import allocate
from riskadjust.cli import main
from riskadjust.errors import RiskAdjustError
from riskadjust.synthetic import synthetic_population

SECRET = "SECRETID-"


def _members(n=40):
    members, dx = synthetic_population(n, seed=3)
    ids = {old: f"{SECRET}{i:03d}" for i, old in enumerate(members["patient_id"])}
    return members.assign(patient_id=members["patient_id"].map(ids)), dx.assign(patient_id=dx["patient_id"].map(ids))


def _run(tmp_path, capsys, argv):
    """Run the CLI; return (status, stderr) after checking no id or traceback reached any output (a usage
    error leaves argparse by SystemExit with the status)."""
    try:
        status = main(argv)
    except SystemExit as exc:
        status = exc.code
    out, err = capsys.readouterr()
    assert status in (0, 1)
    assert "Traceback" not in err
    assert SECRET not in out + err
    for path in tmp_path.rglob("*"):
        if path.is_file() and path.name.startswith("out"):
            assert SECRET.encode() not in path.read_bytes()
    return status, err


def _score(tmp_path, capsys, members, dx, *extra):
    m, d = tmp_path / "members.csv", tmp_path / "dx.csv"
    members.to_csv(m, index=False) if isinstance(members, pd.DataFrame) else m.write_bytes(members)
    dx.to_csv(d, index=False) if isinstance(dx, pd.DataFrame) else d.write_bytes(dx)
    return _run(tmp_path, capsys, ["score", "--members", str(m), "--diagnoses", str(d),
                                   "--out", str(tmp_path / "out.csv"), *extra])


def _set(column, row, value):
    def change(frame):
        frame = frame.copy()
        frame[column] = frame[column].astype(object)
        frame.loc[row, column] = value
        return frame
    return change


MEMBER_FAULTS = {
    "age text": (_set("age", 2, "oops"), "column 'age'"),
    "age negative": (_set("age", 2, -4), "column 'age'"),
    "age inf": (_set("age", 2, "inf"), "column 'age'"),
    "age blank": (_set("age", 2, None), "column 'age'"),
    "age huge": (_set("age", 2, 1e300), "column 'age'"),
    "sex is an id": (_set("sex", 1, f"{SECRET}999"), "column 'sex'"),
    "sex blank": (_set("sex", 1, None), "column 'sex'"),
    "segment unknown": (_set("segment", 1, "nowhere"), "column 'segment'"),
    "blank patient id": (_set("patient_id", 4, None), "empty patient_id"),
    "space patient id": (_set("patient_id", 4, "  "), "empty patient_id"),
    "repeated patient id": (_set("patient_id", 4, f"{SECRET}000"), "repeat the same patient_id"),
    "no age column": (lambda f: f.drop(columns="age"), "missing column"),
    "no sex column": (lambda f: f.drop(columns="sex"), "missing column"),
    "no patient_id column": (lambda f: f.drop(columns="patient_id"), "missing column"),
}


@pytest.mark.parametrize("fault", sorted(MEMBER_FAULTS))
def test_score_members_fault_is_a_named_error(tmp_path, capsys, fault):
    change, expected = MEMBER_FAULTS[fault]
    members, dx = _members()
    status, err = _score(tmp_path, capsys, change(members), dx)
    assert status == 1 and expected in err and "members.csv" in err


DX_FAULTS = {
    "blank id joins nobody": (_set("patient_id", 0, None), "empty patient_id"),
    "unknown member": (_set("patient_id", 0, f"{SECRET}777"), "not in members"),
    "no code column": (lambda f: f.drop(columns="code"), "missing column"),
}


@pytest.mark.parametrize("fault", sorted(DX_FAULTS))
def test_score_diagnoses_fault_is_a_named_error(tmp_path, capsys, fault):
    change, expected = DX_FAULTS[fault]
    members, dx = _members()
    status, err = _score(tmp_path, capsys, members, change(dx))
    assert status == 1 and expected in err and "dx.csv" in err


def test_blank_member_id_never_joins_blank_diagnosis_rows(tmp_path, capsys):
    members, dx = _members()
    members = _set("patient_id", 0, None)(members)
    dx = pd.concat([dx, pd.DataFrame({"patient_id": [None], "code": ["I50.9"]})], ignore_index=True)
    status, err = _score(tmp_path, capsys, members, dx)
    assert status == 1 and "empty patient_id" in err


@pytest.mark.parametrize("codes, unmapped, malformed", [(["250.00"], 1, 1), (["4280", "V700"], 2, 1),
                                                       (["Q99.9X"], 1, 0), ([""], 1, 1)])
def test_unknown_and_icd9_codes_are_counted(tmp_path, capsys, codes, unmapped, malformed):
    members, dx = _members()
    extra = pd.DataFrame({"patient_id": [members["patient_id"].iloc[0]] * len(codes), "code": codes})
    base, _ = _score(tmp_path, capsys, members, dx)
    base_warning = capsys.readouterr().err
    status, err = _score(tmp_path, capsys, members, pd.concat([dx, extra], ignore_index=True))
    assert base == status == 0 and "warning:" in err and "column 'code'" in err
    count = int(err.split(" of ")[0].rsplit(" ", 1)[-1])
    before = int(base_warning.split(" of ")[0].rsplit(" ", 1)[-1]) if "warning:" in base_warning else 0
    assert count >= unmapped + before or count == unmapped


@pytest.mark.parametrize("content", [b"", b"\xff\xfe\x00\x01binary\x00", "patient_id,age\n\xe9\n".encode("latin-1"),
                                     b'patient_id,age,sex\n"unclosed,3,F\n'])
def test_unreadable_members_file_is_named(tmp_path, capsys, content):
    _, dx = _members()
    status, err = _score(tmp_path, capsys, content, dx)
    assert status == 1 and "members.csv" in err


@pytest.mark.parametrize("option, value", [("--normalisation", "0"), ("--normalisation", "-1"),
                                           ("--normalisation", "nan"), ("--normalisation", "inf"),
                                           ("--coding-intensity", "1.5"), ("--coding-intensity", "nan"),
                                           ("--normalisation", "oops")])
def test_bad_model_options_are_named(tmp_path, capsys, option, value):
    members, dx = _members()
    status, err = _score(tmp_path, capsys, members, dx, option, value)
    assert status == 1 and option.lstrip("-") in err


def test_missing_model_directory_is_named(tmp_path, capsys):
    members, dx = _members()
    status, err = _score(tmp_path, capsys, members, dx, "--model", str(tmp_path / "nomodel"))
    assert status == 1 and "model.json" in err


def test_model_table_with_text_number_names_file_and_column(tmp_path, capsys, home):
    home.save(tmp_path / "model")
    coefs = pd.read_csv(tmp_path / "model" / "coefficients.csv")
    coefs["coefficient"] = coefs["coefficient"].astype(object)
    coefs.loc[0, "coefficient"] = "oops"
    coefs.to_csv(tmp_path / "model" / "coefficients.csv", index=False)
    members, dx = _members()
    status, err = _score(tmp_path, capsys, members, dx, "--model", str(tmp_path / "model"))
    assert status == 1 and "coefficients table" in err and "column 'coefficient'" in err and "oops" not in err


def test_empty_model_table_is_named(tmp_path, capsys, home):
    home.save(tmp_path / "model")
    (tmp_path / "model" / "cells.csv").write_text("")
    members, dx = _members()
    status, err = _score(tmp_path, capsys, members, dx, "--model", str(tmp_path / "model"))
    assert status == 1 and "cells.csv" in err and "empty" in err


def _allocate(tmp_path, capsys, groups, *extra):
    path = tmp_path / "groups.csv"
    groups.to_csv(path, index=False) if isinstance(groups, pd.DataFrame) else path.write_bytes(groups)
    return _run(tmp_path, capsys, ["allocate", "--groups", str(path), "--out", str(tmp_path / "out.csv"), *extra])


GROUPS = pd.DataFrame({"group": ["A", "B", "C"], "exposure": [1000, 800, 500], "risk": [1.1, 0.9, 1.0],
                       "baseline": [1e6, 7e5, 5e5]})
ALLOCATE_FAULTS = {
    "duplicate group": (_set("group", 2, "A"), [], "one row per group"),
    "exposure text": (_set("exposure", 1, "oops"), [], "column 'exposure'"),
    "risk negative": (_set("risk", 1, -1), [], "column 'risk'"),
    "risk blank": (_set("risk", 1, None), [], "column 'risk'"),
    "exposure inf": (_set("exposure", 1, "inf"), [], "column 'exposure'"),
    "no risk column": (lambda f: f.drop(columns="risk"), [], "missing column"),
    "envelope zero": (lambda f: f, ["--envelope", "0"], "envelope"),
    "envelope nan": (lambda f: f, ["--envelope", "nan"], "envelope"),
    "envelope text": (lambda f: f, ["--envelope", "lots"], "envelope"),
    "max below target 2": (lambda f: f, ["--envelope", "1e6", "--max-below-target", "2"], "max_below_target"),
    "min growth without baseline": (lambda f: f.drop(columns="baseline"), ["--envelope", "1e6", "--min-growth", "0.01"],
                                    "baseline"),
}


@pytest.mark.parametrize("fault", sorted(ALLOCATE_FAULTS))
def test_allocate_fault_is_a_named_error(tmp_path, capsys, fault):
    change, extra, expected = ALLOCATE_FAULTS[fault]
    status, err = _allocate(tmp_path, capsys, change(GROUPS), *(extra or ["--envelope", "2e6"]))
    assert status == 1 and expected in err


def test_allocate_empty_file_is_named(tmp_path, capsys):
    status, err = _allocate(tmp_path, capsys, b"", "--envelope", "1e6")
    assert status == 1 and "groups.csv" in err and "empty" in err


def _settle(tmp_path, capsys, contracts, *extra):
    path = tmp_path / "contracts.csv"
    contracts.to_csv(path, index=False)
    return _run(tmp_path, capsys, ["settle", "--contracts", str(path), "--out", str(tmp_path / "out.csv"), *extra])


CONTRACTS = pd.DataFrame({"contract": ["X", "Y"], "budget": [1e6, 2e6], "actual": [1.1e6, 1.8e6]})
SETTLE_FAULTS = {
    "no actual column": (lambda f: f.drop(columns="actual"), [], "missing column(s) 'actual'"),
    "actual text": (_set("actual", 1, "oops"), [], "column 'actual'"),
    "budget blank": (_set("budget", 0, None), [], "column 'budget'"),
    "budget inf": (_set("budget", 0, "inf"), [], "column 'budget'"),
    "corridors malformed": (lambda f: f, ["--corridors", "0:0.02"], "--corridors"),
    "corridors text": (lambda f: f, ["--corridors", "a:b:c"], "--corridors"),
    "shared savings text": (lambda f: f, ["--shared-savings", "half"], "--shared-savings"),
}


@pytest.mark.parametrize("fault", sorted(SETTLE_FAULTS))
def test_settle_fault_is_a_named_error(tmp_path, capsys, fault):
    change, extra, expected = SETTLE_FAULTS[fault]
    status, err = _settle(tmp_path, capsys, change(CONTRACTS), *extra)
    assert status == 1 and expected in err


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=6), st.none()),
                min_size=1, max_size=4))
def test_allocate_any_exposure_values_end_in_a_result_or_a_named_error(values):
    groups = pd.DataFrame({"group": [f"g{i}" for i in range(len(values))], "exposure": pd.Series(values, dtype=object),
                           "risk": 1.0})
    try:
        r = allocate(groups, 1e6, source="groups.csv")
    except RiskAdjustError as exc:
        assert "groups.csv" in str(exc) or "need" in str(exc)
    else:
        assert abs(r.summary["allocation"].sum() - 1e6) < 1e-3


@settings(max_examples=25, deadline=None)
@given(st.lists(st.one_of(st.integers(-5, 130), st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=5)),
                min_size=1, max_size=4))
def test_population_any_ages_end_in_a_result_or_a_named_error(ages):
    from riskadjust.synthetic import home_model

    members = pd.DataFrame({"patient_id": [f"{SECRET}{i}" for i in range(len(ages))],
                            "age": pd.Series(ages, dtype=object), "sex": "F", "segment": "community"})
    try:
        pop = Population.from_frames(home_model(), members, None, source=("members.csv", "dx.csv"))
    except RiskAdjustError as exc:
        assert SECRET not in str(exc) and "members.csv" in str(exc)
    else:
        assert len(pop) == len(ages)


def test_esrd_members_on_a_community_model_are_counted_in_a_warning(tmp_path, capsys):
    pytest.importorskip("hccinfhir")
    members = pd.DataFrame({"patient_id": [f"{SECRET}1", f"{SECRET}2", f"{SECRET}3"], "age": [70, 72, 50],
                            "sex": ["F", "M", "F"], "orec": ["0", "2", "1"], "crec": ["0", "0", "3"]})
    dx = pd.DataFrame({"patient_id": [f"{SECRET}1"], "code": ["E119"]})
    status, err = _score(tmp_path, capsys, members, dx, "--model", "cms-v28")
    assert status == 0 and "warning:" in err and "2 member(s) have ESRD" in err
