"""Where things are: the data home, the work folder for outputs, caches.

One setting locates the data: environment variable ``CLIKA_DATA_HOME`` (default ``<repo>/data``,
where ``clika data fetch`` puts the public sources). Outputs (results, executed notebooks, figures
given as relative paths) land under ``CLIKA_WORKDIR`` (default: the repository root).
"""

from __future__ import annotations

import os
from pathlib import Path

from .errors import ConfigError

DATA_HOME_ENV = "CLIKA_DATA_HOME"
WORKDIR_ENV = "CLIKA_WORKDIR"
CACHE_ENV = "CLIKA_CACHE_DIR"

#: Where a notebook's outputs go when its parameter is ``""``: the one place output locations are
#: derived, from the profile and the notebook (``{notebook}``: its stem). What a notebook reads from an
#: earlier one (01's items, 03's and 07's results) is derived the same way, so it finds them.
OUTPUT_PATHS = {
    "results_dir": "outputs/{profile}/results/{notebook}",
    "models_dir": "outputs/{profile}/models/{notebook}",
    "jobs_dir": "outputs/{profile}/models/{notebook}",
    "cache_dir": "outputs/{profile}/cache/{notebook}",
    "live_dir": "outputs/{profile}/live/{live}",
    "lm_eval_dir": "outputs/{profile}/lm_eval",
    "figures_dir": "outputs/{profile}/figures",
    "items_csv": "outputs/{profile}/results/01_performance_consistency/items.csv",
    "conductivity_dir": "outputs/{profile}/results/03_conductivity",
    "scaling_dir": "outputs/{profile}/results/07_scaling_laws",
}
#: The cpu profile's figures are the committed ones.
FIGURES = {"cpu": "figures"}
#: Notebooks that share one live folder: 04 and 05 evaluate the same base model once.
SHARED_LIVE = {"04_pretraining_variants": "variants", "05_instruction_tuning": "variants"}


#: Threads of torch's pool in each notebook kernel of the CPU profiles. fp32 sums split across threads come out
#: different in their last bits (measured on Gemma: 1 and 2 threads give other letter log-probabilities and other
#: LoRA losses from the second step on), so the thread count is part of a run's configuration: a reader with more
#: cores gets the published numbers, and ``./run_all.sh --jobs N`` gives every notebook the same count.
PROFILE_THREADS = {"smoke": 2, "cpu": 2}


def fix_threads(profile: str) -> int | None:
    """Set torch's thread count to the profile's (:data:`PROFILE_THREADS`; none for ``paper``), before torch is
    imported (its environment variable) or after; returns it."""
    import sys
    n = PROFILE_THREADS.get(profile)
    if n is None:
        return None
    os.environ["OMP_NUM_THREADS"] = str(n)
    if "torch" in sys.modules:
        import torch
        if torch.get_num_threads() != n:
            torch.set_num_threads(n)
    return n


def project_root() -> Path:
    """The repository root: the folder that holds ``clika_utils/`` (editable install)."""
    return Path(__file__).resolve().parent.parent


def data_home(must_exist: bool = True) -> Path:
    """The data home (``$CLIKA_DATA_HOME`` or ``<repo>/data``)."""
    raw = os.environ.get(DATA_HOME_ENV)
    path = Path(raw).expanduser() if raw else project_root() / "data"
    if must_exist and not path.is_dir():
        how = f"{DATA_HOME_ENV}={raw!r}" if raw else f"{DATA_HOME_ENV} is not set and {path} is missing"
        raise ConfigError(
            f"data home does not exist ({how}); expected a folder holding clika/, xquad/, tatoeba/. "
            f"Set {DATA_HOME_ENV} to it, or run `clika data fetch` (needs internet) to download "
            "the public sources into <repo>/data.")
    return path.resolve() if path.exists() else path


def clika_dir(override: str | Path | None = None) -> Path:
    """The CLiKA data folder: ``override`` when given (non-empty), else ``<data home>/clika``."""
    if override:
        path = Path(override).expanduser()
        if not path.is_dir():
            raise ConfigError(f"CLiKA data folder {path} does not exist; expected a folder with "
                              "x_csqa/, x_copa/, x_geo/, x_name/")
        return path.resolve()
    path = data_home() / "clika"
    if not path.is_dir():
        raise ConfigError(f"{path} does not exist; expected the CLiKA data (x_csqa/, x_copa/, "
                          "x_geo/, x_name/, fictional/) under the data home")
    return path


def workdir() -> Path:
    """Where relative output paths are resolved (``$CLIKA_WORKDIR`` or the repository root)."""
    raw = os.environ.get(WORKDIR_ENV)
    return Path(raw).expanduser().resolve() if raw else project_root()


def portable(path: str | Path) -> str:
    """``path`` as a record names it on any machine: ``$CLIKA_DATA_HOME/...`` under the data home, relative
    under the work folder, else as given (a record that names this machine's folders is not reproducible)."""
    path = Path(path).expanduser().resolve()
    for root, shown in ((data_home(must_exist=False), f"${DATA_HOME_ENV}"), (workdir(), "")):
        try:
            rel = path.relative_to(Path(root).resolve())
        except ValueError:
            continue
        return "/".join(x for x in (shown, rel.as_posix()) if x and x != ".") or "."
    return str(path)


def resolve(path: str | Path) -> Path:
    """An absolute path as given; a relative one under :func:`workdir`."""
    path = Path(path).expanduser()
    return path if path.is_absolute() else workdir() / path


def cache_dir() -> Path:
    """Cache for converted models and other reusable artifacts (``$CLIKA_CACHE_DIR``)."""
    raw = os.environ.get(CACHE_ENV)
    return Path(raw).expanduser() if raw else project_root() / ".cache"


def progress_bars(wanted: bool = True) -> bool:
    """Whether to draw progress bars: ``wanted`` unless ``TQDM_DISABLE`` is set (``./run_all.sh`` sets it, with
    huggingface's switch, so the executed notebooks hold results, not bar residue; Jupyter keeps its bars)."""
    return bool(wanted) and os.environ.get("TQDM_DISABLE", "").lower() in ("", "0", "false")


def cached_results(results_dir: str | Path) -> dict[str, Path]:
    """{file name: path} of the results tables (CSV) a notebook wrote earlier: what a notebook run with
    ``render_only`` draws its figures from instead of computing."""
    folder = Path(results_dir)
    found = {p.name: p for p in sorted(folder.glob("*.csv"))}
    if not found:
        raise ConfigError(f"no cached results (*.csv) in {folder}: run the notebook without render_only first")
    return found


def output_path(profile: str, notebook: str, key: str) -> str:
    """The derived location (relative to :func:`workdir`) of output ``key`` of ``notebook`` under
    ``profile``; see :data:`OUTPUT_PATHS`."""
    if key not in OUTPUT_PATHS:
        raise ConfigError(f"{key!r} is not a derived output location; expected one of {sorted(OUTPUT_PATHS)}")
    if key == "figures_dir" and profile in FIGURES:
        return FIGURES[profile]
    return OUTPUT_PATHS[key].format(profile=profile, notebook=notebook, live=SHARED_LIVE.get(notebook, notebook))
