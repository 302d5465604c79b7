"""What a reader sees without running anything: executed notebooks cleaned for publication.

``./run_all.sh`` keeps each executed notebook as papermill wrote it in ``outputs/executed/<profile>/`` (every
stream, every timestamp: the record of the run). The report (:mod:`clika_utils.report`) publishes a copy of
each, cleaned by :func:`clean_notebook`, beside the static report page — ``published/`` for the ``cpu``
profile, committed — so that a repository viewer renders the results and a rerun on the same machine gives
the same bytes:

* **volatile metadata removed**: papermill's start/end times, durations, input/output paths and environment,
  the kernel's per-cell execution timestamps; the injected-parameters cell gets a fixed id;
* **the kernel** is the one the setup registers (:data:`KERNEL`), as in the source notebooks;
* **no stderr and no widgets**: warnings and progress bars are not results (``./run_all.sh`` turns the bars
  off; what remains is dropped here and counted, and stays in the raw notebook);
* **links** from the notebooks' Markdown to the project (``../docs/…``) still resolve from ``published/notebooks/``;
* **no machine paths**: the work folder, the data folder (shown as ``$CLIKA_DATA_HOME``), the Python
  environment and the home folder are replaced in every text output.

The figures in the notebooks are the committed PNG files themselves (:func:`clika_utils.plots.save_figure`
displays the file it wrote), so a test can compare them byte for byte.
"""

from __future__ import annotations

import copy
import re
import sys
from pathlib import Path

#: The Jupyter kernel the setup (``scripts/ensure_env.sh``) registers and every notebook names.
KERNEL = {"name": "clika-repro", "display_name": "Python (clika-repro)", "language": "python"}

#: papermill's notebook metadata that changes from run to run.
VOLATILE = ("start_time", "end_time", "duration", "input_path", "output_path", "environment_variables", "exception")

_WIDGET = "application/vnd.jupyter.widget-view+json"
#: An absolute path in the usual machine locations (what a published notebook must not show).
MACHINE_PATH = re.compile(r"(?<![\w.~$])/(?:home|root|tmp|work|Users|private|var/folders|opt|usr/local|mnt)/[^\s'\"<>)]*")


def root_pairs(root: Path) -> list[tuple[str, str]]:
    """A work folder's (absolute prefix, replacement): paths under it become relative, the folder itself ``.``."""
    root = str(Path(root).resolve())
    return [(root + "/", ""), (root, ".")]


def replacements(root: Path, data_home: Path | None = None) -> list[tuple[str, str]]:
    """(absolute prefix, what a reader sees instead; :func:`clean_notebook` applies the longest first): the work
    folder becomes relative, the data folder ``$CLIKA_DATA_HOME``, the Python environment ``<python env>``, the
    home folder ``~``."""
    pairs = root_pairs(root) + [(str(Path(sys.prefix).resolve()), "<python env>"), (str(Path.home()), "~")]
    if data_home is not None:
        pairs.append((str(Path(data_home).resolve()), "$CLIKA_DATA_HOME"))
    return [(a, b) for a, b in pairs if a not in ("", "/", "./")]


def run_root_pairs(nb) -> list[tuple[str, str]]:
    """:func:`root_pairs` of the folder the notebook was *run* in (papermill records its input path,
    ``<root>/notebooks/<name>.ipynb``): a run published from another checkout shows no path of either."""
    source = nb.metadata.get("papermill", {}).get("input_path") or ""
    return root_pairs(Path(source).parent.parent) if Path(source).is_absolute() else []


def scrub(text: str, pairs: list[tuple[str, str]]) -> str:
    for old, new in pairs:
        text = text.replace(old, new)
    return text


def _scrub_output(out: dict, pairs) -> dict:
    def fix(value):
        if isinstance(value, str):
            return scrub(value, pairs)
        if isinstance(value, list):
            return [fix(v) for v in value]
        return value
    if "text" in out:
        out["text"] = fix(out["text"])
    if "traceback" in out:
        out["traceback"] = fix(out["traceback"])
    for mime in list(out.get("data", {})):
        if mime.startswith("text/") or mime in ("application/json",):
            out["data"][mime] = fix(out["data"][mime])
    return out


