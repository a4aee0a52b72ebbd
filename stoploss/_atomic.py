"""Atomic file output for the command line: write to ``NAME.tmp`` beside the target, then os.replace."""

from __future__ import annotations

import os
from pathlib import Path


def write_atomic(path: Path, write) -> None:
    """Call ``write(tmp_path)`` and move the result onto ``path``; the temporary file is removed
    if writing fails, so a failed run leaves neither a partial output nor a stray ``.tmp``."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
