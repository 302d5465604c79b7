"""What a reader sees without running anything: the committed published run, the README and docs.

* the published notebooks, figures, results and claims table are one run (:func:`publish.disagreements`), and the
  check fails on a tampered copy;
* the published notebooks are clean: no stderr, widgets, machine paths or run-to-run metadata; the registered kernel;
* every number between generated markers in README.md and docs/*.md equals what the results give, and the README
  holds no hand-copied result outside them; it leads (at most 300 lines; verdicts, commands, first steps, cost);
* every relative link in README.md and docs/*.md resolves; every notebook links the glossary and ends with exercises.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import nbformat
import numpy as np
import pandas as pd
import pytest

from clika_utils import claims, experiments, publish, report, runner

ROOT = Path(__file__).resolve().parent.parent
PUBLISHED = ROOT / "published"
NOTEBOOKS = runner.find_notebooks(ROOT / "notebooks")


def test_the_published_run_is_one_run():
    """Every image in a published notebook is a committed figure and every figure is shown; each notebook's results
    manifest equals the published results and what the figures were drawn from; each claims row is shown."""
    assert publish.disagreements(PUBLISHED, ROOT / "figures") == []
    for nb in NOTEBOOKS:
        assert (PUBLISHED / "notebooks" / nb.name).exists() and (PUBLISHED / "notebooks" / f"{nb.stem}.html").exists()
        assert publish.manifest_rows(nbformat.read(PUBLISHED / "notebooks" / nb.name, as_version=4)), nb.stem
    assert (PUBLISHED / "index.html").exists() and json.loads((PUBLISHED / "run.json").read_text())["profile"] == "cpu"


def test_a_published_notebook_that_disagrees_with_the_results_is_caught(tmp_path):
    pub, figs = tmp_path / "published", tmp_path / "figures"
    shutil.copytree(PUBLISHED / "notebooks", pub / "notebooks")
    shutil.copytree(PUBLISHED / "results", pub / "results")
    shutil.copytree(ROOT / "figures", figs)
    assert publish.disagreements(pub, figs) == []
    path = pub / "notebooks" / "03_conductivity.ipynb"
    nb = nbformat.read(path, as_version=4)
    file, prefix = publish.manifest_rows(nb)[0]
    text = nbformat.writes(nb).replace(prefix, "0" * len(prefix))            # another run's table
    path.write_text(text, encoding="utf-8")
    table = pub / "results" / "07_scaling_laws" / "laws.csv"
    table.write_bytes(table.read_bytes() + b"\n")                              # a table edited after the run
    (figs / "cd_xrr.png").write_bytes((figs / "cd_xrr.png").read_bytes()[:-1] + b"\0")   # a figure redrawn elsewhere
    tour = pub / "notebooks" / "00_tour.ipynb"
    tour.write_text(tour.read_text(encoding="utf-8").replace("live runs **supported** here", "live runs **open** here", 1),
                    encoding="utf-8")                                                # takeaways of another table
    found = "\n".join(publish.disagreements(pub, figs))
    assert f"results {file} 0000" in found and "laws.csv: bytes differ" in found
    assert "no committed figure" in found and "cd_xrr.png is shown by no published notebook" in found
    assert "the tour's takeaways do not say" in found


@pytest.mark.parametrize("nb_path", NOTEBOOKS, ids=lambda p: p.stem)
def test_published_notebooks_are_clean(nb_path):
    nb = nbformat.read(PUBLISHED / "notebooks" / nb_path.name, as_version=4)
    assert nb.metadata.kernelspec == publish.KERNEL
    assert not set(nb.metadata.get("papermill", {})) & set(publish.VOLATILE)
    assert publish.machine_paths(nb) == [] and str(ROOT) not in nbformat.writes(nb)
    for i, cell in enumerate(nb.cells):
        assert not {"execution", "papermill"} & set(cell.metadata), f"cell {i}: run-to-run metadata"
        for out in cell.get("outputs", []):
            assert out.output_type != "error", f"cell {i}: an error"
            assert not (out.output_type == "stream" and out.name == "stderr"), f"cell {i}: stderr"
            assert "application/vnd.jupyter.widget-view+json" not in out.get("data", {})
            text = "".join(out.get("text", "")) + "".join(out.get("data", {}).get("text/plain", ""))
            assert "it/s]" not in text and "\\n" not in text.replace("\\\\n", ""), f"cell {i}: bar residue or a literal \\n"


def test_no_published_result_names_a_machine_path():
    """Tables and sidecars of the published run name no folder of the machine that made it (a clone's absolute
    items.csv, the data home, a home folder): the record must mean the same on a reader's machine."""
    found = {str(f.relative_to(PUBLISHED)): publish.MACHINE_PATH.findall(f.read_text(encoding="utf-8"))[:1]
             for f in sorted((PUBLISHED / "results").rglob("*")) if f.suffix in (".csv", ".json")}
    assert {k: v for k, v in found.items() if v} == {}
    assert publish.MACHINE_PATH.findall('"data_root": "/work/shared/data/clika"')      # the check can fail


