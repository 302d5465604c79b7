"""The published run: the report page ``published/index.html`` (cpu; ``outputs/<profile>/published/`` for the
other profiles), built by ``./run_all.sh`` after the notebooks, with the cleaned executed notebooks
(:mod:`clika_utils.publish`) in ``notebooks/`` and the results tables in ``results/`` beside it:

* every figure (PNG, with a link to the PDF) with its caption and provenance — git commit, parameters,
  the results files it was drawn from with their SHA-256 — read from the figure's sidecar;
* a **paper vs reproduction** table: each claim of both papers' abstracts (and x-LLaMA's middle-layer
  finding from its body), what this reproduction measured, the CI, and a verdict — the claims each
  experiment declares (``CLAIMS``), read from the profile's results by the experiment itself
  (``claim_rows``); the report knows no results schema (:mod:`clika_utils.claims`).

The same table is written as one CSV, ``claims.csv`` in the profile's figures folder (``figures/claims.csv``
for ``cpu``, committed with the figures) with a provenance sidecar naming every results file it was read
from: paper, claim, source (stored outputs / live run), metric, effect, CI, minimum detectable effect,
δ, sample size, the sample that would detect the paper's stated effect, verdict and its reason. Beside it,
``README.md`` is the figures folder's contact sheet (:func:`contact_sheet`): every figure, its caption,
the results it was drawn from and the command that makes it.

Verdicts (:mod:`clika_utils.decide`, the one rule, fixed in docs/analysis-plan.md): *supported* /
*contradicted* when the 95 % CI excludes the no-effect value on the claimed / the opposite side, *negligible*
when it does but the effect lies within ±δ, *no effect* when two one-sided tests put the effect within ±δ,
*inconclusive* otherwise (with the smallest effect the sample could detect), *not measurable* when the metric
means nothing there (a model at chance, a failed gate; its reason in the row), *not run* when the notebook's
results are missing. Above the rows, each headline claim gets one verdict per source (:func:`claims.headlines`).
Thresholds that need a choice are stated in the row (XRR "low" means below 0.5 on the
published, chance-corrected transfer scale, where 0 is chance).
Everything is local: the page loads no remote script, font or image.
"""

from __future__ import annotations

import html
import json
import re
import shutil
import sys
from pathlib import Path

import pandas as pd

from .claims import ROW_COLUMNS, headlines
from .config import derive_paths, load_yaml
from .decide import DECIDED
from .errors import ClikaError, warn
from .io import write_text_atomic
from .provenance import read_sidecar, sidecar_path
from .settings import project_root, resolve


def _param_paths(profile: str, key: str, params_dir: Path | None) -> dict[str, Path]:
    params_dir = params_dir or project_root() / "params"
    out = {}
    for p in sorted(params_dir.glob(f"*/{profile}.yaml")):
        values = load_yaml(p.read_text(encoding="utf-8")) or {}
        given = {"profile": profile, key: values.get(key, "")}
        out[p.parent.name] = resolve(derive_paths(given, p.parent.name)[key])
    return out


def results_dirs(profile: str, params_dir: Path | None = None) -> dict[str, Path]:
    """{notebook stem: its results folder}: the profile's parameter file's, else the derived one."""
    return _param_paths(profile, "results_dir", params_dir)


def figures_dirs(profile: str, params_dir: Path | None = None) -> list[Path]:
    """The distinct figure folders of the profile's parameter files."""
    return sorted(set(_param_paths(profile, "figures_dir", params_dir).values()))


def _claims_inputs(dirs: dict[str, Path]) -> list[Path]:
    return sorted(p for d in dirs.values() if d is not None and Path(d).is_dir() for p in Path(d).glob("*.csv"))


def write_claims(table: pd.DataFrame, dirs: dict[str, Path], out: Path, profile: str) -> Path:
    """The claims table as ``out`` (CSV, deterministic bytes) with a sidecar hashing every results file read."""
    from .io import write_csv_atomic
    from .provenance import input_hashes, write_sidecar
    write_csv_atomic(table, out)
    write_sidecar(out, kind="claims table", parameters={"profile": profile}, seed=None,
                  inputs=input_hashes(_claims_inputs(dirs), root=resolve(".")),
                  extra={"verdicts": {k: int(v) for k, v in table.verdict.value_counts().sort_index().items()}})
    return out


def claims_summary(table: pd.DataFrame) -> str:
    """A Markdown table of verdict counts by paper and source (stored outputs / live runs) — what the README
    shows between its ``<!-- claims:begin -->`` and ``<!-- claims:end -->`` markers (a test keeps it equal
    to ``figures/claims.csv``)."""
    from .decide import VERDICTS
    verdicts = [v for v in (*VERDICTS, "not run") if v in set(table.verdict)]
    lines = ["| paper | source | rows | " + " | ".join(verdicts) + " | decided |",
             "|---|---|---|" + "---|" * len(verdicts) + "---|"]
    for (paper, source), g in table.groupby(["paper", "source"], sort=True):
        counts = g.verdict.value_counts()
        decided = int(g.verdict.isin(DECIDED).sum())
        lines.append(f"| {paper} | {source} | {len(g)} | " + " | ".join(str(int(counts.get(v, 0))) for v in verdicts)
                     + f" | {decided} ({100 * decided / len(g):.0f} %) |")
    live = table[table.source == "live"]
    decided = int(live.verdict.isin(DECIDED).sum())
    lines.append(f"| **all** | **live** | **{len(live)}** | " + " | ".join(
        str(int((live.verdict == v).sum())) for v in verdicts) + f" | **{decided} ({100 * decided / max(1, len(live)):.0f} %)** |")
    return "\n".join(lines)


