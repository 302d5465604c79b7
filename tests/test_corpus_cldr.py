"""clika_utils.corpus (text streams, held-out loss) and clika_utils.cldr (CLDR fact QA)."""

import numpy as np
import pandas as pd
import pytest

from clika_utils import cldr, corpus
from clika_utils.errors import ConfigError, DataError
from clika_utils.langs import LANGS
from clika_utils.models import build_tiny_model, load_model


@pytest.fixture(scope="module")
def tiny_lm(tmp_path_factory):
    return load_model(str(build_tiny_model(tmp_path_factory.mktemp("tiny") / "m")), device="cpu", dtype="float32")


def docs(lang, n, words=30):
    return [corpus.Doc(lang, f"src#{i}", " ".join(f"w{i}x{j}" for j in range(words))) for i in range(n)]


def test_split_is_deterministic_disjoint_and_by_content():
    d = docs("de", 200)
    tr, he = corpus.split(d, 0.2)
    tr2, he2 = corpus.split(list(reversed(d)), 0.2)
    assert {x.text for x in he} == {x.text for x in he2}
    assert not {x.text for x in tr} & {x.text for x in he}
    assert 20 < len(he) < 60
    with pytest.raises(ConfigError):
        corpus.split(d, 1.0)


def test_token_budget_and_mixture_quotas(tiny_lm):
    tok = tiny_lm.tokenizer
    by_lang = {"de": docs("de", 40), "zh": docs("zh", 40), "en": docs("en", 40)}
    texts, comp = corpus.mixture(by_lang, {"de": 1, "zh": 1, "en": 1}, tok, 1000, 64, seed=0)
    assert comp.tokens.sum() == 1000 and sorted(comp.tokens) == [333, 333, 334]
    assert all(len(tok(t, add_special_tokens=False).input_ids) <= 80 for t in texts)
    again, _ = corpus.mixture(by_lang, {"de": 1, "zh": 1, "en": 1}, tok, 1000, 64, seed=0)
    assert texts == again
    with pytest.raises(ConfigError, match="larger than the corpus"):
        corpus.token_budget_texts(tok, docs("de", 2, words=5), 10_000, 64, seed=0)
    with pytest.raises(ConfigError, match=r"no corpus for language\(s\) \['fr'\]"):
        corpus.mixture(by_lang, {"fr": 1}, tok, 100, 64, seed=0)


def test_user_corpus_globs(tmp_path):
    (tmp_path / "a.txt").write_text("first doc\n\n second doc \n", encoding="utf-8")
    got = corpus.read_user_corpus([str(tmp_path / "*.txt")], "de")
    assert [d.text for d in got] == ["first doc", "second doc"] and got[1].source.endswith("a.txt:3")
    with pytest.raises(ConfigError, match="matches no file"):
        corpus.read_user_corpus([str(tmp_path / "nothing*.txt")], "de")


def test_doc_nll_equals_transformers_loss(tiny_lm):
    """Independent implementation: HF's own labels= loss (mean over predicted tokens) x token count."""
    import torch
    d = docs("de", 3, words=12)
    got = corpus.doc_nll(tiny_lm, d, max_tokens=20, batch_size=2)
    tok = tiny_lm.tokenizer
    for row, doc in zip(got.itertuples(), d):
        ids = [tok.bos_token_id] + tok(doc.text, add_special_tokens=False).input_ids[:20]
        t = torch.tensor([ids])
        with torch.no_grad():
            loss = tiny_lm.model(input_ids=t, labels=t).loss.item()
        assert row.tokens == len(ids) - 1
        assert row.nll == pytest.approx(loss * (len(ids) - 1), rel=1e-5)


