"""Output folders a command owns: names that become paths, foreign files, one writer at a time.

Every command that writes results (``clika evaluate``, ``clika train``, ``clika score``) goes through
this module:

* :func:`safe_name` — a name that becomes a file or folder name (``--system``, a job name, a language)
  must be one plain component: no separator, no ``..``, not absolute, no control character.
* :func:`claim` — an existing output folder must be a writable folder whose every file, at every depth, is
  one a clika command wrote: recorded in the folder's ledger (:class:`Ledger`, ``.clika-files.json``) with the
  sha256 it was written with (or as being written by a run that was killed), or the temporary of an atomic
  write a killed run did not finish. Ownership is decided by content, never by file names: a user's
  ``items.csv`` is not the command's because of its name. Anything else is the user's, and the folder is
  refused unless ``--overwrite`` (the convention of transformers' ``overwrite_output_dir``), which *starts
  clean*: the command's own earlier files (of the same owner, e.g. one system) are removed and the user's
  files are moved, untouched, into a backup folder inside the output folder — nothing of the user's is deleted
  or mixed with what the run writes. One owner (a system name) has one writer: ``clika evaluate`` does not
  add to what ``clika lm-eval import`` wrote for that system, or the reverse, without ``--overwrite``.
  Folders written before the ledger existed are adopted only where content proves it (``adopt``: e.g. a
  results table whose provenance sidecar records its sha256).
* :func:`locked` — a lock file (the ``filelock`` package, as the Hugging Face libraries use) refuses a
  second concurrent run on the same folder with a clear message instead of interleaving their lines;
  once the lock is held, such unfinished writes are removed (no other writer can own them then).
"""

from __future__ import annotations

import json
import os
import shutil
from contextlib import contextmanager
from pathlib import Path
from typing import Callable

from .errors import ConfigError, warn
from .io import sha256_file, unfinished_write_of, write_json_atomic

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


LEDGER_NAME = ".clika-files.json"
BACKUP_PREFIX = ".clika-backup-"
BACKUP_WRITER = "backup"


_SEEN: dict[tuple, str] = {}      #: (path, inode, size, mtime in ns) -> sha256, for this process


def _current_sha(path: Path) -> str:
    """sha256 of ``path``, hashed again only when its inode, size or modification time (ns) changed since this process
    last hashed it: a shared folder (09's cache, 182 MB) is checked at every claim, 40 claims a cpu run of 09."""
    st = path.stat()
    key = (str(path), st.st_ino, st.st_size, st.st_mtime_ns)
    if key not in _SEEN:
        _SEEN[key] = sha256_file(path)
    return _SEEN[key]


def _digest(path: Path) -> str:
    """What a ledger records of a written path: its sha256, or "tree" for a folder (covers all below it)."""
    return "tree" if path.is_dir() else sha256_file(path)


