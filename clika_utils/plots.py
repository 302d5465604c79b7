"""The project's one visual language and every figure it draws.

Figures are drawn from results tables only (never from raw data) and saved with a provenance sidecar
naming the results files they were rendered from (:func:`save_figure`, PNG + PDF with deterministic
bytes). The visual language is defined once, here:

* **colours** – one fixed colour per language (:data:`LANG_COLOURS`, the same in every figure), per
  system role and variant (:func:`system_style`), per verdict (:data:`VERDICT_COLOURS`), per allocation
  plan (:data:`PLAN_COLOURS`), per scaling law (:data:`LAW_COLOURS`), per evaluation method; all from the
  colour-blind-safe palettes of Okabe & Ito and Paul Tol. Sequential heatmaps use viridis, signed
  differences the diverging RdBu centred on 0.
* **names** – systems by their published names (:func:`clika_utils.lineage.display_name`), ordered by
  family and size (:func:`clika_utils.lineage.system_order`); streams by theirs (:data:`TASK_NAMES`).
* **units** – a heatmap's colour bar is in the unit printed in its cells; accuracy and F1 in %, BLEU and
  chrF++ on 0–100; chance levels drawn wherever one exists.
* **one dpi** (:data:`DPI`), one type scale (:data:`FONT`), constrained layout.

:func:`lint` is the check that cannot be fooled by eye: text outside the canvas, text overlapping
text, a heatmap cell coloured by another number than it prints, a language in a colour not its own.
:func:`save_figure` runs it on every figure and records the problems in the sidecar.
"""

from __future__ import annotations

import io
import re
import sys
import textwrap
from pathlib import Path
from typing import Iterable

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib import colors as mcolors
from matplotlib import font_manager
from matplotlib.collections import QuadMesh
from matplotlib.patches import Patch
from matplotlib.ticker import FixedLocator, MaxNLocator, NullLocator, PercentFormatter

from .errors import ConfigError
from .io import write_bytes_atomic
from .langs import LANG_NAMES
from .lineage import display_name, system_order
from .metrics import wilson_ci
from .provenance import input_hashes, sidecar_path, write_sidecar
from .settings import workdir

LATIN_FONT = "DejaVu Sans"  # ships with matplotlib; covers Latin, Cyrillic, Greek, Hebrew, Arabic
CJK_FONTS = ("Noto Sans CJK JP", "Noto Sans CJK SC", "Noto Sans CJK TC", "Source Han Sans JP",
             "Source Han Sans SC", "WenQuanYi Zen Hei")
DPI = 150                                          #: every figure, PNG
FONT = {"base": 9, "small": 7, "tiny": 6, "title": 10}   #: the type scale (points)
PNG_METADATA = {"Software": None}
PDF_METADATA = {"Creator": None, "Producer": None, "CreationDate": None}

#: One colour per language, the same in every figure (Paul Tol's muted/vibrant/bright palettes; English,
#: the reference, in black). Languages that share a figure (the CLiKA ten; en ar de el hi tr vi zh of XQuAD
#: and Tatoeba) have distinct colours.
LANG_COLOURS = {
    "en": "#000000", "ar": "#332288", "de": "#117733", "fr": "#88CCEE", "he": "#999933", "it": "#44AA99",
    "ja": "#AA4499", "pl": "#DDCC77", "ru": "#882255", "zh": "#CC6677", "el": "#4477AA", "hi": "#EE7733",
    "tr": "#EE3377", "vi": "#CCBB44", "es": "#0077BB",
}
#: System roles: the untuned base, the live model among stored systems, the stored systems.
ROLE_COLOURS = {"base": "#555555", "live": "#E69F00", "stored": "#9ECAE1", "stored_median": "#C6DBEF",
                "stored_dot": "#3B6E9E"}
#: What was done to a live model (the ``<label>_<variant>`` suffix), by kind of training.
VARIANT_COLOURS = {
    "base": "#555555", "letter": "#E69F00", "generate": "#E69F00", "text": "#E69F00",
    "cpt-zh": "#CC3311", "cpt-de": "#CC3311", "mixed": "#009988",
    "it-en": "#0077BB", "alpaca": "#0077BB", "it-multi": "#EE7733", "m-llama": "#EE7733", "x-llama": "#AA3377",
}
VERDICT_COLOURS = {"supported": "#009E73", "contradicted": "#D55E00", "no effect": "#0072B2", "negligible": "#56B4E9",
                   "inconclusive": "#999999", "not measurable": "#CCCCCC"}
PLAN_COLOURS = {"optimal": "#E69F00", "uniform": "#56B4E9", "proportional": "#CC79A7"}
LAW_COLOURS = {"loglinear": "#0072B2", "power": "#D55E00", "shared": "#009E73", "shared+cov": "#CC79A7"}
METHOD_COLOURS = {"letter": "#E69F00", "generate": "#0072B2", "text": "#009E73"}
ESTIMATE_COLOURS = {"predicted": "#999999", "measured": "#000000"}
CHANCE = {"color": "#666666", "lw": 0.9, "ls": ":"}          #: chance levels
REFERENCE = {"color": "#666666", "lw": 0.8, "ls": "--"}      #: parity / no change / gates
MARKERS = ("o", "s", "^", "D", "v", "P", "X")
TASK_NAMES = {"x_csqa": "X-CSQA", "x_copa": "X-COPA", "x_geo": "X-Geo", "x_name": "X-Name", "cldr": "CLDR probe"}
METRIC_NAMES = {"accuracy": "accuracy", "ra": "RA", "en_co": "en-CO", "rankc": "RankC", "bleu": "BLEU",
                "chrf++": "chrF++", "f1": "F1", "em": "EM", "nll": "NLL"}


def lang_colour(lang: str) -> str:
    """The colour of ``lang`` in every figure (grey for a language without one)."""
    return LANG_COLOURS.get(lang, "#777777")


#: English names of the languages figures show beyond the CLiKA ten (:data:`clika_utils.langs.LANG_NAMES`).
MORE_LANG_NAMES = {"el": "Greek", "hi": "Hindi", "tr": "Turkish", "vi": "Vietnamese", "es": "Spanish"}


def lang_name(lang: str) -> str:
    return LANG_NAMES.get(lang) or MORE_LANG_NAMES.get(lang, lang)


def system_style(system: str, k: int = 0) -> dict:
    """Colour, marker and line style of ``system``: a live variant by its kind of training
    (:data:`VARIANT_COLOURS`), the base in dark grey, anything else by its position ``k``."""
    name = system[3:] if system.startswith("06:") else system.rpartition("_")[2] or system
    kind = "x-llama" if name.startswith("x-llama") else name
    colour = VARIANT_COLOURS.get(kind)
    if colour is None:
        colour = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#56B4E9", "#E69F00")[k % 6]
    ls = "--" if name.endswith("-zh") and kind == "x-llama" else "-"
    return {"color": colour, "marker": MARKERS[k % len(MARKERS)], "ls": ls}


def wrap(text: str, width: int = 48) -> str:
    """``text`` broken into lines of at most ``width`` characters (titles and long labels)."""
    return "\n".join(textwrap.wrap(str(text), width)) or str(text)


def _fit(text: str, inches: float, size: float) -> str:
    """``text`` wrapped to lines that fit ``inches`` at ``size`` points (DejaVu Sans: ≈ 0.55 em per character)."""
    text = re.sub(r"(\d) %", "\\1\u00a0%", str(text))  # "95 %" stays on one line
    return "\n".join(wrap(line, max(20, int(inches * 72 / (size * 0.56)))) for line in text.split("\n"))


