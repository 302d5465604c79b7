"""One figure style, CJK-capable fonts, and :func:`save_figure` (PNG + PDF with deterministic bytes).

Figures are drawn from results tables only (never from raw data) and saved with a provenance
sidecar naming the results files they were rendered from.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Iterable

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib import font_manager

from .errors import ConfigError
from .io import write_bytes_atomic
from .provenance import input_hashes, write_sidecar
from .settings import workdir

LATIN_FONT = "DejaVu Sans"  # ships with matplotlib; covers Latin, Cyrillic, Greek, Hebrew, Arabic
CJK_FONTS = ("Noto Sans CJK JP", "Noto Sans CJK SC", "Noto Sans CJK TC", "Source Han Sans JP",
             "Source Han Sans SC", "WenQuanYi Zen Hei")
DPI = 150
HIGHLIGHT = ("#d62728", "#ff7f0e", "#2ca02c")
MARKERS = ("D", "s", "^")
PNG_METADATA = {"Software": None}
PDF_METADATA = {"Creator": None, "Producer": None, "CreationDate": None}


def find_cjk_font() -> str:
    """Name of an installed CJK-capable font. Fonts installed after matplotlib built its font cache
    are picked up by scanning the system font folders once."""
    names = {f.name for f in font_manager.fontManager.ttflist}
    for name in CJK_FONTS:
        if name in names:
            return name
    for path in font_manager.findSystemFonts():
        stem = Path(path).name.lower()
        if any(k in stem for k in ("notosanscjk", "sourcehansans", "wqy-zenhei")):
            font_manager.fontManager.addfont(path)
    names = {f.name for f in font_manager.fontManager.ttflist}
    for name in CJK_FONTS:
        if name in names:
            return name
    raise ConfigError("no CJK-capable font found (looked for " + ", ".join(CJK_FONTS) + "); install "
                      "Noto Sans CJK: `apt-get install fonts-noto-cjk` on Debian/Ubuntu (scripts/ensure_env.sh "
                      "does this when run as root), `brew install --cask font-noto-sans-cjk` on macOS")


def use_style() -> None:
    """The project's one figure style."""
    plt.rcdefaults()
    plt.rcParams.update({
        "font.family": [LATIN_FONT, find_cjk_font()],
        "font.size": 9,
        "axes.titlesize": 10,
        "axes.spines.top": False,
        "axes.spines.right": False,
        "figure.dpi": 100,
        "savefig.dpi": DPI,
        "savefig.bbox": "tight",
        "svg.hashsalt": "clika-repro",
        "pdf.fonttype": 42,
        "image.cmap": "viridis",
    })


def figure_bytes(fig) -> dict[str, bytes]:
    """PNG and PDF bytes of ``fig``, with no timestamps or tool versions embedded."""
    out = {}
    for fmt, meta in (("png", PNG_METADATA), ("pdf", PDF_METADATA)):
        buf = io.BytesIO()
        fig.savefig(buf, format=fmt, metadata=meta)
        out[fmt] = buf.getvalue()
    return out


def save_figure(fig, name: str, out_dir: str | Path, *, sources: Iterable[str | Path],
                parameters: dict | None = None, caption: str = "") -> list[Path]:
    """Write ``<out_dir>/<name>.png`` and ``.pdf`` atomically, each with a provenance sidecar whose
    inputs are the results files (``sources``) the figure was drawn from."""
    out_dir = Path(out_dir)
    inputs = input_hashes(sources, root=workdir())  # paths relative to the work folder: portable sidecars
    paths = []
    for fmt, data in figure_bytes(fig).items():
        path = write_bytes_atomic(out_dir / f"{name}.{fmt}", data)
        write_sidecar(path, kind="figure", parameters=parameters or {}, seed=None, inputs=inputs,
                      extra={"caption": caption})
        paths.append(path)
    return paths


