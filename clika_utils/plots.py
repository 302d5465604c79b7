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


def ranking(values: pd.Series, *, highlight, title: str, xlabel: str):
    """Horizontal bars of ``values`` (index: system), best on top; ``highlight`` systems in red."""
    values = values.sort_values()
    fig, ax = plt.subplots(figsize=(5.5, max(2.5, 0.2 * len(values) + 1.0)))
    colors = [HIGHLIGHT[0] if name in set(highlight) else "#9ecae1" for name in values.index]
    ax.barh(range(len(values)), values.to_numpy(), color=colors)
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