def _suptitle(fig, text: str) -> None:
    """The figure's title, wrapped to the figure's width."""
    fig.suptitle(_fit(text, fig.get_figwidth() - 0.2, FONT["title"] + 1))


def _title(ax, text: str, **kw) -> None:
    """A one-panel figure's title, wrapped to what is left of the figure's width beside the tick labels."""
    inches = max(2.5, 0.62 * ax.figure.get_figwidth())
    ax.set_title(_fit(text, inches, kw.get("fontsize", FONT["title"])), **kw)


def task_name(task: str) -> str:
    return TASK_NAMES.get(task, task)


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
    """The project's one figure style (every figure function applies it itself)."""
    plt.rcdefaults()
    plt.rcParams.update({
        "font.family": [LATIN_FONT, find_cjk_font()],
        "font.size": FONT["base"],
        "axes.titlesize": FONT["title"],
        "axes.labelsize": FONT["base"],
        "xtick.labelsize": FONT["small"] + 1,
        "ytick.labelsize": FONT["small"] + 1,
        "legend.fontsize": FONT["small"],
        "figure.titlesize": FONT["title"] + 1,
        "axes.spines.top": False,
        "axes.spines.right": False,
        "figure.dpi": 100,
        "savefig.dpi": DPI,
        "savefig.bbox": "tight",
        "savefig.pad_inches": 0.05,
        "svg.hashsalt": "clika-repro",
        "pdf.fonttype": 42,
        "image.cmap": "viridis",
        "axes.unicode_minus": True,
    })


def _subplots(nrows: int = 1, ncols: int = 1, **kw):
    use_style()
    return plt.subplots(nrows, ncols, layout="constrained", **kw)


def figure_bytes(fig) -> dict[str, bytes]:
    """PNG and PDF bytes of ``fig``, with no timestamps or tool versions embedded."""
    out = {}
    for fmt, meta in (("png", PNG_METADATA), ("pdf", PDF_METADATA)):
        buf = io.BytesIO()
        fig.savefig(buf, format=fmt, metadata=meta, dpi=DPI)
        out[fmt] = buf.getvalue()
    return out


#: Who wrote a figure, in its folder's ledger (the folder is shared: every notebook's figures, the report's files).
FIGURES_WRITER = "clika figures"


def save_figure(fig, name: str, out_dir: str | Path, *, sources: Iterable[str | Path],
                parameters: dict | None = None, caption: str = "") -> list[Path]:
    """Write ``<out_dir>/<name>.png`` and ``.pdf`` atomically, each with a provenance sidecar whose
    inputs are the results files (``sources``) the figure was drawn from; the sidecar also holds the
    caption, :func:`lint`'s problems (printed as a warning when there are any) and the language colours used.
    The folder is shared (every notebook's figures, the report's contact sheet): the files are recorded in its
    ledger under its lock, and a file of the user's there refuses the write (:func:`clika_utils.outdir.adding`)."""
    out_dir = Path(out_dir)
    problems = lint(fig)
    for p in problems:
        print(f"warning: figure {name}: {p}", file=sys.stderr)
    inputs = input_hashes(sources, root=workdir())  # paths relative to the work folder: portable sidecars
    extra = {"caption": caption, "lint": problems, "lang_colours": lang_colours_used(fig)}
    rendered = figure_bytes(fig)
    paths = [out_dir / f"{name}.{fmt}" for fmt in rendered]
    from .outdir import adding
    with adding(out_dir, what=FIGURES_WRITER, adopt=adopt_figures) as ledger, \
            ledger.writing([x for p in paths for x in (p, sidecar_path(p))], writer=FIGURES_WRITER):
        for path, data in zip(paths, rendered.values()):
            write_bytes_atomic(path, data)
            write_sidecar(path, kind="figure", parameters=parameters or {}, seed=None, inputs=inputs, extra=extra)
    _show_saved(fig, rendered.get("png"))
    return paths


#: How a figures folder's contact sheet (:func:`clika_utils.report.contact_sheet`) begins: how an earlier version's
#: is known.
CONTACT_SHEET_HEAD = "# Figures of the `"


def adopt_figures(root: Path) -> dict[str, tuple]:
    """Legacy adoption of a figures folder (written before ledgers): every file whose sidecar records its hash
    (figures, the claims table) and the contact sheet the report wrote."""
    from .outdir import adopt_sidecars
    out = adopt_sidecars(root)
    readme = root / "README.md"
    if readme.is_file():
        text = readme.read_text(encoding="utf-8", errors="replace")[:2000]
        if text.startswith(CONTACT_SHEET_HEAD) and "python -m clika_utils.report" in text:
            out["README.md"] = (None, "")
    return out


def _show_saved(fig, data: bytes | None) -> None:
    """In a notebook: show the PNG bytes just written (at 100 dpi on screen) and close the figure, so
    what the notebook shows is byte for byte the committed figure — a test compares them. Elsewhere the
    figure stays open for the caller."""
    try:
        from IPython import get_ipython
    except ImportError:
        return
    shell = get_ipython()
    if shell is None or not hasattr(shell, "kernel") or data is None:
        return
    import matplotlib.pyplot as plt
    from IPython.display import Image, display
    pixels = int.from_bytes(data[16:20], "big")          # the PNG header's width
    display(Image(data=data, format="png", width=round(pixels * 100 / DPI)))
    plt.close(fig)


# ----------------------------------------------------------------------------------------------
# the check

_NUMBER = re.compile(r"[-+−]?\d+(?:\.(\d+))?")


def _drawn_texts(fig) -> list:
    """Every visible, non-empty text the figure draws (tick labels only for ticks inside the view)."""
    from matplotlib.axis import Axis
    from matplotlib.text import Text

    ticks, drawn = set(), []
    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            for tick in axis.get_major_ticks() + axis.get_minor_ticks():
                ticks.update({id(tick.label1), id(tick.label2)})
            if not (ax.get_visible() and axis.get_visible()):
                continue
            for tick in axis._update_ticks():  # noqa: SLF001 – the ticks matplotlib will draw
                drawn += [t for t in (tick.label1, tick.label2) if t.get_visible()]
    hidden = {id(t) for ax in fig.axes if not ax.get_visible() for t in ax.findobj(Text)}
    for t in fig.findobj(Text):
        if id(t) not in ticks and id(t) not in hidden and t.get_visible() and not isinstance(t, Axis):
            drawn.append(t)
    return [t for t in dict.fromkeys(drawn) if t.get_text().strip()]


def _colour_of(handle) -> tuple | None:
    for getter in ("get_color", "get_facecolor", "get_markerfacecolor"):
        if hasattr(handle, getter):
            c = getattr(handle, getter)()
            if isinstance(c, str):
                return mcolors.to_rgb(c)
            arr = mcolors.to_rgba_array(c)
            if len(arr):
                return tuple(arr[0][:3])
    if hasattr(handle, "lines"):  # an errorbar container
        return _colour_of(handle.lines[0])
    if hasattr(handle, "patches") and handle.patches:
        return _colour_of(handle.patches[0])
    return None


def _lang_of(label: str) -> str | None:
    label = label.strip()
    if label in LANG_COLOURS:
        return label
    names = {v: k for k, v in {**LANG_NAMES, **MORE_LANG_NAMES}.items()}
    return names.get(label)


def lang_colours_used(fig) -> dict[str, str]:
    """Language → colour of every legend entry and labelled line that names a language."""
    out = {}
    for handle, label in _labelled(fig):
        lang = _lang_of(label)
        c = _colour_of(handle)
        if lang and c is not None:
            out[lang] = mcolors.to_hex(c)
    return dict(sorted(out.items()))


