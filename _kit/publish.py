"""Writing outputs so that a reader never sees half a file or half a run.

:func:`write_atomic` writes one file under a hidden temporary name beside the target and renames
it into place (``os.replace`` is atomic on one file system); the temporary file is removed if the
writer fails. :class:`Publication` stages a run's files in a hidden folder inside the output
folder, then moves them into place one by one when the run has succeeded, so a failed run leaves
the previous set untouched. Files get ordinary modes (``0666`` less the umask), as any other file
the user writes.

CSV files written here are safe to open in a spreadsheet: :func:`write_csv` neutralises text cells
that a spreadsheet would read as a formula (see :func:`excel_safe`).

A run killed while publishing leaves its staging folder behind; :meth:`Publication.leftovers`
finds such folders and :meth:`Publication.resume` finishes one, so the caller can roll a run
forward once it knows the run was committed (or discard it). :func:`checkpoint` marks the points
where the tests kill a run (``ENGINE_KILL_AT``).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import uuid
from pathlib import Path

import pandas as pd

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
#: Environment variable naming the :func:`checkpoint` at which the process kills itself.
KILL_AT = "ENGINE_KILL_AT"
_STAGING = ".staging-"


def checkpoint(name: str) -> None:
    """A named point of a run where a kill is tested: the process sends itself SIGKILL here when
    the environment variable :data:`KILL_AT` equals ``name``; otherwise nothing happens."""
    if os.environ.get(KILL_AT) == name:
        os.kill(os.getpid(), signal.SIGKILL)


def _mode() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def write_atomic(path, write) -> Path:
    """Call ``write(tmp)`` on a temporary path beside ``path``, then rename it onto ``path``.

    The temporary file is hidden (``.NAME.<random>.tmp``), removed if ``write`` fails, and the
    result has an ordinary file mode. Returns ``path``.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> target = pathlib.Path(tempfile.mkdtemp()) / "a.txt"
    >>> write_atomic(target, lambda p: p.write_text("hello")).read_text()
    'hello'
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:12]}.tmp")
    try:
        write(tmp)
        os.chmod(tmp, _mode())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def _neutral(value):
    """``value`` with a leading quote when it is text a spreadsheet would read as a formula."""
    return "'" + value if isinstance(value, str) and value.startswith(_FORMULA_START) else value


