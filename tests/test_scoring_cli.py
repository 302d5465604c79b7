import os

import pandas as pd
import pytest

from clika_utils.cli import main
from clika_utils.scoring import ITEM_COLUMNS, score_tree

from conftest import FOLDER, make_tree, result_name

LANGS4 = ("en", "zh", "de", "he")


def test_tiny_tree_hand_computed(tiny_tree):
    r = score_tree(tiny_tree, langs=LANGS4, n_boot=50)
    s = r.summary.set_index(["system", "task", "lang"])
    # sysA: English right on items {0,1,2}, other languages on {0,3}
    assert s.loc[("sysA", "x_geo", "en"), "accuracy"] == 0.75
    assert s.loc[("sysA", "x_geo", "zh"), "accuracy"] == 0.5
    assert s.loc[("sysA", "x_geo", "zh"), "ra"] == pytest.approx(0.5 / 0.75)
    assert s.loc[("sysA", "x_geo", "zh"), "en_co"] == pytest.approx(1 / 4)      # {0} / {0,1,2,3}
    assert s.loc[("sysA", "x_csqa", "de"), "accuracy"] == 0.4                  # 2 of 5
    assert s.loc[("sysA", "x_csqa", "de"), "ra"] == pytest.approx(0.4 / 0.6)
    assert s.loc[("sysA", "x_csqa", "en"), "en_co"] == 1.0
    assert s.loc[("chatgpt", "x_csqa", "he"), "normalised"] == pytest.approx((0.8 - 0.2) / (0.746 - 0.2))
    assert s.loc[("sysA", "x_csqa", "he"), "n_unparsed"] == 3                  # the empty answers
    assert list(r.items.columns) == ITEM_COLUMNS
    assert len(r.items) == 2 * 4 * (5 + 4 + 4 + 4)


def test_variants_change_the_numbers(tiny_tree):
    r = score_tree(tiny_tree, langs=LANGS4, n_boot=20, ra_variant="chance_corrected", co_variant="en_recall")
    s = r.summary.set_index(["system", "task", "lang"])
    assert s.loc[("sysA", "x_geo", "zh"), "ra"] == pytest.approx((0.5 - 0.25) / (0.75 - 0.25))
    assert s.loc[("sysA", "x_geo", "zh"), "en_co"] == pytest.approx(1 / 3)
    t = score_tree(tiny_tree, langs=LANGS4, n_boot=20, co_variant="transfer").summary.set_index(["system", "task", "lang"])
    assert t.loc[("sysA", "x_geo", "zh"), "en_co"] == pytest.approx((1 / 3 - 0.25) / 0.75)   # x_geo: 4 options


def test_cli_score_transfer_variant_and_unknown_variant(tiny_tree, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["score", "--data-dir", str(tiny_tree), "--out", str(out), "--langs", "zh,de,he", "--n-boot", "20",
                 "--co-variant", "transfer"]) == 0
    s = pd.read_csv(out / "summary.csv").set_index(["system", "task", "lang"])
    assert s.loc[("sysA", "x_geo", "zh"), "en_co"] == pytest.approx((1 / 3 - 0.25) / 0.75)
    with pytest.raises(SystemExit) as e:
        main(["score", "--data-dir", str(tiny_tree), "--out", str(tmp_path / "o2"), "--co-variant", "xltr"])
    assert e.value.code == 2 and "transfer" in capsys.readouterr().err and not (tmp_path / "o2").exists()


def test_cli_score_writes_tables_and_provenance(tiny_tree, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["score", "--data-dir", str(tiny_tree), "--out", str(out), "--langs", "zh,de,he",
                 "--n-boot", "30"]) == 0
    summary = pd.read_csv(out / "summary.csv")
    for col in ("system", "task", "lang", "n", "accuracy", "ra", "en_co", "accuracy_lo", "accuracy_hi",
                "ra_lo", "ra_hi", "en_co_lo", "en_co_hi"):
        assert col in summary.columns
    assert summary["accuracy"].between(0, 1).all()
    assert set(summary["task"]) == {"x_csqa", "x_copa", "x_geo", "x_name"}
    items = pd.read_csv(out / "items.csv")
    assert list(items.columns) == ITEM_COLUMNS
    for name in ("items.csv", "summary.csv", "systems.csv"):
        assert (out / f"{name}.provenance.json").exists()
    assert "scored 2 systems" in capsys.readouterr().out