def _labelled(fig):
    legends = [ax.get_legend() for ax in fig.axes] + list(fig.legends)
    for leg in legends:
        if leg is not None:
            for handle, text in zip(leg.legend_handles, leg.get_texts()):
                yield handle, text.get_text()
    for ax in fig.axes:
        for line in ax.get_lines():
            if not line.get_label().startswith("_"):
                yield line, line.get_label()


def lint(fig) -> list[str]:
    """What is wrong with ``fig`` that the eye might miss, as sentences (empty: nothing):

    * a text (title, label, tick label, legend entry, annotation) outside the canvas, or overlapping
      another text;
    * a heatmap cell coloured by another number than the one printed in it (colour bar and cells in
      different units);
    * a language drawn in another colour than :data:`LANG_COLOURS` gives it.
    """
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    W, H = fig.bbox.width, fig.bbox.height
    problems = []
    texts = _drawn_texts(fig)
    boxes = np.array([t.get_window_extent(renderer).extents for t in texts]).reshape(-1, 4)
    for t, (x0, y0, x1, y1) in zip(texts, boxes):
        if x0 < -1 or y0 < -1 or x1 > W + 1 or y1 > H + 1:
            problems.append(f"text {t.get_text()!r} lies outside the canvas")
    if len(boxes) > 1:
        x0, y0, x1, y1 = (boxes[:, i][:, None] for i in range(4))
        ox = np.minimum(x1, x1.T) - np.maximum(x0, x0.T)
        oy = np.minimum(y1, y1.T) - np.maximum(y0, y0.T)
        hit = np.triu((ox > 1.0) & (oy > 1.0), 1)
        for i, j in zip(*np.nonzero(hit)):
            problems.append(f"text {texts[i].get_text()!r} overlaps text {texts[j].get_text()!r}")
    for ax in fig.axes:
        meshes = [c for c in ax.collections if isinstance(c, QuadMesh)]
        if not meshes or not ax.texts:
            continue
        coords = meshes[0].get_coordinates()
        values = np.ma.asarray(meshes[0].get_array()).reshape(coords.shape[0] - 1, coords.shape[1] - 1)
        for t in ax.texts:
            m = _NUMBER.search(t.get_text())
            if not m:
                continue
            x, y = t.get_position()
            shown = float(m.group(0).replace("−", "-"))
            v = values[int(np.floor(y)), int(np.floor(x))]
            tol = 0.5 * 10.0 ** -(len(m.group(1)) if m.group(1) else 0) + 1e-9
            if np.ma.is_masked(v) or abs(float(v) - shown) > tol:
                problems.append(f"heatmap {ax.get_title()!r}: a cell prints {t.get_text()!r} but is coloured as "
                                f"{float(v):g} (colour bar and cells in different units)")
                break
    for handle, label in _labelled(fig):
        lang = _lang_of(label)
        c = _colour_of(handle)
        if lang and c is not None and not np.allclose(c, mcolors.to_rgb(lang_colour(lang)), atol=0.02):
            problems.append(f"language {lang!r} drawn in {mcolors.to_hex(c)}, not its colour {lang_colour(lang)}")
    return problems


# ----------------------------------------------------------------------------------------------
# the figures


def _legend_below(fig, axes, ncol: int | None = None) -> None:
    """One legend for the figure, below the panels: every label of every panel once, in the order first drawn
    (a label only some panels have — a stream at chance — is not lost)."""
    seen: dict[str, object] = {}
    for ax in np.ravel(axes):
        for handle, label in zip(*ax.get_legend_handles_labels()):
            seen.setdefault(label, handle)
    if seen:
        labels = list(seen)
        fits = int(fig.get_figwidth() * 72 / (FONT["small"] * 0.62 * (max(map(len, labels)) + 8)))
        fig.legend(list(seen.values()), labels, loc="outside lower center", frameon=False,
                   ncol=max(1, min(ncol or 3, len(labels), fits)))


def _percent(ax, axis: str = "y") -> None:
    (ax.yaxis if axis == "y" else ax.xaxis).set_major_formatter(PercentFormatter(1.0, decimals=0))


def _cell(fmt: str, v: float) -> str:
    """A heatmap cell's text: ``fmt`` of ``v`` with a typographic minus and no signed zero ("−0" reads "0")."""
    if pd.isna(v):
        return ""
    text = fmt.format(v)
    if float(text) == 0:
        text = fmt.format(0.0).lstrip("+")
    return text.replace("-", "−")


def interval_note(half_widths, n, *, what: str = "95 % CIs", per: str = "cell") -> str:
    """What a heatmap too dense for whiskers says about its cells' uncertainty: the largest 95 % CI half-width
    (in the cells' unit) and the sample size range (``what`` the intervals are, ``per`` what n counts)."""
    hw = np.asarray(half_widths, float)
    n = np.asarray(n, float)
    if not np.isfinite(hw).any():
        return ""
    lo, hi = int(np.nanmin(n)), int(np.nanmax(n))
    return f"{what} within ±{np.nanmax(hw):.2g} (n = {lo}{'' if lo == hi else f'–{hi}'} per {per})"


def heatmap(table: pd.DataFrame, *, title: str, cbar_label: str, scale: float = 100.0, vmin: float = 0.0,
            vmax: float = 100.0, cmap: str = "viridis", fmt: str = "{:.0f}", chance: float | None = None,
            systems: bool = False, groups: pd.Series | None = None, ci: tuple | None = None, note: str = "",
            marks: pd.DataFrame | None = None, mark: str = "†"):
    """Annotated heatmap of ``table`` × ``scale``: each cell prints the number its colour shows, and the colour
    bar (``vmin``–``vmax``, ``cbar_label``) is in that same unit. ``chance`` (in the unit): a line on the colour
    bar. ``systems``: the rows are system names, shown by their published names and ordered by family and
    size. ``groups``: row → group title; one block per group, all sharing the colour bar. ``ci``: (lo, hi)
    tables like ``table``: each cell also prints its 95 % CI. ``note``: appended to the title (e.g.
    :func:`interval_note` where the cells are too small for intervals). ``marks``: a boolean table like ``table``;
    its True cells print ``mark`` after their number (what it means belongs in the caption)."""
    import seaborn as sns

    # the values and their intervals go through the same scaling, ordering and naming
    flags = (None if marks is None else
             marks.astype(float).reindex(index=table.index, columns=table.columns, fill_value=0.0))
    frames = [t.astype(float).reindex(index=table.index, columns=table.columns) * scale for t in (table, *(ci or ()))]
    frames += [] if flags is None else [flags]
    if systems:
        order = system_order(table.index)
        frames = [f.reindex(order) for f in frames]
    for f in frames:
        f.columns = [task_name(c) for c in f.columns]
        if systems:
            f.index = [display_name(s) for s in f.index]
    if flags is not None:
        *frames, flags = frames
    table, *ci = frames
    if note:
        title = f"{title}; {note}"
    blocks = [("", table)] if groups is None else \
        [(g, table[np.asarray(groups.reindex(table.index)) == g]) for g in dict.fromkeys(groups.reindex(table.index))]
    blocks = [(g, b) for g, b in blocks if len(b)]
    n_rows = sum(len(b) for _, b in blocks)
    label_height = len(cbar_label) * FONT["base"] * 0.62 / 72 + 0.9   # the colour bar's label must fit beside it
    row, col = (0.36, 0.9) if ci else (0.2, 0.5)          # two lines per cell need room
    fig, axes = _subplots(len(blocks), 1, squeeze=False,
                          figsize=(col * table.shape[1] + 4.2, max(row * n_rows + 1.0 + 0.35 * len(blocks), label_height)),
                          gridspec_kw={"height_ratios": [len(b) for _, b in blocks]})
    axes = axes[:, 0]
    for ax, (g, block) in zip(axes, blocks):
        annot = block.map(lambda v: _cell(fmt, v))
        if flags is not None:
            annot = annot.where((annot == "") | (flags.loc[block.index] == 0), annot + mark)
        if ci:
            lo, hi = (t.loc[block.index].map(lambda v: _cell(fmt, v)) for t in ci)
            annot = annot.where((annot == "") | (lo == ""), annot + "\n[" + lo + ", " + hi + "]")
        sns.heatmap(block, ax=ax, vmin=vmin, vmax=vmax, cmap=cmap, annot=annot, fmt="", cbar=False,
                    annot_kws={"fontsize": FONT["tiny"]}, linewidths=0.3, linecolor="white")
        ax.set_xlabel("")
        ax.set_ylabel("")
        ax.tick_params(axis="y", labelsize=FONT["small"], rotation=0)
        ax.tick_params(axis="x", labelsize=FONT["small"] + 1, rotation=0)
        if g:
            ax.set_title(g, fontsize=FONT["base"], loc="left")
        if ax is not axes[-1]:
            ax.set_xticks([])
    cbar = fig.colorbar(axes[0].collections[0], ax=list(axes), label=cbar_label, shrink=min(1.0, 6.0 / max(n_rows, 1) + 0.5))
    if chance is not None:
        cbar.ax.axhline(chance, color="white", lw=2.0)
        cbar.ax.axhline(chance, color="black", lw=0.9, ls=":")
        title = f"{title} (colour bar, dotted: chance {chance:g})"
    _suptitle(fig, title)
    return fig


