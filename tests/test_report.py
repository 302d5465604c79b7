"""The browsable report (clika_utils.report): the paper-vs-reproduction verdicts computed by hand from
small results tables, and the page checked in a real headless Chromium — it loads, every image
decodes, every link resolves. The browser tests skip where Chromium is not installed unless
CLIKA_REQUIRE_BROWSER=1 (set by .ci/run, which installs it)."""

import io
import json
import os
import re
import shutil
from pathlib import Path
from urllib.parse import unquote, urlparse

import numpy as np
import pandas as pd
import pytest

from clika_utils import claims as claims_mod
from clika_utils import plots, report


def chromium_path():
    path = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if path is None:
        if os.environ.get("CLIKA_REQUIRE_BROWSER") == "1":
            pytest.fail("CLIKA_REQUIRE_BROWSER=1 but no chromium on PATH (apt-get install chromium)")
        pytest.skip("no chromium on PATH; the browser check needs it (apt-get install chromium)")
    return path


def page_problems(index: Path) -> tuple[list[str], int, int]:
    """Open ``index`` in headless Chromium: (problems, images checked, links checked). A problem is a
    failed request, an image that does not decode, or a link whose target (file, and #fragment) is absent."""
    from playwright.sync_api import sync_playwright
    problems = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path(), args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.on("requestfailed", lambda r: problems.append(f"request failed: {r.url}"))
        page.goto(index.resolve().as_uri())
        page.wait_for_load_state("load")
        if page.evaluate("document.documentElement.scrollWidth > window.innerWidth"):
            problems.append("the page is wider than a 1,280 px window (a column would be cut)")
        if not page.title():
            problems.append("page has no title")
        images = page.eval_on_selector_all("img", "els => els.map(e => [e.src, e.complete && e.naturalWidth > 0])")
        problems += [f"image does not load: {src}" for src, ok in images if not ok]
        links = page.eval_on_selector_all("a[href]", "els => els.map(e => e.href)")
        for href in links:
            url = urlparse(href)
            if url.scheme != "file":
                problems.append(f"non-local link: {href}")
                continue
            target = Path(unquote(url.path))
            if not target.exists():
                problems.append(f"broken link: {href}")
                continue
            if url.fragment and target.suffix == ".html":
                other = browser.new_page()
                other.goto(target.as_uri())
                # as a browser does: the fragment as written, then percent-decoded (nbconvert writes its ids encoded)
                if other.evaluate("ids => ids.every(id => document.getElementById(id) === null)",
                                  [url.fragment, unquote(url.fragment)]):
                    problems.append(f"missing anchor: {href}")
                other.close()
        browser.close()
    return problems, len(images), len(links)


