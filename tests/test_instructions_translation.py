"""clika_utils.instructions (translation instructions, Alpaca data, mixtures) and
clika_utils.translation (parallel readers, sacrebleu scores, errors)."""

import json
import math
from collections import Counter
from pathlib import Path

import pytest

from clika_utils import instructions, translation
from clika_utils.errors import ConfigError, DataError
from clika_utils.formats import alpaca_prompt

# --- instructions ---------------------------------------------------------------------------------


def test_template_pool_is_large_distinct_and_cycled():
    assert len(instructions.TRAIN_TEMPLATES) >= 30
    assert len(set(instructions.TRAIN_TEMPLATES)) == len(instructions.TRAIN_TEMPLATES)
    pairs = [(f"s{i}", f"t{i}") for i in range(70)]
    recs = instructions.translation(pairs, "en", "zh")
    n = len(instructions.TRAIN_TEMPLATES)
    assert recs[0]["instruction"] == recs[n]["instruction"] != recs[1]["instruction"]
    assert all("English" in r["instruction"] and "Chinese" in r["instruction"] for r in recs)
    assert (recs[5]["input"], recs[5]["output"], recs[5]["lang"]) == ("s5", "t5", "zh")
    test = instructions.translation(pairs[:3], "en", "ar", test=True)
    assert {r["instruction"] for r in test} == {"Translate the following sentences from English to Arabic."}


def test_bad_template_and_unknown_language_are_errors():
    with pytest.raises(ConfigError, match="must contain"):
        instructions.translation([("a", "b")], "en", "zh", templates=["Translate into {tgt}."])
    with pytest.raises(ConfigError, match="must contain"):
        instructions.check_template("From {src} to {tgt} ({dialect})")
    with pytest.raises(ConfigError, match="unknown language code 'xx'"):
        instructions.translation([("a", "b")], "en", "xx")