def _md_cell(text) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def verdict_table(table: pd.DataFrame) -> str:
    """The README's first table: each headline claim of both papers (:func:`claims.headlines`), the verdicts of
    its rows on the 42 systems' stored outputs and in the live runs, each source's verdict by the aggregation rule
    (:func:`claims.overall`; the two sources never vote together) beside its row counts."""
    from . import experiments
    stems = {int(stem[:2]): stem for stem in experiments.NOTEBOOKS}
    lines = ["| paper | claim | notebook | stored outputs (42 systems) | rows | live runs (Gemma-3-270M) | rows |",
             "|---|---|---|---|---|---|---|"]
    lines += [f"| {h.paper} | {_md_cell(h.headline)} | [{h.notebook:02d}](published/notebooks/{stems[h.notebook]}.ipynb) "
              f"| **{h.stored_verdict}** | {h.stored} | **{h.live_verdict}** | {h.live} |"
              for h in headlines(table).itertuples()]
    return "\n".join(lines)


def claims_markdown(table: pd.DataFrame) -> str:
    """Every row of the claims table, per notebook: claim, source, what was measured, the CI, verdict."""
    out = []
    for nb, g in table.groupby("notebook", sort=True):
        out += ["", f"**Notebook {int(nb):02d}**", "", "| claim | source | measured | 95 % CI of the effect | detectable | n | verdict |",
                "|---|---|---|---|---|---|---|"]
        out += [f"| {_md_cell(r.claim)} | {r.source} | {_md_cell(r.measured)} | {r.ci} | {_num(r.mde)} | "
                f"{'' if pd.isna(r.n) else int(r.n)} | {r.verdict} |" for r in g.itertuples()]
    return "\n".join(out).strip()


def open_rows(table: pd.DataFrame) -> str:
    """Every row that is not decided: claim, source, what was measured, the detectable effect, why."""
    t = table[~table.verdict.isin(DECIDED)]
    lines = ["| notebook | claim | source | measured | detectable | verdict | why |", "|---|---|---|---|---|---|---|"]
    lines += [f"| {int(r.notebook):02d} | {_md_cell(r.claim)} | {r.source} | {_md_cell(r.measured)} | {_num(r.mde)} | "
              f"{r.verdict} | {_md_cell(r.reason if isinstance(r.reason, str) else '')} |" for r in t.itertuples()]
    return "\n".join(lines)


def _run_record(profile: str) -> tuple[dict, pd.DataFrame]:
    folder = default_out(profile)
    record = json.loads((folder / "run.json").read_text(encoding="utf-8")) if (folder / "run.json").exists() else {}
    runs = pd.read_csv(folder / "runs.csv") if (folder / "runs.csv").exists() else \
        pd.DataFrame(columns=["notebook", "status", "seconds"])
    return record, runs


def cost_lines(profile: str = "cpu") -> str:
    """The README's cost lines, from the published run's ``run.json`` (what ``./run_all.sh`` measured)."""
    r, _ = _run_record(profile)
    if not r:
        return "(no published run yet: `./run_all.sh` writes these lines)"
    jobs = r.get("jobs", 1)
    wall = f" ({r['wall_minutes']:.0f} min of wall clock with `--jobs {jobs}`)" if jobs > 1 and r.get("wall_minutes") \
        else ""
    return "\n".join([
        f"* **Time:** {r['minutes']:.0f} min for the whole `{profile}` run on {r['cores']} cores ({r['cpu']}){wall}; "
        "plus, the first time, creating `.venv` (pip install of the pinned requirements).",
        f"* **RAM:** {r['peak_kernel_rss_gib']:.1f} GiB at the peak (the largest notebook kernel).",
        f"* **Disk:** {r['outputs_gib']:.1f} GiB of outputs (adapters, caches, results) in `outputs/{profile}/`, "
        "plus the environment `.venv` and the data.",
        "* **GPU:** none for `smoke` and `cpu`; the `paper` profile (7B–13B models) needs one or more GPUs."])


def timing_table(profile: str = "cpu") -> str:
    """Seconds per notebook of the published run."""
    r, runs = _run_record(profile)
    lines = ["| notebook | status | time |", "|---|---|---|"]
    lines += [f"| {x.notebook} | {x.status} | {x.seconds / 60:.1f} min |" for x in runs.itertuples()]
    if r:
        lines.append(f"| **whole run** | {r['ok']} of {r['notebooks']} ok | **{r['minutes']:.1f} min** |")
        if r.get("jobs", 1) > 1 and r.get("wall_minutes"):
            lines.append(f"| **wall clock** (`--jobs {r['jobs']}`) | | **{r['wall_minutes']:.1f} min** |")
    return "\n".join(lines)