def test_clean_notebook_removes_what_changes_between_runs_and_machines(tmp_path):
    nb = nbformat.v4.new_notebook(metadata={"papermill": {"start_time": "x", "duration": 3.0, "parameters": {"a": 1}}})
    cell = nbformat.v4.new_code_cell("x", metadata={"execution": {"iopub.status.busy": "t"}, "papermill": {"duration": 1}})
    cell.outputs = [nbformat.v4.new_output("stream", name="stderr", text="\rLoading: 50%|█ | 1/2 [00:01<00:01, 1.0it/s]"),
                    nbformat.v4.new_output("stream", name="stdout", text=f"saved {tmp_path}/work/outputs/cpu/x.csv\n"),
                    nbformat.v4.new_output("display_data", data={"text/plain": f"{tmp_path}/data/clika"})]
    params = nbformat.v4.new_code_cell("a = 1", metadata={"tags": ["injected-parameters"]})
    md = nbformat.v4.new_markdown_cell("see [glossary](../docs/glossary.md) and [01](01_x.ipynb)")
    nb.cells = [md, params, cell]
    clean, dropped = publish.clean_notebook(nb, publish.replacements(tmp_path / "work", tmp_path / "data"))
    assert clean.metadata.papermill == {"parameters": {"a": 1}} and clean.metadata.kernelspec == publish.KERNEL
    assert clean.cells[1].id == "injected-parameters"
    assert clean.cells[2].metadata == {} and [o.output_type for o in clean.cells[2].outputs] == ["stream", "display_data"]
    assert clean.cells[2].outputs[0].text == "saved outputs/cpu/x.csv\n"
    assert clean.cells[2].outputs[1].data["text/plain"] == "$CLIKA_DATA_HOME/clika"
    assert clean.cells[0].source == "see [glossary](../../docs/glossary.md) and [01](01_x.ipynb)"
    assert len(dropped) == 1 and "stderr" in dropped[0]
    assert publish.machine_paths(nb)        # the original still has them: the check can fail


