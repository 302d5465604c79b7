"""Issue 29's trials, one test per row: a folder is a command's own by what its ledger records (content, not
names); ``--overwrite`` starts clean (the command's earlier files go, the user's move aside untouched); one
system name has one writer; the report publishes only whole runs into a folder it owns; strict inputs."""

import json
import shutil
from pathlib import Path

import nbformat
import pytest

from clika_utils import lmeval, report, runner
from clika_utils.cli import main
from clika_utils.errors import ConfigError
from clika_utils.models import build_tiny_model
from clika_utils.outdir import BACKUP_PREFIX, LEDGER_NAME, Ledger, claim
from clika_utils.provenance import write_result_set

from test_bad_input import _eval, _tree
from test_lmeval import _fake_samples


def _files(path: Path) -> dict:
    """The tree's bytes without the lock and the ledger (what a user sees)."""
    return {k: v for k, v in _tree(path).items() if Path(k).name not in (".clika.lock", LEDGER_NAME)}


def test_n03_a_users_file_with_a_commands_name_is_not_the_commands(tiny_tree, tmp_path, capsys):
    """clika score into a folder holding the user's own items.csv (no ledger, no sidecar): refused, byte-identical;
    with --overwrite the user's file is moved aside whole, never replaced in place."""
    out = tmp_path / "out"
    out.mkdir()
    (out / "items.csv").write_text("my,own\n1,2\n", encoding="utf-8")
    args = ["score", "--data-dir", str(tiny_tree), "--out", str(out), "--n-boot", "5", "--langs", "zh,de,he"]
    assert main(args) == 2
    assert "no clika command wrote, or that changed since (items.csv)" in capsys.readouterr().err
    assert _tree(out) == {"items.csv": b"my,own\n1,2\n"}
    assert main([*args, "--overwrite"]) == 0
    assert (out / f"{BACKUP_PREFIX}1" / "items.csv").read_bytes() == b"my,own\n1,2\n"
    assert (out / "items.csv").read_bytes() != b"my,own\n1,2\n"
    assert main(args) == 0                              # now the folder is the command's (the backup recorded)


def test_a_results_table_changed_by_hand_is_no_longer_the_commands(tiny_tree, tmp_path, capsys):
    out = tmp_path / "out"
    args = ["score", "--data-dir", str(tiny_tree), "--out", str(out), "--n-boot", "5", "--langs", "zh,de,he"]
    assert main(args) == 0
    with open(out / "summary.csv", "a", encoding="utf-8") as fh:
        fh.write("my note\n")
    assert main(args) == 2 and "changed since (summary.csv)" in capsys.readouterr().err


def test_n05_overwrite_starts_a_system_clean_and_never_reuses_another_models_answers(tiny_path, item_tree, tmp_path):
    """Model A evaluates 3 items into ev; its manifest is lost; model B with --overwrite: only B's answers,
    byte-equal to a fresh run of B. Without --overwrite it is refused."""
    other = build_tiny_model(tmp_path / "b", seed=2, vocab_size=590)
    ev = tmp_path / "ev"
    assert _eval(tiny_path, item_tree, ev, "--limit", "3", "--system", "s") == 0
    (ev / "s.eval.json").unlink()
    assert _eval(other, item_tree, ev, "--limit", "5", "--system", "s") == 2
    assert _eval(other, item_tree, ev, "--limit", "5", "--system", "s", "--overwrite") == 0
    assert _eval(other, item_tree, tmp_path / "fresh", "--limit", "5", "--system", "s") == 0
    res = "x_geo/en/s_res.jsonl"
    assert (ev / res).read_bytes() == (tmp_path / "fresh" / res).read_bytes()