def heatmap(table: pd.DataFrame, *, title: str, cbar_label: str, vmin: float = 0.0, vmax: float = 1.0,
            cmap: str = "viridis", fmt: str = "{:.0f}", scale: float = 100.0):
    """Annotated heatmap of a (rows x columns) table of fractions; annotations show value*scale."""
    import seaborn as sns

    h = max(2.5, 0.22 * len(table) + 1.2)
    fig, ax = plt.subplots(figsize=(0.55 * table.shape[1] + 3.2, h))
    annot = table.map(lambda v: "" if pd.isna(v) else fmt.format(v * scale))
    sns.heatmap(table.astype(float), ax=ax, vmin=vmin, vmax=vmax, cmap=cmap, annot=annot, fmt="",
                annot_kws={"fontsize": 6}, cbar_kws={"label": cbar_label}, linewidths=0.3, linecolor="white")
    ax.set_title(title)
    ax.set_xlabel("")
    ax.set_ylabel("")
    ax.tick_params(axis="y", labelsize=7)
    ax.tick_params(axis="x", labelsize=8, rotation=0)
    fig.tight_layout()
    return fig


def by_language(summary: pd.DataFrame, *, value: str, tasks: list[str], langs: list[str], title: str,
                ylabel: str, reference: float | None = 1.0, highlight: list[str] | None = None):
    """One panel per task: every system's ``value`` per language (dots) and the median (bar);
    ``highlight`` systems are drawn as labelled red markers on top."""
    fig, axes = plt.subplots(1, len(tasks), figsize=(3.2 * len(tasks), 3.0), sharey=True, squeeze=False)
    rng = np.random.default_rng(0)  # fixed jitter: identical bytes on every run
    for ax, task in zip(axes[0], tasks):
        sub = summary[summary["task"] == task]
        for x, lang in enumerate(langs):
            vals = sub.loc[sub["lang"] == lang, value].dropna().to_numpy()
            if vals.size == 0:
                continue
            ax.bar(x, np.median(vals), width=0.7, color="#c6dbef", zorder=1)
            ax.scatter(x + rng.uniform(-0.22, 0.22, vals.size), vals, s=6, color="#08519c", alpha=0.6,
                       zorder=2, linewidths=0)
        for k, system in enumerate(highlight or []):
            hs = sub[sub["system"] == system].set_index("lang")[value].reindex(langs)
            ax.plot(range(len(langs)), hs.to_numpy(), marker=MARKERS[k % len(MARKERS)], ls="", color=HIGHLIGHT[k % len(HIGHLIGHT)],
                    ms=4, zorder=3, label=system)
        if reference is not None:
            ax.axhline(reference, color="grey", lw=0.8, ls="--", zorder=0)
        ax.set_xticks(range(len(langs)), langs)
        ax.set_title(task)
    axes[0][0].set_ylabel(ylabel)
    if highlight:
        axes[0][-1].legend(fontsize=7, frameon=False, loc="best")
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def consistency_by_lang(summary: pd.DataFrame, *, systems: list[str], tasks: list[str], langs: list[str],
                        chance: dict[str, float], title: str):
    """One panel per task: en-CO and RankC (en → l) of ``systems`` per language with 95% CIs. en-CO
    needs correct answers; RankC compares the option rankings whatever the accuracy. ``chance``: per
    task, the RankC of two independent random rankings (dotted line)."""
    fig, axes = plt.subplots(1, len(tasks), figsize=(3.2 * len(tasks), 3.2), sharey=True, squeeze=False)
    series = [(system, metric) for system in systems for metric in ("en_co", "rankc")]
    for ax, task in zip(axes[0], tasks):
        sub = summary[summary["task"] == task]
        for k, (system, metric) in enumerate(series):
            hs = sub[sub["system"] == system].set_index("lang").reindex(langs)
            v = hs[metric].to_numpy(float)
            x = np.arange(len(langs)) + (k - (len(series) - 1) / 2) * 0.2
            err = [np.nan_to_num(v - hs[f"{metric}_lo"].to_numpy(float)),
                   np.nan_to_num(hs[f"{metric}_hi"].to_numpy(float) - v)]
            ax.errorbar(x, v, yerr=err, fmt=MARKERS[k % len(MARKERS)], color=HIGHLIGHT[k % len(HIGHLIGHT)], ms=4,
                        capsize=2, lw=0.8, label=f"{system}: {'en-CO' if metric == 'en_co' else 'RankC'}")
        if task in chance:
            ax.axhline(chance[task], color="grey", lw=0.8, ls=":", label="RankC of random rankings")
        ax.set_xticks(range(len(langs)), langs)
        ax.set_xlim(-0.5, len(langs) - 0.5)
        ax.set_ylim(-0.02, 1.05)
        ax.set_title(task)
    axes[0][0].set_ylabel("consistency with English")
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, fontsize=7, frameon=False, loc="lower center", ncol=min(3, len(labels)),
               bbox_to_anchor=(0.5, -0.02))
    fig.suptitle(title)
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    return fig