def _results(root: Path) -> dict:
    """Results folders of a fake run, with numbers chosen so every verdict is known (summaries: the 95 %
    interval lo/hi, the 90 % one tost_lo/tost_hi the equivalence test reads, the replicates' SD se)."""
    d = {s: root / s for s in ("01_performance_consistency", "03_conductivity", "06_cross_lingual_instruction_tuning",
                               "08_data_allocation", "09_representation_alignment")}
    for p in d.values():
        p.mkdir(parents=True)
    # three systems above chance in English on x_geo (chance 0.25) and one at chance, whose cells the gate drops
    cells = {"a": ([0.8, 0.6], [0.2, 0.3], 0.7), "b": ([0.7, 0.7], [0.1, 0.2], 0.7), "c": ([0.6, 0.8], [0.3, 0.1], 0.7),
             "d": ([1.5, 1.5], [0.9, 0.9], 0.26)}
    pd.DataFrame([{"system": s, "task": "x_geo", "lang": lang, "accuracy_lo": en_lo if lang == "en" else 0.5,
                   "ra": 1.0 if lang == "en" else ra[k - 1], "co_kappa": 1.0 if lang == "en" else co[k - 1]}
                  for s, (ra, co, en_lo) in cells.items() for k, lang in enumerate(["en", "de", "zh"])]
                 ).to_csv(d["01_performance_consistency"] / "summary.csv", index=False)
    summ = lambda lo, hi, tlo, thi, se: {"lo": lo, "hi": hi, "tost_lo": tlo, "tost_hi": thi, "se": se}  # noqa: E731
    pd.DataFrame([{"target_lang": "zh", "metric": "xrr", "value": 0.1, **summ(0.0, 0.3, 0.02, 0.25, 0.08),
                   "n_type1": 8, "n_en_type1_correct": 8, "name_similarity": 0.0, "note": ""},
                  {"target_lang": "de", "metric": "xrr", "value": 0.9, **summ(0.7, 1.0, 0.75, 1.0, 0.08),
                   "n_type1": 8, "n_en_type1_correct": 8, "name_similarity": 0.8, "note": ""},
                  {"target_lang": "de", "metric": "xrr_ratio", "value": 0.95, **summ(0.8, 1.0, 0.85, 1.0, 0.05),
                   "n_type1": 8, "n_en_type1_correct": 8, "name_similarity": 0.8, "note": ""},
                  {"target_lang": "ar", "metric": "xrr", "value": np.nan, **summ(*[np.nan] * 5), "n_type1": 8,
                   "n_en_type1_correct": 0, "name_similarity": 0.0,
                   "note": "undefined: no item answered correctly in the source language (|C_s| = 0)"},
                  {"target_lang": "fr", "metric": "xrr", "value": 0.52, **summ(0.44, 0.6, 0.46, 0.58, 0.04),
                   "n_type1": 80, "n_en_type1_correct": 80, "name_similarity": 0.8, "note": ""},
                  {"target_lang": "it", "metric": "xrr", "value": 0.1, **summ(0.0, 0.3, 0.02, 0.25, 0.08),
                   "n_type1": 8, "n_en_type1_correct": 8, "name_similarity": 0.9, "note": ""},
                  {"target_lang": "de", "metric": "type1_over_type0", "value": 0.9, **summ(0.7, 1.0, 0.75, 1.0, 0.08),
                   "n_type1": 8, "name_similarity": 0.8}]).to_csv(d["03_conductivity"] / "xrr.csv", index=False)
    pd.DataFrame([{"target_lang": tl, "check": check, "accuracy": 0.0 if (tl, check) == ("it", "Translate") else 1.0,
                   "threshold": 0.9, "passed": (tl, check) != ("it", "Translate")}
                  for tl in ("zh", "de", "ar", "fr", "it") for check in ("Translate", "en type 0")]
                 ).to_csv(d["03_conductivity"] / "gates.csv", index=False)
    gain = lambda lo, hi, tlo, thi, se: {"gain_lo": lo, "gain_hi": hi, "gain_tost_lo": tlo,  # noqa: E731
                                         "gain_tost_hi": thi, "gain_se": se, "n": 16, "gain_defined": 0.9}
    diff = lambda d, lo, hi, tlo, thi, se: {"score": 20.0, "reference_score": 20.0 - d, "diff": d,
                                            "diff_lo": lo, "diff_hi": hi, "diff_tost_lo": tlo, "diff_tost_hi": thi,
                                            "diff_se": se}
    pd.DataFrame([{"benchmark": "xquad", "metric": "f1", "system": "x-llama", "reference": "alpaca",
                   "how": "mean_of_ratios", "langs": "ar+zh", "gain_pct": 50.0, **gain(10.0, 90.0, 15.0, 85.0, 20.0),
                   **diff(7.0, 2.0, 12.0, 3.0, 11.0, 2.5)},
                  {"benchmark": "xquad", "metric": "xllm_match", "system": "x-llama", "reference": "alpaca",
                   "how": "mean_of_ratios", "langs": "ar+zh", "gain_pct": -5.0, **gain(-30.0, 20.0, -25, 15, 12.5),
                   **diff(-1.0, -6.0, 4.0, -5.0, 3.0, 2.5)},
                  {"benchmark": "xquad", "metric": "token_contains", "system": "x-llama", "reference": "alpaca",
                   "how": "mean_of_ratios", "langs": "ar+zh", "gain_pct": 1.0, **gain(0.5, 2.0, 0.6, 1.9, 0.4),
                   **diff(1.0, 0.5, 2.0, 0.6, 1.9, 0.4)},
                  {"benchmark": "xquad", "metric": "f1", "system": "m-llama", "reference": "alpaca",
                   "how": "mean_of_ratios", "langs": "ar+zh", "gain_pct": np.nan, **gain(*[np.nan] * 5),
                   **diff(*[np.nan] * 6)}]
                 ).to_csv(d["06_cross_lingual_instruction_tuning"] / "gains.csv", index=False)
    pd.DataFrame([{"metric": "chrf++", "budget": 48, "n_langs": 3, "predicted": 1.0, "measured": -5.0,
                   **summ(-8.0, -2.0, -7.5, -2.5, 1.5), "n": 24, "seeds": 3, "verdict": "contradicted"}]
                 ).to_csv(d["08_data_allocation"] / "validation.csv", index=False)
    pd.DataFrame([{"system": "base", "lang": lang, "metric": metric, "peak": 9, "peak_lo": 7, "peak_hi": 10,
                   "n_layers": 18, "region": "middle"} for lang in ("de", "zh", "ar")
                  for metric in ("cos_gap_centred", "retrieval", "cos_gap")]
                 ).to_csv(d["09_representation_alignment"] / "peaks.csv", index=False)
    middle = [{"metric": "cos_gap_centred", "n": 32, "advantage": 0.02, **summ(0.01, 0.03, 0.012, 0.028, 0.005)},
              {"metric": "retrieval", "n": 32, "advantage": 0.0, **summ(-0.03, 0.03, -0.025, 0.025, 0.015)},
              {"metric": "cos_gap", "n": 32, "advantage": -0.3, **summ(-0.4, -0.2, -0.38, -0.22, 0.05)}]
    pd.DataFrame([{"system": "base", "langs": "de+zh+ar", **m} for m in middle]
                 ).to_csv(d["09_representation_alignment"] / "middle.csv", index=False)
    pd.DataFrame([{"systems": 1, "names": "base", **m} for m in middle]
                 ).to_csv(d["09_representation_alignment"] / "family.csv", index=False)
    return {k[:2] + k[2:]: v for k, v in d.items()}


