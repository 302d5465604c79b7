"""Strict readers and atomic writers.

Readers fail loudly with file and line; writers never leave a half-written file behind
(write to a temporary file in the same folder, fsync, then ``os.replace``).
"""

from __future__ import annotations

import contextlib
import hashlib
import io as _io
import json
import os
import re
import tempfile
from pathlib import Path
from typing import Any, Iterator

from .errors import DataError


def read_text_strict(path: str | Path) -> str:
    """Return the file's text; non-UTF-8 bytes raise DataError naming the line and byte offset."""
    path = Path(path)
    if not path.exists():
        raise DataError(path, "file does not exist")
    data = path.read_bytes()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise DataError(path, f"not valid UTF-8 (byte 0x{data[exc.start]:02x} at offset {exc.start}); "
                              "expected UTF-8 text", line=line) from None


def read_jsonl(path: str | Path, required: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    """Read a JSON Lines file: one JSON object per non-blank line.

    Raises DataError for an empty file, non-UTF-8 bytes, a line that is not JSON, a line that is
    not an object, or an object missing one of ``required`` keys.
    """
    path = Path(path)
    text = read_text_strict(path)
    rows: list[dict[str, Any]] = []
    # split on "\n" only: str.splitlines would also split inside strings holding U+2028 etc.
    for lineno, line in enumerate(text.split("\n"), start=1):
        line = line.rstrip("\r")
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataError(path, f"corrupt JSON ({exc.msg} at column {exc.colno}); "
                                  "expected one JSON object per line", line=lineno) from None
        if not isinstance(obj, dict):
            raise DataError(path, f"expected a JSON object, got {type(obj).__name__}", line=lineno)
        missing = [k for k in required if k not in obj]
        if missing:
            raise DataError(path, f"missing field(s) {', '.join(repr(m) for m in missing)}; "
                                  f"expected fields {list(required)}", line=lineno)
        obj["_line"] = lineno
        rows.append(obj)
    if not rows:
        raise DataError(path, "file is empty; expected at least one JSON line")
    return rows


_UMASK = os.umask(0)
os.umask(_UMASK)


@contextlib.contextmanager
def atomic_open(path: str | Path, mode: str = "w", encoding: str | None = "utf-8") -> Iterator[Any]:
    """Open a temporary sibling of ``path`` for writing; it replaces ``path`` only on success."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; give the file the mode a plain open() would
    binary = "b" in mode
    try:
        with os.fdopen(fd, mode, **({} if binary else {"encoding": encoding, "newline": ""})) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


_TEMP_NAME = re.compile(r"^\.(?P<target>.+)\.[a-z0-9_]{8}\.tmp$")


def unfinished_write_of(name: str) -> str | None:
    """The file an :func:`atomic_open` temporary named ``name`` was writing (a process killed mid-write
    leaves it behind), or None when ``name`` is no such temporary."""
    m = _TEMP_NAME.match(name)
    return m.group("target") if m else None


def write_text_atomic(path: str | Path, text: str) -> Path:
    with atomic_open(path, "w") as fh:
        fh.write(text)
    return Path(path)


def write_bytes_atomic(path: str | Path, data: bytes) -> Path:
    with atomic_open(path, "wb", encoding=None) as fh:
        fh.write(data)
    return Path(path)


def write_json_atomic(path: str | Path, obj: Any) -> Path:
    """Deterministic JSON: sorted keys, two-space indent, trailing newline."""
    return write_text_atomic(path, json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False) + "\n")


def write_csv_atomic(df, path: str | Path) -> Path:
    """Write a DataFrame as CSV without its index. Floats use repr (round-trip exact)."""
    buf = _io.StringIO()
    df.to_csv(buf, index=False, lineterminator="\n")
    return write_text_atomic(path, buf.getvalue())


_HASH_CACHE: dict[tuple[str, int, int], str] = {}


def sha256_file(path: str | Path) -> str:
    """sha256 of a file's bytes, memoised on (path, size, mtime) within the process."""
    path = Path(path)
    st = path.stat()
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns)
    if key not in _HASH_CACHE:
        h = hashlib.sha256()
        with open(path, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
        _HASH_CACHE[key] = h.hexdigest()
    return _HASH_CACHE[key]


def read_csv_checked(path: str | Path, columns: list[str]):
    """A results CSV that must exist and have ``columns`` (DataError naming the file otherwise)."""
    import pandas as pd

    path = Path(path)
    if not path.exists():
        raise DataError(path, "file not found (run the notebook or command that writes it first)")
    df = pd.read_csv(path)
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise DataError(path, f"missing column(s) {missing}; expected at least {columns}", line=1)
    return df


class Table:
    """A table a notebook shows whole: no cell cut at pandas' 50 characters (a claim or its measurement is one
    sentence), no index column. ``frame`` is the DataFrame."""

    def __init__(self, frame):
        self.frame = frame

    def _repr_html_(self) -> str:
        return self.frame.to_html(index=False, na_rep="", border=0)

    def __repr__(self) -> str:
        return self.frame.to_string(index=False, na_rep="", max_colwidth=None)