def ranking(values: pd.Series, *, highlight, title: str, xlabel: str, chance: float | None = None):
    """Horizontal bars of ``values`` (index: system), best on top; ``highlight`` systems in red;
    ``chance``: a dotted line at the chance level."""
    values = values.sort_values()
    fig, ax = plt.subplots(figsize=(5.5, max(2.5, 0.2 * len(values) + 1.0)))
    colors = [HIGHLIGHT[0] if name in set(highlight) else "#9ecae1" for name in values.index]
    ax.barh(range(len(values)), values.to_numpy(), color=colors)
    if chance is not None:
        ax.axvline(chance, color="grey", lw=0.8, ls=":", label=f"chance {chance:.2f}")
        ax.legend(fontsize=7, frameon=False, loc="lower right")
    ax.set_yticks(range(len(values)), values.index, fontsize=7)
    ax.set_xlabel(xlabel)
    ax.set_title(title)
    fig.tight_layout()
    return fig


def by_method(table: pd.DataFrame, *, methods: list[str], tasks: list[str], langs: list[str], title: str):
    """One panel per task: accuracy per language under each evaluation method (``acc_<method>`` columns)."""
    fig, axes = plt.subplots(1, len(tasks), figsize=(3.2 * len(tasks), 3.0), sharey=True, squeeze=False)
    for ax, task in zip(axes[0], tasks):
        sub = table[table["task"] == task].set_index("lang").reindex(langs)
        for k, method in enumerate(methods):
            ax.plot(range(len(langs)), sub[f"acc_{method}"].to_numpy(), marker=MARKERS[k % len(MARKERS)],
                    color=HIGHLIGHT[k % len(HIGHLIGHT)], lw=1, ms=3, label=method)
        ax.set_xticks(range(len(langs)), langs)
        ax.set_title(task)
    axes[0][0].set_ylabel("accuracy")
    axes[0][-1].legend(fontsize=7, frameon=False)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def conductivity_accuracy(acc: pd.DataFrame, *, title: str):
    """One panel per target language: accuracy with 95% CIs for English type 0/1, target type 0/1
    and Translate, with the 90% gate line."""
    langs = sorted(acc["target_lang"].unique())
    fig, axes = plt.subplots(1, len(langs), figsize=(3.4 * len(langs), 3.0), sharey=True, squeeze=False)
    for ax, tl in zip(axes[0], langs):
        sub = acc[acc["target_lang"] == tl]
        bars = [("en\ntype 0", "qa", "en", [0]), ("en\ntype 1", "qa", "en", [1]), (f"{tl}\ntype 0", "qa", tl, [0]),
                (f"{tl}\ntype 1", "qa", tl, [1]), ("Translate", "translate", tl, [-1, 0, 1])]
        for x, (label, split, asked, types) in enumerate(bars):
            rows = sub[(sub["split"] == split) & (sub["asked"] == asked) & sub["type"].isin(types)]
            if rows.empty:
                continue
            n, k = rows["n"].sum(), rows["correct"].sum()
            lo, hi = (rows["accuracy_lo"].iloc[0], rows["accuracy_hi"].iloc[0]) if len(rows) == 1 else (np.nan, np.nan)
            color = HIGHLIGHT[0] if label.endswith("type 1") and asked != "en" else "#6baed6"
            ax.bar(x, k / n, width=0.7, color=color)
            ax.text(x, k / n + 0.02, f"{k / n:.0%}", ha="center", va="bottom", fontsize=6)
            if not np.isnan(lo):
                ax.errorbar(x, k / n, yerr=[[k / n - lo], [hi - k / n]], color="black", capsize=2, lw=0.8)
            ax.set_xticks(range(len(bars)), [b[0] for b in bars], fontsize=7)
        ax.axhline(0.9, color="grey", lw=0.8, ls="--")
        ax.set_ylim(0, 1.05)
        ax.set_title(f"taught for target {tl}")
    axes[0][0].set_ylabel("accuracy (continent named)")
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def xrr(table: pd.DataFrame, *, chance: float | None, title: str):
    """Conductivity per target language with 95% CIs, in two panels: the default XRR (the published
    transfer ratio, chance-corrected: 0 = chance, 1 = full) and the two plain ratios (1 = full;
    ``chance`` = 1/k drawn where a model that knew every fact in English but guessed in l would land)."""
    langs = sorted(table["target_lang"].unique())
    fig, axes = plt.subplots(1, 2, figsize=(2 * (0.8 * len(langs) + 1.6), 3.2))
    panels = ((axes[0], ("xrr",), "XRR (transfer, chance-corrected)"),
              (axes[1], ("xrr_ratio", "type1_over_type0"), "ratio variants"))
    labels = {"xrr": "XRR = (|C_en ∩ C_l| / |C_en| − 1/k) / (1 − 1/k)",
              "xrr_ratio": "acc_l(type 1) / acc_en(type 1)", "type1_over_type0": "acc_l(type 1) / acc_l(type 0)"}
    for ax, metrics, panel_title in panels:
        for k, metric in enumerate(metrics):
            sub = table[table["metric"] == metric].set_index("target_lang").reindex(langs)
            x = np.arange(len(langs)) + (k - (len(metrics) - 1) / 2) * 0.25
            v = sub["value"].to_numpy(float)
            err = [np.nan_to_num(v - sub["lo"].to_numpy(float)), np.nan_to_num(sub["hi"].to_numpy(float) - v)]
            ax.errorbar(x, v, yerr=err, fmt=MARKERS[k], color=HIGHLIGHT[k], capsize=3, ms=5, label=labels[metric])
            for xi in x[np.isnan(v)]:       # undefined (e.g. nothing right in English): said, not left blank
                ax.annotate("undefined", (xi, 0.5), xycoords=("data", "axes fraction"), rotation=90, fontsize=6,
                            color=HIGHLIGHT[k], ha="center", va="center")
        ax.axhline(1.0, color="grey", lw=0.8, ls="--")
        if metrics == ("xrr",):
            ax.axhline(0.0, color="grey", lw=0.8, ls=":", label="0 = chance (negative: below chance)")
        elif chance:
            ax.axhline(chance, color="grey", lw=0.8, ls=":", label=f"1/k = {chance:.2f} (right in English, guessing in l)")
        ax.set_xticks(range(len(langs)), langs)
        ax.set_xlim(-0.5, len(langs) - 0.5)
        ax.set_title(panel_title, fontsize=9)
        ax.legend(fontsize=7, frameon=False, loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=1)
    axes[0].set_ylabel("conductivity")
    axes[1].set_ylim(bottom=0)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def loss_curves(curves: pd.DataFrame, *, group: str, title: str):
    """Training loss per step, one line per value of ``group``."""
    fig, ax = plt.subplots(figsize=(4.5, 3.0))
    for k, (name, sub) in enumerate(curves.groupby(group, sort=True)):
        ax.plot(sub["step"], sub["loss"], lw=1, color=HIGHLIGHT[k % len(HIGHLIGHT)], label=str(name))
    ax.set_xlabel("step")
    ax.set_ylabel("training loss (supervised tokens)")
    ax.set_yscale("log")
    ax.legend(fontsize=7, frameon=False)
    ax.set_title(title)
    fig.tight_layout()
    return fig