def benchmark_tables(folder: Path | None = None) -> dict[str, str]:
    """docs/benchmarks.md's tables, from the committed benchmark results (``benchmarks/results/``)."""
    folder = Path(folder or project_root() / "benchmarks" / "results")
    ev = pd.read_csv(folder / "eval_vs_lmeval.csv")
    rows = ["| system | items/s | speed-up vs lm-eval | time / floor | identical predictions to lm-eval |",
            "|---|---|---|---|---|"]
    rows += [f"| {r.system} | {r.items_per_s:.3g} | {r.speedup_vs_lm_eval:.2f}× | {r.ratio_to_floor:.2f}× | "
             f"{round(r.agreement_with_lm_eval * r.items)} / {r.items} |" for r in ev.itertuples()]
    tr = json.loads((folder / "train_head.json").read_text(encoding="utf-8"))
    train = ["| loss computation | tokens/s | speed-up | time / floor |", "|---|---|---|---|",
             f"| transformers' standard (`model(..., labels=...)`: logits at all positions) | "
             f"{tr['tokens_per_s_standard']:.1f} | 1.00× | {tr['ratio_to_floor_standard']:.2f}× |",
             f"| clika supervised-positions head (default) | {tr['tokens_per_s_supervised']:.1f} | "
             f"{tr['speedup']:.2f}× | {tr['ratio_to_floor_supervised']:.2f}× |",
             f"| floor: body only, no LM head | {tr['tokens_per_s_floor_body_only']:.1f} | — | 1.00× |", "",
             f"Loss agreement over the {tr['steps']} steps: max abs Δloss {tr['max_abs_loss_diff']:.1e}."]
    out = {"bench-eval": "\n".join(rows), "bench-train": "\n".join(train)}
    if (folder / "probe.csv").exists():
        pr = pd.read_csv(folder / "probe.csv")
        probe = ["| path | seconds | speed-up vs before | speed-up vs lm-eval | time / floor | same predictions as before |",
                 "|---|---|---|---|---|---|"]
        probe += [f"| {r.system} | {r.score_s:.1f} | {r.speedup_vs_before:.2f}× | "
                  + ("—" if pd.isna(r.speedup_vs_lm_eval) else f"{r.speedup_vs_lm_eval:.2f}×")
                  + f" | {r.ratio_to_floor:.2f}× | {round(r.same_predictions_as_before * r.questions)} / {r.questions} |"
                  for r in pr.itertuples()]
        out["bench-probe"] = "\n".join(probe)
    return out


def markdown_blocks(profile: str = "cpu") -> dict[str, str]:
    """{block name: Markdown} — what README.md and docs/*.md show between ``<!-- name:begin -->`` and
    ``<!-- name:end -->``, generated from the committed claims table and the published run record."""
    table = pd.read_csv(claims_path(profile), keep_default_na=False, na_values=[""])
    return {"verdicts": verdict_table(table), "claims": claims_summary(table), "claims-table": claims_markdown(table), "open": open_rows(table),
            "cost": cost_lines(profile), "timing": timing_table(profile), **benchmark_tables()}


_BLOCK = re.compile(r"(<!-- ([a-z-]+):begin -->)(.*?)(<!-- \2:end -->)", re.S)


def fill_blocks(text: str, blocks: dict[str, str], where: str = "") -> str:
    """``text`` with every generated block replaced by its current content; an unknown block is an error."""
    def sub(m):
        if m.group(2) not in blocks:
            raise ValueError(f"{where}: unknown generated block {m.group(2)!r}; expected one of {sorted(blocks)}")
        return m.group(1) + "\n" + blocks[m.group(2)] + "\n" + m.group(4)
    return _BLOCK.sub(sub, text)


def doc_files() -> list[Path]:
    root = project_root()
    return [root / "README.md", *sorted((root / "docs").glob("*.md"))]


def update_docs(profile: str = "cpu") -> list[Path]:
    """Regenerate the blocks of README.md and docs/*.md (``./run_all.sh cpu`` does it after the report)."""
    blocks = markdown_blocks(profile)
    changed = []
    for f in doc_files():
        text = f.read_text(encoding="utf-8")
        new = fill_blocks(text, blocks, str(f))
        if new != text:
            write_text_atomic(f, new)
            changed.append(f)
    return changed


def claims_path(profile: str, params_dir: Path | None = None) -> Path:
    """Where the profile's claims table is written: ``claims.csv`` in its (first) figures folder."""
    return figures_dirs(profile, params_dir)[0] / "claims.csv"


def claims(dirs: dict[str, Path]) -> pd.DataFrame:
    """The paper-vs-reproduction table from the results folders ``dirs`` (see :func:`results_dirs`): every
    experiment's declared claims (:mod:`clika_utils.claims`), in notebook order, read by the experiment."""
    from . import experiments
    rows = []
    for stem in experiments.NOTEBOOKS:
        module = experiments.module(stem)
        if hasattr(module, "claim_rows"):
            rows += module.claim_rows(dirs.get(stem))
    return pd.DataFrame(rows, columns=ROW_COLUMNS)


def latest_claims(profile: str) -> tuple[pd.DataFrame, str]:
    """(claims table, where it was read from) for the tour's takeaways: each notebook's results of this
    profile's run where they exist, else the published run's (``published/results/``; a fresh clone has
    those); a notebook with neither is *not run*."""
    dirs, used = {}, set()
    for stem, folder in results_dirs(profile).items():
        published = default_out(profile) / "results" / stem
        if folder is not None and any(Path(folder).glob("*.csv")):
            dirs[stem] = folder
            used.add(f"this run: outputs/{profile}/results")
        elif any(published.glob("*.csv")):
            dirs[stem] = published
            used.add("the published run: " + ("published/results" if profile == "cpu"
                                                else f"outputs/{profile}/published/results"))
    return claims(dirs), " and ".join(sorted(used)) or "no results yet"


# ----------------------------------------------------------------------------------------------
# page

STYLE = """body{font-family:sans-serif;margin:2em auto;max-width:1200px;padding:0 1em} table{border-collapse:collapse}
td,th{padding:4px 8px;border-bottom:1px solid #ddd;vertical-align:top;text-align:left;overflow-wrap:anywhere}
.scroll{overflow-x:auto;max-width:100%} .ok,.supported{color:#060} .failed,.incomplete,.contradicted{color:#a00}
.inconclusive,.partly-supported,.partly-contradicted,.partly-no-effect,.mixed,.open{color:#666}
.not-run,.not-measurable{color:#999} .no-effect,.negligible{color:#0072B2} figure{display:block;margin:0 0 2.5em 0}
figure img{width:100%;height:auto} img{max-width:100%;height:auto} figcaption{font-size:90%} details{font-size:80%} pre{white-space:pre-wrap}"""