def test_claims_verdicts_by_hand(tmp_path):
    t = report.claims(_results(tmp_path)).set_index("claim")
    pf = t.loc["LLMs are less accurate in non-English languages than in English (RA < 1)"]
    assert pf.verdict == "supported" and "mean RA 0.700 over 6 cells of 3 stored systems" in pf.measured  # d gated
    assert pf.effect == pytest.approx(0.7 - 1.0) and pf.source == "stored" and pf.n == 3
    assert "2 cells left out by the chance gate" in pf.note and "cluster bootstrap over systems" in pf.note
    ct = t.loc["Knowledge is less consistent across languages than the accuracies allow (en-CO beyond chance below "
               "0.5)"]
    assert "0.200" in ct.measured and ct.verdict == "supported" and ct.effect == pytest.approx(0.2 - 0.5)
    assert ct.margin == 0.1
    xrr = t[t.index.str.startswith("Knowledge conductivity is low")]
    # zh: hi 0.3 < 0.5; de: lo 0.7 > 0.5; ar undefined; fr: 90 % interval 0.46..0.58 within 0.5 ± 0.1;
    # it: would be supported, but its Translate gate failed
    assert list(xrr.verdict) == ["supported", "contradicted", "not measurable", "no effect", "not measurable"]
    assert xrr.effect.iloc[0] == pytest.approx(0.1 - 0.5) and xrr.margin.iloc[0] == 0.1
    assert xrr.mde.iloc[0] == pytest.approx((1.959964 + 0.841621) * 0.08, rel=1e-5)
    assert "ratio variant acc_l/acc_en 0.950" in xrr.note.iloc[1] and "|C_s| = 0" in xrr.measured.iloc[2]
    assert "failed: Translate 0%" in xrr.reason.iloc[4] and "Translate 0% FAILED" in xrr.note.iloc[4]
    assert xrr.effect.iloc[4] == pytest.approx(-0.4)        # the estimate is still reported
    x = t.loc[["x-LLaMA (CoIT) beats Alpaca on non-English QA (paper: +27.83 % on average)"]]
    # F1 points (primary), F1 relative, match points, match relative; not token_contains
    assert list(x.verdict) == ["supported", "supported", "no effect", "inconclusive"]
    assert "Δ +7.0 points" in x.measured.iloc[0] and x.margin.iloc[0] == 10.0 and pd.isna(x.n_needed.iloc[0])
    assert "F1 gain +50.0 %" in x.measured.iloc[1] and "x-LLM match gain -5.0 %" in x.measured.iloc[3]
    assert "defined in 90% of the bootstrap replicates" in x.note.iloc[1]
    # the paper's +27.83 %: MDE 2.80 * 12.5 = 35.0 at 16 questions -> 16 * (35.0 / 27.83)^2 = 25.3 -> 26;
    # the F1 row: 2.80 * 20 = 56.0 -> 16 * (56.0 / 27.83)^2 = 64.8 -> 65
    assert x.n_needed.iloc[3] == 26 and x.n_needed.iloc[1] == 65
    m = t.loc["m-LLaMA (one multilingual model, MuIT) also beats Alpaca on non-English QA"]
    assert (m.verdict == "not measurable").all() and "undefined" in m.measured.iloc[1]
    al = t.loc["Allocating the translation budget by the scaling laws beats equal shares"]
    assert al.verdict == "contradicted" and al.margin == 3.0 and al.seeds == 3  # 1 point x 3 languages
    assert "hierarchical bootstrap: training seeds" in al.note
    mid = t.loc["Languages align best in the middle layers (x-LLaMA, paper body): centred cosine gap"]
    assert mid.verdict == "negligible" and "3/3" in mid.measured        # CI excludes 0, 90 % inside ±0.1
    mid = t.loc["Languages align best in the middle layers (x-LLaMA, paper body): retrieval"]
    assert mid.verdict == "no effect" and mid.margin == 0.1
    assert not t.index.str.contains("raw cosine").any()                 # a variant, never judged
    for claim in t.index[t.notebook.isin(["04", "05", "07"])]:
        assert t.loc[claim].verdict == "not run"
    assert list(report.claims(_results(tmp_path / "again")).columns) == claims_mod.ROW_COLUMNS