def claims_forest(claims: pd.DataFrame, *, title: str, xlabel: str = "mean Δ (derived − base), 95% CI"):
    """One row per claim: the group-mean Δ with its CI, coloured by verdict, over the shaded ±δ band of "no
    effect"; the 0 line is 'no change'. ``claims``: :func:`clika_utils.compare.check_claims` output
    (optionally with a ``source`` column)."""
    df = claims[claims["cells"] > 0].reset_index(drop=True)
    labels = [f"{r.source}: {r.claim}" if "source" in df.columns else r.claim for r in df.itertuples()]
    colours = {"supported": HIGHLIGHT[2], "contradicted": HIGHLIGHT[0], "no effect": "#1f77b4",
               "inconclusive": "grey"}
    fig, ax = plt.subplots(figsize=(6.5, 0.32 * len(df) + 1.4))
    y = np.arange(len(df))[::-1]
    for k, r in enumerate(df.itertuples()):
        if "margin" in df.columns and np.isfinite(r.margin):
            ax.plot([-r.margin, r.margin], [y[k], y[k]], lw=7, color="#1f77b4", alpha=0.15, solid_capstyle="butt")
        ax.errorbar([r.delta], [y[k]], xerr=[[r.delta - r.delta_lo], [r.delta_hi - r.delta]], fmt="o",
                    color=colours[r.verdict], capsize=3, ms=4)
    for verdict, colour in colours.items():
        ax.plot([], [], "o", color=colour, label=verdict)
    ax.axvline(0.0, color="grey", lw=0.8, ls="--")
    ax.set_yticks(y, labels, fontsize=7)
    ax.set_xlabel(xlabel)
    ax.legend(fontsize=7, frameon=False, loc="lower right")
    ax.set_title(title)
    fig.tight_layout()
    return fig