def _figure_meta(png: Path) -> dict:
    """A figure's provenance sidecar ({} when it has none)."""
    return read_sidecar(png) if sidecar_path(png).exists() else {}


def _figure_html(png: Path, rel: str) -> str:
    meta = _figure_meta(png)
    pdf = png.with_suffix(".pdf")
    git = meta.get("git", {})
    inputs = "".join(f"<li>{html.escape(k)} <code>{html.escape(v[:12])}</code></li>"
                     for k, v in meta.get("inputs", {}).items())
    return (f"<figure id='{html.escape(png.stem)}'><a href='{rel}/{html.escape(png.name)}'>"
            f"<img src='{rel}/{html.escape(png.name)}' alt='{html.escape(png.stem)}'></a>"
            f"<figcaption><b>{html.escape(png.stem)}</b> — {html.escape(meta.get('caption', '(no caption)'))}"
            + (f" <a href='{rel}/{html.escape(pdf.name)}'>PDF</a>" if pdf.exists() else "")
            + f"<details><summary>provenance</summary>commit <code>{html.escape(str(git.get('commit', '?'))[:12])}"
            f"</code>{' (uncommitted changes)' if git.get('dirty') else ''}; parameters "
            f"<pre>{html.escape(json.dumps(meta.get('parameters', {}), ensure_ascii=False))}</pre>"
            f"drawn from<ul>{inputs}</ul></details></figcaption></figure>")


def _figures_by_notebook(pngs: list[Path]) -> str:
    """The figures under one heading per notebook (the one their sidecar names), notebooks in order."""
    groups: dict[str, list[Path]] = {}
    for png in pngs:
        groups.setdefault(str(_figure_meta(png).get("parameters", {}).get("notebook", "other")), []).append(png)
    return "".join(f"<h3>{html.escape(nb)}</h3>" + "".join(_figure_html(p, "figures") for p in groups[nb])
                   for nb in sorted(groups, key=lambda n: (n == "other", n)))


def contact_sheet(fig_dir: Path, profile: str) -> str:
    """``README.md`` of a figures folder, built from the figures' sidecars only: per notebook, every figure
    (image, PDF link), its caption (what it shows), the results files it was drawn from, and the commands
    that make it (the whole notebook, or only the drawing from cached results)."""
    fig_dir = Path(fig_dir)
    by_nb: dict[str, list] = {}
    for png in sorted(fig_dir.glob("*.png")):
        meta = _figure_meta(png)
        by_nb.setdefault(meta.get("parameters", {}).get("notebook", "unknown"), []).append((png, meta))
    from .plots import CONTACT_SHEET_HEAD
    lines = [f"{CONTACT_SHEET_HEAD}{profile}` profile", "",
             "Generated by `python -m clika_utils.report " + profile + "` (the last step of `./run_all.sh "
             + profile + "`) from the figures' provenance sidecars; do not edit by hand. Every figure is drawn "
             "from results tables only and follows one visual language (`clika_utils.plots`): one colour per "
             "language in every figure, systems by their published names, colour bars in the unit printed in the "
             "cells, 95 % CIs on every estimate from a small sample, dotted chance lines, dashed references.", "",
             "| notebook | figures |", "|---|---|"]
    lines += [f"| [{nb}](#{nb}) | " + ", ".join(f"[{p.stem}](#{p.stem})" for p, _ in figs)  # GitHub keeps "_" in anchors
              + " |" for nb, figs in sorted(by_nb.items())]
    for nb, figs in sorted(by_nb.items()):
        nn = nb[:2]
        lines += ["", f"## {nb}", "",
                  f"Make: `./run_all.sh {profile} --only {nn}` (computes, then draws). Re-draw from the cached "
                  f"results only: `python -m clika_utils.figcheck {profile} --only {nn} --keep <folder>`.", ""]
        for png, meta in figs:
            inputs = ", ".join(f"`{Path(k).name}`" for k in sorted(meta.get("inputs", {})))
            pdf = f" · [PDF]({png.stem}.pdf)" if png.with_suffix(".pdf").exists() else ""
            lines += [f"### {png.stem}", "", f"![{png.stem}]({png.name})", "",
                      f"{meta.get('caption', '(no caption)')}{pdf}", "", f"Drawn from: {inputs or '—'}.", ""]
    return "\n".join(lines).rstrip() + "\n"


#: Results files larger than this are not published (the per-item table of the 42 stored systems, 29 MB):
#: ``./run_all.sh`` regenerates them; the published folder's README lists what was left out.
MAX_PUBLISHED_BYTES = 5_000_000


def finished(executed: Path) -> bool:
    """Whether papermill ran every code cell of the executed notebook to completion (a run killed half-way leaves
    cells "pending" or "running", whatever an older ``runs.csv`` says). A notebook without papermill's cell
    records, or absent (an earlier publication's copy is kept), counts as finished."""
    import nbformat
    if not executed.exists():
        return True
    nb = nbformat.read(executed, as_version=4)
    marks = [c.metadata.get("papermill", {}).get("status") for c in nb.cells if c.cell_type == "code"]
    if not any(marks):
        return True
    return all(m == "completed" for m in marks) and not nb.metadata.get("papermill", {}).get("exception")


