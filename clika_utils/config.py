"""An experiment's configuration: the notebook's parameters, validated, frozen, recorded whole.

* The notebook's ``parameters`` cell is the one place defaults live (``name: type = literal  # what``;
  the defaults equal ``params/<notebook>/cpu.yaml``); ``params/<notebook>/<profile>.yaml`` holds what a
  profile changes. :func:`load_params` checks a profile file against the cell (unknown key, wrong type:
  an error naming file, line and key).
* Each experiment declares a frozen :class:`ExperimentConfig` with the same names and types (a test
  checks they match the cell). The notebook builds it from its parameters
  (:meth:`ExperimentConfig.from_namespace`), passes it whole to the experiment's ``run()``, and every
  results and figure sidecar records :meth:`ExperimentConfig.record`. From Python:
  ``Config.load("smoke", model="tiny-llama")`` = the cell's defaults + the profile file + overrides.
* Output locations left ``""`` are derived from profile and notebook in one place,
  :func:`clika_utils.settings.output_path`; a path value may also name ``{profile}``.
"""

from __future__ import annotations

import ast
import dataclasses
import json
import re
from pathlib import Path
from typing import ClassVar

import yaml

from .errors import ConfigError
from .settings import OUTPUT_PATHS, fix_threads, output_path, project_root

#: ``name: type = literal  # comment``, the one form of a line in a parameters cell.
PARAM_LINE = re.compile(r"^(?P<name>[a-z_][a-z0-9_]*): (?P<type>str|int|float|bool|list|dict) = (?P<value>.+?)  # \S.*$")
PARAM_TYPES = {"str": str, "int": int, "float": (int, float), "bool": bool, "list": list, "dict": dict}


def is_a(value, type_name: str) -> bool:
    """Whether ``value`` is of the parameters cell's type ``type_name`` (a bool is no int or float)."""
    return isinstance(value, PARAM_TYPES[type_name]) and not (type_name in ("int", "float") and isinstance(value, bool))


def _parameter_cell(notebook: Path) -> dict[str, tuple[str, object]]:
    """{name: (type name, default)} of the notebook's parameters cell (the one cell tagged
    ``parameters``), every line checked."""
    cells = json.loads(Path(notebook).read_text(encoding="utf-8"))["cells"]
    tagged = [c for c in cells if "parameters" in c.get("metadata", {}).get("tags", [])]
    if len(tagged) != 1:
        raise ConfigError(f"{notebook}: {len(tagged)} cells tagged 'parameters'; expected exactly one")
    out = {}
    for line in "".join(tagged[0]["source"]).splitlines():
        if not line.strip():
            continue
        m = PARAM_LINE.match(line)
        if not m or line.count("=") != 1:   # papermill's inspector also gives up on a second '=' in a line
            raise ConfigError(f"{notebook}: parameter line is not `name: type = literal  # comment`: {line!r}")
        value = ast.literal_eval(m.group("value"))
        if not is_a(value, m.group("type")):
            raise ConfigError(f"{notebook}: {line!r}: the default is not a {m.group('type')}")
        out[m.group("name")] = (m.group("type"), value)
    return out


def declared_parameters(notebook: Path) -> dict[str, str]:
    """{name: type name} of the notebook's parameters cell."""
    return {name: kind for name, (kind, _) in _parameter_cell(notebook).items()}


def notebook_defaults(notebook: Path) -> dict:
    """{name: default} of the notebook's parameters cell."""
    return {name: value for name, (_, value) in _parameter_cell(notebook).items()}


def key_line(text: str, key: str) -> int | None:
    for i, line in enumerate(text.splitlines(), 1):
        if re.match(rf"^{re.escape(key)}\s*:", line):
            return i
    return None


class _UniqueKeyLoader(yaml.SafeLoader):
    """PyYAML's safe loader, except that a key given twice in one mapping is an error (PyYAML keeps the last
    value silently, so a forgotten earlier line would change a run without a word)."""

    def construct_mapping(self, node, deep=False):
        seen = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"key {key!r} given twice (first on line {seen[key] + 1}); expected each key once",
                    key_node.start_mark)
            seen[key] = key_node.start_mark.line
        return super().construct_mapping(node, deep=deep)


def load_yaml(text: str):
    """YAML as ``yaml.safe_load`` reads it, with a key given twice refused (a ``yaml.YAMLError`` whose
    ``problem_mark`` is the second occurrence)."""
    return yaml.load(text, Loader=_UniqueKeyLoader)


def load_params(params_dir: Path, notebook: Path, profile: str) -> dict:
    """The profile's parameters for ``notebook``, checked against the notebook's parameters cell:
    an unknown key or a value of the wrong type is an error naming the file, line and key (a
    misspelt key would otherwise be ignored by papermill and the default used silently)."""
    path = params_dir / notebook.stem / f"{profile}.yaml"
    if not path.exists():
        raise ConfigError(f"{path}: missing parameter file; expected params/{notebook.stem}/{profile}.yaml "
                          f"for profile {profile!r}")
    text = path.read_text(encoding="utf-8")
    try:
        params = load_yaml(text) or {}
    except yaml.YAMLError as exc:
        line = getattr(getattr(exc, "problem_mark", None), "line", None)
        what = exc.problem if isinstance(exc, yaml.constructor.ConstructorError) else f"not valid YAML ({exc})"
        raise ConfigError(f"{path}:{'' if line is None else line + 1}: {what}") from None
    if not isinstance(params, dict):
        raise ConfigError(f"{path}: expected a mapping of parameter names to values")
    declared = declared_parameters(notebook) if notebook.exists() else None
    for key, value in params.items() if declared is not None else ():
        where = f"{path}:{key_line(text, str(key)) or ''}"
        if key not in declared or key == "profile":
            raise ConfigError(f"{where}: unknown parameter {key!r} for {notebook.stem}; it declares "
                              f"{sorted(k for k in declared if k != 'profile')}")
        want = declared[key]
        if not is_a(value, want):
            hint = " (write true or false, without quotes)" if want == "bool" else ""
            raise ConfigError(f"{where}: {key} must be a {want}{hint}, got {value!r} ({type(value).__name__})")
    return {**params, "profile": profile}