def test_nll_comparison_hand_computed():
    per_doc = pd.DataFrame({"system": ["b", "b", "v", "v"], "lang": "de", "doc": ["x", "y", "x", "y"],
                            "nll": [10.0, 30.0, 8.0, 20.0], "tokens": [10, 10, 10, 10]})
    cmp = corpus.NLLComparison(per_doc, [("v", "b")], n_boot=200, seed=0)
    t = cmp.table()
    values = t[t.reference == ""].set_index("system")
    assert values.loc["b", "nll_per_token"] == pytest.approx(2.0)
    assert values.loc["v", "nll_per_token"] == pytest.approx(1.4)
    d = t[t.reference == "b"].iloc[0]
    assert d.delta == pytest.approx(-0.6) and d.delta_lo <= -0.6 <= d.delta_hi and d.delta_hi < 0
    g = cmp.group("v", "b", ["de", "fr"])
    assert g["delta"] == pytest.approx(-0.6) and g["cells"] == 1
    bad = per_doc.copy()
    bad.loc[3, "doc"] = "z"
    with pytest.raises(DataError, match="different de documents"):
        corpus.NLLComparison(bad, [("v", "b")], n_boot=10, seed=0)
    with pytest.raises(ConfigError, match=r"no held-out losses for system\(s\) \['q'\]"):
        corpus.NLLComparison(per_doc, [("q", "b")], n_boot=10, seed=0)


@pytest.mark.data
def test_offline_sources_cover_every_clika_language(real_clika):
    home = real_clika.parent
    for lang in LANGS:
        got = corpus.offline_docs(home, lang)
        assert len(got) >= 90, lang
        assert all(d.text.strip() for d in got)
    assert corpus.offline_docs(home, "zh")[0].source.startswith("xquad/xquad.zh.json#")
    files = corpus.source_files(corpus.offline_docs(home, "ja"), home)
    assert [f.name for f in files] == ["tatoeba.jpn-eng.jpn"] and files[0].exists()
    with pytest.raises(DataError, match="Tatoeba file"):
        corpus.tatoeba_sentences(home.parent / "nowhere", "de")


# ------------------------------------------------------------------------------------------------ CLDR


def test_templates_complete_and_checked():
    cldr.check_templates()
    broken = {f: dict(v) for f, v in cldr.TEMPLATES.items()}
    broken["currency"]["de"] = "Welche Währung?"
    with pytest.raises(ConfigError, match="must contain '{country}' once"):
        cldr.check_templates(broken)
    broken["currency"]["de"] = cldr.TEMPLATES["currency"]["de"]
    del broken["language"]["ja"]
    with pytest.raises(ConfigError, match="no 'language' question template for 'ja'"):
        cldr.check_templates(broken)


def test_known_facts():
    facts = {(f.country, f.fact): f.value for f in cldr.facts()}
    assert facts[("FR", "currency")] == "EUR" and facts[("FR", "language")] == "fr"
    assert facts[("FR", "continent")] == "150" and facts[("JP", "continent")] == "142"
    assert facts[("JP", "currency")] == "JPY" and facts[("BR", "continent")] == "019"
    q, a = cldr.localise(cldr.Fact("DE", "currency", "EUR"), "de")
    assert q == "Welche Währung hat das Land Deutschland?" and a == "Euro"
    q, a = cldr.localise(cldr.Fact("JP", "continent", "142"), "zh")
    assert q == "日本位于哪个大洲？" and a == "亚洲"


def test_split_by_country_and_aligned_items():
    facts = cldr.facts()
    train, held = cldr.split(facts, 0.3)
    assert not {f.country for f in train} & {f.country for f in held}
    qa = cldr.qa_table(held[:6], ["en", "de", "zh"], seed=1, pool=facts)
    assert len(qa) == 18
    for _, part in qa.groupby("item_id"):
        assert part.gold.nunique() == 1 and part.fact.nunique() == 1   # same item in every language
        for r in part.itertuples():
            assert len(set(r.options)) == 4
    en = qa[qa.lang == "en"].iloc[0]
    assert en.options[en.gold] == cldr.localise(held[0], "en")[1]
    assert cldr.qa_table(held[:6], ["en", "de", "zh"], seed=1, pool=facts).equals(qa)


def test_instructions_every_language():
    f = cldr.Fact("FR", "language", "fr")
    got = cldr.instructions([f], ["en", "ja"])
    assert got == [("en", "What is the main official language of France?", "French"),
                   ("ja", "フランスの主な公用語は何ですか？", "フランス語")]
    assert np.all([len(x) == 3 for x in got])