def _copy_figures(pngs: list[Path], out: Path) -> None:
    """Each figure's PNG and PDF into the publication's own ``figures/`` (the first of a name wins)."""
    out.mkdir(parents=True, exist_ok=True)
    for png in pngs:
        for f in (png, png.with_suffix(".pdf")):
            if f.exists() and not (out / f.name).exists():
                shutil.copyfile(f, out / f.name)


def _render_docs(docs: Path, out: Path) -> None:
    """docs/*.md as HTML pages in ``out`` (links between them kept), so the notebooks' and the report's links to
    the glossary and the analysis plan open a page, not raw Markdown, from any copy of the publication."""
    from nbconvert.filters.markdown_mistune import markdown2html_mistune

    from . import publish
    out.mkdir(parents=True, exist_ok=True)
    for md in sorted(docs.glob("*.md")):
        body = markdown2html_mistune(md.read_text(encoding="utf-8"))
        body = publish.notebook_pages(body, prefix="../notebooks/")
        for pattern, repl in _DOC_LINKS:
            body = re.sub(pattern, repl, body)
        body = body.replace("<table>", '<div class="scroll"><table>').replace("</table>", "</table></div>")
        body = re.sub(r'<h(\d) id="[^"]*">(.*?)<a class="anchor-link" href="#[^"]*">',     # the forge's heading ids
                      lambda m: f'<h{m.group(1)} id="{_slug(m.group(2))}">{m.group(2)}'
                                f'<a class="anchor-link" href="#{_slug(m.group(2))}">', body)
        write_text_atomic(out / f"{md.stem}.html",
                          f"<!doctype html>\n<html lang='en'><head><meta charset='utf-8'><title>{html.escape(md.stem)}"
                          f"</title><style>{STYLE}</style></head><body>{body}</body></html>\n")


#: docs/ links as the rendered pages inside the publication need them (docs link the repository's files)
_DOC_LINKS = [(r'href="([A-Za-z0-9_.-]+)\.md(#[^"]*)?"', r'href="\1.html\2"'),                  # another docs page
              (r'href="\.\./published/notebooks/"', 'href="../index.html#notebooks"'),
              (r'href="\.\./figures/README\.md(#[^"]*)?"', 'href="../index.html#figures"'),
              (r'href="\.\./published/([^"]*)"', r'href="../\1"')]


def _slug(heading_html: str) -> str:
    """A heading's anchor as GitHub makes it (the links in docs/ and the notebooks are written for it): the text
    lower-cased, punctuation but hyphens dropped, spaces as hyphens."""
    text = html.unescape(re.sub(r"<[^>]+>", "", heading_html)).strip().lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def _publish_notebooks(runs: pd.DataFrame, executed_dir: Path, nb_out: Path, earlier: Path,
                       figures: dict[str, tuple[str, str]]) -> list[str]:
    """Cleaned copies (:func:`publish.clean_notebook`) and their HTML in ``nb_out`` (figures linked: ``figures``
    maps a PNG's SHA-256 to its link and caption); a notebook not executed here keeps its copy from the ``earlier``
    publication. Returns what was dropped."""
    import nbformat

    from . import publish
    from .settings import data_home
    try:
        home = data_home()
    except Exception:  # no data folder: nothing of it to hide
        home = None
    pairs = publish.replacements(project_root(), home) + publish.root_pairs(resolve("."))   # the work folder too
    dropped = []
    for r in runs.itertuples():
        src = executed_dir / f"{r.notebook}.ipynb"
        if not src.exists():
            for suffix in (".ipynb", ".html"):
                if (earlier / f"{r.notebook}{suffix}").exists():
                    shutil.copyfile(earlier / f"{r.notebook}{suffix}", nb_out / f"{r.notebook}{suffix}")
            continue
        raw = nbformat.read(src, as_version=4)
        nb, gone = publish.clean_notebook(raw, publish.run_root_pairs(raw) + pairs)
        dropped += [f"{r.notebook} {g}" for g in gone]
        write_text_atomic(nb_out / src.name, nbformat.writes(nb) + "\n")
        write_text_atomic(nb_out / f"{r.notebook}.html", publish.export_html(nb, r.notebook, figures, docs="../docs"))
    return dropped


def _publish_results(dirs: dict[str, Path], out: Path) -> list[str]:
    """Copy every results table (and its sidecar) up to :data:`MAX_PUBLISHED_BYTES`; returns those left out."""
    left_out = []
    for stem, folder in sorted(dirs.items()):
        for csv in sorted(Path(folder).rglob("*.csv")) if folder is not None and Path(folder).is_dir() else []:
            rel = csv.relative_to(folder)
            if csv.stat().st_size > MAX_PUBLISHED_BYTES:
                left_out.append(f"{stem}/{rel.as_posix()} ({csv.stat().st_size / 1e6:.0f} MB)")
                continue
            for f in (csv, sidecar_path(csv)):
                if f.exists():
                    (out / stem / rel.parent).mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(f, out / stem / rel.parent / f.name)
    return left_out


def _folder_readme(profile: str, left_out: list[str], dropped: list[str]) -> str:
    lines = [f"# The `{profile}` run, published", "",
             f"Written by `./run_all.sh {profile}` (its last step, `python -m clika_utils.report {profile}`); do not edit.",
             "", "* [`index.html`](index.html) — the report: every claim with its verdict, every figure with its "
             "provenance, links to the notebooks. Open it from a clone or a static host; every link is relative.",
             "* [`notebooks/`](notebooks) — the executed notebooks (`.ipynb`, rendered by repository viewers, and "
             "`.html`), cleaned: no timestamps, warnings, progress bars or machine paths (`clika_utils.publish`).",
             "* [`results/`](results) — the results tables the figures and verdicts were computed from, each with "
             "its provenance sidecar (the whole configuration, input hashes).", "* `runs.csv` — seconds per notebook.",
             ""]
    if left_out:
        lines += ["Results too large to publish (regenerated by the run): " + ", ".join(left_out) + ".", ""]
    lines += [f"Outputs not published (warnings, progress; kept in `outputs/executed/{profile}/`): {len(dropped)}.", ""]
    return "\n".join(lines)