class Ledger:
    """What clika commands wrote into an output folder (``<root>/.clika-files.json``): per relative path the
    writer (``"clika score"``, …), the owner (a system name, or ``""``) and the sha256 it was written with —
    ``None`` while a run is still writing it (a killed run's file stays its own) — or ``"tree"`` entries that
    cover everything under a folder (a training job's model and checkpoints, a backup)."""

    def __init__(self, root):
        self.root = Path(root)
        self.path = self.root / LEDGER_NAME
        self.files: dict[str, dict] = {}
        self.found = self.path.exists()
        if self.found:
            try:
                data = json.loads(self.path.read_text(encoding="utf-8"))
                files = data["files"]
                if not isinstance(files, dict) or not all(isinstance(v, dict) for v in files.values()):
                    raise TypeError
            except (OSError, ValueError, KeyError, TypeError):
                raise ConfigError(f"{self.path}: not a clika ledger (damaged or not written by clika); remove the "
                                  "folder's damaged ledger only if every file in the folder is clika's, or use "
                                  "another folder") from None
            self.files = files

    def rel(self, path) -> str:
        """``path`` (a file-system path) relative to the root, '/'-separated."""
        rel = Path(os.path.relpath(os.path.abspath(path), os.path.abspath(self.root)))
        if rel.parts[:1] == ("..",):
            raise ValueError(f"{path} is outside {self.root}")
        return rel.as_posix()

    def entry(self, rel: str) -> dict | None:
        """The record covering ``rel`` (its own, or a tree entry above it)."""
        if rel in self.files:
            return self.files[rel]
        parts = rel.split("/")
        for k in range(len(parts) - 1, 0, -1):
            e = self.files.get("/".join(parts[:k]))
            if e is not None and e.get("sha256") == "tree":
                return e
        return None

    def _put(self, paths, writer: str, owner: str, sha) -> None:
        for p in map(Path, paths):
            self.files[self.rel(p)] = {"writer": writer, "owner": owner, "sha256": sha(p)}

    def pending(self, paths, *, writer: str, owner: str = "") -> None:
        """Record ``paths`` as being written (before a run appends to them) and save."""
        self._put(paths, writer, owner, lambda p: None)
        self.save()

    def record(self, paths, *, writer: str, owner: str = "") -> None:
        """Record ``paths`` as written, with their sha256 (a folder: as a tree), and save."""
        self._put(paths, writer, owner, _digest)
        self.save()

    def save(self) -> None:
        """Write the ledger (not when it is unchanged: a reused job or result leaves its folder untouched)."""
        if self.root.is_dir():
            data = {"format": 1, "files": dict(sorted(self.files.items()))}
            try:
                if json.loads(self.path.read_text(encoding="utf-8")) == data:
                    return
            except (OSError, ValueError):
                pass
            write_json_atomic(self.path, data)
            self.found = True

    @contextmanager
    def writing(self, paths, *, writer: str, owner: str = ""):
        """Record ``paths`` as being written, yield them for the caller to write, then record their hashes (a
        failure or kill in between leaves them this writer's unfinished files, never the user's)."""
        paths = [Path(p) for p in paths]
        self.pending(paths, writer=writer, owner=owner)
        yield paths
        self.record(paths, writer=writer, owner=owner)

    def trees(self, paths, *, writer: str, owner: str = "") -> None:
        """Record the folders ``paths`` (existing or not yet) as wholly this writer's — a training job's model and
        checkpoints — and save."""
        self._put(paths, writer, owner, lambda p: "tree")
        self.save()

    def foreign(self) -> list[str]:
        """Every file under the root, at every depth, that no record covers or that changed since it was
        written (sorted relative paths); the lock, the ledger and unfinished atomic writes of recorded files
        excepted. A subfolder
        with a ledger of its own (another command's output folder inside this one) is checked against that."""
        out = []
        for folder, dirs, names in os.walk(self.root):
            dirs.sort()
            for d in list(dirs):
                sub = Path(folder) / d
                if (sub / LEDGER_NAME).is_file() and self.entry(self.rel(sub / LEDGER_NAME)) is None:
                    dirs.remove(d)
                    out += [f"{self.rel(sub)}/{r}" for r in Ledger(sub).foreign()]
            for name in sorted(names):
                p = Path(folder) / name
                rel = self.rel(p)
                target = unfinished_write_of(name)
                if rel in (LOCK_NAME, LEDGER_NAME) or (target and self.entry(self.rel(Path(folder) / target))):
                    continue                # an atomic write of a recorded file that a killed run did not finish
                e = self.entry(rel)
                if e is None or (e["sha256"] not in (None, "tree") and (not p.is_file() or _current_sha(p) != e["sha256"])):
                    out.append(rel)
        return out

    def owned_by(self, owner: str) -> list[str]:
        """The recorded paths of ``owner`` (every recorded path for ``""``), backups excepted."""
        return sorted(r for r, e in self.files.items() if e["writer"] != BACKUP_WRITER and (not owner or e["owner"] == owner))


def _shown(names: list[str]) -> str:
    return ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")


