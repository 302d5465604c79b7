import json

import pytest

from clika_utils.data import check_aligned, discover, load_model_inputs, load_result_file, parse_result_name
from clika_utils.errors import ConfigError, DataError
from clika_utils.scoring import score_tree
from clika_utils.settings import clika_dir, data_home

from conftest import FOLDER, make_tree, result_name, write_jsonl


def test_parse_result_names():
    assert parse_result_name("llama2_13b_res_bf16_add_simple_example.jsonl") == ("llama2_13b", "bf16_add_simple_example")
    assert parse_result_name("chatgpt_res.jsonl") == ("chatgpt", "")
    assert parse_result_name("chatgpt_res_visual.jsonl") == ("chatgpt", "visual")
    assert parse_result_name("Baichuan2-13B-ChatZH1e-4_res_bf16_add_simple_example.jsonl")[0] == "Baichuan2-13B-ChatZH1e-4"
    assert parse_result_name("generate_input.jsonl") is None
    assert parse_result_name("x_geo_zh_model_input.jsonl") is None


def test_discover_normalises_folders_and_skips_non_results(tiny_tree):
    inv = discover(tiny_tree, langs=("en", "zh", "de", "he"))
    assert inv.systems == ["chatgpt", "sysA"]
    assert inv.lang_folders["x_csqa"]["zh"].name == "ZH_trans"
    assert inv.lang_folders["x_copa"]["de"].name == "DE"
    assert {f.variant for f in inv.alternatives} == {"visual"}        # the human-readable dump: not scored
    assert len(inv.files) == 2 * 4 * 4
    assert inv.incomplete_systems() == {}


def test_input_field_present_or_absent_and_escapes(tmp_path, tiny_labels):
    gold = tiny_labels["x_geo"]
    answers = {"s": {"x_geo": {"en": ["A.", "B.", "x", "D."], "zh": ["A.", "", "", ""],
                               "de": list("ABCD"), "he": list("ABCD")}}}
    root = make_tree(tmp_path / "c", answers, {"x_geo": gold}, with_input=True)
    # the same rows written with \u escapes must load identically
    f = root / "x_geo" / "zh" / result_name("s")
    rows = [json.loads(line) for line in f.read_text(encoding="utf-8").splitlines()]
    write_jsonl(f, rows, ascii_escapes=True)
    t = load_result_file([rf for rf in discover(root, tasks=["x_geo"], langs=("en", "zh", "de", "he")).files
                          if rf.lang == "zh"][0])
    assert t.ids == [0, 1, 2, 3] and t.labels == gold and t.res[0] == "A."
    inputs = load_model_inputs(root, "x_geo", "zh")
    assert [r["label"] for r in inputs] == gold and "问题" in inputs[0]["input"]


def _corrupt(tree, task, lang, system, mutate):
    path = tree / task / FOLDER[task][lang] / result_name(system)
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    text = mutate(rows)
    path.write_text(text if isinstance(text, str) else "".join(json.dumps(r) + "\n" for r in text), encoding="utf-8")
    return path


def _score(tree):
    return score_tree(tree, langs=("en", "zh", "de", "he"), n_boot=10)


def test_missing_res_field(tiny_tree):
    path = _corrupt(tiny_tree, "x_geo", "de", "sysA", lambda rows: [{k: v for k, v in r.items() if k != "res" or r["id"] != 2} for r in rows])
    with pytest.raises(DataError, match=r"missing field\(s\) 'res'") as e:
        _score(tiny_tree)
    assert e.value.path == path and e.value.line == 3


def test_missing_label_field(tiny_tree):
    _corrupt(tiny_tree, "x_copa", "zh", "sysA", lambda rows: [{k: v for k, v in r.items() if k != "label"} for r in rows])
    with pytest.raises(DataError, match=r"zh/sysA_res_bf16_add_simple_example.jsonl:1: missing field\(s\) 'label'"):
        _score(tiny_tree)


def test_label_outside_options(tiny_tree):
    # x_copa has two options: a gold "C" is impossible
    _corrupt(tiny_tree, "x_copa", "en", "chatgpt", lambda rows: [r | ({"label": "C"} if r["id"] == 1 else {}) for r in rows])
    with pytest.raises(DataError, match=r"chatgpt_res.jsonl:2: label 'C' is not one of the options A, B of x_copa"):
        _score(tiny_tree)