def _fake_run(work: Path):
    (work / "params" / "01_x").mkdir(parents=True)
    (work / "params" / "01_x" / "cpu.yaml").write_text("results_dir: res/01\nfigures_dir: figs\n", encoding="utf-8")
    executed = work / "executed"
    executed.mkdir()
    import nbformat
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("print(1)", outputs=[
        nbformat.v4.new_output("stream", name="stderr", text="warning: noise\n"),
        nbformat.v4.new_output("stream", name="stdout", text=f"wrote {work}/res/01/t.csv\n")])])
    nbformat.write(nb, executed / "01_x.ipynb")
    pd.DataFrame([{"notebook": "01_x", "status": "ok", "seconds": 1.0}]).to_csv(executed / "runs.csv", index=False)
    (work / "res" / "01").mkdir(parents=True)
    src = work / "res" / "01" / "t.csv"
    src.write_text("a\n1\n", encoding="utf-8")
    from clika_utils.provenance import write_sidecar
    write_sidecar(src, kind="results", parameters={}, seed=0, inputs={})
    import matplotlib.pyplot as plt
    plots.use_style()
    fig, ax = plt.subplots(figsize=(2, 2))
    ax.plot([0, 1], [0, 1])
    ax.set_title("中文 Ελληνικά")
    plots.save_figure(fig, "demo", work / "figs", sources=[src], parameters={"k": 1}, caption="a demo figure")
    import base64
    nb = nbformat.read(executed / "01_x.ipynb", as_version=4)      # the notebook shows the figure and links onwards
    nb.cells.append(nbformat.v4.new_markdown_cell("[next](02_y.ipynb) · [terms](../docs/glossary.md#the-papers)"))
    nb.cells.append(nbformat.v4.new_code_cell("fig", outputs=[nbformat.v4.new_output(
        "display_data", data={"image/png": base64.b64encode((work / "figs" / "demo.png").read_bytes()).decode()})]))
    nbformat.write(nb, executed / "01_x.ipynb")
    return executed