def _highlight_colour(system: str, rank: int, k: int) -> str:
    """The first system a figure highlights is the live model (its role colour); others by their variant."""
    return ROLE_COLOURS["live"] if rank == 0 else system_style(system, k)["color"]


def _en_gate(summary: pd.DataFrame) -> pd.Series:
    """Per row: is its system above chance in English on its task (the summary's ``en_above_chance``, the chance
    gate)? All true for a summary without the column."""
    if "en_above_chance" not in summary:
        return pd.Series(True, summary.index)
    return summary["en_above_chance"].astype(bool)


def by_language(summary: pd.DataFrame, *, value: str, tasks: list[str], langs: list[str], title: str,
                ylabel: str, reference: float | None = 1.0, highlight: list[str] | None = None):
    """One panel per task: every stored system's ``value`` per language (dots) and their median (bar);
    ``highlight`` systems (the live model) on top with their 95 % CIs (``<value>_lo``/``_hi``). Where the summary
    says which systems are above chance in English (``en_above_chance``, the chance gate), a stored system at
    chance on a task is left out of that panel (the title counts them), and a highlighted one is drawn hollow and
    grey, labelled "at chance in English: not measurable" — not placed among the others."""
    fig, axes = _subplots(1, len(tasks), figsize=(2.9 * len(tasks) + 0.6, 3.3), sharey=True, squeeze=False)
    rng = np.random.default_rng(0)  # fixed jitter: identical bytes on every run
    highlight = list(highlight or [])
    gate = _en_gate(summary)
    stored = summary[~summary["system"].isin(highlight)]
    dropped = stored[~gate.loc[stored.index]]
    stored = stored[gate.loc[stored.index]]
    top = np.nanquantile(stored[value].to_numpy(float), 0.99) if stored[value].notna().any() else 1.0
    for ax, task in zip(axes[0], tasks):
        sub = stored[stored["task"] == task]
        for x, lang in enumerate(langs):
            vals = sub.loc[sub["lang"] == lang, value].dropna().to_numpy()
            if vals.size == 0:
                continue
            ax.bar(x, np.median(vals), width=0.7, color=ROLE_COLOURS["stored_median"], zorder=1,
                   label="median of the stored systems" if x == 0 else None)
            ax.scatter(x + rng.uniform(-0.22, 0.22, vals.size), vals, s=6, color=ROLE_COLOURS["stored_dot"],
                       alpha=0.6, zorder=2, linewidths=0, label="one stored system" if x == 0 else None)
        for k, system in enumerate(highlight):
            rows = summary[(summary["task"] == task) & (summary["system"] == system)]
            hs = rows.set_index("lang").reindex(langs)
            v = hs[value].to_numpy(float)
            x = np.arange(len(langs)) + 0.12 * (k - (len(highlight) - 1) / 2)
            colour = _highlight_colour(system, k, k)
            if len(rows) and not gate.loc[rows.index].all():
                ax.plot(x, v, MARKERS[(k + 3) % len(MARKERS)], ms=4, zorder=3, mfc="none", color=ROLE_COLOURS["base"],
                        label=f"{display_name(system)}: at chance in English, not measurable")
                continue
            if f"{value}_lo" in hs:
                err = [np.nan_to_num(v - hs[f"{value}_lo"].to_numpy(float)),
                       np.nan_to_num(hs[f"{value}_hi"].to_numpy(float) - v)]
                ax.errorbar(x, v, yerr=err, fmt=MARKERS[(k + 3) % len(MARKERS)], color=colour, ms=4, capsize=2, lw=0.9,
                            zorder=3, label=f"{display_name(system)} (95 % CI)")
            else:
                ax.plot(x, v, MARKERS[(k + 3) % len(MARKERS)], color=colour, ms=4, zorder=3, label=display_name(system))
        if reference is not None:
            ax.axhline(reference, **REFERENCE, zorder=0, label=f"{reference:g} = parity with English")
        ax.set_xticks(range(len(langs)), langs)
        gone = dropped.loc[dropped["task"] == task, "system"].nunique()
        ax.set_title(task_name(task) + (f"\n({gone} at chance left out)" if gone else ""))
    axes[0][0].set_ylim(min(0.0, float(np.nanmin(stored[value]))) if stored[value].notna().any() else 0.0,
                        max(top * 1.15, (reference or 0) * 1.1, 0.1))
    axes[0][0].set_ylabel(ylabel)
    _legend_below(fig, axes[0], ncol=4)
    _suptitle(fig, title)
    return fig