def notebook_file(stem: str) -> Path:
    return project_root() / "notebooks" / f"{stem}.ipynb"


def derive_paths(values: dict, notebook: str) -> dict:
    """``values`` with every output location that is ``""`` replaced by its derived path
    (:func:`clika_utils.settings.output_path`) and ``{profile}`` in path values filled in."""
    profile = values.get("profile", "cpu")
    out = dict(values)
    for key, value in values.items():
        if key in OUTPUT_PATHS and value == "":
            out[key] = output_path(profile, notebook, key)
        elif isinstance(value, str) and "{profile}" in value:
            out[key] = value.replace("{profile}", profile)
        elif isinstance(value, list) and any(isinstance(v, str) and "{profile}" in v for v in value):
            out[key] = [v.replace("{profile}", profile) if isinstance(v, str) else v for v in value]
    return out


def parameters(profile: str, notebook: str | Path, params_dir: Path | None = None, **overrides) -> dict:
    """The whole parameter set a ``./run_all.sh <profile>`` run gives ``notebook`` (a stem, or a notebook
    file): the cell's defaults, the profile file, ``overrides``; output locations derived."""
    nb = Path(notebook) if str(notebook).endswith(".ipynb") else notebook_file(str(notebook))
    values = notebook_defaults(nb)
    values.update(load_params(params_dir or project_root() / "params", nb, profile))
    values.update(overrides)
    return derive_paths(values, nb.stem)


@dataclasses.dataclass(frozen=True)
class ExperimentConfig:
    """Base of the experiments' configs: subclasses declare the notebook's parameters as fields (no
    defaults: they live in the notebook) and set :attr:`NOTEBOOK`."""

    NOTEBOOK: ClassVar[str] = ""

    @classmethod
    def declared(cls) -> dict[str, str]:
        """{field: type name} (the annotations, as the parameters cell writes them)."""
        return {f.name: str(f.type) for f in dataclasses.fields(cls)}

    @classmethod
    def from_parameters(cls, values: dict, where: str = ""):
        """The validated, frozen config of ``values`` (every field, nothing else; output locations
        derived): an unknown or missing name, or a value of the wrong type, is an error naming
        ``where`` and the name."""
        where = where or f"notebooks/{cls.NOTEBOOK}.ipynb parameters"
        declared = cls.declared()
        unknown = sorted(set(values) - set(declared))
        if unknown:
            raise ConfigError(f"{where}: unknown parameter {unknown[0]!r} for {cls.NOTEBOOK}; it declares "
                              f"{sorted(declared)}")
        missing = sorted(set(declared) - set(values))
        if missing:
            raise ConfigError(f"{where}: parameter(s) {missing} missing for {cls.NOTEBOOK}")
        for key, want in declared.items():
            value = values[key]
            if not is_a(value, want):
                raise ConfigError(f"{where}: {key} must be a {want}, got {value!r} ({type(value).__name__})")
        fix_threads(values.get("profile", ""))          # the profile's thread count: part of its numbers
        return cls(**derive_paths(dict(values), cls.NOTEBOOK))

    @classmethod
    def from_namespace(cls, namespace: dict):
        """The config of a notebook's parameters as they stand in its namespace (``globals()``)."""
        return cls.from_parameters({k: namespace[k] for k in cls.declared() if k in namespace})

    @classmethod
    def load(cls, profile: str = "cpu", params_dir: Path | None = None, **overrides):
        """The config ``./run_all.sh <profile>`` runs the notebook with, changed by ``overrides``."""
        values = parameters(profile, cls.NOTEBOOK, params_dir, **overrides)
        return cls.from_parameters(values, where=f"params/{cls.NOTEBOOK}/{profile}.yaml + overrides")

    def path(self, name: str) -> Path:
        """The location parameter ``name`` names, absolute (relative values are under the work folder)."""
        from .settings import resolve
        return resolve(getattr(self, name))

    def optional(self, name: str) -> str | None:
        """:meth:`path` as a string, or None where the parameter is ``""`` (the option is not used)."""
        return str(self.path(name)) if getattr(self, name) else None

    def home(self) -> Path:
        """The data home: the ``data_home`` parameter, or ``$CLIKA_DATA_HOME`` where it is ``""``."""
        from .settings import data_home
        return self.path("data_home") if getattr(self, "data_home", "") else data_home()

    def replace(self, **changes):
        return self.from_parameters({**self.to_dict(), **changes})

    def to_dict(self) -> dict:
        """Every field, as plain JSON values."""
        return json.loads(json.dumps(dataclasses.asdict(self)))

    def record(self) -> dict:
        """What every results and figure sidecar of the experiment records: the notebook and every field."""
        return {"notebook": self.NOTEBOOK, **self.to_dict()}