def test_corrupt_line(tiny_tree):
    _corrupt(tiny_tree, "x_name", "he", "sysA", lambda rows: '{"id": 0, "res": "A", "label": "D"}\n{"id": 1, "res": \n')
    with pytest.raises(DataError, match=r"he/sysA_res_bf16_add_simple_example.jsonl:2: corrupt JSON"):
        _score(tiny_tree)


def test_empty_file(tiny_tree):
    _corrupt(tiny_tree, "x_csqa", "he", "sysA", lambda rows: "")
    with pytest.raises(DataError, match="he_trans/sysA_res_bf16_add_simple_example.jsonl: file is empty"):
        _score(tiny_tree)


def test_non_utf8(tiny_tree):
    path = tiny_tree / "x_geo" / "zh" / result_name("sysA")
    path.write_bytes(path.read_bytes().replace(b'"res": ""', b'"res": "\xff"', 1))
    with pytest.raises(DataError, match=r"zh/sysA_res_bf16_add_simple_example.jsonl:\d+: not valid UTF-8"):
        _score(tiny_tree)


def test_non_string_res_and_bad_id(tiny_tree):
    _corrupt(tiny_tree, "x_geo", "de", "sysA", lambda rows: [r | ({"res": None} if r["id"] == 0 else {}) for r in rows])
    with pytest.raises(DataError, match=r":1: 'res' is NoneType; expected the generated text as a string"):
        _score(tiny_tree)
    _corrupt(tiny_tree, "x_geo", "de", "sysA", lambda rows: [r | {"res": "", "id": str(r["id"])} for r in rows])
    with pytest.raises(DataError, match=r"'id' is '0'; expected an integer item id"):
        _score(tiny_tree)


def test_missing_language_folder(tiny_tree):
    import shutil
    shutil.rmtree(tiny_tree / "x_csqa" / "he_trans")
    with pytest.raises(DataError, match=r"x_csqa: missing language folder\(s\) for \['he'\]"):
        _score(tiny_tree)


def test_unexpected_folder(tiny_tree):
    (tiny_tree / "x_geo" / "notes").mkdir()
    with pytest.raises(DataError, match="unexpected folder"):
        _score(tiny_tree)


def test_two_folders_for_one_language(tiny_tree):
    (tiny_tree / "x_geo" / "ZH_trans").mkdir()
    with pytest.raises(DataError, match="two folders for language 'zh'"):
        _score(tiny_tree)


def test_ids_that_do_not_align(tiny_tree):
    _corrupt(tiny_tree, "x_name", "de", "sysA", lambda rows: [r | {"id": r["id"] + 1} for r in rows])
    with pytest.raises(DataError, match=r"item ids do not align with .*extra ids \[4\], missing ids \[0\]"):
        _score(tiny_tree)


def test_labels_that_do_not_align(tiny_tree):
    _corrupt(tiny_tree, "x_geo", "zh", "chatgpt", lambda rows: [r | ({"label": "D"} if r["id"] == 0 else {}) for r in rows])
    with pytest.raises(DataError, match="item 0 has label 'D' but .* has 'A'; expected aligned items"):
        _score(tiny_tree)


def test_uuids_that_do_not_align(tiny_tree):
    _corrupt(tiny_tree, "x_geo", "zh", "sysA", lambda rows: [r | ({"uuid": 999} if r["id"] == 3 else {}) for r in rows])
    with pytest.raises(DataError, match="item 3 has uuid 999"):
        _score(tiny_tree)


def test_duplicate_ids(tiny_tree):
    _corrupt(tiny_tree, "x_geo", "zh", "sysA", lambda rows: rows + [rows[0]])
    with pytest.raises(DataError, match=r":5: item id 0 repeats line 1"):
        _score(tiny_tree)


def test_two_primary_files_for_one_system(tiny_tree):
    folder = tiny_tree / "x_geo" / "en"
    (folder / "sysA_res.jsonl").write_bytes((folder / result_name("sysA")).read_bytes())
    with pytest.raises(DataError, match="two result files for system 'sysA'"):
        _score(tiny_tree)


