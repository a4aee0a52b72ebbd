"""The command-line convention and the error hierarchy."""

from __future__ import annotations

import os
import subprocess
import sys

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from _kit import cli
from _kit.errors import EngineError
from _kit.tables import read_table
from _kit.validate import number, numeric_column, reject_unknown_columns, require_columns


def _parser(run):
    p = cli.Parser(prog="tool", examples="  tool --x 1")
    p.add_argument("--x", type=int)
    p.set_defaults(func=run)
    return p


def test_exit_statuses(capsys):
    assert cli.main(_parser(lambda a: cli.OK), ["--x", "1"]) == 0
    assert cli.main(_parser(lambda a: cli.PARTIAL), []) == 2

    def bad(args):
        raise EngineError("budget is not a number", file="budget.csv", line=3, column="budget")

    assert cli.main(_parser(bad), []) == 1
    err = capsys.readouterr().err
    assert err.strip() == "error: budget.csv, line 3, column 'budget': budget is not a number"

    def missing(args):
        open("/no/such/file.csv")

    assert cli.main(_parser(missing), []) == 1
    assert "Traceback" not in capsys.readouterr().err


def test_usage_errors_exit_1_and_help_states_the_statuses(capsys):
    with pytest.raises(SystemExit) as stop:
        _parser(lambda a: 0).parse_args(["--x", "one"])
    assert stop.value.code == 1
    text = _parser(lambda a: 0).format_help()
    assert "exit status:" in text and "2  partial success" in text and "tool --x 1" in text


def test_every_package_error_is_an_engine_error():
    from reserving.errors import TriangleError
    from riskadjust.errors import PopulationError, RiskModelError
    from stoploss.errors import StopLossError

    for cls in (TriangleError, StopLossError, RiskModelError, PopulationError):
        assert issubclass(cls, EngineError)


def test_read_table_names_the_file_for_every_unreadable_input(tmp_path):
    cases = {"empty.csv": b"", "binary.csv": b"a,b\n\xff\xfe,1\n", "bad.parquet": b"not parquet"}
    for name, content in cases.items():
        (tmp_path / name).write_bytes(content)
        with pytest.raises(EngineError, match=name):
            read_table(tmp_path / name, "groups file")
    with pytest.raises(EngineError, match="folder"):
        read_table(tmp_path, "groups file")


def test_validation_messages_name_line_and_column_never_the_value():
    frame = pd.DataFrame({"patient_id": ["SECRET-1", "SECRET-2"], "cost": ["10", "SECRET-2"]})
    with pytest.raises(EngineError) as err:
        numeric_column(frame, "cost", "members.csv")
    assert "line 3" in str(err.value) and "'cost'" in str(err.value) and "SECRET" not in str(err.value)
    with pytest.raises(EngineError, match="'members'"):
        require_columns(frame, ["members"], "groups.csv")
    with pytest.raises(EngineError, match="'cost'"):
        reject_unknown_columns(frame, ["patient_id"], "groups.csv")
    assert numeric_column(pd.DataFrame({"c": [1, None]}), "c", "t", allow_missing=True)[0] == 1.0


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=5), st.none()))
def test_number_accepts_only_finite_values_in_range(value):
    try:
        x = number(value, "cv", low=0.0, high=10.0)
    except EngineError as err:
        assert str(err).startswith("cv must be")
    else:
        assert 0.0 <= x <= 10.0


def test_compile_notice_knows_an_empty_cache(tmp_path):
    """With an empty cache the notice shows; once a kernel of the module is cached, it does not."""
    code = ("import sys; from _kit import progress, random\n"
            "first = progress.compile_notice('the random streams', 5, random)\n"
            "random.stream(random.stream_keys(1, ['x'])[0], 0)\n"
            "print(first, progress.needs_compile(random))")
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path)}
    run = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert run.stdout.split() == ["True", "False"]
    assert "first run: compiling the random streams" in run.stderr