def delta_by_language(table: pd.DataFrame, *, systems: list[str], langs: list[str], value: str, title: str,
                      ylabel: str, highlight_lang: str | None = None):
    """Δ per language (x) for each system (markers), with CIs from ``<value>_lo``/``<value>_hi`` columns
    (or ``delta_lo``/``delta_hi`` when ``value`` is ``delta``)."""
    lo, hi = (f"{value}_lo", f"{value}_hi") if f"{value}_lo" in table.columns else ("delta_lo", "delta_hi")
    fig, ax = plt.subplots(figsize=(0.55 * len(langs) + 2.5, 3.0))
    width = 0.7 / max(1, len(systems))
    for k, system in enumerate(systems):
        sub = table[table["system"] == system].set_index("lang").reindex(langs)
        x = np.arange(len(langs)) + (k - (len(systems) - 1) / 2) * width
        v = sub[value].to_numpy(float)
        err = [np.nan_to_num(v - sub[lo].to_numpy(float)), np.nan_to_num(sub[hi].to_numpy(float) - v)]
        ax.errorbar(x, v, yerr=err, fmt=MARKERS[k % len(MARKERS)], color=HIGHLIGHT[k % len(HIGHLIGHT)], capsize=2,
                    ms=4, label=system)
    ax.axhline(0.0, color="grey", lw=0.8, ls="--")
    if highlight_lang in langs:
        i = langs.index(highlight_lang)
        ax.axvspan(i - 0.45, i + 0.45, color="grey", alpha=0.12, lw=0)
    ax.set_xticks(range(len(langs)), langs)
    ax.set_ylabel(ylabel)
    ax.legend(fontsize=7, frameon=False, loc="upper center", bbox_to_anchor=(0.5, -0.15), ncol=len(systems))
    ax.set_title(title)
    fig.tight_layout()
    return fig


