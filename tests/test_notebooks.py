"""Notebook rules (thin, parameterised, no outputs) and execution through papermill."""

import ast
import json
from pathlib import Path

import nbformat
import pytest

from clika_utils import config, runner

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = runner.find_notebooks(ROOT / "notebooks")
TYPES = config.PARAM_TYPES


def declared_parameters(nb_path):
    params = config.declared_parameters(nb_path)
    assert "profile" in params, f"{nb_path.name}: declares no `profile` parameter (the runner sets it)"
    return params


def test_there_are_notebooks():
    assert [p.name for p in NOTEBOOKS][:2] == ["00_tour.ipynb", "01_performance_consistency.ipynb"]


@pytest.mark.parametrize("nb_path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_thin_and_clean(nb_path):
    declared_parameters(nb_path)
    nb = nbformat.read(nb_path, as_version=4)
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        assert not cell.get("outputs"), f"{nb_path.name} cell {i}: committed with outputs"
        assert cell.get("execution_count") is None, f"{nb_path.name} cell {i}: committed with an execution count"
        tree = ast.parse(cell.source)
        defs = [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda))]
        assert not defs, f"{nb_path.name} cell {i}: defines a function/class/lambda (move it into clika_utils)"


@pytest.mark.parametrize("nb_path", NOTEBOOKS, ids=lambda p: p.stem)
@pytest.mark.parametrize("profile", runner.PROFILES)
def test_parameter_files_exist_and_match_the_notebook(nb_path, profile):
    declared = declared_parameters(nb_path)
    params = config.load_params(ROOT / "params", nb_path, profile)
    for key, value in params.items():
        assert key in declared, f"params/{nb_path.stem}/{profile}.yaml sets {key!r}, which the notebook does not declare"
        assert isinstance(value, TYPES[declared[key]]), f"params/{nb_path.stem}/{profile}.yaml: {key} is not a {declared[key]}"


@pytest.mark.parametrize("nb_path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_defaults_are_the_cpu_profile(nb_path):
    """Jupyter's "Run All" (or papermill without -f) writes to outputs/cpu/ and figures/: it must compute
    what ./run_all.sh cpu computes, not other numbers under the same names."""
    import yaml
    cell = next(c for c in nbformat.read(nb_path, as_version=4).cells if "parameters" in c.metadata.get("tags", []))
    defaults = {}
    for line in cell.source.splitlines():
        m = config.PARAM_LINE.match(line)
        if m:
            defaults[m.group("name")] = ast.literal_eval(m.group("value"))
    cpu = yaml.safe_load((ROOT / "params" / nb_path.stem / "cpu.yaml").read_text(encoding="utf-8")) or {}
    differ = {k: (defaults[k], v) for k, v in cpu.items() if defaults.get(k) != v}
    assert not differ, f"{nb_path.name}: defaults differ from params/{nb_path.stem}/cpu.yaml: {differ}"


def test_bad_params_file_is_a_clear_error(tmp_path):
    nb = tmp_path / "notebooks" / "01_x.ipynb"
    (tmp_path / "params" / "01_x").mkdir(parents=True)
    with pytest.raises(runner.ConfigError, match=r"missing parameter file; expected params/01_x/cpu.yaml"):
        config.load_params(tmp_path / "params", nb, "cpu")
    (tmp_path / "params" / "01_x" / "cpu.yaml").write_text("a: [1,\nb: 2\n", encoding="utf-8")
    with pytest.raises(runner.ConfigError, match=r"cpu.yaml:\d+: not valid YAML"):
        config.load_params(tmp_path / "params", nb, "cpu")


def _tiny_notebook(path, body):
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell('profile: str = "smoke"  # profile', metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell(body)])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)


def _tiny_project(tmp_path, bodies: dict) -> tuple:
    """Notebooks ``{stem: code}`` with empty smoke parameter files: (notebook folder, params folder)."""
    nbs, params = tmp_path / "nb", tmp_path / "params"
    nbs.mkdir()
    for stem, body in bodies.items():
        _tiny_notebook(nbs / f"{stem}.ipynb", body)
        (params / stem).mkdir(parents=True)
        (params / stem / "smoke.yaml").write_text("{}\n", encoding="utf-8")
    return nbs, params


@pytest.mark.slow
def test_runner_keeps_going_past_a_failure_and_reports_it(tmp_path, capsys):
    nbs, params = _tiny_project(tmp_path, {"01_fails": "raise ValueError('planned failure')", "02_works": "x = 1 + 1"})
    runs = runner.run_all("smoke", nb_dir=nbs, params_dir=params, out_dir=tmp_path / "out", progress=False)
    assert [(r.notebook, r.status) for r in runs] == [("01_fails", "failed"), ("02_works", "ok")]
    assert "ValueError: planned failure" in runs[0].error
    assert (tmp_path / "out" / "01_fails.html").exists() and (tmp_path / "out" / "02_works.html").exists()
    index = (tmp_path / "out" / "index.html").read_text(encoding="utf-8")
    assert "02_works.html" in index and "failed" in index
    assert "notebooks: 1 ok, 1 failed" in runner.summary_table(runs)


