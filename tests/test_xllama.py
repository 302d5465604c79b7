"""clika_utils.experiments.cross_lingual_instruction_tuning (x-LLaMA): relative gains (both documented variants) and the experiment end to end on a
tiny model, including reuse of cached evaluations."""

import numpy as np
import pandas as pd
import pytest

from clika_utils import qa
from clika_utils.experiments import cross_lingual_instruction_tuning as xllama
from clika_utils.errors import ConfigError


def test_gain_variants_hand_computed():
    s, r = [2.0, 3.0], [1.0, 2.0]
    assert xllama.gain(s, r, "mean_of_ratios") == pytest.approx(100 * (1.0 + 0.5) / 2)
    assert xllama.gain(s, r, "ratio_of_means") == pytest.approx(100 * (2.5 - 1.5) / 1.5)
    assert np.isnan(xllama.gain([1.0, 2.0], [0.0, 1.0], "mean_of_ratios"))
    assert xllama.gain([1.0, 2.0], [0.0, 1.0], "ratio_of_means") == pytest.approx(200.0)
    reps = xllama.gain(np.array([[2.0, 4.0], [3.0, 3.0]]), np.array([[1.0, 2.0], [2.0, 3.0]]))
    assert reps == pytest.approx([75.0, 50.0])
    with pytest.raises(ConfigError, match="relative-gain variant"):
        xllama.gain(s, r, "median")


def test_qa_gains_use_each_x_model_on_its_own_language():
    rows = []
    f1 = {("t_alpaca", "ar"): [0.5, 0.5], ("t_alpaca", "zh"): [0.2, 0.2],
          ("t_x-llama-ar", "ar"): [1.0, 0.5], ("t_x-llama-zh", "zh"): [0.2, 0.4],
          ("t_x-llama-zh", "ar"): [0.0, 0.0]}     # x-llama-zh on Arabic must not be used
    for (system, lang), vals in f1.items():
        for i, v in enumerate(vals):
            rows.append({"benchmark": "xquad", "system": system, "lang": lang, "item_id": str(i), "f1": v,
                         "em": v, "xllm_match": v, "token_contains": v})
    g = xllama.qa_gains(pd.DataFrame(rows), label="t", langs=["ar", "zh"], pairs=[("x-llama", "alpaca")],
                        n_boot=200, seed=0).set_index(["metric", "how"])
    # ar: 0.75 vs 0.5 (+50 %); zh: 0.3 vs 0.2 (+50 %)
    assert g.loc[("f1", "mean_of_ratios"), "gain_pct"] == pytest.approx(50.0)
    assert g.loc[("f1", "ratio_of_means"), "gain_pct"] == pytest.approx(100 * (0.525 - 0.35) / 0.35)
    lo, hi = g.loc[("f1", "mean_of_ratios"), ["gain_lo", "gain_hi"]]
    assert lo <= 50.0 <= hi
    # the primary measure: the absolute difference in points, mean over languages ((0.75 − 0.5) + (0.3 − 0.2)) / 2
    row = g.loc[("f1", "mean_of_ratios")]
    assert row["diff"] == pytest.approx(100 * 0.175) and row.diff_lo <= row["diff"] <= row.diff_hi
    assert 0 < row.gain_defined <= 1


def test_the_relative_gain_says_how_often_it_is_defined():
    """A reference at 0 on most questions: the ratio is undefined in many replicates (reported), the difference
    never is."""
    rows = [{"benchmark": "xquad", "system": s, "lang": "zh", "item_id": str(i), "f1": v, "em": v,
             "xllm_match": v, "token_contains": v}
            for s, vals in (("t_alpaca", [0.0] * 7 + [1.0]), ("t_x-llama-zh", [1.0] * 4 + [0.0] * 4))
            for i, v in enumerate(vals)]
    g = xllama.qa_gains(pd.DataFrame(rows), label="t", langs=["zh"], pairs=[("x-llama", "alpaca")], n_boot=400,
                        seed=0).set_index(["metric", "how"]).loc[("f1", "mean_of_ratios")]
    assert 0.2 < g.gain_defined < 0.9 and g["diff"] == pytest.approx(100 * (0.5 - 0.125))
    assert np.isfinite(g.diff_lo) and np.isfinite(g.diff_hi)