def consistency_by_lang(summary: pd.DataFrame, *, systems: list[str], tasks: list[str], langs: list[str],
                        chance: dict[str, float], title: str):
    """One panel per task: en-CO (filled) and RankC (hollow) of ``systems`` against English per language, with
    95 % CIs; dotted: the RankC of two independent random rankings (``chance``, per task). Where the summary says a
    system is at chance in English on a task (``en_above_chance``, the chance gate), its points in that panel are
    grey, without intervals, labelled not measurable, and the panel's title says so: a model that prefers one
    letter in every language ranks the options alike whatever the question, so neither number reads as knowledge."""
    fig, axes = _subplots(1, len(tasks), figsize=(2.9 * len(tasks) + 0.6, 3.3), sharey=True, squeeze=False)
    series = [(system, metric) for system in systems for metric in ("en_co", "rankc")]
    gate = _en_gate(summary)
    for ax, task in zip(axes[0], tasks):
        sub = summary[summary["task"] == task]
        gated = False
        for k, (system, metric) in enumerate(series):
            rows = sub[sub["system"] == system]
            hs = rows.set_index("lang").reindex(langs)
            v = hs[metric].to_numpy(float)
            x = np.arange(len(langs)) + (k - (len(series) - 1) / 2) * 0.22
            fmt = "o" if metric == "en_co" else "s"
            if len(rows) and not gate.loc[rows.index].all():
                gated = True
                ax.plot(x, v, fmt, ms=4, color=ROLE_COLOURS["base"], mfc=ROLE_COLOURS["base"] if metric == "en_co"
                        else "white", label=f"{display_name(system)}: {METRIC_NAMES[metric]}, at chance in English "
                                            "(not measurable)")
                continue
            err = [np.nan_to_num(v - hs[f"{metric}_lo"].to_numpy(float)),
                   np.nan_to_num(hs[f"{metric}_hi"].to_numpy(float) - v)]
            colour = _highlight_colour(system, systems.index(system), k)
            ax.errorbar(x, v, yerr=err, fmt=fmt, color=colour, ms=4, capsize=2, lw=0.8,
                        mfc=colour if metric == "en_co" else "white",
                        label=f"{display_name(system)}: {METRIC_NAMES[metric]}")
        if task in chance:
            ax.axhline(chance[task], **CHANCE, label="RankC of random rankings")
        ax.set_xticks(range(len(langs)), langs)
        ax.set_xlim(-0.5, len(langs) - 0.5)
        ax.set_ylim(-0.02, 1.05)
        ax.set_title(task_name(task) + ("\n(at chance in English)" if gated else ""))
    axes[0][0].set_ylabel("consistency with English")
    _legend_below(fig, axes[0])
    _suptitle(fig, title)
    return fig


def ranking(values: pd.Series | pd.DataFrame, *, highlight, title: str, xlabel: str, chance: float | None = None,
            percent: bool = False, unranked=(), unranked_label: str = "at chance in English: not ranked"):
    """Horizontal bars, best on top, systems by their published names; ``highlight`` systems (live) in the
    live colour; ``values``: a Series, or a frame with ``value`` (and ``lo``/``hi``: 95 % CIs drawn);
    ``chance``: a dotted line. ``unranked`` systems (those the chance gate finds at chance) are not placed among
    the others: they sit below a rule at the bottom, hatched, in name order, under ``unranked_label``."""
    df = values.to_frame("value") if isinstance(values, pd.Series) else values.copy()
    out = set(unranked) & set(df.index)
    df = pd.concat([df.loc[system_order(sorted(out))[::-1]], df.drop(index=list(out)).sort_values("value")])
    fig, ax = _subplots(figsize=(6.0, max(2.6, 0.19 * len(df) + 1.2)))
    live = set(highlight)
    colours = [ROLE_COLOURS["live"] if name in live else ROLE_COLOURS["stored"] for name in df.index]
    y = np.arange(len(df))
    bars = ax.barh(y, df["value"].to_numpy(float), color=colours)
    for bar, name in zip(bars, df.index):
        if name in out:
            bar.set(facecolor="white", hatch="///",
                    edgecolor=ROLE_COLOURS["live"] if name in live else ROLE_COLOURS["stored_dot"])
    if {"lo", "hi"} <= set(df.columns):
        v = df["value"].to_numpy(float)
        ax.errorbar(v, y, xerr=[np.nan_to_num(v - df["lo"].to_numpy(float)), np.nan_to_num(df["hi"].to_numpy(float) - v)],
                    fmt="none", ecolor="black", lw=0.8, capsize=2, label="95 % CI")
    handles = [Patch(color=ROLE_COLOURS["live"], label="live model (this project)"),
               Patch(color=ROLE_COLOURS["stored"], label="stored system (CLiKA outputs)")]
    if out:
        ax.axhline(len(out) - 0.5, color="black", lw=0.6)
        handles.append(Patch(facecolor="white", edgecolor=ROLE_COLOURS["base"], hatch="///", label=unranked_label))
    if chance is not None:
        ax.axvline(chance, **CHANCE, label=f"chance {chance:.0%}" if percent else f"chance {chance:.2f}")
    ax.set_yticks(y, [display_name(s) for s in df.index], fontsize=FONT["small"])
    ax.set_ylim(-0.7, len(df) - 0.3)
    if percent:
        _percent(ax, "x")
    ax.set_xlabel(xlabel)
    ax.legend(handles=handles + ax.get_legend_handles_labels()[0], frameon=False, loc="lower right")
    _title(ax, title)
    return fig


