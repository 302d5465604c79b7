import os

import pandas as pd
import pytest

from clika_utils.cli import main
from clika_utils.scoring import ITEM_COLUMNS, score_tree

from conftest import FOLDER, result_name

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
