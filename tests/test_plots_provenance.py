import hashlib
import warnings

import matplotlib.pyplot as plt
import pandas as pd

from clika_utils import plots
from clika_utils.provenance import git_state, read_sidecar, sidecar_path, write_sidecar


def _figure():
    plots.use_style()
    table = pd.DataFrame({"en": [0.9, 0.5], "zh": [0.4, float("nan")]}, index=["sys1", "sys2"])
    fig = plots.heatmap(table, title="准确率 / 正答率 / accuracy", cbar_label="accuracy")
    return fig


def test_figure_bytes_are_deterministic():
    a = plots.figure_bytes(_figure())
    b = plots.figure_bytes(_figure())
    plt.close("all")
    assert a["png"] == b["png"] and a["pdf"] == b["pdf"]
    assert a["png"].startswith(b"\x89PNG") and a["pdf"].startswith(b"%PDF")
    assert b"CreationDate" not in a["pdf"] and b"Matplotlib" not in a["png"]


def test_cjk_text_renders_without_missing_glyphs():
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # matplotlib warns "Glyph ... missing from font(s)"
        fig = _figure()
        fig.axes[0].set_xlabel("中文 日本語 עברית العربية Русский")
        plots.figure_bytes(fig)
    plt.close("all")
    assert "CJK" in plots.find_cjk_font() or "Han" in plots.find_cjk_font()


def test_save_figure_writes_png_pdf_and_sidecars(tmp_path):
    src = tmp_path / "summary.csv"
    src.write_text("a\n1\n", encoding="utf-8")
    paths = plots.save_figure(_figure(), "fig", tmp_path / "figs", sources=[src], parameters={"k": 1},
                              caption="cap")
    plt.close("all")
    assert [p.name for p in paths] == ["fig.png", "fig.pdf"]
    side = read_sidecar(paths[0])
    assert side["kind"] == "figure" and side["caption"] == "cap" and side["parameters"] == {"k": 1}
    assert list(side["inputs"].values()) == [hashlib.sha256(b"a\n1\n").hexdigest()]
    assert side["output"]["file"] == "fig.png"


def test_sidecar_fields(tmp_path):
    out = tmp_path / "r.csv"
    out.write_text("x\n", encoding="utf-8")
    write_sidecar(out, kind="results", parameters={"p": 2}, seed=5, inputs={"in.jsonl": "00"})
    side = read_sidecar(out)
    assert sidecar_path(out).name == "r.csv.provenance.json"
    assert side["seed"] == 5 and side["parameters"] == {"p": 2} and side["inputs"] == {"in.jsonl": "00"}
    assert set(side["git"]) == {"commit", "dirty"}
    assert side["packages"]["numpy"] and side["packages"]["python"]
    assert "time" not in str(sorted(side)).lower()  # no timestamps: reruns write identical bytes


def test_git_state_outside_a_repository(tmp_path):
    assert git_state(tmp_path) == {"commit": None, "dirty": None}


def test_dirty_flag_ignores_the_outputs_runs_rewrite(tmp_path):
    import subprocess
    run = lambda *a: subprocess.run(["git", *a], cwd=tmp_path, check=True, capture_output=True)  # noqa: E731
    run("init", "-q")
    (tmp_path / "figures").mkdir()
    (tmp_path / "figures" / "f.png").write_bytes(b"old")
    (tmp_path / "code.py").write_text("x = 1\n", encoding="utf-8")
    run("add", ".")
    run("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "init")
    assert git_state(tmp_path)["dirty"] is False
    (tmp_path / "figures" / "f.png").write_bytes(b"new")          # a run re-rendered a figure
    assert git_state(tmp_path)["dirty"] is False
    (tmp_path / "code.py").write_text("x = 2\n", encoding="utf-8")  # the code changed
    assert git_state(tmp_path)["dirty"] is True