def test_incomplete_system_is_scored_where_present(tiny_tree, tiny_labels):
    write_jsonl(tiny_tree / "x_geo" / "en" / result_name("partial"),
                [{"id": i, "res": g + ".", "label": g} for i, g in enumerate(tiny_labels["x_geo"])])
    write_jsonl(tiny_tree / "x_geo" / "zh" / result_name("partial"),
                [{"id": i, "res": "A.", "label": g} for i, g in enumerate(tiny_labels["x_geo"])])
    r = _score(tiny_tree)
    assert r.inventory.incomplete_systems()["partial"][0] == ("x_csqa", "en")
    rows = r.summary[r.summary["system"] == "partial"]
    assert list(rows["lang"]) == ["en", "zh"] and not rows["complete"].any()
    assert rows.set_index("lang").loc["zh", "accuracy"] == 0.25
    assert r.summary[r.summary["system"] == "sysA"]["complete"].all()


def test_system_without_english_gets_nan_relative_metrics(tiny_tree, tiny_labels):
    write_jsonl(tiny_tree / "x_geo" / "zh" / result_name("noen"),
                [{"id": i, "res": "A.", "label": g} for i, g in enumerate(tiny_labels["x_geo"])])
    s = _score(tiny_tree).summary
    row = s[s["system"] == "noen"].iloc[0]
    assert row["accuracy"] == 0.25 and row["ra"] != row["ra"] and row["en_co"] != row["en_co"]


def test_empty_res_is_a_valid_wrong_answer(tiny_tree):
    s = _score(tiny_tree).summary
    assert (s["n"] > s["n_correct"]).any()  # the fixture's "" answers load and count as wrong


def test_data_home_that_does_not_exist(tmp_path, monkeypatch):
    monkeypatch.setenv("CLIKA_DATA_HOME", str(tmp_path / "nowhere"))
    with pytest.raises(ConfigError, match="data home does not exist.*CLIKA_DATA_HOME"):
        data_home()
    with pytest.raises(ConfigError, match="data home does not exist"):
        clika_dir()
    with pytest.raises(ConfigError, match="does not exist"):
        clika_dir(str(tmp_path / "nowhere" / "clika"))


def test_records_name_folders_as_any_machine_has_them(tmp_path, monkeypatch):
    """Sidecars once recorded ``/work/shared/data/clika`` and a clone's absolute ``items.csv``: the data home and
    the work folder are named by their variable and relative path, other folders as given."""
    from clika_utils.settings import portable
    monkeypatch.setenv("CLIKA_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("CLIKA_WORKDIR", str(tmp_path / "work"))
    assert portable(tmp_path / "data" / "clika") == "$CLIKA_DATA_HOME/clika"
    assert portable(tmp_path / "data") == "$CLIKA_DATA_HOME"
    assert portable(tmp_path / "work" / "outputs" / "items.csv") == "outputs/items.csv"
    assert portable(tmp_path / "work") == "."
    assert portable(tmp_path / "elsewhere") == str((tmp_path / "elsewhere").resolve())
    from clika_utils.provenance import input_hashes          # every record: an absolute input outside ``root`` too
    (tmp_path / "work" / "outputs").mkdir(parents=True)
    (tmp_path / "work" / "outputs" / "items.csv").write_text("a\n", encoding="utf-8")
    assert list(input_hashes([tmp_path / "work" / "outputs" / "items.csv"])) == ["outputs/items.csv"]
    assert list(input_hashes([tmp_path / "work" / "outputs" / "items.csv"], root=tmp_path / "work" / "outputs")) == [
        "items.csv"]


def test_unknown_system_filter(tiny_tree):
    with pytest.raises(ConfigError, match=r"system\(s\) \['nobody'\] have no result file"):
        score_tree(tiny_tree, langs=("en", "zh", "de", "he"), systems=["nobody"], n_boot=10)


def test_check_aligned_accepts_missing_uuid(tiny_tree):
    files = discover(tiny_tree, tasks=["x_geo"], langs=("en", "zh", "de", "he")).files
    a, b = load_result_file(files[0]), load_result_file(files[1])
    b.uuids = [None] * len(b.uuids)  # ChatGPT's "without_uuid" style
    check_aligned(a, b)
