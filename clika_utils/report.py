"""The browsable report: ``reports/index.html``, built by ``./run_all.sh`` after the notebooks.

* every executed notebook as HTML (copied with its ``.ipynb`` into ``reports/notebooks/``);
* every figure (PNG, with a link to the PDF) with its caption and provenance — git commit, parameters,
  the results files it was drawn from with their SHA-256 — read from the figure's sidecar;
* a **paper vs reproduction** table: each claim of both papers' abstracts (and x-LLaMA's middle-layer
  finding from its body), what this reproduction measured, the CI, and a verdict — read from the
  results tables of the profile's run (``params/<notebook>/<profile>.yaml`` says where they are).

Verdicts: *supported* / *contradicted* when the 95 % CI excludes the no-effect value on the claimed /
the opposite side, *inconclusive* when it includes it, *not run* when the notebook's results are
missing, *not measurable* when the metric is undefined (its reason in the row). Thresholds that need
a choice are stated in the row (XRR "low" means below 0.5 on the published, chance-corrected transfer
scale, where 0 is chance).
Everything is local: the page loads no remote script, font or image.
"""

from __future__ import annotations

import html
import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from .io import write_text_atomic
from .metrics import percentile_ci
from .settings import project_root, resolve

XRR_LOW = 0.5
#: The QA scores the x-LLaMA claims are read in: the MLQA script's F1, and x-LLM's own match rule
#: (``eval/xquad.match.py``), the scale the paper's own evaluation code scores generations on.
QA_CLAIM_METRICS = {"f1": "F1", "xllm_match": "x-LLM match"}


def _param_paths(profile: str, key: str, params_dir: Path | None) -> dict[str, Path]:
    params_dir = params_dir or project_root() / "params"
    out = {}
    for p in sorted(params_dir.glob(f"*/{profile}.yaml")):
        values = yaml.safe_load(p.read_text(encoding="utf-8")) or {}
        if values.get(key):
            out[p.parent.name] = resolve(values[key])
    return out


def results_dirs(profile: str, params_dir: Path | None = None) -> dict[str, Path]:
    """{notebook stem: its results folder} from the profile's parameter files."""
    return _param_paths(profile, "results_dir", params_dir)


def figures_dirs(profile: str, params_dir: Path | None = None) -> list[Path]:
    """The distinct figure folders of the profile's parameter files."""
    return sorted(set(_param_paths(profile, "figures_dir", params_dir).values()))


def _read(dirs: dict, stem_prefix: str, name: str) -> pd.DataFrame | None:
    for stem, d in dirs.items():
        if stem.startswith(stem_prefix) and (d / f"{name}.csv").exists():
            return pd.read_csv(d / f"{name}.csv")
    return None


def _row(paper, claim, notebook, measured="", ci="", verdict="not run", note=""):
    return {"paper": paper, "claim": claim, "notebook": notebook, "measured": measured, "ci": ci,
            "verdict": verdict, "note": note}


def _verdict(lo: float, hi: float, expected: str, null: float = 0.0) -> str:
    if not (np.isfinite(lo) and np.isfinite(hi)):
        return "inconclusive"
    if expected == "increase":
        return "supported" if lo > null else "contradicted" if hi < null else "inconclusive"
    return "supported" if hi < null else "contradicted" if lo > null else "inconclusive"


def _mean_ci(values: np.ndarray, n_boot: int = 1000, seed: int = 0) -> tuple[float, float, float]:
    values = np.asarray(values, float)
    values = values[np.isfinite(values)]
    rng = np.random.default_rng(seed)
    boots = values[rng.integers(0, len(values), size=(n_boot, len(values)))].mean(1)
    lo, hi = percentile_ci(boots)
    return float(values.mean()), float(lo), float(hi)


