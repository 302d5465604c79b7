"""The package's layers, checked on the source: library ← experiments ← applications.

* an experiment module (``clika_utils/experiments/<name>.py``) imports the library and
  :mod:`clika_utils.experiments.shared`, never another experiment;
* ``shared`` imports only the library;
* the library (every other module but the applications) imports no experiment and no application.
Function-local imports count: a hidden edge is still an edge.
"""

import ast
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parent.parent / "clika_utils"
APPS = {"cli", "runner", "report", "figcheck"}


def module_name(path: Path) -> str:
    rel = path.relative_to(PKG.parent).with_suffix("")
    parts = list(rel.parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path, source: str | None = None) -> set[str]:
    """Every clika_utils module ``path`` imports (absolute names, ``from x import y`` as x.y when y is a module)."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    out = set()
    for node in ast.walk(ast.parse(source if source is not None else path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name.startswith("clika_utils")}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            if not mod.startswith("clika_utils"):
                continue
            out.add(mod)
            for a in node.names:
                candidate = f"{mod}.{a.name}"
                if (PKG.parent / candidate.replace(".", "/")).with_suffix(".py").exists():
                    out.add(candidate)
    out.discard(name)
    return out


def layer(module: str) -> str:
    parts = module.split(".")
    if parts[:2] == ["clika_utils", "experiments"]:
        return "shared" if parts[2:] == ["shared"] else "experiments" if len(parts) == 2 else "experiment"
    return "app" if len(parts) > 1 and parts[1] in APPS else "library"


MODULES = sorted(PKG.rglob("*.py"))


def test_the_layers_exist():
    layers = {layer(module_name(p)) for p in MODULES}
    assert layers == {"library", "experiments", "experiment", "shared", "app"}
    assert len([p for p in MODULES if layer(module_name(p)) == "experiment"]) == 10


def violations(path: Path, source: str | None = None) -> list[str]:
    me = module_name(path)
    bad = []
    for other in sorted(imports(path, source)):
        mine, theirs = layer(me), layer(other)
        if mine == "experiment" and theirs == "experiment":
            bad.append(f"{other} (an experiment imports another experiment)")
        elif mine in ("experiment", "shared") and theirs == "app":
            bad.append(f"{other} (an experiment imports an application)")
        elif mine == "shared" and theirs == "experiment":
            bad.append(f"{other} (shared imports an experiment)")
        elif mine == "library" and theirs != "library":
            bad.append(f"{other} (the library imports the {theirs} layer)")
    return bad


@pytest.mark.parametrize("path", MODULES, ids=lambda p: module_name(p))
def test_imports_follow_the_layers(path):
    bad = violations(path)
    assert not bad, f"{module_name(path)}: " + "; ".join(bad)


def test_the_check_sees_hidden_edges():
    """The check can fail: function-local imports of another experiment, of an application, and of an
    experiment from the library are all found."""
    exp = PKG / "experiments" / "conductivity.py"
    src = exp.read_text(encoding="utf-8") + "\n\ndef _hidden():\n    from . import scaling_laws\n    from .. import report\n"
    assert len(violations(exp, src)) == 2
    lib = PKG / "metrics.py"
    src = lib.read_text(encoding="utf-8") + "\n\ndef _hidden():\n    from .experiments.tour import run\n"
    assert violations(lib, src) == ["clika_utils.experiments.tour (the library imports the experiment layer)"]
