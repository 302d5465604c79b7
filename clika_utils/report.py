"""The browsable report: ``reports/index.html``, built by ``./run_all.sh`` after the notebooks.

* every executed notebook as HTML (copied with its ``.ipynb`` into ``reports/notebooks/``);
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

Verdicts (:mod:`clika_utils.decide`, the one rule): *supported* / *contradicted* when the 95 % CI excludes
the no-effect value on the claimed / the opposite side, *no effect* when two one-sided tests put the
effect within ±δ, *inconclusive* otherwise (with the smallest effect the sample could detect), *not
measurable* when the metric is undefined (its reason in the row), *not run* when the notebook's results
are missing. Thresholds that need a choice are stated in the row (XRR "low" means below 0.5 on the
published, chance-corrected transfer scale, where 0 is chance).
Everything is local: the page loads no remote script, font or image.
"""

from __future__ import annotations

import html
import json
import shutil
from pathlib import Path

import pandas as pd
import yaml

from .claims import ROW_COLUMNS
from .config import derive_paths
from .decide import DECIDED
from .io import write_text_atomic
from .provenance import read_sidecar, sidecar_path
from .settings import project_root, resolve


def _param_paths(profile: str, key: str, params_dir: Path | None) -> dict[str, Path]:
    params_dir = params_dir or project_root() / "params"
    out = {}
    for p in sorted(params_dir.glob(f"*/{profile}.yaml")):
        values = yaml.safe_load(p.read_text(encoding="utf-8")) or {}
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


# ----------------------------------------------------------------------------------------------
# page

STYLE = """body{font-family:sans-serif;margin:2em;max-width:1200px} td,th{padding:4px 8px;border-bottom:1px solid #ddd;
vertical-align:top;text-align:left} .ok,.supported{color:#060} .failed,.contradicted{color:#a00}
.inconclusive{color:#666} .not-run,.not-measurable{color:#999} figure{display:inline-block;width:560px;margin:0 1em 2em 0;
vertical-align:top} figure img{max-width:100%} figcaption{font-size:90%} details{font-size:80%} pre{white-space:pre-wrap}"""


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