@pytest.mark.slow
def test_jobs_run_notebooks_at_once_with_the_same_record(tmp_path):
    """--jobs 2 over three notebooks (one failing): the same statuses, executed notebooks, index and runs.csv
    rows as one at a time; every kernel gets the profile's thread count (its numbers depend on it)."""
    nbs, params = _tiny_project(tmp_path, {"01_fails": "raise ValueError('planned failure')",
                                           "02_threads": "import os\nprint(os.environ.get('OMP_NUM_THREADS'))",
                                           "03_works": "x = 1 + 1"})
    record = {}
    for jobs in (1, 2):
        out = tmp_path / f"out{jobs}"
        runs = runner.run_all("smoke", nb_dir=nbs, params_dir=params, out_dir=out, progress=False, jobs=jobs)
        assert [(r.notebook, r.status) for r in runs] == [("01_fails", "failed"), ("02_threads", "ok"),
                                                          ("03_works", "ok")]
        assert "ValueError: planned failure" in runs[0].error
        assert all((out / f"{n}.html").exists() for n in ("01_fails", "02_threads", "03_works"))
        rows = (out / "runs.csv").read_text(encoding="utf-8").splitlines()
        record[jobs] = [r.rsplit(",", 1)[0] for r in rows]
        assert json.loads((out / "run.json").read_text(encoding="utf-8"))["jobs"] == jobs
    assert record[1] == record[2]
    from clika_utils.settings import PROFILE_THREADS
    for jobs in (1, 2):                     # the profile's thread count, however many notebooks run at once
        cells = nbformat.read(tmp_path / f"out{jobs}" / "02_threads.ipynb", as_version=4).cells
        shown = next(c for c in cells if "OMP_NUM_THREADS" in c.source).outputs[0]["text"].strip()
        assert shown == str(PROFILE_THREADS["smoke"])


@pytest.mark.slow
def test_jobs_a_killed_worker_fails_its_notebook_and_the_rest_are_reported(tmp_path):
    """A notebook whose worker process is killed (as the kernel's out-of-memory killer would) is failed, not a
    traceback of the runner; the notebook running beside it and those after it run on, each in its own worker."""
    nbs, params = _tiny_project(tmp_path, {"01_dies": "import os, signal\nos.kill(os.getppid(), signal.SIGKILL)",
                                           "02_works": "import time\ntime.sleep(3)", "03_later": "x = 1"})
    runs = runner.run_all("smoke", nb_dir=nbs, params_dir=params, out_dir=tmp_path / "out", progress=False, jobs=2)
    assert [r.notebook for r in runs] == ["01_dies", "02_works", "03_later"]
    assert runs[0].status == "failed" and "worker process died" in runs[0].error
    assert [r.status for r in runs[1:]] == ["ok", "ok"]
    assert "01_dies,failed" in (tmp_path / "out" / "runs.csv").read_text(encoding="utf-8")


def _smoke_run(work: Path) -> list:
    """Every notebook in the smoke profile with ``work`` as the work folder."""
    import os
    old = os.environ.get("CLIKA_WORKDIR")
    os.environ["CLIKA_WORKDIR"] = str(work)
    try:
        return runner.run_all("smoke", progress=False)
    finally:
        if old is None:
            os.environ.pop("CLIKA_WORKDIR", None)
        else:
            os.environ["CLIKA_WORKDIR"] = old


@pytest.fixture(scope="session")
def smoke_work(real_clika, tmp_path_factory):
    """One smoke run of every notebook, shared by the tests that read a smoke run (byte identity against
    a second run, figure check, report, 04/05's stored comparisons): the suite runs the notebooks twice,
    not three times."""
    work = tmp_path_factory.mktemp("smoke") / "a"
    runs = _smoke_run(work)
    assert [r.status for r in runs] == ["ok"] * len(NOTEBOOKS), [r.error for r in runs]
    return work