WRITER = "the report"
OVERWRITE_FLAG = "--overwrite-published"   #: ``./run_all.sh`` and ``python -m clika_utils.report`` accept it


def build(profile: str, *, executed_dir: Path, out_dir: Path | None = None, params_dir: Path | None = None,
          overwrite: bool = False) -> Path:
    """Publish the run: ``out_dir/index.html`` (the report), ``notebooks/`` (cleaned executed notebooks and their
    HTML), ``results/`` (the results tables), ``runs.csv`` and a README — built in a staging folder beside
    ``out_dir`` and swapped in whole, so a failure leaves the previous publication as it was (a swap a kill
    interrupted is completed or undone on the next start). Figures are linked where they are (``figures/`` for
    cpu), not copied. ``out_dir`` defaults to :func:`default_out`. The folder must be the report's
    (:func:`clika_utils.outdir.claim`, at every depth: its ledger records every file it published); anything
    else there refuses it unless ``overwrite`` (:data:`OVERWRITE_FLAG`), which keeps those files, untouched, in a
    ``.clika-backup-<n>`` folder of the new publication."""
    from .outdir import acquire, claim
    dest = Path(out_dir or default_out(profile))
    dest.parent.mkdir(parents=True, exist_ok=True)
    lock_file = dest.parent / f".{dest.name}.lock"      # beside the folder: the folder itself is swapped
    lock = acquire(lock_file, f"{dest}: another report is being written there (lock {lock_file}); wait for it to finish")
    try:
        _recover_swap(dest)
        claim(dest, what=WRITER, overwrite=overwrite, adopt=_adopt_published, flag=OVERWRITE_FLAG)
        return _build(profile, executed_dir, dest, params_dir)
    finally:
        lock.release()


def check_folder(dest: Path) -> None:
    """Refuse (ConfigError) a report folder that holds files the report did not write, without changing it: the
    runner asks before the notebooks run."""
    from .outdir import claim
    old = _old(dest)
    if not dest.exists() and old.exists():
        dest = old                                  # an interrupted swap: the next build restores it
    claim(dest, what=WRITER, adopt=_adopt_published, flag=OVERWRITE_FLAG)     # saves nothing without overwrite


def _old(dest: Path) -> Path:
    """Where :func:`_swap` keeps the previous publication between its two renames."""
    return dest.parent / f".{dest.name}.old"


def _recover_swap(dest: Path) -> None:
    """A kill between :func:`_swap`'s two renames leaves the previous publication as ``.<name>.old`` and no
    ``dest``: put it back (the staging folder of that run is rebuilt anyway)."""
    old = _old(dest)
    if old.exists() and not dest.exists():
        old.rename(dest)
        warn(f"{dest}: an interrupted publication was found; the previous one is restored")


def _adopt_published(root: Path) -> dict[str, tuple]:
    """Legacy adoption (a publication written before ledgers): what its content shows the report wrote — the
    results tables whose sidecars record their hash, the project's notebooks (``.ipynb``/``.html`` of a notebook
    in ``notebooks/``), and the top-level files in the report's own format."""
    from .outdir import adopt_sidecars
    out = {f"results/{k}": v for k, v in adopt_sidecars(root / "results").items()} if (root / "results").is_dir() else {}
    stems = {p.stem for p in (project_root() / "notebooks").glob("*.ipynb")}
    if (root / "runs.csv").is_file():                       # and the notebooks its run record lists
        stems |= set(pd.read_csv(root / "runs.csv").get("notebook", pd.Series(dtype=str)).astype(str))
    out.update({p.relative_to(root).as_posix(): (None, "") for p in (root / "notebooks").glob("*")
                if p.suffix in (".ipynb", ".html") and p.stem in stems and p.is_file()})
    marks = {"index.html": "<title>clika-repro report", "README.md": "python -m clika_utils.report",
             "runs.csv": "notebook,status,seconds", "run.json": '"profile"'}
    for name, mark in marks.items():
        f = root / name
        if f.is_file() and mark in f.read_text(encoding="utf-8", errors="replace")[:4000]:
            out[name] = (None, "")
    if "index.html" in out:                 # the copies of the figures its page shows, and the docs pages it renders
        page = (root / "index.html").read_text(encoding="utf-8", errors="replace")
        for n in set(re.findall(r"""(?:href|src)=['"]figures/([^'"/]+)['"]""", page)):
            if (root / "figures" / n).is_file():
                out[f"figures/{n}"] = (None, "")
        docs = {p.stem for p in (project_root() / "docs").glob("*.md")}
        for f in (root / "docs").glob("*.html"):
            if f.stem in docs and f"<title>{html.escape(f.stem)}</title><style>" in f.read_text(encoding="utf-8")[:400]:
                out[f"docs/{f.name}"] = (None, "")
    return out