LAW_COLOURS = {"loglinear": "#1f77b4", "power": HIGHLIGHT[0], "shared": HIGHLIGHT[2], "shared+cov": HIGHLIGHT[1]}


def scaling_curves(table: pd.DataFrame, bands: pd.DataFrame, *, metric: str, band_law: str, title: str,
                   base: pd.DataFrame | None = None):
    """One panel per language: observed scores (one dot per seed) against training pairs (log axis),
    every converged law's curve, the bootstrap band of ``band_law``; the base model as a dashed line."""
    langs = sorted(table.lang.unique())
    fig, axes = plt.subplots(1, len(langs), figsize=(2.6 * len(langs) + 0.6, 2.8), sharey=True, squeeze=False)
    for ax, lang in zip(axes[0], langs):
        obs = table[(table.lang == lang) & (table.metric == metric)]
        ax.scatter(obs["size"], obs["value"], s=14, color="black", zorder=3, label="observed (per seed)")
        for law, sub in bands[(bands.lang == lang) & (bands.metric == metric)].groupby("law", sort=True):
            colour = LAW_COLOURS.get(law, "grey")
            ax.plot(sub["size"], sub["pred"], color=colour, lw=1.2, label=law)
            if law == band_law:
                ax.fill_between(sub["size"], sub["lo"], sub["hi"], color=colour, alpha=0.18, lw=0)
        if base is not None and len(base):
            b = base[(base.lang == lang) & (base.metric == metric)]
            if len(b):
                ax.axhline(float(b.value.mean()), color="grey", lw=0.8, ls="--", label="base model")
        ax.set_xscale("log", base=2)
        ax.set_title(lang)
        ax.set_xlabel("en→X training pairs")
    axes[0][0].set_ylabel(metric)
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, fontsize=7, frameon=False, loc="lower center", ncol=len(labels),
               bbox_to_anchor=(0.5, -0.08))
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def allocation_plans(plans: pd.DataFrame, *, title: str):
    """Pairs per language under each plan (grouped bars), the predicted objective in the legend."""
    names = list(dict.fromkeys(plans.plan))
    langs = sorted(plans.lang.unique())
    fig, ax = plt.subplots(figsize=(0.9 * len(langs) + 2.8, 3.0))
    width = 0.8 / len(names)
    for k, name in enumerate(names):
        sub = plans[plans.plan == name].set_index("lang").reindex(langs)
        x = np.arange(len(langs)) + (k - (len(names) - 1) / 2) * width
        ax.bar(x, sub["size"], width=width, color=(HIGHLIGHT + ("#1f77b4",))[k % 4],
               label=f"{name} (predicted Σ = {sub.objective.iloc[0]:.2f})")
    ax.set_xticks(range(len(langs)), langs)
    ax.set_ylabel("en→X training pairs")
    ax.legend(fontsize=7, frameon=False, loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=1)
    ax.set_title(title)
    fig.tight_layout()
    return fig