def test_read_alpaca_list_and_jsonl_with_line_numbers(tmp_path):
    good = [{"instruction": "Say hi", "input": "", "output": "hi"}, {"instruction": "Add", "input": "2+3", "output": "5"}]
    p = tmp_path / "alpaca.json"
    p.write_text(json.dumps(good, indent=2), encoding="utf-8")
    recs = instructions.read_alpaca(p, "en")
    assert [r["output"] for r in recs] == ["hi", "5"] and recs[0]["kind"] == "task"
    assert instructions.examples(recs)[1].prompt == alpaca_prompt("Add", "2+3")
    assert instructions.examples(recs)[0].prompt == alpaca_prompt("Say hi")
    bad = good + [{"instruction": "x", "input": ""}]
    p.write_text(json.dumps(bad, indent=2), encoding="utf-8")
    line = p.read_text(encoding="utf-8").split("\n").index("  {", 8) + 1
    with pytest.raises(DataError, match=rf"alpaca.json:{line}: expected non-empty string fields"):
        instructions.read_alpaca(p, "en")
    j = tmp_path / "a.jsonl"
    j.write_text(json.dumps(good[0]) + "\n" + json.dumps({"instruction": "x", "output": 3}) + "\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"a.jsonl:2:"):
        instructions.read_alpaca(j, "de")


def test_mixtures_and_quotas():
    task = {lang: [{"instruction": f"{lang}{i}", "input": "", "output": "o", "lang": lang, "kind": "task"}
                   for i in range(3)] for lang in ("en", "ar", "zh")}
    tr = {lang: instructions.translation([(f"e{i}", f"{lang}{i}") for i in range(10)], "en", lang)
          for lang in ("ar", "zh")}
    x = instructions.xllama(task["en"], task["ar"], tr["ar"])
    assert Counter((r["lang"], r["kind"]) for r in x) == {("en", "task"): 3, ("ar", "task"): 3,
                                                          ("ar", "translation"): 10}
    m = instructions.mllama(task, tr, {"ar": 4, "zh": 7}, seed=1)
    assert Counter((r["lang"], r["kind"]) for r in m) == {("en", "task"): 3, ("ar", "task"): 3, ("zh", "task"): 3,
                                                          ("ar", "translation"): 4, ("zh", "translation"): 7}
    assert m == instructions.mllama(task, tr, {"ar": 4, "zh": 7}, seed=1)
    with pytest.raises(ConfigError, match="quota 11 exceeds the 10"):
        instructions.mllama(task, tr, {"ar": 11})
    with pytest.raises(ConfigError, match="without translation data"):
        instructions.mllama(task, tr, {"el": 1})
    comp = instructions.composition(m, "m")
    assert comp.set_index(["lang", "kind"]).examples[("zh", "translation")] == 7


def test_cldr_task_shares_the_cldr_generator():
    from clika_utils import cldr
    facts = cldr.facts()[:5]
    recs = instructions.cldr_task(facts, "zh")
    assert [(r["instruction"], r["output"]) for r in recs] == [(q, a) for _, q, a in cldr.instructions(facts, ["zh"])]


# --- parallel readers -------------------------------------------------------------------------------


def test_read_parallel_counts_drops_and_rejects_unequal_files(tmp_path):
    (tmp_path / "train.en").write_text("Hello\n \nBye\nOk\n", encoding="utf-8")
    (tmp_path / "train.zh").write_text("你好\n空\n再见\n\n", encoding="utf-8")
    pairs, dropped = translation.read_parallel(tmp_path / "train.en", tmp_path / "train.zh")
    assert pairs == [("Hello", "你好"), ("Bye", "再见")] and dropped == 2
    (tmp_path / "short.zh").write_text("你好\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"train.en:2: 4 source lines .* but 1 target lines"):
        translation.read_parallel(tmp_path / "train.en", tmp_path / "short.zh")


def test_flores_101_and_200_layouts(tmp_path):
    d = tmp_path / "flores101_dataset" / "devtest"
    d.mkdir(parents=True)
    (d / "eng.devtest").write_text("a\nb\n", encoding="utf-8")
    (d / "zho_simpl.devtest").write_text("甲\n乙\n", encoding="utf-8")
    assert translation.read_flores(tmp_path, "en", "zh")[0] == [("a", "甲"), ("b", "乙")]
    d2 = tmp_path / "f200" / "flores200_dataset" / "devtest"
    d2.mkdir(parents=True)
    (d2 / "eng_Latn.devtest").write_text("a\n", encoding="utf-8")
    (d2 / "arb_Arab.devtest").write_text("أ\n", encoding="utf-8")
    assert translation.read_flores(tmp_path / "f200", "en", "ar")[0] == [("a", "أ")]
    with pytest.raises(DataError, match="no Flores en-ar devtest"):
        translation.read_flores(tmp_path, "en", "ar")
    with pytest.raises(ConfigError, match="no Flores code"):
        translation.read_flores(tmp_path, "en", "xx")


@pytest.mark.data
def test_real_tatoeba_pairs(real_clika):
    pairs, dropped = translation.read_tatoeba(real_clika.parent, "zh")
    assert len(pairs) + dropped == 1000 and all(s and t for s, t in pairs)
    back, _ = translation.read_tatoeba(real_clika.parent, "zh", src="zh")
    assert back[0] == pairs[0][::-1]


# --- scores -------------------------------------------------------------------------------------------


def _independent_bleu(hyps, refs):
    """Corpus BLEU-4 on whitespace tokens (no smoothing needed: every n-gram order matches)."""
    match, total, hl, rl = [0] * 4, [0] * 4, 0, 0
    for h, r in zip(hyps, refs):
        h, r = h.split(), r.split()
        hl, rl = hl + len(h), rl + len(r)
        for n in range(1, 5):
            hc = Counter(tuple(h[i:i + n]) for i in range(len(h) - n + 1))
            rc = Counter(tuple(r[i:i + n]) for i in range(len(r) - n + 1))
            match[n - 1] += sum((hc & rc).values())
            total[n - 1] += sum(hc.values())
    bp = 1.0 if hl > rl else math.exp(1 - rl / hl)
    return 100 * bp * math.exp(sum(math.log(m / t) for m, t in zip(match, total)) / 4)


def test_bleu_matches_an_independent_computation_and_records_signatures():
    hyps = ["the cat sat on the mat today", "a dog ran in the big park"]
    refs = ["the cat sat on the red mat today", "a dog ran in the park"]
    df = translation.score(hyps, refs, "en", metrics=("bleu", "chrf++")).set_index("metric")
    assert df.score["bleu"] == pytest.approx(_independent_bleu(hyps, refs), abs=1e-9)
    assert "tok:13a" in df.signature["bleu"] and "nw:2" in df.signature["chrf++"]
    zh = translation.score(["我爱北京"], ["我爱北京"], "zh", metrics=("bleu",))
    assert zh.score[0] == pytest.approx(100) and "tok:zh" in zh.signature[0]


def test_spbleu_offline_fallback_and_tokenizer_errors(monkeypatch, tmp_path):
    monkeypatch.setattr(translation, "spm_model_path", lambda key="flores101": Path.home() / ".sacrebleu" / "x.model")
    df = translation.score(["a b"], ["a b"], "en", metrics=("spbleu",))
    assert math.isnan(df.score[0]) and "not computed" in df.note[0]
    assert "~/.sacrebleu/x.model" in df.note[0] and str(Path.home()) not in df.note[0]    # a table names no home
    with pytest.raises(ConfigError, match="needs its SentencePiece model"):
        translation.score(["a"], ["a"], "en", metrics=("bleu",), tokenizer="flores101")
    with pytest.raises(ConfigError, match="unknown sacrebleu tokenizer"):
        translation.score(["a"], ["a"], "en", metrics=("bleu",), tokenizer="nope")
    monkeypatch.setattr(translation, "_mecab_available", lambda: False)
    with pytest.raises(ConfigError, match="needs mecab"):
        translation.score(["a"], ["a"], "ja", metrics=("bleu",), tokenizer="ja-mecab")
    ja = translation.score(["猫です"], ["猫です"], "ja", metrics=("bleu",))
    assert "tok:char" in ja.signature[0] and "ja-mecab unavailable" in ja.note[0]
    with pytest.raises(ConfigError, match="2 hypotheses but 1 references"):
        translation.score(["a", "b"], ["a"], "en")
    with pytest.raises(ConfigError, match="comet_model"):
        translation.score(["a"], ["a"], "en", metrics=("comet",))


def test_cli_mt_score(tmp_path, capsys):
    from clika_utils import cli
    (tmp_path / "h").write_text("the cat sat on the mat today\n\n", encoding="utf-8")
    (tmp_path / "r").write_text("the cat sat on the red mat today\nx\n", encoding="utf-8")
    assert cli.main(["mt-score", "--hyp", str(tmp_path / "h"), "--ref", str(tmp_path / "r"), "--lang", "en",
                     "--metrics", "bleu", "--drop-empty"]) == 0
    cap = capsys.readouterr()
    want = _independent_bleu(["the cat sat on the mat today"], ["the cat sat on the red mat today"])
    assert cap.out.startswith(f"bleu\t{want:.2f}\t") and "1 of 2 pair(s) with an empty hypothesis dropped" in cap.err


def _sacrebleu_cli(hyp, ref, *args) -> list[float]:
    import subprocess
    import sys
    out = subprocess.run([sys.executable, "-m", "sacrebleu", str(ref), "-i", str(hyp), "-b", "-w", "2", "-f", "text", *args],
                         capture_output=True, text=True, check=True).stdout.split()
    return [float(v) for v in out]


GERMAN = ["Das Haus ist klein.", "Ich habe keine Zeit.", "Wir gehen morgen ins Kino.", "Der Hund schläft im Garten.",
          "Sie liest ein Buch über Geschichte.", "Es regnet seit gestern.", "Mein Bruder wohnt in Berlin.",
          "Das Essen war sehr gut.", "Kannst du mir helfen?", "Er trinkt jeden Morgen Kaffee.",
          "Die Kinder spielen draußen.", "Ich verstehe die Frage nicht.", "Das Wetter ist heute schön.",
          "Wir haben den Zug verpasst.", "Sie arbeitet in einem Krankenhaus.", "Der Film beginnt um acht.",
          "Ich möchte ein Glas Wasser.", "Das Fenster ist offen.", "Er hat seinen Schlüssel verloren.",
          "Morgen fahren wir ans Meer."]


def test_cli_mt_score_keeps_empty_hypotheses_and_equals_the_sacrebleu_cli(tmp_path, capsys):
    """An empty output is a wrong translation: the default scores it, exactly as the sacrebleu CLI."""
    from clika_utils import cli
    hyp = [s.replace("ist", "war").replace("Ich", "Wir") for s in GERMAN]
    hyp[7] = ""                                                       # one blanked hypothesis
    (tmp_path / "h").write_text("\n".join(hyp) + "\n", encoding="utf-8")
    (tmp_path / "r").write_text("\n".join(GERMAN) + "\n", encoding="utf-8")
    args = ["mt-score", "--hyp", str(tmp_path / "h"), "--ref", str(tmp_path / "r"), "--lang", "de"]
    assert cli.main(args + ["--metrics", "bleu", "chrf++"]) == 0       # space-separated, as users type it
    cap = capsys.readouterr()
    ours = [float(line.split("\t")[1]) for line in cap.out.splitlines()]
    want = _sacrebleu_cli(tmp_path / "h", tmp_path / "r", "-m", "bleu", "chrf", "--chrf-word-order", "2")
    assert ours == want and "1 empty hypothesis line(s) scored" in cap.err
    assert cli.main(args + ["--metrics", "bleu,chrf++"]) == 0          # comma-separated too
    assert [float(line.split("\t")[1]) for line in capsys.readouterr().out.splitlines()] == want
    assert cli.main(args + ["--metrics", "bleu", "--drop-empty"]) == 0  # dropping raises the score, and says so
    cap = capsys.readouterr()
    assert float(cap.out.split("\t")[1]) > want[0] and "1 of 20 pair(s)" in cap.err


def test_cli_mt_score_bad_input(tmp_path, capsys):
    from clika_utils import cli
    (tmp_path / "h").write_text("a b\nc d\n", encoding="utf-8")
    (tmp_path / "r").write_text("a b\n \n", encoding="utf-8")
    args = ["mt-score", "--hyp", str(tmp_path / "h"), "--ref", str(tmp_path / "r"), "--lang", "en"]
    assert cli.main(args) == 2
    assert f"{tmp_path / 'r'}:2: empty reference line" in capsys.readouterr().err
    (tmp_path / "r").write_text("a b\n", encoding="utf-8")
    assert cli.main(args) == 2 and "2 hypothesis lines (h) but 1 reference lines" in capsys.readouterr().err
    (tmp_path / "r").write_text("a b\nc\n", encoding="utf-8")
    assert cli.main(args + ["--metrics", "bleu", "ter"]) == 2
    err = capsys.readouterr().err
    assert "unknown metric(s) ['ter']" in err and "chrf++" in err