def claims(dirs: dict[str, Path]) -> pd.DataFrame:
    """The paper-vs-reproduction table from the results folders ``dirs`` (see :func:`results_dirs`)."""
    rows = []
    s = _read(dirs, "01", "summary")
    pf = "LLMs are less accurate in non-English languages than in English (RA < 1)"
    ct = "Knowledge is less consistent across languages than accuracy suggests (en-CO below RA)"
    if s is None:
        rows += [_row("CLiKA", pf, "01"), _row("CLiKA", ct, "01")]
    else:
        cells = s[(s.lang != "en") & s.ra.notna() & s.en_co.notna()]
        m, lo, hi = _mean_ci(cells.ra.to_numpy())
        rows.append(_row("CLiKA", pf, "01", f"mean RA {m:.3f} over {len(cells)} stored system×language×stream cells",
                         f"[{lo:.3f}, {hi:.3f}]", _verdict(lo, hi, "decrease", 1.0),
                         "bootstrap over cells"))
        m, lo, hi = _mean_ci((cells.ra - cells.en_co).to_numpy())
        rows.append(_row("CLiKA", ct, "01", f"mean RA − en-CO {m:+.3f} over the same cells", f"[{lo:+.3f}, {hi:+.3f}]",
                         _verdict(lo, hi, "increase"), "bootstrap over cells"))
    for prefix, files, what in (("04", ("stored_claims", "live_claims", "nll_claims"), "pretraining"),
                                ("05", ("stored_claims", "live_claims", "probe_claims"), "instruction tuning")):
        found = False
        for name in files:
            t = _read(dirs, prefix, name)
            if t is None:
                continue
            found = True
            source = name.replace("_claims", "")
            for r in t.itertuples():
                if not r.cells:
                    rows.append(_row("CLiKA", r.statement, prefix, f"{source}: no pair available", "", "not run"))
                    continue
                rows.append(_row("CLiKA", r.statement, prefix,
                                 f"{source}: mean Δ {r.delta:+.3f} over {int(r.cells)} cells",
                                 f"[{r.delta_lo:+.3f}, {r.delta_hi:+.3f}]", r.verdict))
        if not found:
            rows.append(_row("CLiKA", f"Multilingual {what} improves alignment, shallowly", prefix))
    x = _read(dirs, "03", "xrr")
    cd = "Knowledge conductivity is low for every model (XRR below {:.1f})".format(XRR_LOW)
    if x is None:
        rows.append(_row("CLiKA", cd, "03"))
    else:
        ratio = x[x.metric == "xrr_ratio"].set_index("target_lang")["value"] if "xrr_ratio" in set(x.metric) else {}
        for r in x[x.metric == "xrr"].itertuples():
            note = f"name similarity to English {r.name_similarity:.2f}"
            if r.target_lang in ratio:
                note += f"; ratio variant acc_l/acc_en {ratio[r.target_lang]:.3f}"
            if not np.isfinite(r.value):
                rows.append(_row("CLiKA", f"{cd}: taught in English, asked in {r.target_lang}", "03",
                                 f"XRR {r.note}", "", "not measurable", note))
                continue
            rows.append(_row("CLiKA", f"{cd}: taught in English, asked in {r.target_lang}", "03",
                             f"XRR (transfer, chance-corrected) {r.value:.3f} ({int(r.n_en_type1_correct)} of "
                             f"{int(r.n_type1)} places right in English)", f"[{r.lo:.3f}, {r.hi:.3f}]",
                             _verdict(r.lo, r.hi, "decrease", XRR_LOW), note))
    g = _read(dirs, "06", "gains")
    for system, claim in (("x-llama", "x-LLaMA (CoIT) beats Alpaca on non-English QA (paper: +27.83 % on average)"),
                          ("m-llama", "m-LLaMA (one multilingual model, MuIT) also beats Alpaca on non-English QA")):
        sel = None if g is None else g[g.metric.isin(QA_CLAIM_METRICS) & (g.system == system) & (g.reference == "alpaca")
                                       & (g["how"] == "mean_of_ratios") & (g.benchmark != "translation")]
        if sel is None or sel.empty:
            rows.append(_row("x-LLaMA", claim, "06"))
            continue
        for r in sel.itertuples():
            name = QA_CLAIM_METRICS[r.metric]
            if not np.isfinite(r.gain_pct):
                rows.append(_row("x-LLaMA", claim, "06", f"{r.benchmark} {name} gain undefined ({r.langs}): a "
                                 f"reference score is 0", "", "inconclusive"))
                continue
            rows.append(_row("x-LLaMA", claim, "06", f"{r.benchmark} {name} gain {r.gain_pct:+.1f} % ({r.langs})",
                             f"[{r.gain_lo:+.1f}, {r.gain_hi:+.1f}] %", _verdict(r.gain_lo, r.gain_hi, "increase"),
                             "relative gain, mean over languages; paired bootstrap over questions"))
    laws, params = _read(dirs, "07", "laws"), _read(dirs, "07", "params")
    sl = "Translation quality grows with the amount of translation data, following a scaling law"
    if laws is None or params is None:
        rows.append(_row("x-LLaMA", sl, "07"))
    else:
        for metric, lw in laws.groupby("metric", sort=False):
            best = lw[lw.preferred.astype(bool)]
            slope = params[(params.metric == metric) & (params.law == "loglinear") & params.param.str.startswith("a[")]
            lo, hi = float(slope.lo.min()), float(slope.hi.max())
            verdict = "supported" if (slope.lo > 0).all() else "contradicted" if (slope.hi < 0).any() else "inconclusive"
            pref = best.law.iloc[0] if len(best) else "none converged"
            mae = f", leave-largest-out error {best.lolo_mae.iloc[0]:.2f}" if len(best) else ""
            rows.append(_row("x-LLaMA", sl, "07", f"{metric}: log-linear slope > 0 in {int((slope.lo > 0).sum())}/"
                             f"{len(slope)} languages; BIC prefers {pref}{mae}",
                             f"slopes' CIs span [{lo:.2f}, {hi:.2f}]", verdict))
    v = _read(dirs, "08", "validation")
    al = "Allocating the translation budget by the scaling laws beats equal shares"
    if v is None or v.empty or "measured" not in v:
        rows.append(_row("x-LLaMA", al, "08"))
    else:
        r = v.iloc[0]
        verdict = {"optimal better": "supported", "uniform better": "contradicted"}.get(r.verdict, "inconclusive")
        rows.append(_row("x-LLaMA", al, "08", f"Σ {r.metric} optimal − uniform {r.measured:+.2f} (predicted "
                         f"{r.predicted:+.2f}), budget {int(r.budget)}", f"[{r.lo:+.2f}, {r.hi:+.2f}]", verdict,
                         "paired bootstrap over test sentences"))
    pk = _read(dirs, "09", "peaks")
    ml = "Languages align best in the middle layers (x-LLaMA, paper body)"
    if pk is None:
        rows.append(_row("x-LLaMA", ml, "09"))
    else:
        for (system, metric), p in pk.groupby(["system", "metric"], sort=False):
            third = p.n_layers / 3
            firm_mid = int(((p.peak_lo >= third) & (p.peak_hi < 2 * third)).sum())
            firm_out = int(((p.peak_hi < third) | (p.peak_lo >= 2 * third)).sum())
            verdict = ("supported" if firm_mid > len(p) / 2 else "contradicted" if firm_out > len(p) / 2
                       else "inconclusive")
            what = {"cos_gap": "cosine-gap", "retrieval": "retrieval"}.get(metric, metric)
            rows.append(_row("x-LLaMA", f"{ml}: {system}, {what}", "09",
                             f"{what} peak in the middle third for {int((p.region == 'middle').sum())}/{len(p)} "
                             f"languages", f"whole bootstrap range in the middle: {firm_mid}/{len(p)}; outside: "
                             f"{firm_out}/{len(p)}", verdict, "supported/contradicted: a majority of languages "
                             "firmly inside/outside the middle third"))
    return pd.DataFrame(rows)