def _build(profile: str, executed_dir: Path, dest: Path, params_dir: Path | None) -> Path:
    stage = dest.parent / f".{dest.name}.staging"
    if stage.exists():
        shutil.rmtree(stage)
    nb_out = stage / "notebooks"
    nb_out.mkdir(parents=True)
    runs = pd.read_csv(executed_dir / "runs.csv") if (executed_dir / "runs.csv").exists() else \
        pd.DataFrame(columns=["notebook", "status", "seconds"])
    runs = runs.assign(status=[s if s != "ok" or finished(executed_dir / f"{n}.ipynb") else "incomplete"
                               for n, s in zip(runs.notebook, runs.status)])
    pngs = sorted((p for d in figures_dirs(profile, params_dir) for p in d.glob("*.png")), key=lambda p: p.name)
    from .io import sha256_file
    _copy_figures(pngs, stage / "figures")           # the publication holds what it shows: it works from any folder
    _render_docs(project_root() / "docs", stage / "docs")
    figure_links = {sha256_file(p): (f"../figures/{p.name}", _figure_meta(p).get("caption", "")) for p in pngs}
    dropped = _publish_notebooks(runs, executed_dir, nb_out, dest / "notebooks", figure_links)
    for name in ("runs.csv", "run.json"):           # run.json: the last whole run's (``--only`` writes none)
        for folder in (executed_dir, dest):
            if (folder / name).exists():
                shutil.copyfile(folder / name, stage / name)
                break
    if (runs.status == "incomplete").any():         # say so in the published record too
        runs.to_csv(stage / "runs.csv", index=False, lineterminator="\n")
        warn(f"not finished, published as incomplete: {', '.join(runs.notebook[runs.status == 'incomplete'])}")
    dirs = results_dirs(profile, params_dir)
    left_out = _publish_results(dirs, stage / "results")
    write_text_atomic(stage / "README.md", _folder_readme(profile, left_out, dropped))
    nb_rows = [f"<tr><td>{_nb_link(nb_out, r.notebook, r.notebook)}</td><td class='{r.status}'>{r.status}</td>"
               f"<td>{r.seconds:.0f}</td><td>{_ipynb_link(nb_out, r.notebook)}</td></tr>" for r in runs.itertuples()]
    table = claims(dirs)
    csv = _write_figure_folders(table, dirs, profile, params_dir)
    heads = "".join(
        f"<tr><td>{html.escape(h.paper)}</td><td>{html.escape(h.headline)}</td>"
        f"{_verdict_cell(h.stored_verdict)}<td>{html.escape(h.stored)}</td>"
        f"{_verdict_cell(h.live_verdict)}<td>{html.escape(h.live)}</td></tr>" for h in headlines(table).itertuples())
    claim_rows = "".join(
        f"<tr><td>{html.escape(r.paper)}</td><td>{html.escape(r.claim)}</td>"
        f"<td>{_nb_link(nb_out, _stem(runs, r.notebook), r.notebook)}</td><td>{html.escape(r.source)}</td>"
        f"<td>{html.escape(r.measured)}</td><td>{html.escape(r.ci)}</td><td>{_num(r.mde)}</td><td>{_num(r.margin)}</td>"
        f"<td>{'' if pd.isna(r.n) else int(r.n)}</td><td>{'' if pd.isna(r.seeds) else int(r.seeds)}</td>"
        f"<td>{'' if pd.isna(r.n_needed) else int(r.n_needed)}</td>"
        f"{_verdict_cell(r.verdict)}"
        f"<td>{html.escape(' '.join(x for x in (r.reason, r.note) if x))}</td></tr>"
        for r in table.fillna({"reason": "", "note": "", "source": ""}).itertuples())
    counts = table.verdict.value_counts().to_dict()
    live = table[table.source == "live"]
    decided = int(live.verdict.isin(DECIDED).sum())
    tour = ("New here? Start with the <a href='notebooks/00_tour.html'>tour</a>."
            if (nb_out / "00_tour.html").exists() else "New here? Run and read notebooks/00_tour.ipynb first.")
    shutil.copyfile(csv, stage / "figures" / csv.name)
    csv_link = f"figures/{csv.name}"
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>clika-repro report ({profile})</title>
<style>{STYLE}</style></head>
<body><h1>clika-repro — {profile} profile</h1>
<p>{tour} Sections: <a href='#claims'>paper vs reproduction</a> · <a href='#notebooks'>notebooks</a> ·
<a href='#figures'>figures</a>. Terms: <a href='docs/glossary.html'>glossary</a>.</p>
<h2 id="claims">Paper vs reproduction</h2>
<p>Each headline claim, one verdict per source — stored outputs and live runs never vote together; a source's
verdict is supported / contradicted / no effect only when every one of its rows is (rules:
<a href='docs/analysis-plan.html'>analysis plan</a>).</p>
<table><tr><th>paper</th><th>claim</th><th>stored outputs</th><th>rows</th><th>live runs</th><th>rows</th></tr>{heads}</table>
<p>Every row: {', '.join(f'{k}: {v}' for k, v in sorted(counts.items()))}; the live runs decide {decided} of their
{len(live)} rows. Verdicts: the 95 % CI against the no-effect value, and two one-sided tests against ±δ
("no effect"; "negligible" when the CI excludes 0 but the effect is inside ±δ); "detectable" is the smallest effect
the run's sample finds with 80 % power; "seeds" the training runs per arm; "n needed" the sample that would detect the
effect the paper states. The same table: <a href='{csv_link}'>{csv.name}</a>.</p>
<div class="scroll"><table><tr><th>paper</th><th>claim</th><th>notebook</th><th>source</th><th>measured here</th>
<th>95 % CI of the effect</th><th>detectable</th><th>δ</th><th>n</th><th>seeds</th><th>n needed</th><th>verdict</th>
<th>why / note</th></tr>{claim_rows}</table></div>
<h2 id="notebooks">Executed notebooks</h2>
<table><tr><th>notebook</th><th>status</th><th>seconds</th><th>source</th></tr>{''.join(nb_rows)}</table>
<p>The results tables behind every number: <a href='results/'>results/</a> (one folder per notebook, each table with
its provenance sidecar).</p>
<h2 id="figures">Figures</h2>
<p>In the notebooks' order; click a figure for its full size.</p>
{_figures_by_notebook(pngs)}
</body></html>
"""
    write_text_atomic(stage / "index.html", page)
    from .outdir import BACKUP_PREFIX, BACKUP_WRITER, Ledger
    backups = sorted(dest.glob(f"{BACKUP_PREFIX}*")) if dest.is_dir() else []
    for b in backups:                          # a user's files moved aside by --overwrite-published stay published
        shutil.copytree(b, stage / b.name)
    ledger = Ledger(stage)
    ledger.record(sorted(p for p in stage.rglob("*") if p.is_file()
                         and not p.relative_to(stage).parts[0].startswith(BACKUP_PREFIX)), writer=WRITER)
    ledger.trees([stage / b.name for b in backups], writer=BACKUP_WRITER)
    _swap(stage, dest)
    return dest / "index.html"


def _write_figure_folders(table: pd.DataFrame, dirs: dict[str, Path], profile: str, params_dir: Path | None) -> Path:
    """The claims table (in the first figures folder) and each figures folder's contact sheet, written into folders
    the notebooks' figures share (:func:`clika_utils.outdir.adding`: a user's file there refuses the write) and
    recorded in their ledgers; returns the claims table's path."""
    from .outdir import adding
    from .plots import adopt_figures
    csv = claims_path(profile, params_dir)
    for d in figures_dirs(profile, params_dir):
        if d != csv.parent and not d.is_dir():
            continue
        with adding(d, what=WRITER, adopt=adopt_figures) as ledger:
            own = [csv, sidecar_path(csv)] if d == csv.parent else []
            with ledger.writing([*own, d / "README.md"], writer=WRITER):
                if own:
                    write_claims(table, dirs, csv, profile)
                write_text_atomic(d / "README.md", contact_sheet(d, profile))
    return csv


