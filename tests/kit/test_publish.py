"""Atomic publication: a failed write leaves the previous file and no temporary file behind."""

from __future__ import annotations

import pandas as pd
import pytest

from _kit.publish import Publication, write_atomic, write_csv


def test_write_atomic_removes_the_temporary_file_when_writing_fails(tmp_path):
    target = tmp_path / "out.csv"
    target.write_text("old", encoding="utf-8")

    def fails(p):
        p.write_text("partial", encoding="utf-8")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        write_atomic(target, fails)
    assert target.read_text(encoding="utf-8") == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.csv"]
    write_atomic(target, lambda p: p.write_text("new", encoding="utf-8"))
    assert target.read_text(encoding="utf-8") == "new" and sorted(p.name for p in tmp_path.iterdir()) == ["out.csv"]


def test_a_failed_publication_leaves_the_previous_outputs(tmp_path):
    (tmp_path / "a.csv").write_text("old", encoding="utf-8")
    with pytest.raises(RuntimeError), Publication(tmp_path) as pub:
        write_csv(pd.DataFrame({"group": ["=cmd()"]}), pub.path("a.csv"))
        raise RuntimeError("the report failed")
    assert (tmp_path / "a.csv").read_text(encoding="utf-8") == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.csv"]
