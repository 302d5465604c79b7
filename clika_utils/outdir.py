"""Output folders a command owns: names that become paths, foreign files, one writer at a time.

Every command that writes results (``clika evaluate``, ``clika train``, ``clika score``) goes through
this module:

* :func:`safe_name` — a name that becomes a file or folder name (``--system``, a job name, a language)
  must be one plain component: no separator, no ``..``, not absolute, no control character.
* :func:`claim` — an existing output folder must be a writable folder;
  when it holds files this command did not write (``ours`` says which are its), it is refused unless
  the user says ``--overwrite`` (the convention of transformers' ``overwrite_output_dir``). The
  temporary of an atomic write a killed run did not finish counts as the file it was writing.
* :func:`locked` — a lock file (the ``filelock`` package, as the Hugging Face libraries use) refuses a
  second concurrent run on the same folder with a clear message instead of interleaving their lines;
  once the lock is held, such unfinished writes are removed (no other writer can own them then).
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path
from typing import Callable

from .errors import ConfigError
from .io import unfinished_write_of

LOCK_NAME = ".clika.lock"


def safe_name(value: str, what: str) -> str:
    """``value`` if it is one plain path component, else a ConfigError naming ``what``."""
    if (not isinstance(value, str) or not value.strip() or value in (".", "..") or "/" in value or "\\" in value
            or os.path.isabs(value) or any(ord(c) < 32 for c in value) or value != value.strip()):
        raise ConfigError(f"{what} {value!r} cannot name a file: expected one plain name without '/', '\\\\', "
                          "'..', surrounding spaces or control characters")
    return value


def system_name(label: str, variant: str) -> str:
    """A live system's name ``<label>_<variant>`` (method or trained variant), which also names its
    files and folders: one plain path component."""
    return safe_name(f"{label}_{variant}", "label")


def _writable_folder(path: Path) -> Path:
    if path.exists() and not path.is_dir():
        raise ConfigError(f"{path}: is a file; expected an output folder")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ConfigError(f"{path}: cannot create the output folder ({e.strerror})") from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise ConfigError(f"{path}: the output folder is not writable")
    return path


def _unfinished_ours(entry: Path, ours: Callable[[Path], bool]) -> bool:
    """Whether ``entry`` is an atomic-write temporary of a file ``ours`` accepts (left by a killed run)."""
    target = unfinished_write_of(entry.name)
    return target is not None and ours(entry.parent / target)


def claim(path, ours: Callable[[Path], bool], *, what: str, overwrite: bool = False) -> Path:
    """Create or check the output folder ``path``. Entries for which ``ours(entry)`` is false are files
    this command did not write: their presence refuses the folder unless ``overwrite``."""
    path = Path(path)
    if not path.exists():
        return path                       # created by :func:`locked`, which removes it again if the run fails
    path = _writable_folder(path)
    foreign = sorted(p.name for p in path.iterdir()
                     if p.name != LOCK_NAME and not ours(p) and not _unfinished_ours(p, ours))
    if foreign and not overwrite:
        shown = ", ".join(foreign[:5]) + (f" and {len(foreign) - 5} more" if len(foreign) > 5 else "")
        raise ConfigError(f"{path}: holds files that {what} did not write ({shown}); choose an empty or new "
                          "folder, or pass --overwrite to write into it anyway")
    return path


def acquire(lock_file: Path, refusal: str):
    """The lock ``lock_file``, held now (the caller releases it), or ``ConfigError(refusal)`` at once when another
    process holds it."""
    from filelock import FileLock, Timeout

    lock = FileLock(str(lock_file))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        raise ConfigError(refusal) from None
    return lock


@contextmanager
def locked(path, what: str):
    """Hold the folder's lock while the body runs; a second holder is refused at once."""
    path = Path(path)
    created = not path.exists()
    path = _writable_folder(path)
    lock = acquire(path / LOCK_NAME, f"{path}: another {what} is writing into this folder (lock {path / LOCK_NAME}); "
                   "wait for it to finish or use another folder")
    for leftover in path.glob(".*.tmp"):       # writes a killed holder of this lock did not finish
        if leftover.is_file() and unfinished_write_of(leftover.name):
            leftover.unlink()
    ok = False
    try:
        yield path
        ok = True
    finally:
        lock.release()
        if not ok and created and [p.name for p in path.iterdir()] == [LOCK_NAME]:
            (path / LOCK_NAME).unlink()     # a failed first run leaves no folder behind
            path.rmdir()