def test_cli_bad_input_is_a_clear_error_and_writes_nothing(tiny_tree, tmp_path, capsys):
    bad = tiny_tree / "x_copa" / FOLDER["x_copa"]["de"] / result_name("sysA")
    bad.write_text('{"id": 0, "res": "A", "label": "A"}\n{"id": 1, "res": "B", "label": "Z"}\n', encoding="utf-8")
    out = tmp_path / "out"
    assert main(["score", "--data-dir", str(tiny_tree), "--out", str(out), "--langs", "zh,de,he"]) == 2
    err = capsys.readouterr().err
    assert f"{bad}:2: label 'Z' is not one of the options A, B" in err
    assert not out.exists() or os.listdir(out) == []


def test_cli_missing_data_dir(tmp_path, capsys):
    assert main(["score", "--data-dir", str(tmp_path / "none"), "--out", str(tmp_path / "o")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_rerun_gives_identical_bytes(tiny_tree, tmp_path):
    for d in ("a", "b"):
        assert main(["score", "--data-dir", str(tiny_tree), "--out", str(tmp_path / d), "--langs", "zh,de,he",
                     "--n-boot", "40", "--seed", "3"]) == 0
    for name in ("items.csv", "summary.csv", "systems.csv"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


def test_notebook_01_checks_the_look_alike_letters_and_says_whether_a_verdict_depends_on_them(tmp_path, tiny_labels):
    """A system answering Russian-style with Cyrillic "А." is wrong under the official judge: 01 reports those answers
    per cell (marked in the heatmaps), scores them again with the look-alike judge, and decides its claims on both
    summaries; a system without look-alikes is not listed."""
    from clika_utils.experiments import performance_consistency as pc
    cyr = str.maketrans("ABCE", "\u0410\u0412\u0421\u0415")
    answers = {}
    for system, cyrillic in (("chatgpt", False), ("sysR", True)):
        answers[system] = {task: {lang: [(g.translate(cyr) if cyrillic and lang == "de" else g) + "."
                                         for g in gold] for lang in ("en", "zh", "de", "he")}
                           for task, gold in tiny_labels.items()}
    tree = make_tree(tmp_path / "clika", answers, tiny_labels)
    pc.execute(tree, tmp_path / "res", n_boot=50, langs=LANGS4)
    t = pc.load(tmp_path / "res")
    check = t["judge_check"].set_index(["system", "task", "lang"])
    assert check.loc[("sysR", "x_geo", "de"), "changed"] == 3          # A, B, C have look-alikes; D has none
    assert check.loc[("sysR", "x_geo", "de"), "accuracy"] == 0.25
    assert check.loc[("sysR", "x_geo", "de"), "accuracy_lookalike"] == 1.0
    assert check.loc[("sysR", "x_geo", "en"), "changed"] == 0 and check.xs("chatgpt")["changed"].sum() == 0
    assert t["summary_lookalike"].query("system == 'sysR' and lang == 'de'")["accuracy"].eq(1.0).all()
    assert list(pc.judge_summary(t["judge_check"]).index) == ["sysR"]
    marks = pc.marked_cells(t["judge_check"], "x_geo")
    assert bool(marks.loc["sysR", "de"]) and not marks.loc["sysR", "zh"] and not marks.loc["chatgpt"].any()
    dep = pc.judge_dependence(tmp_path / "res")
    assert len(dep) == 2 and set(dep.columns) >= {"verdict", "verdict_lookalike", "depends_on_judge"}
    pc.execute(tree, tmp_path / "lenient", judge="lenient", n_boot=50, langs=LANGS4)     # a variant run checks nothing
    assert "judge_check" not in pc.load(tmp_path / "lenient") and pc.judge_dependence(tmp_path / "lenient").empty