def clean_notebook(nb, pairs: list[tuple[str, str]]):
    """(cleaned copy of the executed notebook ``nb``, [what was dropped, one line each])."""
    nb = copy.deepcopy(nb)
    pairs = sorted(set(pairs), key=lambda ab: -len(ab[0]))       # the longest prefix first
    pm = nb.metadata.get("papermill")
    if pm is not None:
        nb.metadata["papermill"] = {k: v for k, v in pm.items() if k not in VOLATILE}
    nb.metadata["kernelspec"] = dict(KERNEL)
    dropped = []
    for i, cell in enumerate(nb.cells):
        for key in ("execution", "papermill"):
            cell.metadata.pop(key, None)
        if "injected-parameters" in cell.metadata.get("tags", []) and "id" in cell:
            cell["id"] = "injected-parameters"
        if cell.cell_type == "markdown":               # published one folder deeper than notebooks/
            cell.source = cell.source.replace("](../", "](../../")
        if cell.cell_type != "code":
            continue
        kept = []
        for out in cell.outputs:
            if out.output_type == "stream" and out.name == "stderr":
                first = "".join(out.text).strip().splitlines()
                dropped.append(f"cell {i}: stderr: {scrub(first[0], pairs)[:120] if first else '(empty)'}")
            elif _WIDGET in out.get("data", {}):
                dropped.append(f"cell {i}: widget")
            else:
                kept.append(_scrub_output(out, pairs))
        cell.outputs = kept
    return nb, dropped


def machine_paths(nb) -> list[str]:
    """Absolute machine paths left in a notebook's outputs (a published notebook has none)."""
    found = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            texts = [out.get("text", "")] + [v for k, v in out.get("data", {}).items() if k.startswith("text/")]
            texts += out.get("traceback", [])
            for t in texts:
                found += MACHINE_PATH.findall("".join(t) if isinstance(t, list) else t)
    return found


#: a script the page would fetch from the network (nbconvert's lab template loads require.js and MathJax from a CDN;
#: no notebook here uses math, and a page read offline must not wait for them)
_REMOTE_SCRIPT = re.compile(r'<script[^>]*\bsrc="https?://[^"]*"[^>]*>\s*</script>\s*')
_MATHJAX_CONFIG = re.compile(r'<script type="text/x-mathjax-config">.*?</script>\s*', re.S)
#: a link to a notebook of this project (from the notebooks folder or to the published copies)
_NB_HREF = re.compile(r'href="(?:(?:\.\./)+(?:published/)?notebooks/)?(\d\d_[A-Za-z0-9_]+)\.ipynb(#[^"]*)?"')
#: a link to a page of docs/ (as the notebooks write it from notebooks/, or a published copy from two levels down)
_DOC_HREF = re.compile(r'href="(?:\.\./)+docs/([A-Za-z0-9_.-]+)\.md(#[^"]*)?"')
_NO_ALT = 'alt="No description has been provided for this image"'


def notebook_pages(body: str, prefix: str = "") -> str:
    """``body``'s links to this project's notebooks as links to their HTML pages, ``prefix`` the way to those pages
    from the page ``body`` is (the notebook pages' own folder by default)."""
    return _NB_HREF.sub(lambda m: f'href="{prefix}{m.group(1)}.html{m.group(2) or ""}"', body)


def export_html(nb, name: str, figures: dict[str, tuple[str, str]] | None = None, docs: str | None = None) -> str:
    """The notebook as one HTML page (JupyterLab's look) that works offline: no script from the network, links to
    other notebooks go to their HTML pages, and with ``docs`` (a folder relative to the page holding docs/ rendered
    as HTML) links to docs pages go there. An image that is a committed figure (``figures``: {sha256 of the PNG:
    (link relative to the page, caption)}) is linked, not inlined again, with its caption as alt text."""
    import base64
    import hashlib
    import html

    from nbconvert import HTMLExporter
    body, _ = HTMLExporter(template_name="lab").from_notebook_node(nb, resources={"metadata": {"name": name}})
    body = _MATHJAX_CONFIG.sub("", _REMOTE_SCRIPT.sub("", body))
    body = notebook_pages(body)
    if docs is not None:
        body = _DOC_HREF.sub(lambda m: f'href="{docs}/{m.group(1)}.html{m.group(2) or ""}"', body)
    if not figures:
        return body

    def link(m):
        alt, between, data = m.group(1), m.group(2), m.group(3)
        sha = hashlib.sha256(base64.b64decode(data)).hexdigest()
        if sha not in figures:
            return m.group(0)
        href, caption = figures[sha]
        if alt == _NO_ALT:
            alt = f'alt="{html.escape(caption or Path(href).stem, quote=True)}"'
        return f'<img {alt}{between}src="{href}"'
    return re.sub(r'<img (alt="[^"]*")([^>]*?)src="data:image/png;base64,([A-Za-z0-9+/=\s]+)"', link, body)


