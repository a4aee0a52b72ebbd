"""The package's surface: ``import reserving`` is light, and the methods share one set of factor options."""

import inspect
import subprocess
import sys

from reserving import bootstrap_odp, chain_ladder, mack

FACTOR_OPTIONS = ["average", "n_periods", "drop_high", "drop_low", "exclude"]


def test_import_reserving_does_not_import_duckdb_or_the_application():
    code = ("import reserving, sys; assert 'duckdb' not in sys.modules; "
            "assert not [m for m in sys.modules if m.startswith('reserving.nightly')]")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr


def test_factor_options_are_keyword_only_and_in_one_order():
    defaults = {}
    for method in (chain_ladder, mack, bootstrap_odp):
        params = list(inspect.signature(method).parameters.values())
        assert params[0].name == "tri"
        assert all(p.kind is p.KEYWORD_ONLY for p in params[1:]), method.__name__
        assert [p.name for p in params[1:6]] == FACTOR_OPTIONS, method.__name__
        for p in params[1:6]:
            assert defaults.setdefault(p.name, p.default) == p.default, (method.__name__, p.name)
    assert [p.name for p in list(inspect.signature(mack).parameters.values())[6:]] == ["tail", "sigma", "selections"]
    assert list(inspect.signature(chain_ladder).parameters)[6:] == ["tail", "selections"]