@pytest.mark.slow
@pytest.mark.data
def test_every_notebook_runs_in_smoke_profile_twice_with_identical_outputs(smoke_work, tmp_path, monkeypatch):
    """The whole smoke run again in a fresh work folder that holds only the first run's model caches (trained
    adapters, live generations, the lm-eval run, pooled states): every results table and figure is recomputed
    from them and must come out byte-identical. That training and generation themselves are deterministic
    is tested where they live (test_train: a resumed job repeats the uninterrupted curve; mixed-adapter
    generation equals each adapter alone; test_xllama and test_scaling_allocation rerun end to end).
    The second run goes in its own process while this one re-renders the first run's figures and builds
    its report (two cores, two independent jobs); it runs two notebooks at a time (``--jobs 2``, one thread each,
    along the graph), the first one at a time: the parallel runner's results are those of one job."""
    import os
    import shutil
    import subprocess
    import sys

    def results_and_figures(work):       # and the published notebooks: no timestamps, bars or paths in them
        return {p.relative_to(work): p.read_bytes() for sub in ("results", "figures", "published/notebooks")
                for p in sorted((work / "outputs" / "smoke" / sub).rglob("*")) if p.is_file()}

    again = tmp_path / "b"
    for cache in ("models", "live", "lm_eval", "cache"):
        if (smoke_work / "outputs" / "smoke" / cache).exists():
            shutil.copytree(smoke_work / "outputs" / "smoke" / cache, again / "outputs" / "smoke" / cache)
    env = {**os.environ, "CLIKA_WORKDIR": str(again), "PYTHONHASHSEED": "0"}
    second = subprocess.Popen([sys.executable, "-m", "clika_utils.runner", "smoke", "--no-progress", "--jobs", "2"],
                              env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        monkeypatch.setenv("CLIKA_WORKDIR", str(smoke_work))
        assert (smoke_work / "outputs" / "executed" / "smoke" / "index.html").exists()
        _report_and_figures_follow_from_the_results(smoke_work)      # also writes the claims table into figures/
        a = results_and_figures(smoke_work)
    finally:
        log, _ = second.communicate(timeout=1200)
    assert second.returncode == 0 and f"notebooks: {len(NOTEBOOKS)} ok, 0 failed" in log, log[-3000:]
    assert (again / "outputs" / "executed" / "smoke" / "index.html").exists()
    b = results_and_figures(again)
    assert a.keys() == b.keys(), sorted(map(str, set(a) ^ set(b)))
    assert any(str(p).endswith(".png") for p in a) and any(str(p).endswith("summary.csv") for p in a)
    assert sum(str(p).endswith(".ipynb") for p in a) == len(NOTEBOOKS)
    differing = [str(p) for p in a if a[p] != b[p]]
    assert not differing, f"not byte-identical across reruns: {differing}"


@pytest.mark.slow
@pytest.mark.data
def test_every_results_and_figure_sidecar_holds_the_whole_config(smoke_work, monkeypatch):
    """A reader holding any results table or figure can tell how it was made: its sidecar records the
    notebook's whole config (every parameter, output locations derived), 07-09 with the model fingerprint."""
    from clika_utils import experiments
    monkeypatch.setenv("CLIKA_WORKDIR", str(smoke_work))
    out = smoke_work / "outputs" / "smoke"
    sidecars = sorted(out.glob("results/**/*.provenance.json")) + sorted(
        p for p in out.glob("figures/*.provenance.json") if p.name != "claims.csv.provenance.json")  # the report's
    seen = {}
    for side in sidecars:
        record = json.loads(side.read_text(encoding="utf-8"))
        params, where = record["parameters"], side.relative_to(smoke_work)
        assert params.get("notebook") in experiments.NOTEBOOKS, (where, sorted(params))
        want = experiments.module(params["notebook"]).Config.load("smoke").record()
        differ = {k: (v, params.get(k, "<missing>")) for k, v in want.items() if params.get(k, "<missing>") != v}
        assert not differ, (where, differ)
        if "results" in where.parts:
            assert record["seed"] == want["seed"], where
            if params["notebook"] in ("07_scaling_laws", "08_data_allocation"):
                assert params["model_fingerprint"], where
        seen.setdefault(params["notebook"], set()).add(where.parts[2])
    assert set(seen) == set(experiments.NOTEBOOKS)
    assert all(kinds == {"results", "figures"} for nb, kinds in seen.items() if nb != "00_tour"), seen


@pytest.mark.slow
@pytest.mark.data
def test_every_smoke_figure_passes_the_layout_check_and_keeps_each_language_in_its_colour(smoke_work):
    """Every figure of the smoke run, as plots.lint saw it when it was saved (recorded in its sidecar): no text
    outside the canvas or over other text, heatmap cells coloured by the number they print, and every
    language drawn in its one colour — the same in every figure."""
    import json

    from clika_utils import plots

    sides = sorted((smoke_work / "outputs" / "smoke" / "figures").glob("*.png.provenance.json"))
    assert len(sides) >= 20
    seen, problems = {}, {}
    for side in sides:
        meta = json.loads(side.read_text(encoding="utf-8"))
        if meta["lint"]:
            problems[side.name] = meta["lint"]
        for lang, colour in meta["lang_colours"].items():
            seen.setdefault(lang, set()).add(colour)
    assert not problems, problems
    executed = sorted((smoke_work / "outputs" / "executed" / "smoke").glob("0[1-9]_*.ipynb"))
    assert len(executed) == 9 and all('"image/png"' in p.read_text(encoding="utf-8") for p in executed), \
        "an executed notebook shows none of its figures"          # save_figure leaves the figure to be shown
    assert len(seen) >= 2, seen                                  # languages appear in the legends of several figures
    assert all(colours == {plots.LANG_COLOURS[lang].lower()} for lang, colours in seen.items()), seen


@pytest.mark.slow
@pytest.mark.data
def test_stored_comparisons_of_notebooks_04_05_come_from_clika_score_alone(real_clika, smoke_work, tmp_path):
    """Notebooks 04/05's stored-output Δ tables equal what clika_utils.compare computes from the
    items.csv of `clika score` — nothing else (byte-identical CSV)."""
    import io

    import pandas as pd

    from clika_utils import compare
    from clika_utils.cli import main

    assert main(["score", "--data-dir", str(real_clika), "--out", str(tmp_path / "score"), "--n-boot", "1"]) == 0
    items = compare.read_items(tmp_path / "score" / "items.csv")
    for nb in ("04_pretraining_variants", "05_instruction_tuning"):
        path = smoke_work / "outputs" / "smoke" / "results" / nb / "stored_deltas.csv"
        written = pd.read_csv(path)
        pairs = list(written[["derived", "base"]].drop_duplicates().itertuples(index=False, name=None))
        n_boot = config.load_params(ROOT / "params", ROOT / "notebooks" / f"{nb}.ipynb", "smoke")["n_boot"]
        again = compare.deltas(items, pairs, n_boot=n_boot, seed=0)
        buf = io.StringIO()
        again.to_csv(buf, index=False, lineterminator="\n")
        assert buf.getvalue() == path.read_text(encoding="utf-8"), nb


def _report_and_figures_follow_from_the_results(work):
    """On a real smoke run: every figure re-renders byte-identically from the cached results alone
    (and a changed figure is caught), and the report built from the run passes the browser check."""
    from clika_utils import figcheck, report
    table = figcheck.check("smoke")
    drawn = table[table.figure != ""]
    assert len(drawn) >= 20 and set(drawn.status) == {"identical"}, table[table.status != "identical"]
    assert (drawn.lint == 0).all(), drawn.loc[drawn.lint > 0, ["figure", "note"]].to_string()  # clipped, overlapping, off-unit
    assert len(set(table.notebook)) == 9                       # 01-09 draw figures; the tour does not
    victim = work / "outputs" / "smoke" / "figures" / drawn.figure.iloc[0]
    original = victim.read_bytes()
    victim.write_bytes(original[:-1] + bytes([original[-1] ^ 1]))
    again = figcheck.check("smoke", only=[drawn.notebook.iloc[0]])
    assert again.set_index("figure").loc[victim.name, "status"] == "differs"
    victim.write_bytes(original)
    index = report.build("smoke", executed_dir=work / "outputs" / "executed" / "smoke",
                         out_dir=report.default_out("smoke"))
    from clika_utils import publish
    assert index.parent == work / "outputs" / "smoke" / "published"
    assert publish.disagreements(index.parent, work / "outputs" / "smoke" / "figures") == []
    import nbformat
    for nb in NOTEBOOKS:
        raw = nbformat.read(work / "outputs" / "executed" / "smoke" / nb.name, as_version=4)
        stderr = [o for c in raw.cells for o in c.get("outputs", []) if o.output_type == "stream" and o.name == "stderr"]
        assert stderr == [], f"{nb.stem}: the run itself printed to stderr (progress bars, warnings): {stderr[:1]}"
        published = nbformat.read(index.parent / "notebooks" / nb.name, as_version=4)
        assert publish.machine_paths(published) == [] and str(work) not in nbformat.writes(published)
    text = index.read_text(encoding="utf-8")
    pngs = sorted((work / "outputs" / "smoke" / "figures").glob("*.png"))
    assert text.count("<figure") == len(pngs)
    assert "00_tour.html" in text and "Paper vs reproduction" in text
    sheet = (work / "outputs" / "smoke" / "figures" / "README.md").read_text(encoding="utf-8")
    assert sheet == report.contact_sheet(pngs[0].parent, "smoke")
    assert sorted(line[4:] for line in sheet.splitlines() if line.startswith("### ")) == [p.stem for p in pngs]
    import os
    import shutil
    if shutil.which("chromium") or os.environ.get("CLIKA_REQUIRE_BROWSER") == "1":
        from test_report import page_problems
        problems, n_img, _ = page_problems(index)
        assert problems == [] and n_img >= 10