def test_n05_legacy_a_folder_without_a_ledger_and_a_lost_manifest(tiny_path, item_tree, tmp_path):
    """The same trial in a folder an earlier version wrote (no ledger): the orphaned answers are nobody's, so
    they are refused, and --overwrite moves them aside instead of continuing them."""
    other = build_tiny_model(tmp_path / "b", seed=2, vocab_size=590)
    ev = tmp_path / "ev"
    assert _eval(tiny_path, item_tree, ev, "--limit", "3", "--system", "s") == 0
    (ev / LEDGER_NAME).unlink()
    (ev / "s.eval.json").unlink()
    a_answers = (ev / "x_geo/en/s_res.jsonl").read_bytes()
    assert _eval(other, item_tree, ev, "--limit", "5", "--system", "s") == 2
    assert _eval(other, item_tree, ev, "--limit", "5", "--system", "s", "--overwrite") == 0
    assert (ev / f"{BACKUP_PREFIX}1" / "x_geo/en/s_res.jsonl").read_bytes() == a_answers
    assert _eval(other, item_tree, tmp_path / "fresh", "--limit", "5", "--system", "s") == 0
    assert (ev / "x_geo/en/s_res.jsonl").read_bytes() == (tmp_path / "fresh" / "x_geo/en/s_res.jsonl").read_bytes()


def test_n06_one_system_name_has_one_writer(tiny, tiny_path, item_tree, tmp_path):
    """lm-eval import into a folder where clika evaluate wrote the same system: refused, nothing changed; the
    reverse too; another system name in the same folder is fine."""
    ev = tmp_path / "ev"
    assert _eval(tiny_path, item_tree, ev, "--limit", "5", "--system", "s") == 0
    lmeval.export(item_tree, tmp_path / "tasks", tasks=["x_geo"], langs=["en"])
    samples = _fake_samples(tmp_path / "tasks", tmp_path / "lm" / "model", lambda t, lang, doc: [0.0, -1.0, -2.0, -3.0])
    before = _tree(ev)
    with pytest.raises(ConfigError, match="'s' was written there by clika evaluate"):
        lmeval.import_samples(samples.parent, item_tree, ev, system="s")
    assert _tree(ev) == before
    lmeval.import_samples(samples.parent, item_tree, ev, system="lm")
    assert _eval(tiny_path, item_tree, ev, "--limit", "5", "--system", "lm") == 2          # the reverse
    lmeval.import_samples(samples.parent, item_tree, ev, system="s", overwrite=True)       # replaced on request
    manifest = json.loads((ev / "s.eval.json").read_text(encoding="utf-8"))
    assert manifest["source"] == "lm-evaluation-harness"


def test_n09_evaluate_refuses_a_copy_of_the_data_tree(tiny_path, item_tree, tmp_path, capsys):
    data = tmp_path / "copy"
    shutil.copytree(item_tree, data)
    before = _tree(data)
    assert _eval(tiny_path, item_tree, data, "--limit", "2", "--system", "s") == 2
    assert "no clika command wrote" in capsys.readouterr().err and _tree(data) == before