def test_report_page_loads_and_every_link_and_image_resolves(tmp_path, monkeypatch):
    import nbformat
    chromium_path()
    monkeypatch.setenv("CLIKA_WORKDIR", str(tmp_path))
    executed = _fake_run(tmp_path)
    index = report.build("cpu", executed_dir=executed, out_dir=tmp_path / "reports", params_dir=tmp_path / "params")
    text = index.read_text(encoding="utf-8")
    assert "a demo figure" in text and "res/01/t.csv" in text and "Paper vs reproduction" in text
    problems, n_img, n_links = page_problems(index)
    assert problems == [] and n_img == 1 and n_links >= 5
    published = nbformat.read(tmp_path / "reports" / "notebooks" / "01_x.ipynb", as_version=4)
    assert [o.text for o in published.cells[0].outputs] == ["wrote res/01/t.csv\n"]   # stderr gone, path relative
    # the publication alone, anywhere: its figures, docs and notebook pages are inside it, nothing from the network
    alone = tmp_path / "downloaded" / "published"
    shutil.copytree(tmp_path / "reports", alone)
    shutil.move(str(tmp_path / "figs"), str(tmp_path / "figs-gone"))
    problems, n_img, _ = page_problems(alone / "index.html")
    assert problems == [] and n_img == 1
    page = (alone / "notebooks" / "01_x.html").read_text(encoding="utf-8")
    assert not re.search(r'<script[^>]*src="https?:', page)
    assert 'href="02_y.html"' in page and 'href="../docs/glossary.html#the-papers"' in page
    assert '<img alt="a demo figure"' in page and 'src="../figures/demo.png"' in page
    assert (alone / "docs" / "glossary.html").exists() and (alone / "figures" / "demo.pdf").exists()
    problems, _, n_links = page_problems(alone / "docs" / "glossary.html")     # its links to other docs' headings
    assert problems == [] and n_links >= 5 and 'id="margins-δ"' in (alone / "docs" / "analysis-plan.html").read_text(
        encoding="utf-8")
    wide = alone / "wide.html"                             # the layout check can fail
    wide.write_text((alone / "index.html").read_text(encoding="utf-8").replace(
        "</body>", "<div style='width:2000px'>x</div></body>"), encoding="utf-8")
    assert any("wider than" in p for p in page_problems(wide)[0])
    (alone / "figures" / "demo.png").unlink()              # the check can fail
    (alone / "notebooks" / "01_x.html").unlink()
    problems, _, _ = page_problems(alone / "index.html")
    assert any("image does not load" in p for p in problems) and any("broken link" in p for p in problems)


def test_figure_provenance_in_the_report_names_the_results(tmp_path, monkeypatch):
    monkeypatch.setenv("CLIKA_WORKDIR", str(tmp_path))
    executed = _fake_run(tmp_path)
    report.build("cpu", executed_dir=executed, out_dir=tmp_path / "reports", params_dir=tmp_path / "params")
    side = json.loads((tmp_path / "figs" / "demo.png.provenance.json").read_text(encoding="utf-8"))
    assert side["caption"] == "a demo figure" and list(side["inputs"]) == ["res/01/t.csv"]