@pytest.mark.data
def test_run_end_to_end_on_a_tiny_model_and_reuse(real_clika, tmp_path, monkeypatch):
    monkeypatch.setenv("CLIKA_WORKDIR", str(tmp_path))
    home = real_clika.parent
    kw = dict(label="tiny", langs=["ar", "zh"], task_facts=6, train_pairs=6, test_pairs=3, qa_items=3,
              qa_max_new_tokens=3, mt_max_new_tokens=3, n_boot=20, progress=False,
              train_config={"method": "lora", "lr": 0.01, "max_steps": 1, "micro_batch": 4, "precision": "fp32",
                            "lora_r": 2, "lora_alpha": 4})
    args = ("tiny-llama", home, tmp_path / "res", tmp_path / "models", tmp_path / "live")
    written = xllama.execute(*args, **kw)
    t = xllama.load(tmp_path / "res")
    assert set(written) == set(xllama.FILES)
    systems = set(t["training"].system)
    assert systems == {"tiny_alpaca", "tiny_x-llama-ar", "tiny_x-llama-zh", "tiny_m-llama"}
    comp = t["composition"].set_index(["set", "lang", "kind"]).examples
    assert comp[("tiny_x-llama-ar", "ar", "translation")] == 6 and ("tiny_x-llama-ar", "zh", "task") not in comp
    # x-llama-X is evaluated on English and X only; the others on every language
    langs = t["qa_summary"].groupby("system").lang.apply(set)
    assert langs["tiny_x-llama-zh"] == {"en", "zh"} and langs["tiny_base"] == {"en", "ar", "zh"}
    assert set(t["mt_scores"].metric) == {"bleu", "chrf++", "spbleu"}
    assert (t["qa_items"].groupby(["system", "lang"]).size() == 3).all()
    before = {n: (tmp_path / "res" / f"{n}.csv").read_bytes() for n in xllama.FILES}

    def boom(*a, **k):
        raise AssertionError("cached evaluations and adapters must be reused")
    monkeypatch.setattr(qa, "answer", boom)
    monkeypatch.setattr(xllama, "translate", boom)
    def adapters():   # the trained weights and job records (the data file beside each job is rewritten)
        return {p: p.stat().st_mtime_ns for p in (tmp_path / "models").glob("*/*") if p.is_file() or p.name == "model"}
    stamp = adapters()
    xllama.execute(*args, **kw)
    after = {n: (tmp_path / "res" / f"{n}.csv").read_bytes() for n in xllama.FILES}
    assert before == after
    assert stamp == adapters() and len(stamp) >= 8
    with pytest.raises(ConfigError, match="non-English target languages"):
        xllama.execute(*args, **{**kw, "langs": ["en", "zh"]})
    with pytest.raises(ConfigError, match="unknown language code 'xx'"):
        xllama.execute(*args, **{**kw, "langs": ["xx"]})


@pytest.mark.data
def test_paper_style_inputs_user_alpaca_parallel_files_flores_and_mlqa(tmp_path, real_clika):
    import json
    home = tmp_path / "home"
    for lang in ("en", "zh"):
        (home / "alpaca").mkdir(parents=True, exist_ok=True)
        recs = [{"instruction": f"{lang} task {i}", "input": "", "output": f"out {i}"} for i in range(5)]
        (home / "alpaca" / f"a_{lang}.json").write_text(json.dumps(recs), encoding="utf-8")
    nc = home / "nc"
    nc.mkdir()
    (nc / "train.en").write_text("".join(f"e{i}\n" for i in range(7)) + " \n", encoding="utf-8")
    (nc / "train.zh").write_text("".join(f"中{i}\n" for i in range(7)) + "空\n", encoding="utf-8")
    fl = home / "flores" / "flores101_dataset" / "devtest"
    fl.mkdir(parents=True)
    (fl / "eng.devtest").write_text("a\nb\nc\n", encoding="utf-8")
    (fl / "zho_simpl.devtest").write_text("甲\n乙\n丙\n", encoding="utf-8")
    sets, test, inputs, dropped = xllama.build_data(
        home, langs=["zh"], task_data={"en": str(home / "alpaca/a_en.json"), "zh": str(home / "alpaca/a_zh.json")},
        task_facts=0, translation_train={"zh": [str(nc / "train.en"), str(nc / "train.zh")]}, train_pairs=0,
        test_pairs=0, flores_dir=str(home / "flores"), quotas={"zh": 4}, seed=0)
    assert test["zh"] == [("a", "甲"), ("b", "乙"), ("c", "丙")] and dropped == {"zh": 1}
    kinds = {name: sorted({(r["lang"], r["kind"]) for r in recs}) for name, recs in sets.items()}
    assert kinds["x-llama-zh"] == [("en", "task"), ("zh", "task"), ("zh", "translation")]
    assert sum(r["kind"] == "translation" for r in sets["x-llama-zh"]) == 7
    assert sum(r["kind"] == "translation" for r in sets["m-llama"]) == 4
    with pytest.raises(ConfigError, match="task_data has no file"):
        xllama.build_data(home, langs=["zh"], task_data={"en": str(home / "alpaca/a_en.json")}, task_facts=0,
                          translation_train=None, train_pairs=0, test_pairs=2, flores_dir=None, quotas=None, seed=0)
    # MLQA, when present, is evaluated next to XQuAD with the same reader
    mlqa = tmp_path / "m" / "mlqa" / "MLQA_V1" / "test"
    mlqa.mkdir(parents=True)
    data = {"data": [{"paragraphs": [{"context": "北京大学成立于1898年。", "qas": [
        {"id": f"q{i}", "question": "何时？", "answers": [{"text": "1898年", "answer_start": 7}]} for i in range(3)]}]}]}
    (mlqa / "test-context-zh-question-zh.json").write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    questions, files = xllama.qa_questions(real_clika.parent, ["en", "zh"], 2, 0, mlqa_home=tmp_path / "m")
    assert sorted(questions) == [("mlqa", "zh"), ("xquad", "en"), ("xquad", "zh")]
    assert len(questions[("mlqa", "zh")]) == 2 and len(files) == 3