def dodged(table: pd.DataFrame, *, x: str, group: str, xs: list, groups: list, title: str, ylabel: str,
           panel: str | None = None, panels: list | None = None, ncols: int | None = None,
           colours: dict | None = None, names: dict | None = None, chance: float | dict | None = None,
           percent: bool = False, ylim=None):
    """Estimates with 95 % CIs (columns ``value``, ``lo``, ``hi``) over categories ``xs`` (column ``x``), one
    marker per ``group`` side by side (no lines: the categories are not a sequence); ``panel``: one panel per
    value of that column, ``ncols`` to a row. ``colours``/``names``: per group (default: :func:`system_style`,
    display names). ``chance``: a dotted line (one value, or one per panel)."""
    panels = panels or [None]
    ncols = ncols or len(panels)
    nrows = -(-len(panels) // ncols)
    fig, axes = _subplots(nrows, ncols, sharey=True, squeeze=False,
                          figsize=(ncols * max(3.6, 0.13 * len(xs) * max(1, len(groups)) + 0.9) + 0.8, 2.5 * nrows + 0.9))
    width = 0.75 / max(1, len(groups))
    for ax, p in zip(axes.ravel(), panels):
        sub = table if p is None else table[table[panel] == p]
        for k, g in enumerate(groups):
            s = sub[sub[group] == g].set_index(x).reindex(xs)
            v = s["value"].to_numpy(float)
            pos = np.arange(len(xs)) + (k - (len(groups) - 1) / 2) * width
            err = [np.nan_to_num(v - s["lo"].to_numpy(float)), np.nan_to_num(s["hi"].to_numpy(float) - v)]
            colour = (colours or {}).get(g) or system_style(str(g), k)["color"]
            ax.errorbar(pos, v, yerr=err, fmt=MARKERS[k % len(MARKERS)], color=colour, ms=4, capsize=1.5, lw=0.8,
                        label=(names or {}).get(g) or display_name(str(g)))
        c = chance.get(p) if isinstance(chance, dict) else chance
        if c is not None:
            ax.axhline(c, **CHANCE, label="chance")
        ax.set_xticks(range(len(xs)), xs)
        ax.set_xlim(-0.6, len(xs) - 0.4)
        if p is not None:
            ax.set_title(task_name(str(p)))
        if percent:
            _percent(ax)
    for ax in axes.ravel()[len(panels):]:
        ax.set_visible(False)
    if ylim is not None:
        axes[0][0].set_ylim(*ylim)
    for row in axes:
        row[0].set_ylabel(ylabel)
    _legend_below(fig, axes, ncol=min(4, len(groups) + (chance is not None)))
    _suptitle(fig, title)
    return fig


def conductivity_accuracy(acc: pd.DataFrame, *, title: str, chance: float | None = None, gate: float = 0.9):
    """One panel per target language: accuracy with 95 % CIs when asked in English (black) or in the target
    language (its colour) about places of type 0 (taught in both languages; pale) and type 1 (taught in
    English only; full), and the Translate check (grey); dashed: the 90 % gate; dotted: chance. With several
    training runs (a ``seed`` column) a bar pools them and a dot marks each run."""
    langs = sorted(acc["target_lang"].unique())
    fig, axes = _subplots(1, len(langs), figsize=(3.2 * len(langs) + 0.4, 3.3), sharey=True, squeeze=False)
    for ax, tl in zip(axes[0], langs):
        sub = acc[acc["target_lang"] == tl]
        bars = [("en\ntype 0", "qa", "en", [0]), ("en\ntype 1", "qa", "en", [1]), (f"{tl}\ntype 0", "qa", tl, [0]),
                (f"{tl}\ntype 1", "qa", tl, [1]), ("Translate", "translate", tl, [-1, 0, 1])]
        for x, (label, split, asked, types) in enumerate(bars):
            rows = sub[(sub["split"] == split) & (sub["asked"] == asked) & sub["type"].isin(types)]
            if rows.empty:
                continue
            n, k = rows["n"].sum(), rows["correct"].sum()
            # one row: its stored bootstrap CI; pooled rows (Translate, all place types, several training runs):
            # the Wilson interval, and each run's accuracy as a dot
            lo, hi = (rows["accuracy_lo"].iloc[0], rows["accuracy_hi"].iloc[0]) if len(rows) == 1 else wilson_ci(k, n)
            if "seed" in rows and rows["seed"].nunique() > 1:
                tot = rows.groupby("seed", sort=True)[["correct", "n"]].sum()
                per_run = tot["correct"] / tot["n"]
                ax.plot(x + np.linspace(-0.18, 0.18, len(per_run)), per_run.to_numpy(), "o", ms=2.5, color="#222222",
                        zorder=3, label="one training run" if x == 0 else None)
            if split == "translate":
                ax.bar(x, k / n, width=0.7, facecolor="white", edgecolor="#666666", hatch="///")
            else:
                ax.bar(x, k / n, width=0.7, color=lang_colour(asked), alpha=0.45 if types == [0] else 1.0)
            if np.isfinite(lo):
                ax.errorbar(x, k / n, yerr=[[max(0.0, k / n - lo)], [max(0.0, hi - k / n)]], color="black", capsize=2,
                            lw=0.8)
            ax.text(x, (hi if np.isfinite(hi) else k / n) + 0.015, f"{k / n:.0%}", ha="center", va="bottom",
                    fontsize=FONT["tiny"])   # a 0 % bar is said, not left to look missing
        ax.set_xticks(range(len(bars)), [b[0] for b in bars], fontsize=FONT["small"])
        ax.axhline(gate, **REFERENCE, label=f"{gate:.0%} gate (facts learnt)")
        if chance is not None:
            ax.axhline(chance, **CHANCE, label=f"chance ({chance:.0%})")
        ax.set_ylim(0, 1.12)
        _percent(ax)
        ax.set_title(f"taught for target {tl}")
    axes[0][0].set_ylabel("accuracy (continent named)")
    _legend_below(fig, axes[0])
    _suptitle(fig, title)
    return fig


RUN_DASHES = ("-", "--", ":", "-.")   #: one per training run of the same arm

XRR_LABELS = {"xrr": "XRR (published, chance-corrected)", "xrr_ratio": "acc_l(type 1) / acc_en(type 1)",
              "type1_over_type0": "acc_l(type 1) / acc_l(type 0)"}


def xrr(table: pd.DataFrame, *, chance: float | None, title: str, runs: pd.DataFrame | None = None,
        threshold: float | None = None, failed: tuple = ()):
    """Conductivity per target language (its colour) with 95 % CIs, the headline XRR printed under each
    language. Left: the published XRR, chance-corrected (0 = chance, 1 = full transfer); right: the two
    plain ratios (1 = full; dotted at 1/k, where a model right in English but guessing in l lands).
    ``runs`` (per training run, :func:`clika_utils.experiments.conductivity.xrr_runs`): with more than one run
    per language, each run's value is a small dot beside the mean. ``threshold``: the claim's line on the XRR
    panel ("low" below it); ``failed``: target languages whose protocol gates failed, said under their label."""
    langs = sorted(table["target_lang"].unique())
    fig, axes = _subplots(1, 2, figsize=(2 * (0.9 * len(langs) + 1.9), 3.6))
    head = table[table["metric"] == "xrr"].set_index("target_lang").reindex(langs)
    ticks = [(f"{lang}\n{v:+.2f} [{lo:+.2f}, {hi:+.2f}]" if np.isfinite(v) else f"{lang}\nundefined")
             + ("\ngates failed" if lang in failed else "")
             for lang, v, lo, hi in zip(langs, head["value"], head["lo"], head["hi"])]
    panels = ((axes[0], ("xrr",), "XRR (transfer, chance-corrected)"),
              (axes[1], ("xrr_ratio", "type1_over_type0"), "ratio variants"))
    for ax, metrics, panel_title in panels:
        for k, metric in enumerate(metrics):
            sub = table[table["metric"] == metric].set_index("target_lang").reindex(langs)
            x = np.arange(len(langs)) + (k - (len(metrics) - 1) / 2) * 0.25
            v = sub["value"].to_numpy(float)
            for xi, vi, lo, hi, lang in zip(x, v, sub["lo"], sub["hi"], langs):
                mine = (runs[(runs["metric"] == metric) & (runs["target_lang"] == lang)]["value"].to_numpy(float)
                        if runs is not None else np.array([]))
                if len(mine) > 1:
                    ax.plot(np.full(len(mine), xi + 0.08), mine, ".", ms=3, color="#222222", zorder=3)
                if np.isfinite(vi):
                    ax.errorbar([xi], [vi], yerr=[[np.nan_to_num(vi - lo)], [np.nan_to_num(hi - vi)]],
                                fmt=MARKERS[k], color=lang_colour(lang), capsize=3, ms=5)
                else:   # undefined (e.g. nothing right in English): said, not left blank
                    ax.annotate("undefined", (xi, 0.5), xycoords=("data", "axes fraction"), rotation=90,
                                fontsize=FONT["tiny"], ha="center", va="center")
            ax.plot([], [], MARKERS[k], color="#444444", label=XRR_LABELS[metric])
        if runs is not None and runs.groupby(["target_lang", "metric"]).size().max() > 1:
            ax.plot([], [], ".", ms=3, color="#222222", label="one training run")
        ax.axhline(1.0, **REFERENCE, label="1 = full transfer")
        if metrics == ("xrr",):
            ax.axhline(0.0, **CHANCE, label="0 = chance")
            if threshold is not None:
                ax.axhline(threshold, color="#b2182b", lw=0.9, ls="-.",
                           label=f"{threshold:g}: the claim's line (low below)")
            ax.set_xticks(range(len(langs)), ticks, fontsize=FONT["small"])
        else:
            if chance:
                ax.axhline(chance, **CHANCE, label=f"1/k = {chance:.2f}")
            ax.set_xticks(range(len(langs)), langs)
        ax.set_xlim(-0.5, len(langs) - 0.5)
        ax.set_title(panel_title, fontsize=FONT["base"])
        ax.legend(frameon=False, loc="upper center", bbox_to_anchor=(0.5, -0.2 if metrics == ("xrr",) else -0.1), ncol=1)
    axes[0].set_ylabel("conductivity")
    axes[1].set_ylim(bottom=0)
    _suptitle(fig, title)
    return fig


def loss_curves(curves: pd.DataFrame, *, group: str, title: str):
    """Training loss per step, one line per value of ``group`` (languages in their colours); with a ``seed``
    column, one line per training run in the group's colour, a different dash per run."""
    fig, ax = _subplots(figsize=(4.6, 3.1))
    for k, (name, sub) in enumerate(curves.groupby(group, sort=True)):
        colour = lang_colour(name) if name in LANG_COLOURS else system_style(str(name), k)["color"]
        runs = list(sub.groupby("seed", sort=True)) if "seed" in sub else [(None, sub)]
        for j, (run, part) in enumerate(runs):
            label = str(name) if len(runs) == 1 else f"{name} seed {run}"
            ax.plot(part["step"], part["loss"], lw=1, color=colour, ls=RUN_DASHES[j % len(RUN_DASHES)], label=label)
    ax.set_xlabel("step")
    ax.set_ylabel("training loss (supervised tokens)")
    ax.set_yscale("log")
    ax.legend(frameon=False)
    _title(ax, title)
    return fig


def _signed(v: float) -> str:
    return f"{v:+.3g}".replace("-", "−")


def claims_forest(claims: pd.DataFrame, *, title: str, xlabel: str = "mean Δ (derived − base), 95 % CI"):
    """One row per claim: what it says (↑/↓: the direction the paper expects), its group-mean Δ with the 95 % CI
    coloured by verdict over the shaded ±δ band of "no effect", and at the right the effect, CI and verdict
    in words. One panel per source (stored outputs, live runs, …), each on its own x-range; the 0 line is
    no change. ``claims``: :func:`clika_utils.compare.check_claims` tables (with a ``source`` column)."""
    df = claims[(claims["cells"] > 0) & np.isfinite(claims["delta"].astype(float))].reset_index(drop=True)
    if "source" not in df.columns:
        df = df.assign(source="")
    sources = list(dict.fromkeys(df["source"]))
    sizes = [int((df["source"] == s).sum()) for s in sources]
    arrows = ["↑ " if getattr(r, "expected", "increase") == "increase" else "↓ " for r in df.itertuples()]
    statements = df["statement"] if "statement" in df.columns else df["claim"]
    labels = pd.Series([wrap(a + s, 52) for a, s in zip(arrows, statements)], index=df.index)
    row = max(0.36, 0.14 * max((t.count("\n") + 1 for t in labels), default=1) + 0.08)   # room for the longest label
    fig, axes = _subplots(len(sources), 1, squeeze=False, figsize=(7.6, row * len(df) + 0.75 * len(sources) + 0.8),
                          gridspec_kw={"height_ratios": sizes})
    for ax, source in zip(axes[:, 0], sources):
        part = df[df["source"] == source]
        y = np.arange(len(part))[::-1]
        for yk, r in zip(y, part.itertuples()):
            if "margin" in part.columns and np.isfinite(r.margin):
                ax.plot([-r.margin, r.margin], [yk, yk], lw=7, color=VERDICT_COLOURS["no effect"], alpha=0.15,
                        solid_capstyle="butt")
            ax.errorbar([r.delta], [yk], xerr=[[r.delta - r.delta_lo], [r.delta_hi - r.delta]], fmt="o",
                        color=VERDICT_COLOURS[r.verdict], capsize=3, ms=4)
        ax.axvline(0.0, **REFERENCE)
        ax.set_yticks(y, list(labels[part.index]), fontsize=FONT["small"])
        ax.set_ylim(-0.6, len(part) - 0.4)
        right = ax.twinx()
        right.set_ylim(ax.get_ylim())
        right.set_yticks(y, [f"{_signed(r.delta)} [{_signed(r.delta_lo)}, {_signed(r.delta_hi)}]  {r.verdict}"
                             for r in part.itertuples()], fontsize=FONT["small"])
        right.tick_params(axis="y", length=0)
        for lab, r in zip(right.get_yticklabels(), part.itertuples()):
            lab.set_color(VERDICT_COLOURS[r.verdict] if r.verdict != "inconclusive" else "#555555")
        right.spines["right"].set_visible(False)
        ax.set_title(f"{source} ({len(part)} rows)" if source else "", loc="left", fontsize=FONT["base"])
    for verdict, colour in VERDICT_COLOURS.items():
        if verdict in set(df["verdict"]):
            axes[0, 0].plot([], [], "o", color=colour, label=verdict)
    axes[0, 0].plot([], [], lw=7, color=VERDICT_COLOURS["no effect"], alpha=0.15, label="±δ: no effect")
    axes[-1, 0].set_xlabel(xlabel)
    _legend_below(fig, axes[:, 0], ncol=5)
    _suptitle(fig, title)
    return fig


def delta_by_language(table: pd.DataFrame, *, systems: list[str], langs: list[str], value: str, title: str,
                      ylabel: str, highlight_lang: str | None = None):
    """Δ per language (x) for each system (markers in its variant's colour), with CIs from
    ``<value>_lo``/``<value>_hi`` (or ``delta_lo``/``delta_hi`` when ``value`` is ``delta``)."""
    lo, hi = (f"{value}_lo", f"{value}_hi") if f"{value}_lo" in table.columns else ("delta_lo", "delta_hi")
    fig, ax = _subplots(figsize=(0.6 * len(langs) + 2.8, 3.3))
    width = 0.7 / max(1, len(systems))
    for k, system in enumerate(systems):
        sub = table[table["system"] == system].set_index("lang").reindex(langs)
        x = np.arange(len(langs)) + (k - (len(systems) - 1) / 2) * width
        v = sub[value].to_numpy(float)
        err = [np.nan_to_num(v - sub[lo].to_numpy(float)), np.nan_to_num(sub[hi].to_numpy(float) - v)]
        style = system_style(system, k)
        ax.errorbar(x, v, yerr=err, fmt=style["marker"], color=style["color"], capsize=2, ms=4, label=display_name(system))
    ax.axhline(0.0, **REFERENCE)
    if highlight_lang in langs:
        i = langs.index(highlight_lang)
        ax.axvspan(i - 0.45, i + 0.45, color="grey", alpha=0.12, lw=0)
    ax.set_xticks(range(len(langs)), langs)
    ax.set_ylabel(ylabel)
    ax.legend(frameon=False, loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=min(3, len(systems)))
    _title(ax, title)
    return fig


def scaling_curves(table: pd.DataFrame, bands: pd.DataFrame, *, metric: str, band_law: str, title: str,
                   base: pd.DataFrame | None = None):
    """One panel per language: observed scores (one dot per seed) against training pairs (log axis, ticks at
    the grid), every converged law's curve, the bootstrap band of ``band_law``; the base model dashed."""
    langs = sorted(table.lang.unique())
    sizes = sorted(table["size"].unique())
    fig, axes = _subplots(1, len(langs), figsize=(2.5 * len(langs) + 0.8, 3.2), sharey=True, squeeze=False)
    for ax, lang in zip(axes[0], langs):
        obs = table[(table.lang == lang) & (table.metric == metric)]
        ax.scatter(obs["size"], obs["value"], s=14, color=lang_colour(lang), zorder=3, label="observed (one seed)")
        for law, sub in bands[(bands.lang == lang) & (bands.metric == metric)].groupby("law", sort=True):
            colour = LAW_COLOURS.get(law, "grey")
            ax.plot(sub["size"], sub["pred"], color=colour, lw=1.2, label=f"{law} law")
            if law == band_law:
                ax.fill_between(sub["size"], sub["lo"], sub["hi"], color=colour, alpha=0.18, lw=0,
                                label=f"{law}: 95 % band")
        if base is not None and len(base):
            b = base[(base.lang == lang) & (base.metric == metric)]
            if len(b):
                ax.axhline(float(b.value.mean()), **REFERENCE, label="untuned base model")
        ax.set_xscale("log", base=2)
        ax.xaxis.set_major_locator(FixedLocator(sizes))
        ax.xaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: f"{v:g}"))
        ax.xaxis.set_minor_locator(NullLocator())
        ax.set_title(f"{lang} ({lang_name(lang)})")
        ax.set_xlabel("en→X training pairs")
    axes[0][0].set_ylabel(f"{METRIC_NAMES.get(metric, metric)} (0–100)")
    _legend_below(fig, axes[0], ncol=4)
    _suptitle(fig, title)
    return fig