# ----------------------------------------------------------------------------------------------
# page

STYLE = """body{font-family:sans-serif;margin:2em;max-width:1200px} td,th{padding:4px 8px;border-bottom:1px solid #ddd;
vertical-align:top;text-align:left} .ok,.supported{color:#060} .failed,.contradicted{color:#a00}
.inconclusive{color:#666} .not-run,.not-measurable{color:#999} figure{display:inline-block;width:560px;margin:0 1em 2em 0;
vertical-align:top} figure img{max-width:100%} figcaption{font-size:90%} details{font-size:80%} pre{white-space:pre-wrap}"""


def _figure_html(png: Path, rel: str) -> str:
    side = png.with_name(png.name + ".provenance.json")
    meta = json.loads(side.read_text(encoding="utf-8")) if side.exists() else {}
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
        for f in (png, png.with_suffix(".pdf"), png.with_name(png.name + ".provenance.json")):
            if f.exists():
                shutil.copy2(f, fig_out / f.name)
    table = claims(results_dirs(profile, params_dir))
    claim_rows = "".join(
        f"<tr><td>{html.escape(r.paper)}</td><td>{html.escape(r.claim)}</td>"
        f"<td>{_nb_link(nb_out, _stem(runs, r.notebook), r.notebook)}</td>"
        f"<td>{html.escape(r.measured)}</td><td>{html.escape(r.ci)}</td>"
        f"<td class='{r.verdict.replace(' ', '-')}'>{html.escape(r.verdict)}</td><td>{html.escape(r.note)}</td></tr>"
        for r in table.itertuples())
    counts = table.verdict.value_counts().to_dict()
    tour = ("New here? Start with the <a href='notebooks/00_tour.html'>tour</a>."
            if (nb_out / "00_tour.html").exists() else "New here? Run and read notebooks/00_tour.ipynb first.")
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>clika-repro report ({profile})</title>
<style>{STYLE}</style></head>
<body><h1>clika-repro — {profile} profile</h1>
<p>{tour} Sections: <a href='#claims'>paper vs reproduction</a> · <a href='#notebooks'>notebooks</a> ·
<a href='#figures'>figures</a>.</p>
<h2 id="claims">Paper vs reproduction</h2>
<p>{', '.join(f'{k}: {v}' for k, v in sorted(counts.items()))}. Verdicts read the 95 % CI; see each notebook
for what was run and at what scale.</p>
<table><tr><th>paper</th><th>claim</th><th>notebook</th><th>measured here</th><th>95 % CI</th><th>verdict</th>
<th>note</th></tr>{claim_rows}</table>
<h2 id="notebooks">Executed notebooks</h2>
<table><tr><th>notebook</th><th>status</th><th>seconds</th></tr>{''.join(nb_rows)}</table>
<h2 id="figures">Figures</h2>
{''.join(_figure_html(p, 'figures') for p in pngs)}
</body></html>
"""
    return write_text_atomic(out_dir / "index.html", page)


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
    args = ap.parse_args(argv)
    page = build(args.profile, executed_dir=resolve(Path("outputs") / "executed" / args.profile),
                 out_dir=args.out or default_out(args.profile))
    print(f"report: {page}")
    return 0


if __name__ == "__main__":
    import sys
    sys.exit(main())