def contact_sheet(fig_dir: Path, profile: str) -> str:
    """``README.md`` of a figures folder, built from the figures' sidecars only: per notebook, every figure
    (image, PDF link), its caption (what it shows), the results files it was drawn from, and the commands
    that make it (the whole notebook, or only the drawing from cached results)."""
    fig_dir = Path(fig_dir)
    by_nb: dict[str, list] = {}
    for png in sorted(fig_dir.glob("*.png")):
        meta = _figure_meta(png)
        by_nb.setdefault(meta.get("parameters", {}).get("notebook", "unknown"), []).append((png, meta))
    lines = [f"# Figures of the `{profile}` profile", "",
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


def build(profile: str, *, executed_dir: Path, out_dir: Path, params_dir: Path | None = None) -> Path:
    """Write ``out_dir/index.html`` (and copies of the notebooks' HTML and the figures next to it)."""
    out_dir = Path(out_dir)
    nb_out, fig_out = out_dir / "notebooks", out_dir / "figures"
    for d in (nb_out, fig_out):
        if d.exists():
            shutil.rmtree(d)
        d.mkdir(parents=True)
    runs = pd.read_csv(executed_dir / "runs.csv") if (executed_dir / "runs.csv").exists() else \
        pd.DataFrame(columns=["notebook", "status", "seconds"])
    nb_rows = []
    for r in runs.itertuples():
        for suffix in (".html", ".ipynb"):
            src = executed_dir / f"{r.notebook}{suffix}"
            if src.exists():
                shutil.copy2(src, nb_out / src.name)
        nb_rows.append(f"<tr><td>{_nb_link(nb_out, r.notebook, r.notebook)}</td><td class='{r.status}'>{r.status}</td><td>{r.seconds:.0f}</td></tr>")
    pngs = sorted((p for d in figures_dirs(profile, params_dir) for p in d.glob("*.png")), key=lambda p: p.name)
    for png in pngs:
        for f in (png, png.with_suffix(".pdf"), sidecar_path(png)):
            if f.exists():
                shutil.copy2(f, fig_out / f.name)
    dirs = results_dirs(profile, params_dir)
    table = claims(dirs)
    csv = write_claims(table, dirs, claims_path(profile, params_dir), profile)
    shutil.copy2(csv, out_dir / csv.name)
    for d in figures_dirs(profile, params_dir):
        if d.is_dir():
            write_text_atomic(d / "README.md", contact_sheet(d, profile))
    claim_rows = "".join(
        f"<tr><td>{html.escape(r.paper)}</td><td>{html.escape(r.claim)}</td>"
        f"<td>{_nb_link(nb_out, _stem(runs, r.notebook), r.notebook)}</td><td>{html.escape(r.source)}</td>"
        f"<td>{html.escape(r.measured)}</td><td>{html.escape(r.ci)}</td><td>{_num(r.mde)}</td><td>{_num(r.margin)}</td>"
        f"<td>{'' if pd.isna(r.n) else int(r.n)}</td><td>{'' if pd.isna(r.n_needed) else int(r.n_needed)}</td>"
        f"<td class='{r.verdict.replace(' ', '-')}'>{html.escape(r.verdict)}</td>"
        f"<td>{html.escape(' '.join(x for x in (r.reason, r.note) if x))}</td></tr>"
        for r in table.fillna({"reason": "", "note": "", "source": ""}).itertuples())
    counts = table.verdict.value_counts().to_dict()
    live = table[table.source == "live"]
    decided = int(live.verdict.isin(DECIDED).sum())
    tour = ("New here? Start with the <a href='notebooks/00_tour.html'>tour</a>."
            if (nb_out / "00_tour.html").exists() else "New here? Run and read notebooks/00_tour.ipynb first.")
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>clika-repro report ({profile})</title>
<style>{STYLE}</style></head>
<body><h1>clika-repro — {profile} profile</h1>
<p>{tour} Sections: <a href='#claims'>paper vs reproduction</a> · <a href='#notebooks'>notebooks</a> ·
<a href='#figures'>figures</a>.</p>
<h2 id="claims">Paper vs reproduction</h2>
<p>{', '.join(f'{k}: {v}' for k, v in sorted(counts.items()))}; the live runs decide {decided} of their
{len(live)} rows. Verdicts: the 95 % CI against the no-effect value, and two one-sided tests against ±δ
("no effect"); "detectable" is the smallest effect the run's sample finds with 80 % power; "n needed" the
sample that would detect the effect the paper states. The same table: <a href='{csv.name}'>{csv.name}</a>.</p>
<table><tr><th>paper</th><th>claim</th><th>notebook</th><th>source</th><th>measured here</th><th>95 % CI of the effect</th>
<th>detectable</th><th>δ</th><th>n</th><th>n needed</th><th>verdict</th><th>why / note</th></tr>{claim_rows}</table>
<h2 id="notebooks">Executed notebooks</h2>
<table><tr><th>notebook</th><th>status</th><th>seconds</th></tr>{''.join(nb_rows)}</table>
<h2 id="figures">Figures</h2>
{''.join(_figure_html(p, 'figures') for p in pngs)}
</body></html>
"""
    return write_text_atomic(out_dir / "index.html", page)


def _num(v) -> str:
    return "" if pd.isna(v) else f"{v:.3g}"


def _nb_link(nb_out: Path, stem: str, text: str) -> str:
    """A link to the notebook's HTML copy when it exists (a link to nothing would be a broken link)."""
    if (nb_out / f"{stem}.html").exists():
        return f"<a href='notebooks/{html.escape(stem)}.html'>{html.escape(text)}</a>"
    return html.escape(text)


def default_out(profile: str) -> Path:
    """reports/ for the default cpu profile, reports/<profile>/ for the others."""
    return resolve("reports") if profile == "cpu" else resolve(Path("reports") / profile)


def _stem(runs: pd.DataFrame, prefix: str) -> str:
    match = [n for n in runs.notebook if str(n).startswith(prefix)]
    return match[0] if match else prefix


def main(argv=None) -> int:
    import argparse
    ap = argparse.ArgumentParser(prog="python -m clika_utils.report", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("profile", nargs="?", default="cpu")
    ap.add_argument("--out", type=Path, default=None, help="report folder (default reports/, or reports/<profile>/ "
                                                            "for profiles other than cpu)")
    ap.add_argument("--summary", action="store_true", help="print the verdict-count table of the profile's claims.csv "
                                                            "(the README's block) and exit")
    args = ap.parse_args(argv)
    if args.summary:
        print(claims_summary(pd.read_csv(claims_path(args.profile), keep_default_na=False, na_values=[""])))
        return 0
    page = build(args.profile, executed_dir=resolve(Path("outputs") / "executed" / args.profile),
                 out_dir=args.out or default_out(args.profile))
    print(f"report: {page}")
    return 0


if __name__ == "__main__":
    import sys
    sys.exit(main())