# ----------------------------------------------------------------------------------------------
# the check: a published run is one run


def _outputs(nb, mime: str) -> list[str]:
    out = []
    for cell in nb.cells:
        for o in cell.get("outputs", []):
            value = o.get("data", {}).get(mime)
            if value is not None:
                out.append("".join(value) if isinstance(value, list) else value)
    return out


def manifest_rows(nb) -> list[tuple[str, str]]:
    """(file, sha256 prefix) of the notebook's results manifest (the table :func:`provenance.results_manifest` shows)."""
    rows = []
    for text in _outputs(nb, "text/plain"):
        lines = text.splitlines()
        if lines and lines[0].split() == ["file", "rows", "sha256"]:
            rows += [(parts[0], parts[2]) for parts in (line.split() for line in lines[1:]) if len(parts) == 3]
    return rows


def disagreements(published: Path, figures: Path) -> list[str]:
    """Where the published notebooks, the committed figures, the published results and the claims table are not
    one run: an image in a notebook that is no committed figure (or a figure no notebook shows), a notebook's
    manifest hash that differs from the published results table or from what a figure was drawn from, a
    published table whose bytes differ from its sidecar, a claims row whose measurement its notebook does not show,
    a headline verdict the tour's takeaways do not state."""
    import base64
    import hashlib
    import html

    import nbformat
    import pandas as pd

    from .io import sha256_file
    from .provenance import read_sidecar, sidecar_path

    problems = []
    pngs = sorted(Path(figures).glob("*.png"))
    committed = {sha256_file(p): p.name for p in pngs}
    drawn_from = {}                                    # results file name per notebook -> sha, from figure sidecars
    for png in (p for p in pngs if sidecar_path(p).exists()):
        for path, digest in read_sidecar(png).get("inputs", {}).items():
            parts = Path(path).parts
            if "results" in parts:
                i = parts.index("results")
                drawn_from[(parts[i + 1], "/".join(parts[i + 2:]))] = digest
    for csv in sorted((Path(published) / "results").rglob("*.csv")):
        if read_sidecar(csv)["output"]["sha256"] != sha256_file(csv):
            problems.append(f"{csv.relative_to(published)}: bytes differ from its sidecar's SHA-256")
    shown = set()
    texts = {}
    for path in sorted((Path(published) / "notebooks").glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        stem = path.stem
        for data in _outputs(nb, "image/png"):
            digest = hashlib.sha256(base64.b64decode(data)).hexdigest()
            if digest not in committed:
                problems.append(f"{path.name}: shows an image that is no committed figure")
            shown.add(digest)
        for file, prefix in manifest_rows(nb):
            table = Path(published) / "results" / stem / file
            if table.exists() and not sha256_file(table).startswith(prefix):
                problems.append(f"{path.name}: results {file} {prefix} differs from published/results "
                                f"({sha256_file(table)[:16]})")
            digest = drawn_from.get((stem, file))
            if digest is not None and not digest.startswith(prefix):
                problems.append(f"{path.name}: results {file} {prefix} differs from what the figures were drawn from "
                                f"({digest[:16]})")
        texts[stem[:2]] = html.unescape(" ".join(_outputs(nb, "text/html") + _outputs(nb, "text/markdown")))
    problems += [f"figure {name} is shown by no published notebook" for d, name in committed.items() if d not in shown]
    claims_csv = Path(figures) / "claims.csv"
    if claims_csv.exists():
        table = pd.read_csv(claims_csv, keep_default_na=False, na_values=[""])
        for r in table.itertuples():
            nn = f"{int(r.notebook):02d}"
            if nn in texts and str(r.measured) not in texts[nn]:
                problems.append(f"claims.csv: notebook {nn} does not show {r.claim!r}: {r.measured}")
        if "00" in texts:                              # the tour's takeaways: this table's headline verdicts
            from .claims import headline_sentence, headlines
            for h in headlines(table).itertuples():
                if headline_sentence(h) not in texts["00"]:
                    problems.append(f"the tour's takeaways do not say {h.headline!r}: stored {h.stored_verdict}, "
                                    f"live {h.live_verdict}")
    return problems