@pytest.mark.parametrize("nb_path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebooks_name_the_kernel_the_setup_registers_link_the_glossary_and_end_with_exercises(nb_path):
    setup = (ROOT / "scripts" / "ensure_env.sh").read_text(encoding="utf-8")
    assert f'--name {publish.KERNEL["name"]} --display-name "{publish.KERNEL["display_name"]}"' in setup
    nb = nbformat.read(nb_path, as_version=4)
    assert nb.metadata.kernelspec.name == publish.KERNEL["name"]
    assert "(../docs/glossary.md)" in nb.cells[0].source
    last = nb.cells[-1]
    assert last.cell_type == "markdown" and last.source.startswith("## Try this")
    items = re.findall(r"^\d\. \*\*.+\*\* — .+\*Time: [^*]+\.\*$", last.source, re.M)
    assert 2 <= len(items) <= 3, last.source
    assert any("results_manifest" in c.source for c in nb.cells if c.cell_type == "code")


def test_generated_numbers_in_readme_and_docs_equal_the_results():
    blocks = report.markdown_blocks("cpu")
    used = set()
    for f in report.doc_files():
        text = f.read_text(encoding="utf-8")
        assert report.fill_blocks(text, blocks, str(f)) == text, f"{f.name}: a generated block differs from the results"
        used |= set(re.findall(r"<!-- ([a-z-]+):begin -->", text))
    assert used == set(blocks)
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    stale = readme.replace("| **all** | **live** |", "| **all** | **live** | 1", 1)       # a hand edit
    assert report.fill_blocks(stale, blocks) != stale
    with pytest.raises(ValueError, match="unknown generated block"):
        report.fill_blocks("<!-- nope:begin -->\n<!-- nope:end -->", blocks)


def test_readme_leads_and_holds_no_hand_copied_result():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    lines = text.splitlines()
    assert len(lines) <= 300
    heads = [line for line in lines if line.startswith("## ")]
    assert heads[:4] == ["## What it found", "## The two commands", "## First steps", "## What it costs"]
    assert re.search(r"^1\. \*\*Get the data", text, re.M) and re.search(r"^4\. \*\*Open the report", text, re.M)
    assert ".venv/bin/jupyter lab" in text and "Python (clika-repro)" in text
    cost = text.split("<!-- cost:begin -->")[1].split("<!-- cost:end -->")[0]
    assert all(f"**{k}:**" in cost for k in ("Time", "RAM", "Disk", "GPU"))
    prose = re.sub(r"<!-- ([a-z-]+):begin -->.*?<!-- \1:end -->", "", text, flags=re.S)
    prose = re.sub(r"```.*?```", "", prose, flags=re.S).replace("95 % CI", "").replace("Python ≥ 3.10", "")
    assert re.findall(r"\d+\.\d+|\d+ ?%", prose) == [], "a number outside the generated blocks"


def test_every_relative_link_in_readme_and_docs_resolves():
    broken = []
    for f in report.doc_files():
        for target in re.findall(r"\]\(([^)\s]+)\)", f.read_text(encoding="utf-8")):
            if target.startswith(("http:", "https:", "#", "mailto:")):
                continue
            if not (f.parent / target.split("#")[0]).exists():
                broken.append(f"{f.relative_to(ROOT)} -> {target}")
    assert broken == []


def test_every_claim_row_has_a_headline_and_the_tour_says_what_was_measured():
    from clika_utils.experiments import tour
    table = pd.read_csv(ROOT / "figures" / "claims.csv", keep_default_na=False, na_values=[""])
    from clika_utils import experiments
    mods = [experiments.module(nb) for nb in experiments.NOTEBOOKS]
    declared = {c.key: c for m in mods for c in getattr(m, "CLAIMS", [])}
    assert set(table.key) == set(declared)                   # every declared claim has a row, every row a declaration
    assert all(declared[k].headline == head for k, head in zip(table.key, table.headline))
    h = claims.headlines(table)
    words = {"supported", "contradicted", "no effect", "mixed", "open", "—"}
    for v in [*h.stored_verdict, *h.live_verdict]:
        assert v in words or re.fullmatch(r"partly (supported|contradicted|no effect) \(\d+ of \d+\)", v), v
    text = tour.takeaways(table, "the published run")
    assert all(claims.headline_sentence(x) in text for x in h.itertuples())
    against = table[table.verdict == "contradicted"]
    assert all(r.measured in text for r in against.itertuples())


def test_a_notebook_whose_input_is_missing_names_the_one_to_run_first(tmp_path, monkeypatch):
    from clika_utils.errors import ConfigError
    from clika_utils.experiments import data_allocation, representation_alignment
    monkeypatch.setenv("CLIKA_WORKDIR", str(tmp_path))
    c = data_allocation.Config.load("smoke")
    with pytest.raises(ConfigError, match=r"run notebook 07_scaling_laws first \(`./run_all.sh smoke --only 07`\)"):
        data_allocation.run(c)
    (tmp_path / "empty").mkdir()
    c = representation_alignment.Config.load("smoke", variant_dirs=["empty"])
    with pytest.raises(ConfigError, match=r"run notebook empty first|no finished fine-tuning job"):
        representation_alignment.run(c)
    c = representation_alignment.Config.load("smoke")
    with pytest.raises(ConfigError, match=r"run notebook 06_cross_lingual_instruction_tuning first"):
        representation_alignment.run(c)


def test_the_tour_runs_last_and_is_listed_first():
    order = runner.execution_order(NOTEBOOKS)
    assert order[-1].stem == "00_tour" and [p.stem for p in order[:-1]] == sorted(experiments.NOTEBOOKS)[1:]


def test_a_run_published_from_another_checkout_shows_no_path_of_either():
    nb = nbformat.v4.new_notebook(metadata={"papermill": {"input_path": "/elsewhere/clone/notebooks/01_x.ipynb"}})
    nb.cells = [nbformat.v4.new_code_cell("x", outputs=[nbformat.v4.new_output(
        "stream", name="stdout", text="read /elsewhere/clone/outputs/cpu/results/01_x/items.csv\n")])]
    clean, _ = publish.clean_notebook(nb, publish.run_root_pairs(nb) + publish.replacements(ROOT))
    assert clean.cells[0].outputs[0].text == "read outputs/cpu/results/01_x/items.csv\n"
    assert publish.run_root_pairs(nbformat.v4.new_notebook()) == []


def test_every_ci_of_the_trained_claims_is_recomputed_from_the_published_unit_level_inputs():
    """The claims whose CIs rest on aggregates computed at run time publish their unit-level inputs: 04's held-out
    loss rows from the per-document losses, 03's XRR rows from the per-item answers of every training run
    (runs, then places), 08's allocation row from the per-sentence hypotheses (training seeds,
    then sentences), 09's middle-layer rows from the per-pair values per layer. Recomputed here from
    ``published/results/`` alone, with the run's own parameters (its sidecars), they equal the published rows."""
    from clika_utils import corpus, provenance
    from clika_utils.experiments import conductivity, data_allocation, pretraining_variants
    from clika_utils.experiments import representation_alignment as rep
    from clika_utils.metrics import bootstrap_weights
    from clika_utils.outdir import system_name
    res = PUBLISHED / "results"

    d = res / "04_pretraining_variants"
    p = provenance.read_sidecar(d / "nll_claims.csv")["parameters"]
    docs = pd.read_csv(d / "live_nll_docs.csv")
    base, cpt, mixed = (system_name(p["label"], v) for v in ("base", f"cpt-{p['target']}", "mixed"))
    cmp = corpus.NLLComparison(docs, [(cpt, base), (mixed, base), (mixed, cpt)], p["n_boot"], p["seed"])
    again = pretraining_variants.nll_claims(cmp, cpt, mixed, base, p["target"], sorted(set(docs.lang)))
    pub = pd.read_csv(d / "nll_claims.csv")
    for col in ("delta", "delta_lo", "delta_hi", "tost_lo", "tost_hi"):
        np.testing.assert_allclose(again[col].to_numpy(float), pub[col].to_numpy(float), rtol=1e-9)
    assert list(again.verdict) == list(pub.verdict)

    d = res / "03_conductivity"
    p = provenance.read_sidecar(d / "xrr.csv")["parameters"]
    again = conductivity.xrr_table(conductivity.load(d)["items"], p["n_boot"], p["seed"],
                                   conductivity.chance_level(p["n_continents"]))
    pub = pd.read_csv(d / "xrr.csv")
    assert (pub.seeds >= 3).all() and list(again.seeds) == list(pub.seeds)       # training runs: the outer level
    for col in ("value", "lo", "hi", "tost_lo", "tost_hi", "se"):
        np.testing.assert_allclose(again[col].to_numpy(float), pub[col].to_numpy(float), rtol=1e-9, err_msg=col)

    d = res / "08_data_allocation"
    p = provenance.read_sidecar(d / "validation.csv")["parameters"]
    got = data_allocation.measured_gain(pd.read_csv(d / "segments.csv", keep_default_na=False, dtype={"item_id": str}),
                                        metric=p["metric"], weights=p["weights"] or None, n_boot=p["n_boot"],
                                        seed=p["seed"])
    v = pd.read_csv(d / "validation.csv").iloc[0]
    for k in ("measured", "lo", "hi", "tost_lo", "tost_hi", "seeds"):
        assert got[k] == pytest.approx(v[k], rel=1e-9), k

    d = res / "09_representation_alignment"
    p = provenance.read_sidecar(d / "family.csv")["parameters"]
    pairs, fam = pd.read_csv(d / "pairs.csv"), pd.read_csv(d / "family.csv").set_index("metric")
    layer_cols = [c for c in pairs.columns if c.startswith("layer_")]
    layers = [int(c.split("_")[1]) for c in layer_cols]
    mid = np.array([rep.region(k, max(layers)) == "middle" for k in layers])
    for metric, part in pairs.groupby("metric"):
        per_system = []
        for _, g in part.groupby("system", sort=False):
            per_lang = []
            for _, h in g.groupby("lang", sort=False):
                values = h.sort_values("pair")[layer_cols].to_numpy().T                   # layers × pairs
                w = bootstrap_weights(values.shape[1], p["n_boot"], p["seed"], f"peak-{metric}")
                reps = (w @ values.T) / values.shape[1]
                per_lang.append(reps[:, mid].max(1) - reps[:, ~mid].max(1))
            per_system.append(np.mean(per_lang, axis=0))
        summary = claims.decide.summarize(np.mean(per_system, axis=0))
        for k in ("lo", "hi", "tost_lo", "tost_hi", "se"):
            assert summary[k] == pytest.approx(fam.loc[metric, k], rel=1e-9, abs=1e-12), (metric, k)


def test_the_dependency_graph_is_read_from_the_notebooks_parameters(tmp_path):
    """The graph --plan prints comes from each notebook's input parameters, declared nowhere else: the paper run's
    order (01 → 04/05, 03 → 05, 06 → 09, 07 → 08, the tour last), 04 and 05 kept apart (one evaluation folder).
    A profile pointing 08 at a table of its own drops the edge to 07."""
    g = runner.graph("cpu")
    needs = {n[:2]: [m[:2] for m in v["needs"]] for n, v in g.items()}
    assert needs == {"00": ["01", "02", "03", "04", "05", "06", "07", "08", "09"], "01": [], "02": [], "03": [],
                     "04": ["01"], "05": ["01", "03"], "06": [], "07": [], "08": ["07"], "09": ["06"]}
    assert g["04_pretraining_variants"]["apart"] == ["05_instruction_tuning"]
    plan = runner.plan_text("smoke")
    assert "j05=$(sbatch --parsable --dependency=afterok:$j01,afterok:$j03,afterany:$j04" in plan
    assert plan.index("--only 07 ") < plan.index("--only 08 ") and "--no-report" in plan
    params = tmp_path / "params"
    shutil.copytree(ROOT / "params", params)
    (params / "08_data_allocation" / "smoke.yaml").write_text(
        (params / "08_data_allocation" / "smoke.yaml").read_text(encoding="utf-8")
        + 'scaling_dir: "mine/scaling"\n', encoding="utf-8")
    assert runner.graph("smoke", params_dir=params)["08_data_allocation"]["needs"] == []


def test_the_parallel_schedule_keeps_the_graph(capsys):
    """--jobs N: simulated on the cpu run's graph with 2 and 3 at a time, finishing in every order a queue can —
    a notebook never starts before what it needs, never beside a notebook sharing its folder, and a shared folder
    sees its writers in the one-at-a-time order; the tour comes last."""
    import itertools
    g = runner.graph("cpu")
    order = [p.stem for p in runner.execution_order([Path(f"{n}.ipynb") for n in g])]
    for jobs, pick in itertools.product((2, 3), (0, -1)):          # which running notebook finishes first
        done, running, started = set(), [], []
        while len(done) < len(order):
            for n in runner.ready(order, g, done, set(running)):
                if len(running) < jobs:
                    assert all(m in done for m in g[n]["needs"]) and not set(g[n]["apart"]) & set(running)
                    running.append(n)
                    started.append(n)
            assert running, "nothing can start: the schedule is stuck"
            done.add(running.pop(pick))
        assert started[-1] == "00_tour"
        assert started.index("04_pretraining_variants") < started.index("05_instruction_tuning")
    assert runner.ready(order, g, set(), set())[:2] == ["01_performance_consistency", "02_live_evaluation"]
    assert runner.main(["smoke", "--jobs", "0"]) == 2 and "--jobs 0: expected" in capsys.readouterr().err


def test_plan_runs_nothing_and_no_report_publishes_nothing(monkeypatch, capsys):
    ran = []
    monkeypatch.setattr(runner, "run_all", lambda *a, **k: ran.append(1) or [])
    assert runner.main(["smoke", "--plan"]) == 0 and not ran and "sbatch" in capsys.readouterr().out
    monkeypatch.setattr(report, "build", lambda *a, **k: ran.append("report"))
    assert runner.main(["smoke", "--only", "01", "--no-report"]) == 0 and ran == [1]