def _rel(path: Path, start: Path) -> str:
    """``path`` relative to the folder ``start``, with forward slashes (a link that works from any host)."""
    import os
    return Path(os.path.relpath(Path(path).resolve(), Path(start).resolve())).as_posix()


def _swap(stage: Path, dest: Path) -> None:
    """Replace ``dest`` by ``stage`` (two renames; the old folder is removed only after the new one is in place)."""
    old = _old(dest)
    if old.exists():
        shutil.rmtree(old)
    if dest.exists():
        dest.rename(old)
    stage.rename(dest)
    if old.exists():
        shutil.rmtree(old)


def _ipynb_link(nb_out: Path, stem: str) -> str:
    return f"<a href='notebooks/{html.escape(stem)}.ipynb'>ipynb</a>" if (nb_out / f"{stem}.ipynb").exists() else ""


def _verdict_cell(verdict: str) -> str:
    """A table cell styled by its verdict ("partly supported (2 of 3)" takes the class partly-supported)."""
    return f"<td class='{verdict.split(' (')[0].replace(' ', '-')}'>{html.escape(verdict)}</td>"


def _num(v) -> str:
    return "" if pd.isna(v) else f"{v:.3g}"


def _nb_link(nb_out: Path, stem: str, text: str) -> str:
    """A link to the notebook's HTML copy when it exists (a link to nothing would be a broken link)."""
    if (nb_out / f"{stem}.html").exists():
        return f"<a href='notebooks/{html.escape(stem)}.html'>{html.escape(text)}</a>"
    return html.escape(text)


def default_out(profile: str) -> Path:
    """``published/`` for the default cpu profile (committed: what a reader sees without running anything),
    ``outputs/<profile>/published/`` for the others."""
    return resolve("published") if profile == "cpu" else resolve(Path("outputs") / profile / "published")


def _stem(runs: pd.DataFrame, prefix: str) -> str:
    match = [n for n in runs.notebook if str(n).startswith(prefix)]
    return match[0] if match else prefix


def main(argv=None) -> int:
    import argparse
    ap = argparse.ArgumentParser(prog="python -m clika_utils.report", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("profile", nargs="?", default="cpu")
    ap.add_argument("--out", type=Path, default=None, help="report folder (default published/, or "
                                                            "outputs/<profile>/published/ for profiles other than cpu)")
    ap.add_argument("--summary", action="store_true", help="print the verdict-count table of the profile's claims.csv "
                                                            "(the README's block) and exit")
    ap.add_argument("--docs", action="store_true", help="only regenerate the generated blocks of README.md and "
                                                         "docs/*.md from the committed claims table and run record")
    ap.add_argument(OVERWRITE_FLAG, dest="overwrite", action="store_true",
                    help="publish into a folder that holds files the report did not write (kept, untouched, in a "
                         ".clika-backup-<n> folder of the publication)")
    args = ap.parse_args(argv)
    try:
        return _main(args)
    except ClikaError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


def _main(args) -> int:
    if args.docs:
        for f in update_docs(args.profile):
            print(f"updated {f}")
        return 0
    if args.summary:
        print(claims_summary(pd.read_csv(claims_path(args.profile), keep_default_na=False, na_values=[""])))
        return 0
    page = build(args.profile, executed_dir=resolve(Path("outputs") / "executed" / args.profile),
                 out_dir=args.out or default_out(args.profile), overwrite=args.overwrite)
    print(f"report: {page}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