def excel_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` whose text cells cannot start a spreadsheet formula.

    A text cell starting with ``= + - @``, a tab or a carriage return is prefixed with a single
    quote (OWASP's advice on CSV injection); numbers are left as they are.

    Examples
    --------
    >>> excel_safe(pd.DataFrame({"name": ["=1+1", "north"], "x": [-1.5, 2.0]})).to_dict("list")
    {'name': ["'=1+1", 'north'], 'x': [-1.5, 2.0]}
    """
    out = frame.copy()
    for col in out.columns:
        if not pd.api.types.is_numeric_dtype(out[col]):
            out[col] = out[col].map(_neutral)
    if isinstance(out.index, pd.MultiIndex):
        out.index = out.index.map(lambda v: tuple(_neutral(x) for x in v))
    elif not pd.api.types.is_numeric_dtype(out.index):
        out.index = out.index.map(_neutral)
    return out


def write_csv(frame: pd.DataFrame, path, index: bool = False) -> Path:
    """Write ``frame`` as UTF-8 CSV, atomically and safe to open in a spreadsheet.

    Numbers are written to 15 significant digits, so binary noise does not reach the reader
    (``25084.97``, not ``25084.969999999998``); that is below a penny on any budget.
    """
    safe = excel_safe(frame)
    return write_atomic(path, lambda p: safe.to_csv(p, index=index, float_format="%.15g"))


def write_table(frame: pd.DataFrame, path, index: bool = False) -> Path:
    """Write ``frame`` to ``.parquet`` or (any other suffix) CSV, atomically; see :func:`write_csv`."""
    path = Path(path)
    if path.suffix.lower() in (".parquet", ".pq"):
        return write_atomic(path, lambda p: frame.to_parquet(p, index=index))
    return write_csv(frame, path, index=index)


def write_text(text: str, path) -> Path:
    """Write ``text`` as UTF-8, atomically."""
    return write_atomic(path, lambda p: p.write_text(text, encoding="utf-8"))


def write_json(data, path) -> Path:
    """Write ``data`` as indented JSON (values JSON cannot hold are written as text), atomically."""
    return write_text(json.dumps(data, indent=1, default=str), path)


class Publication:
    """A run's outputs, staged in a hidden folder and published together.

    Write each output with :meth:`path` (where to write it while staged), then call
    :meth:`publish` once everything, including any database commit, has succeeded; or
    :meth:`discard` (also done on leaving a ``with`` block by an exception). Publishing moves each
    staged file onto its final name with an atomic rename, so every published file is complete;
    a file of the previous run that this run does not write is left as it was.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> out = pathlib.Path(tempfile.mkdtemp())
    >>> with Publication(out) as pub:
    ...     _ = pub.path("a.csv").write_text("x\\n1\\n")
    ...     published = pub.publish()
    >>> sorted(p.name for p in out.iterdir()), [p.name for p in published]
    (['a.csv'], ['a.csv'])
    """

    def __init__(self, out_dir, staging=None):
        self.out_dir = Path(out_dir)
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self._names: list[str] = []
        if staging is None:
            self.staging = self.out_dir / f"{_STAGING}{uuid.uuid4().hex[:12]}"
            self.staging.mkdir()
        else:
            self.staging = Path(staging)
            staged = [p for p in self.staging.iterdir() if not p.name.startswith(".")]
            self._names = [p.name for p in sorted(staged, key=lambda p: p.stat().st_mtime_ns)]

    @staticmethod
    def leftovers(out_dir) -> list[Path]:
        """Staging folders left in ``out_dir`` by runs killed before they published or discarded."""
        out_dir = Path(out_dir)
        if not out_dir.is_dir():
            return []
        return sorted((p for p in out_dir.iterdir() if p.is_dir() and p.name.startswith(_STAGING)),
                      key=lambda p: p.stat().st_mtime_ns)

    @property
    def label(self) -> str | None:
        """What the caller named this publication (e.g. its run id; kept in the staging folder so
        a left-over folder can be matched to its run), or None."""
        mark = self.staging / ".label"
        return mark.read_text(encoding="utf-8") if mark.exists() else None

    @label.setter
    def label(self, text: str) -> None:
        write_text(text, self.staging / ".label")

    @classmethod
    def resume(cls, staging) -> "Publication":
        """The publication of a left-over staging folder; its files publish in the order they were
        staged (by modification time)."""
        staging = Path(staging)
        return cls(staging.parent, staging=staging)

    def path(self, name: str) -> Path:
        """Where to write output ``name`` (a file name inside the output folder) while staged."""
        checkpoint(f"stage:{name}")
        if name not in self._names:
            self._names.append(name)
        return self.staging / name

    def final(self, name: str) -> Path:
        """Where output ``name`` will be once published."""
        return self.out_dir / name

    def publish(self) -> list[Path]:
        """Move every staged file into place; returns the published paths in the order staged."""
        mode = _mode()
        done = []
        for name in self._names:
            staged = self.staging / name
            if staged.exists():
                checkpoint(f"publish:{name}")
                os.chmod(staged, mode)
                os.replace(staged, self.out_dir / name)
                done.append(self.out_dir / name)
        self.discard()
        return done

    def discard(self) -> None:
        """Remove the staging folder and whatever is in it."""
        shutil.rmtree(self.staging, ignore_errors=True)

    def __enter__(self) -> "Publication":
        return self

    def __exit__(self, *exc) -> None:
        self.discard()