def claim(path, *, what: str, owner: str = "", overwrite: bool = False,
          adopt: Callable[[Path], dict[str, tuple]] | None = None, flag: str | None = "--overwrite") -> Ledger:
    """Create or check the output folder ``path`` for the writer ``what`` (and ``owner``, e.g. a system name);
    return its :class:`Ledger`, in which the caller records what it writes. Refused (ConfigError), unless
    ``overwrite``: files no record covers or changed since (the user's), and files of ``owner`` that another
    writer recorded. With ``overwrite`` the folder starts clean for ``owner``: its recorded files go, the user's
    files move into ``.clika-backup-<n>/``. ``adopt(root)`` — only for a folder without a ledger (written
    before ledgers existed) — returns ``{relative path: (writer or None for what, owner)}`` of the files (or
    whole folders) its content proves a clika command wrote; ``flag``: how the user says overwrite (named in the
    refusal; ``None`` where there is no such flag — a notebook's folders: the user moves the files or the folder)."""
    path = Path(path)
    ledger = Ledger(path)
    if not path.exists():
        return ledger                     # created by :func:`locked` (or the writer), which records what it writes
    _writable_folder(path)
    if not ledger.found and adopt is not None:
        for rel, (writer, who) in adopt(path).items():
            ledger._put([path / rel], writer or what, who, _digest)
    foreign = ledger.foreign()
    other = sorted(r for r, e in ledger.files.items() if owner and e["owner"] == owner and e["writer"] != what
                   and e["writer"] != BACKUP_WRITER)
    if not overwrite:
        if foreign:
            how = (f"pass {flag} to start it clean (those files are then moved, untouched, into a {BACKUP_PREFIX}<n> "
                   "folder inside it)") if flag else "move those files out of it"
            raise ConfigError(f"{path}: holds files that no clika command wrote, or that changed since "
                              f"({_shown(foreign)}); {what} will not write among them: choose an empty or new "
                              f"folder, or {how}")
        if other:
            writers = sorted({ledger.files[r]['writer'] for r in other})
            raise ConfigError(f"{path}: {owner!r} was written there by {', '.join(writers)} ({_shown(other)}); one "
                              "name has one writer: choose another name or folder"
                              + (f", or pass {flag} to replace it" if flag else ""))
        return ledger
    for rel in ledger.owned_by(owner):
        target = path / rel
        if target.is_dir():
            shutil.rmtree(target)
        elif target.exists() and rel not in foreign:
            target.unlink()
        del ledger.files[rel]
    if foreign:
        n = 1
        while (path / f"{BACKUP_PREFIX}{n}").exists():
            n += 1
        backup = path / f"{BACKUP_PREFIX}{n}"
        for rel in foreign:
            dest = backup / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            os.replace(path / rel, dest)
            ledger.files.pop(rel, None)
        warn(f"{path}: moved {len(foreign)} file(s) no clika command wrote into {backup.name}/ ({flag})")
        ledger._put([backup], BACKUP_WRITER, "", lambda p: "tree")
    for folder, _, _ in sorted(os.walk(path), reverse=True):      # folders the move emptied
        if Path(folder) != path and not any(Path(folder).iterdir()):
            Path(folder).rmdir()
    ledger.save()
    return ledger


@contextmanager
def adding(path, *, what: str, adopt: Callable[[Path], dict[str, tuple]] | None = None, flag: str | None = None):
    """A folder several writers add to, file by file and possibly at once — the figures folder (every notebook's
    figures, the report's contact sheet and claims table), a cache: claim it as :func:`claim` does (a file of the
    user's there refuses it) under its lock, held only for this moment (waiting out another writer's moment),
    and yield its ledger, read under the lock, in which the caller records what it writes before the lock goes."""
    path = _writable_folder(Path(path))
    lock = acquire_waiting(path / LOCK_NAME)
    try:
        yield claim(path, what=what, adopt=adopt, flag=flag)
    finally:
        lock.release()


def adopt_sidecars(root: Path) -> dict[str, tuple]:
    """Legacy adoption by content: every file whose provenance sidecar records its sha256, and that sidecar."""
    from .provenance import sidecar_path
    out = {}
    for side in root.rglob("*.provenance.json"):
        target = Path(str(side)[: -len(".provenance.json")])
        try:
            sha = json.loads(side.read_text(encoding="utf-8"))["output"]["sha256"]
        except (OSError, ValueError, KeyError, TypeError):
            continue
        if target.is_file() and sidecar_path(target) == side and sha256_file(target) == sha:
            out[target.relative_to(root).as_posix()] = (None, "")
            out[side.relative_to(root).as_posix()] = (None, "")
    return out


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


def acquire_waiting(lock_file: Path, timeout: float = 600):
    """The lock ``lock_file``, waiting for another holder (for a moment's work: a ledger's or a run record's update)."""
    from filelock import FileLock
    lock = FileLock(str(lock_file))
    lock.acquire(timeout=timeout)
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
        if not ok and created and {p.name for p in path.iterdir()} <= {LOCK_NAME, LEDGER_NAME}:
            for name in (LOCK_NAME, LEDGER_NAME):       # a failed first run leaves no folder behind
                (path / name).unlink(missing_ok=True)
            path.rmdir()