def allocation_plans(plans: pd.DataFrame, *, title: str):
    """Pairs per language under each plan (grouped bars, plan colours), the predicted objective in the legend."""
    names = list(dict.fromkeys(plans.plan))
    langs = sorted(plans.lang.unique())
    fig, ax = _subplots(figsize=(0.9 * len(langs) + 3.0, 3.3))
    width = 0.8 / len(names)
    for k, name in enumerate(names):
        sub = plans[plans.plan == name].set_index("lang").reindex(langs)
        x = np.arange(len(langs)) + (k - (len(names) - 1) / 2) * width
        ax.bar(x, sub["size"], width=width, color=PLAN_COLOURS.get(name, "grey"),
               label=f"{name} (predicted Σ = {sub.objective.iloc[0]:.2f})")
    ax.set_xticks(range(len(langs)), langs)
    ax.set_ylabel("en→X training pairs")
    ax.legend(frameon=False, loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=1)
    _title(ax, title)
    return fig


def budget_sweep(sweep: pd.DataFrame, *, title: str):
    """Left: the optimal pairs per language against the budget (languages in their colours, each with its own
    marker and dash, nudged apart so equal allocations stay visible). Right: predicted objective per plan."""
    fig, (a1, a2) = _subplots(1, 2, figsize=(8.0, 3.3))
    budgets = sorted(sweep.budget.unique())
    opt = sweep[sweep.plan == "optimal"]
    dashes = ("-", "--", ":", "-.")
    groups = list(opt.groupby("lang", sort=True))
    for k, (lang, sub) in enumerate(groups):
        nudge = 2.0 ** (0.04 * (k - (len(groups) - 1) / 2))
        a1.plot(sub["budget"] * nudge, sub["size"], marker=MARKERS[k % len(MARKERS)], ms=4, lw=1.2,
                ls=dashes[k % len(dashes)], color=lang_colour(lang), label=lang)
    a1.set_ylabel("optimal pairs for the language")
    a1.legend(frameon=False)
    plans = list(sweep.groupby("plan", sort=True))
    for k, (name, sub) in enumerate(plans):
        obj = sub.groupby("budget").objective.first()
        nudge = 2.0 ** (0.04 * (k - (len(plans) - 1) / 2))
        a2.plot(obj.index * nudge, obj.values, marker=MARKERS[k % len(MARKERS)], ms=4, lw=1.2, ls=dashes[k % len(dashes)],
                color=PLAN_COLOURS.get(name, "grey"), label=name)
    a2.set_ylabel("predicted Σ score")
    a2.legend(frameon=False)
    for ax in (a1, a2):
        ax.set_xscale("log", base=2)
        ax.xaxis.set_major_locator(FixedLocator(budgets))
        ax.xaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: f"{v:g}"))
        ax.xaxis.set_minor_locator(NullLocator())
        ax.set_xlabel("budget (pairs, all languages)")
    _suptitle(fig, title)
    return fig