def test_the_committed_claims_table_is_what_the_published_results_give_and_the_readme_cites_it():
    """figures/claims.csv is the cpu run's claims table: the report's columns, a sidecar naming the results it was
    read from, every row recomputed from ``published/results/`` alone equal to it (effect, CI, verdict), a seeds
    column (3 for the allocation), a live CLiKA-stream row with no cell past the chance gate not measurable, and
    the README's verdict counts equal to the table's."""
    from clika_utils.settings import project_root
    root = project_root()
    path = root / "figures" / "claims.csv"
    t = pd.read_csv(path, keep_default_na=False, na_values=[""])
    assert list(t.columns) == claims_mod.ROW_COLUMNS
    assert set(t.verdict) <= set(claims_mod.decide.VERDICTS) | {"not run"} and "not run" not in set(t.verdict)
    side = json.loads((root / "figures" / "claims.csv.provenance.json").read_text(encoding="utf-8"))
    assert side["kind"] == "claims table" and len(side["inputs"]) > 20
    dirs = {stem: root / "published" / "results" / stem for stem in report.results_dirs("cpu")}
    again = report.claims(dirs)
    again = pd.read_csv(io.StringIO(again.to_csv(index=False)), keep_default_na=False, na_values=[""])
    pd.testing.assert_frame_equal(again, t, check_dtype=False)
    assert (t.seeds >= 1).all() and (t[t.notebook.isin([3, 8])].seeds >= 3).all()
    stream = t[(t.source == "live") & t.measured.str.startswith("live CLiKA streams")]
    no_cell = stream.measured.str.endswith("no cell")
    assert (stream[no_cell].verdict == "not measurable").all()
    readme = (root / "README.md").read_text(encoding="utf-8")
    block = readme.split("<!-- claims:begin -->")[1].split("<!-- claims:end -->")[0]
    assert block.strip() == report.claims_summary(t).strip()


def test_the_report_refuses_a_folder_it_does_not_own_and_a_failure_keeps_the_last_publication(tmp_path, monkeypatch):
    from clika_utils.errors import ConfigError
    monkeypatch.setenv("CLIKA_WORKDIR", str(tmp_path))
    executed = _fake_run(tmp_path)
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("my notes", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"no clika command wrote.*\(notes\.txt\)"):
        report.build("cpu", executed_dir=executed, out_dir=tmp_path / "mine", params_dir=tmp_path / "params")
    assert (tmp_path / "mine" / "notes.txt").read_text(encoding="utf-8") == "my notes"
    index = report.build("cpu", executed_dir=executed, out_dir=tmp_path / "pub", params_dir=tmp_path / "params")
    before = index.read_bytes()

    def boom(dirs):
        raise RuntimeError("a failure half-way")
    monkeypatch.setattr(report, "claims", boom)
    with pytest.raises(RuntimeError):
        report.build("cpu", executed_dir=executed, out_dir=tmp_path / "pub", params_dir=tmp_path / "params")
    assert index.read_bytes() == before and (tmp_path / "pub" / "notebooks" / "01_x.ipynb").exists()


def test_a_second_report_into_the_same_folder_is_refused_while_one_is_written(tmp_path, monkeypatch):
    from filelock import FileLock

    from clika_utils.errors import ConfigError
    monkeypatch.setenv("CLIKA_WORKDIR", str(tmp_path))
    executed = _fake_run(tmp_path)
    with FileLock(str(tmp_path / ".pub.lock")):
        with pytest.raises(ConfigError, match="another report is being written"):
            report.build("cpu", executed_dir=executed, out_dir=tmp_path / "pub", params_dir=tmp_path / "params")
    assert report.build("cpu", executed_dir=executed, out_dir=tmp_path / "pub",
                        params_dir=tmp_path / "params").exists()
