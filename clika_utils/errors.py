"""Error types. Every data problem names the file, the line (when there is one) and what was expected."""

from __future__ import annotations

from pathlib import Path


class ClikaError(Exception):
    """Base class of every error this package raises on purpose."""


class DataError(ClikaError):
    """Bad input data: carries the file, the 1-based line number (or None) and what was expected."""

    def __init__(self, path: str | Path | None, message: str, line: int | None = None):
        self.path = None if path is None else Path(path)
        self.line = line
        self.message = message
        where = "" if path is None else f"{path}" + (f":{line}" if line is not None else "")
        super().__init__(f"{where}: {message}" if where else message)


class ConfigError(ClikaError):
    """A setting, parameter or command-line value that cannot be used."""


class ClikaWarning(UserWarning):
    """Data used with something left out or odd about it (dropped lines, unmatched ids, mixed formats):
    said out loud with counts; the CLI prints it as ``warning: …`` and ``--strict`` makes it an error."""


def warn(message: str) -> None:
    import warnings
    warnings.warn(message, ClikaWarning, stacklevel=2)