def budget_sweep(sweep: pd.DataFrame, *, title: str):
    """Left: the optimal pairs per language against the budget. Right: predicted objective of each plan."""
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(7.5, 2.9))
    opt = sweep[sweep.plan == "optimal"]
    for k, (lang, sub) in enumerate(opt.groupby("lang", sort=True)):
        a1.plot(sub["budget"], sub["size"], marker=MARKERS[k % 3], ms=3, lw=1, label=lang)
    a1.set_xlabel("budget (pairs, all languages)")
    a1.set_ylabel("optimal pairs for the language")
    a1.legend(fontsize=7, frameon=False)
    for k, (name, sub) in enumerate(sweep.groupby("plan", sort=True)):
        obj = sub.groupby("budget").objective.first()
        a2.plot(obj.index, obj.values, marker=MARKERS[k % 3], ms=3, lw=1, label=name)
    a2.set_xlabel("budget (pairs, all languages)")
    a2.set_ylabel("predicted Σ score")
    a2.legend(fontsize=7, frameon=False)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def predicted_vs_measured(validation: pd.DataFrame, *, title: str, ylabel: str):
    """The gain optimal − uniform: predicted by the fit (bootstrap CI) and measured (paired bootstrap CI)."""
    r = validation.iloc[0]
    fig, ax = plt.subplots(figsize=(3.4, 3.0))
    for k, (name, v, lo, hi) in enumerate((("predicted", r.predicted, r.predicted_lo, r.predicted_hi),
                                          ("measured", r.measured, r.lo, r.hi))):
        err = [[np.nan_to_num(v - lo)], [np.nan_to_num(hi - v)]]
        ax.errorbar([k], [v], yerr=err, fmt=MARKERS[k], color=HIGHLIGHT[k], capsize=4, ms=6)
    ax.axhline(0.0, color="grey", lw=0.8, ls="--")
    ax.set_xticks([0, 1], ["predicted\n(fit bootstrap)", "measured\n(test bootstrap)"])
    ax.set_xlim(-0.6, 1.6)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    fig.tight_layout()
    return fig


def alignment_by_layer(al: pd.DataFrame, *, system: str, title: str):
    """Left: cosine gap (translation pair − mismatched pairs) per layer and language with its 95 % band;
    right: top-1 retrieval (mean of both directions) per layer and language."""
    a = al[al.system == system]
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(8.0, 3.0))
    palette = plt.get_cmap("tab10")
    for k, (lang, sub) in enumerate(a.groupby("lang", sort=True)):
        c = palette(k % 10)
        a1.plot(sub.layer, sub.cos_gap, color=c, lw=1, label=lang)
        if "cos_gap_lo" in sub:
            a1.fill_between(sub.layer, sub.cos_gap_lo, sub.cos_gap_hi, color=c, alpha=0.12, lw=0)
        a2.plot(sub.layer, (sub.retrieval_xy + sub.retrieval_yx) / 2, color=c, lw=1, label=lang)
    _layer_panels(fig, a1, a2, int(a.layer.max()), title, "cosine gap (matched − mismatched)", "top-1 retrieval en↔X",
                  ncol=2)
    a2.set_ylim(0, 1.02)
    return fig


def _layer_panels(fig, a1, a2, n_layers: int, title: str, ylabel1: str, ylabel2: str, ncol: int = 1) -> None:
    """The two panels of a by-layer figure: the middle third shaded, labels, legend, title."""
    for ax in (a1, a2):
        ax.axvspan(n_layers / 3, 2 * n_layers / 3, color="grey", alpha=0.08, lw=0)
        ax.set_xlabel("layer (0 = embeddings)")
    a1.set_ylabel(ylabel1)
    a2.set_ylabel(ylabel2)
    a2.legend(fontsize=7, frameon=False, ncol=ncol)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()


def alignment_systems(al: pd.DataFrame, *, title: str):
    """Language-averaged cosine gap and retrieval per layer, one line per system (base vs tuned)."""
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(8.0, 3.0))
    palette = plt.get_cmap("tab10")
    for k, (system, sub) in enumerate(al.groupby("system", sort=False)):
        mean = sub.assign(r=(sub.retrieval_xy + sub.retrieval_yx) / 2).groupby("layer")[["cos_gap", "r"]].mean()
        style = {"color": "black", "lw": 1.6} if k == 0 else {"color": palette(k % 10), "lw": 1}
        a1.plot(mean.index, mean.cos_gap, label=system, **style)
        a2.plot(mean.index, mean.r, label=system, **style)
    _layer_panels(fig, a1, a2, int(al.layer.max()), title, "mean cosine gap", "mean top-1 retrieval")
    return fig