def test_n23_a_notebooks_results_folder_is_checked_too(tmp_path):
    import pandas as pd
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "guide.md").write_text("# mine\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"no clika command wrote.*\(guide\.md\)"):
        write_result_set(docs, {"t.csv": pd.DataFrame({"a": [1]})}, parameters={}, seed=0, inputs={})
    assert _tree(docs) == {"guide.md": b"# mine\n"}
    res = tmp_path / "res"
    write_result_set(res, {"t.csv": pd.DataFrame({"a": [1]})}, parameters={}, seed=0, inputs={})
    write_result_set(res, {"t.csv": pd.DataFrame({"a": [2]})}, parameters={}, seed=0, inputs={})   # its own: fine
    (res / LEDGER_NAME).unlink()              # written before ledgers: adopted because the sidecar records the hash
    write_result_set(res, {"u.csv": pd.DataFrame({"a": [3]})}, parameters={}, seed=0, inputs={})
    assert set(Ledger(res).files) == {"t.csv", "t.csv.provenance.json", "u.csv", "u.csv.provenance.json"}


def test_a_killed_write_of_a_result_set_leaves_the_folder_its_own(tmp_path, monkeypatch):
    """A kill between the moves of a result set leaves a mix of old and new files: they are recorded as being
    written, so the next run is not refused."""
    import os

    import pandas as pd
    res = tmp_path / "res"
    write_result_set(res, {"t.csv": pd.DataFrame({"a": [1]})}, parameters={}, seed=0, inputs={})
    real = os.replace
    calls = []

    def replace(a, b):
        calls.append(b)
        if len(calls) == 2:
            raise KeyboardInterrupt
        real(a, b)
    monkeypatch.setattr(os, "replace", replace)
    with pytest.raises(KeyboardInterrupt):
        write_result_set(res, {"t.csv": pd.DataFrame({"a": [2]})}, parameters={}, seed=0, inputs={})
    monkeypatch.setattr(os, "replace", real)
    claim(res, what="clika results")                   # not refused
    write_result_set(res, {"t.csv": pd.DataFrame({"a": [3]})}, parameters={}, seed=0, inputs={})
    assert Ledger(res).foreign() == []


def test_n10_the_report_never_deletes_or_overwrites_a_users_files_in_its_folder(tmp_path, monkeypatch, capsys):
    from test_report import _fake_run
    monkeypatch.setenv("CLIKA_WORKDIR", str(tmp_path))
    executed = _fake_run(tmp_path)
    pub = tmp_path / "pub"
    report.build("cpu", executed_dir=executed, out_dir=pub, params_dir=tmp_path / "params")
    (pub / "results" / "my_analysis.csv").write_text("mine\n", encoding="utf-8")
    (pub / "notebooks" / "notes.md").write_text("my notes\n", encoding="utf-8")
    before = _tree(pub)
    with pytest.raises(ConfigError, match=r"results/my_analysis\.csv.*--overwrite-published"):
        report.build("cpu", executed_dir=executed, out_dir=pub, params_dir=tmp_path / "params")
    assert _tree(pub) == before
    report.build("cpu", executed_dir=executed, out_dir=pub, params_dir=tmp_path / "params", overwrite=True)
    assert (pub / f"{BACKUP_PREFIX}1" / "results" / "my_analysis.csv").read_text(encoding="utf-8") == "mine\n"
    assert (pub / f"{BACKUP_PREFIX}1" / "notebooks" / "notes.md").read_text(encoding="utf-8") == "my notes\n"
    report.build("cpu", executed_dir=executed, out_dir=pub, params_dir=tmp_path / "params")   # its own now
    assert (pub / f"{BACKUP_PREFIX}1" / "results" / "my_analysis.csv").exists()                # and kept
    # a README.md of the user's at the top of a folder without a ledger is not the report's either
    legacy = tmp_path / "legacy"
    shutil.copytree(pub, legacy, ignore=shutil.ignore_patterns(LEDGER_NAME, f"{BACKUP_PREFIX}*"))
    report.build("cpu", executed_dir=executed, out_dir=legacy, params_dir=tmp_path / "params")   # adopted by content
    (legacy / LEDGER_NAME).unlink()
    (legacy / "README.md").write_text("# my own readme\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"\(README\.md\)"):
        report.build("cpu", executed_dir=executed, out_dir=legacy, params_dir=tmp_path / "params")
    capsys.readouterr()
    assert report.main(["cpu", "--out", str(legacy)]) == 2           # the module: error, no traceback
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "Traceback" not in err and "--overwrite-published" in err


def test_n02_a_notebook_killed_half_way_is_not_published_as_ok(tmp_path, monkeypatch):
    from test_report import _fake_run
    monkeypatch.setenv("CLIKA_WORKDIR", str(tmp_path))
    executed = _fake_run(tmp_path)
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1"), nbformat.v4.new_code_cell("2")])
    nb.cells[0].metadata["papermill"] = {"status": "completed"}
    nb.cells[1].metadata["papermill"] = {"status": "pending"}
    nbformat.write(nb, executed / "01_x.ipynb")
    assert not report.finished(executed / "01_x.ipynb")
    report.build("cpu", executed_dir=executed, out_dir=tmp_path / "pub", params_dir=tmp_path / "params")
    runs = (tmp_path / "pub" / "runs.csv").read_text(encoding="utf-8")
    assert "01_x,incomplete" in runs and "class='incomplete'" in (tmp_path / "pub" / "index.html").read_text()
    nb.cells[1].metadata["papermill"] = {"status": "completed"}
    nbformat.write(nb, executed / "01_x.ipynb")
    assert report.finished(executed / "01_x.ipynb")


def test_n17_a_swap_interrupted_between_its_renames_is_recovered(tmp_path, monkeypatch):
    from test_report import _fake_run
    monkeypatch.setenv("CLIKA_WORKDIR", str(tmp_path))
    executed = _fake_run(tmp_path)
    pub = tmp_path / "pub"
    report.build("cpu", executed_dir=executed, out_dir=pub, params_dir=tmp_path / "params")
    before = _files(pub)
    pub.rename(tmp_path / ".pub.old")                       # killed after the first rename
    report.check_folder(pub)                                # the runner's early check reads the old folder
    report.build("cpu", executed_dir=executed, out_dir=pub, params_dir=tmp_path / "params")
    assert _files(pub) == before and not (tmp_path / ".pub.old").exists()


def test_n22_n24_strict_inputs_fail_the_run_before_any_notebook(tmp_path, monkeypatch, capsys):
    """A key given twice in a params file names the file and line; `--only ""` is not "every notebook"; both stop
    the runner with exit 2 before a notebook runs."""
    from clika_utils import config
    nb_dir = Path(__file__).resolve().parent.parent / "notebooks"
    params = tmp_path / "params" / "01_performance_consistency"
    params.mkdir(parents=True)
    (params / "smoke.yaml").write_text("n_boot: 100\nseed: 1\nn_boot: 200\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"smoke\.yaml:3: key 'n_boot' given twice \(first on line 1\)"):
        config.load_params(tmp_path / "params", nb_dir / "01_performance_consistency.ipynb", "smoke")
    with pytest.raises(ConfigError, match="nothing was run"):
        runner.run_all("smoke", only=["01"], params_dir=tmp_path / "params", out_dir=tmp_path / "executed")
    assert not list((tmp_path / "executed").glob("*.ipynb"))
    ran = []
    monkeypatch.setattr(runner, "run_all", lambda *a, **k: ran.append(1) or [])
    assert runner.main(["smoke", "--only", ""]) == 2
    assert "--only '': expected a notebook number" in capsys.readouterr().err and not ran
    with pytest.raises(ConfigError, match="expected a notebook number"):
        runner.find_notebooks(nb_dir, ["  "])


def test_n19_samples_of_exports_with_different_limits_are_refused_at_import(item_tree, tmp_path):
    from clika_utils.errors import DataError
    lmeval.export(item_tree, tmp_path / "a", tasks=["x_geo"], langs=["en", "zh"], limit=2)
    lmeval.export(item_tree, tmp_path / "b", tasks=["x_geo"], langs=["en", "zh"], limit=3)
    _fake_samples(tmp_path / "a", tmp_path / "lm" / "m", lambda t, lang, doc: [0.0, -1.0, -2.0, -3.0])
    (tmp_path / "lm" / "m" / "samples_clika_x_geo_zh_2026-12-01T00-00-00.jsonl").unlink()
    _fake_samples(tmp_path / "b", tmp_path / "lmb", lambda t, lang, doc: [0.0, -1.0, -2.0, -3.0])
    shutil.copy(tmp_path / "lmb" / "samples_clika_x_geo_zh_2026-12-01T00-00-00.jsonl", tmp_path / "lm" / "m")
    with pytest.raises(DataError, match="samples of several exports mixed"):
        lmeval.import_samples(tmp_path / "lm", item_tree, tmp_path / "imp", system="lm")
    assert not (tmp_path / "imp").exists()


def test_t14b_a_truncated_newest_checkpoint_falls_back_to_the_previous_whole_one(tiny_path, tmp_path):
    from clika_utils.errors import ClikaWarning
    from clika_utils.train import checkpoints, train

    from test_train import examples, fast
    cfg = fast(max_steps=3, save_every=1, keep_checkpoints=2)
    job = tmp_path / "job"
    tiny = str(tiny_path)
    train(tiny, examples(), job, cfg, progress=False)
    meta = json.loads((job / "train.json").read_text(encoding="utf-8"))
    (job / "train.json").write_text(json.dumps({**meta, "status": "running"}), encoding="utf-8")
    shutil.rmtree(job / "model")                                   # as if killed before the model was saved
    newest = checkpoints(job)[-1]
    data = (newest / "trainable.safetensors").read_bytes()
    (newest / "trainable.safetensors").write_bytes(data[: len(data) // 2])
    with pytest.warns(ClikaWarning, match=r"step-000003: damaged checkpoint.*resuming from step-000002"):
        res = train(tiny, examples(), job, cfg, progress=False)
    assert res.reports["resumed_from_step"] == 2 and (job / "model").exists()
    for ck in checkpoints(job):                                     # none readable: a clear error, no restart
        (ck / "optimizer.pt").write_bytes(b"")
    (job / "train.json").write_text(json.dumps({**meta, "status": "running"}), encoding="utf-8")
    shutil.rmtree(job / "model")
    with pytest.raises(ConfigError, match="no earlier whole one"):
        train(tiny, examples(), job, cfg, progress=False)


def test_s12b_a_system_without_english_results_is_named_as_such(tiny_tree, tmp_path, capsys):
    """A NaN en-CO because the English file is missing says so, not "no item is right in either language"."""
    gone = sorted(p for p in tiny_tree.rglob("*sysA*") if p.parent.name.lower().startswith("en"))
    assert gone, "the tiny tree has sysA's English files"
    task_of = gone[0].relative_to(tiny_tree).parts[0]
    gone[0].unlink()
    assert main(["score", "--data-dir", str(tiny_tree), "--out", str(tmp_path / "o"), "--n-boot", "5",
                 "--langs", "zh,de,he"]) == 0
    out = capsys.readouterr().out
    assert f"with no English results to compare with: sysA/{task_of}" in out
    assert "no item is right in either language" not in out


def _save_demo(folder: Path, name: str, src: Path) -> list[Path]:
    import matplotlib.pyplot as plt

    from clika_utils import plots
    fig, ax = plt.subplots()
    ax.plot([0, 1], [0, 1])
    out = plots.save_figure(fig, name, folder, sources=[src], parameters={"k": 1}, caption="demo")
    plt.close("all")
    return out


def test_the_figures_folder_is_shared_by_content_and_its_ledger_merges_every_writer(tmp_path, monkeypatch):
    """The figures folder (every notebook's figures, the report's contact sheet): a user's file there refuses a
    figure, untouched; writers at once (threads, each slowed inside its write) all end up in one ledger;
    a folder written before ledgers is adopted by the sidecars and the contact sheet."""
    import threading

    src = tmp_path / "t.csv"
    src.write_text("a\n1\n", encoding="utf-8")
    figs = tmp_path / "figs"
    figs.mkdir()
    (figs / "notes.md").write_text("mine\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"no clika command wrote.*\(notes\.md\).*move those files out"):
        _save_demo(figs, "a", src)
    assert _files(figs) == {"notes.md": b"mine\n"}
    (figs / "notes.md").unlink()
    from clika_utils import outdir
    real = outdir.claim

    def slow(*a, **k):                              # each writer reads the ledger, then dawdles before writing
        import time
        ledger = real(*a, **k)
        time.sleep(0.3)
        return ledger
    monkeypatch.setattr(outdir, "claim", slow)
    errors = []

    def one(name):
        try:
            _save_demo(figs, name, src)
        except Exception as e:                      # noqa: BLE001 — reported below
            errors.append(e)
    threads = [threading.Thread(target=one, args=(f"f{i}",)) for i in range(4)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert not errors
    want = {f"f{i}.{ext}{side}" for i in range(4) for ext in ("png", "pdf") for side in ("", ".provenance.json")}
    assert set(Ledger(figs).files) == want and Ledger(figs).foreign() == []
    (figs / "README.md").write_text(report.contact_sheet(figs, "cpu"), encoding="utf-8")
    (figs / LEDGER_NAME).unlink()                   # written before ledgers
    _save_demo(figs, "g", src)
    assert "README.md" in Ledger(figs).files and "f0.png" in Ledger(figs).files
    (figs / "f1.png").write_bytes(b"edited")           # changed since: the user's now
    with pytest.raises(ConfigError, match=r"\(f1\.png\)"):
        _save_demo(figs, "h", src)


def test_a_notebooks_output_folders_are_checked_before_any_notebook_runs(tmp_path, monkeypatch):
    """A user's file in a notebook's results or figures folder stops the runner before any notebook, naming the
    parameter file and line that chose the folder (or the derived default), and changing nothing."""
    monkeypatch.setenv("CLIKA_WORKDIR", str(tmp_path))
    params = tmp_path / "params" / "01_performance_consistency"
    params.mkdir(parents=True)
    (params / "smoke.yaml").write_text("n_boot: 100\nresults_dir: mine\n", encoding="utf-8")
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "analysis.csv").write_text("x\n", encoding="utf-8")
    figs = tmp_path / "outputs" / "smoke" / "figures"
    figs.mkdir(parents=True)
    (figs / "draft.png").write_bytes(b"png")
    with pytest.raises(ConfigError) as err:
        runner.run_all("smoke", only=["01"], params_dir=tmp_path / "params", out_dir=tmp_path / "executed")
    text = str(err.value)
    assert "smoke.yaml:2: results_dir: " in text and "(analysis.csv)" in text
    assert "figures_dir (not set: derived outputs/smoke/figures)" in text and "(draft.png)" in text
    assert "nothing was run" in text and not list((tmp_path / "executed").glob("*.ipynb"))
    assert _tree(tmp_path / "mine") == {"analysis.csv": b"x\n"} and _tree(figs) == {"draft.png": b"png"}


def test_the_hidden_state_cache_is_owned_by_content(tmp_path):
    """09's cache: what pooled_states writes is recorded; a user's file there refuses the next write; a cache of
    an earlier version is adopted only for files holding what pooled_states writes (no pickles)."""
    import numpy as np

    from clika_utils.experiments import representation_alignment as rep
    from clika_utils.models import load_model
    lm = load_model(str(build_tiny_model(tmp_path / "m")), device="cpu", dtype="float32")
    cache = tmp_path / "cache"
    rep.pooled_states(lm, ["hello there", "a cat"], layers=[0, 1], cache_dir=cache)
    assert Ledger(cache).foreign() == [] and len(Ledger(cache).files) == 2
    (cache / LEDGER_NAME).unlink()
    mine = cache / lm.fingerprint / ("0" * 16) / "layer-000.npy"
    mine.parent.mkdir()
    np.save(mine, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    assert set(rep.adopt_cache(cache)) == {p.relative_to(cache).as_posix() for p in cache.rglob("layer-*.npy")} - \
        {mine.relative_to(cache).as_posix()}
    with pytest.raises(ConfigError, match="layer-000.npy"):
        rep.pooled_states(lm, ["another one"], layers=[0], cache_dir=cache)
    mine.unlink()
    rep.pooled_states(lm, ["another one"], layers=[0], cache_dir=cache)      # adopted, then its own
    assert Ledger(cache).foreign() == [] and len(Ledger(cache).files) == 3


def test_a_recorded_file_edited_after_a_check_is_caught_at_the_next(tmp_path):
    """A shared folder is checked at every claim, and files unchanged since this process hashed them are not hashed
    again (09's cache, 40 claims a run): an edit of the same size is still caught, and one that restores the bytes
    is the command's again."""
    from clika_utils import outdir
    with outdir.adding(tmp_path, what="clika test") as ledger, ledger.writing([tmp_path / "a.bin"], writer="clika test"):
        (tmp_path / "a.bin").write_bytes(b"0123")
    assert Ledger(tmp_path).foreign() == [] and Ledger(tmp_path).foreign() == []
    (tmp_path / "a.bin").write_bytes(b"9123")
    assert Ledger(tmp_path).foreign() == ["a.bin"]
    (tmp_path / "a.bin").write_bytes(b"0123")
    assert Ledger(tmp_path).foreign() == []


def test_a_cached_table_is_read_only_while_it_is_what_clika_wrote(tmp_path):
    """The notebooks' caches of per-item answers (the CLDR probe, 06–08's QA and translations): a table edited by
    hand, or one without clika's key file, is never read as a result nor written over."""
    import pandas as pd

    from clika_utils.experiments import shared
    path = tmp_path / "probe" / "s.csv"
    table = pd.DataFrame({"item_id": ["1", "2"], "correct": [1, 0]})
    assert not shared._is_cached(path, "d1")
    back = shared._write_cached(table, path, "d1", {"k": 1})
    pd.testing.assert_frame_equal(back, table)
    assert shared._is_cached(path, "d1") and not shared._is_cached(path, "d2")     # another key: recomputed
    with open(path, "a", encoding="utf-8") as fh:
        fh.write("3,1\n")
    with pytest.raises(ConfigError, match="changed since clika wrote it"):
        shared._is_cached(path, "d1")
    mine = tmp_path / "probe" / "t.csv"
    mine.write_text("item_id,correct\n1,1\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="no clika cache wrote"):
        shared._is_cached(mine, "d1")
    legacy = tmp_path / "probe" / "u.csv"              # an earlier version's key file records no hash
    shared._write_cached(table, legacy, "d1", {"k": 1})
    key = json.loads(legacy.with_suffix(".key.json").read_text(encoding="utf-8"))
    legacy.with_suffix(".key.json").write_text(json.dumps({"digest": key["digest"], "key": key["key"]}), encoding="utf-8")
    assert shared._is_cached(legacy, "d1")


def test_a_jobs_training_data_is_written_beside_it_only_over_clikas_own(tmp_path):
    from clika_utils.formats import Example
    from clika_utils.train import adopt_jobs, write_job_data
    jobs = tmp_path / "models"
    jobs.mkdir()
    (jobs / "cpt.data.jsonl").write_text("my data\n", encoding="utf-8")
    ex = [Example("p", "r")]
    with pytest.raises(ConfigError, match=r"\(cpt\.data\.jsonl\)"):
        write_job_data(jobs / "cpt", ex)
    assert _files(jobs) == {"cpt.data.jsonl": b"my data\n"}
    (jobs / "cpt.data.jsonl").unlink()
    write_job_data(jobs / "cpt", ex)
    write_job_data(jobs / "cpt", ex)                         # its own now
    assert set(Ledger(jobs).files) == {"cpt.data.jsonl"}
    (jobs / LEDGER_NAME).unlink()                            # an earlier version's folder: a job and its data
    (jobs / "cpt").mkdir()
    (jobs / "cpt" / "train.json").write_text(json.dumps({"job": {}}), encoding="utf-8")
    assert set(adopt_jobs(jobs)) == {"cpt", "cpt.data.jsonl"}
    write_job_data(jobs / "cpt", ex)
    assert Ledger(jobs).foreign() == []
