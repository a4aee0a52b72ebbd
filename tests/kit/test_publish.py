"""Atomic writes and publication: a reader never sees half a file or half a run."""

from __future__ import annotations

import os
import stat

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from _kit.publish import Publication, excel_safe, write_atomic, write_csv, write_table


def _mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def test_write_atomic_leaves_no_temporary_file_and_an_ordinary_mode(tmp_path):
    old = os.umask(0o022)
    try:
        write_atomic(tmp_path / "a.txt", lambda p: p.write_text("new"))
    finally:
        os.umask(old)
    assert (tmp_path / "a.txt").read_text() == "new"
    assert os.listdir(tmp_path) == ["a.txt"]
    assert _mode(tmp_path / "a.txt") == 0o644


def test_a_failed_write_keeps_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "a.txt"
    target.write_text("old")

    def fail(p):
        p.write_text("half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        write_atomic(target, fail)
    assert target.read_text() == "old" and os.listdir(tmp_path) == ["a.txt"]


def test_publication_publishes_all_or_nothing(tmp_path):
    (tmp_path / "a.csv").write_text("old a")
    (tmp_path / "b.csv").write_text("old b")
    with pytest.raises(RuntimeError):
        with Publication(tmp_path) as pub:
            pub.path("a.csv").write_text("new a")
            raise RuntimeError("the run failed before publishing")
    assert sorted(os.listdir(tmp_path)) == ["a.csv", "b.csv"]
    assert (tmp_path / "a.csv").read_text() == "old a"
    with Publication(tmp_path) as pub:
        pub.path("a.csv").write_text("new a")
        write_csv(pd.DataFrame({"x": [1]}), pub.path("c.csv"))
        assert (tmp_path / "a.csv").read_text() == "old a"
        done = pub.publish()
    assert [p.name for p in done] == ["a.csv", "c.csv"]
    assert sorted(os.listdir(tmp_path)) == ["a.csv", "b.csv", "c.csv"]
    assert (tmp_path / "a.csv").read_text() == "new a" and (tmp_path / "b.csv").read_text() == "old b"


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(max_size=8), min_size=1, max_size=6))
def test_no_text_cell_can_start_a_formula(cells):
    safe = excel_safe(pd.DataFrame({"name": cells, "amount": range(len(cells))}))
    for written, original in zip(safe["name"], cells):
        risky = original.startswith(("=", "+", "-", "@", "\t", "\r"))
        assert written == ("'" + original if risky else original)
    assert safe["amount"].tolist() == list(range(len(cells)))


def test_written_csv_reads_back_neutralised(tmp_path):
    cells = ["=HYPERLINK(\"x\")", "+44", "-1", "@A1", "north", "a=b"]
    write_table(pd.DataFrame({"name": cells, "amount": [-1.5] * 6}), tmp_path / "t.csv")
    back = pd.read_csv(tmp_path / "t.csv", dtype={"name": str})
    assert back["name"].tolist() == ["'=HYPERLINK(\"x\")", "'+44", "'-1", "'@A1", "north", "a=b"]
    assert back["amount"].tolist() == [-1.5] * 6


def test_numbers_are_left_alone_and_index_labels_are_neutralised():
    frame = pd.DataFrame({"v": [-1.0]}, index=pd.Index(["@SUM(A1)"], name="group"))
    safe = excel_safe(frame)
    assert safe["v"].tolist() == [-1.0] and safe.index.tolist() == ["'@SUM(A1)"]