def predicted_vs_measured(validation: pd.DataFrame, *, title: str, ylabel: str):
    """The gain optimal − uniform: predicted by the fit (bootstrap CI) and measured (paired bootstrap CI), each
    with its number and CI under it."""
    r = validation.iloc[0]
    fig, ax = _subplots(figsize=(3.8, 3.3))
    labels = []
    for k, (name, v, lo, hi, how) in enumerate((("predicted", r.predicted, r.predicted_lo, r.predicted_hi, "fit bootstrap"),
                                                ("measured", r.measured, r.lo, r.hi, "test bootstrap"))):
        err = [[np.nan_to_num(v - lo)], [np.nan_to_num(hi - v)]]
        ax.errorbar([k], [v], yerr=err, fmt=MARKERS[k], color=ESTIMATE_COLOURS[name], capsize=4, ms=6)
        labels.append(f"{name} ({how})\n{_signed(v)} [{_signed(lo)}, {_signed(hi)}]")
    ax.axhline(0.0, **REFERENCE)
    ax.set_xticks([0, 1], labels, fontsize=FONT["small"])
    ax.set_xlim(-0.6, 1.6)
    ax.set_ylabel(ylabel)
    _title(ax, title)
    return fig


def alignment_by_layer(al: pd.DataFrame, *, system: str, title: str, chance: float | None = None):
    """Left: the mean-centred cosine gap (translation pair − mismatched pairs, each language's states centred per
    layer: the default, free of anisotropy) per layer and language (its colour) with its 95 % band; right: top-1
    retrieval (mean of both directions), dotted at chance 1/n."""
    a = al[al.system == system]
    fig, (a1, a2) = _subplots(1, 2, figsize=(8.4, 3.3))
    for lang, sub in a.groupby("lang", sort=True):
        c = lang_colour(lang)
        a1.plot(sub.layer, sub.cos_gap_centred, color=c, lw=1, label=lang)
        if "cos_gap_centred_lo" in sub:
            a1.fill_between(sub.layer, sub.cos_gap_centred_lo, sub.cos_gap_centred_hi, color=c, alpha=0.12, lw=0)
        a2.plot(sub.layer, (sub.retrieval_xy + sub.retrieval_yx) / 2, color=c, lw=1, label=lang)
    if chance is not None:
        a2.axhline(chance, **CHANCE, label=f"chance 1/n = {chance:.1%}")
    a1.axhline(0.0, **REFERENCE)
    _layer_panels(fig, a1, a2, int(a.layer.max()), title, "centred cosine gap (matched − mismatched)",
                  "top-1 retrieval en↔X", ncol=2)
    a2.set_ylim(0, 1.02)
    _percent(a2)
    return fig


def _layer_panels(fig, a1, a2, n_layers: int, title: str, ylabel1: str, ylabel2: str, ncol: int = 1) -> None:
    """The two panels of a by-layer figure: the middle third shaded, integer layer ticks, labels, legend, title."""
    for ax in (a1, a2):
        ax.axvspan(n_layers / 3, 2 * n_layers / 3, color="grey", alpha=0.08, lw=0)
        ax.set_xlabel("layer (0 = embeddings; shaded: middle third)")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    a1.set_ylabel(ylabel1)
    a2.set_ylabel(ylabel2)
    a2.legend(frameon=False, ncol=ncol, loc="upper right")
    _suptitle(fig, title)


def alignment_systems(al: pd.DataFrame, *, title: str):
    """Language-averaged mean-centred cosine gap and retrieval per layer, one line per system (the base in black)."""
    fig, (a1, a2) = _subplots(1, 2, figsize=(8.4, 3.3))
    for k, (system, sub) in enumerate(al.groupby("system", sort=False)):
        mean = sub.assign(r=(sub.retrieval_xy + sub.retrieval_yx) / 2).groupby("layer")[["cos_gap_centred", "r"]].mean()
        st = system_style(system, k)
        style = {"color": "black", "lw": 1.8} if k == 0 else {"color": st["color"], "ls": st["ls"], "lw": 1.1}
        label = "base" if k == 0 else display_name(system)
        a1.plot(mean.index, mean.cos_gap_centred, label=label, **style)
        a2.plot(mean.index, mean.r, label=label, **style)
    a1.axhline(0.0, **REFERENCE)
    _layer_panels(fig, a1, a2, int(al.layer.max()), title, "mean centred cosine gap", "mean top-1 retrieval")
    _percent(a2)
    return fig
