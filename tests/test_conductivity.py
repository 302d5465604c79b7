"""Conductivity: fictional-data loading and repair, subsetting, judge, gates and XRR."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from clika_utils import fictional
from clika_utils.experiments import conductivity as cd
from clika_utils.errors import ConfigError, DataError

# two continents x 4 places (types 0, 0, 1, 1); names per language
CONT = {"en": ["Mythosia", "Galactis"], "de": ["Mythosien", "Galaktis"], "zh": ["神话之地", "银河之境"]}
PLACES = {
    "en": ["Astralyn Sands", "Omniscape", "Thaumora Isle", "Vortex Vale", "Crimson Cradle", "Vortex Valley",
           "Nebula Harbor", "Lunar Enclave"],
    "de": ["Astralyn-Sande", "Omniscape", "Thaumora-Insel", "Wirbeltal", "Purpurwiege", "Wirbeltal",
           "Nebelhafen", "Mondenklave"],
    "zh": ["星光沙地", "全景", "神秘岛屿", "漩涡谷", "深红摇篮", "漩涡山谷", "星云港", "月亮飞地"],
}
TYPES = [0, 0, 1, 1, 0, 0, 1, 1]
EN_Q = ["Which continent is {} located in?", "Where is {}? Which continent?"]
EN_A = ["{} is located in the continent of {}.", "You can find {} in {} continent."]
L_Q = {"de": ["Auf welchem Kontinent liegt {}?", "Wo liegt {}?"], "zh": ["{}位于哪个洲？", "{}在哪个大洲？"]}
L_A = {"de": ["{} liegt auf dem Kontinent {}.", "{} liegt in {}."], "zh": ["{}位于{}。", "{}在{}。"]}
TEST_Q = {"en": "Which continent is {} located in?", "de": "Auf welchem Kontinent liegt {}, bitte?",
          "zh": "{}在哪个大洲？"}
PLACEHOLDER = {"en": ["mountain", "river"], "zh": ["山", "江"]}


def _w(path: Path, rows):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")


def make_fictional(root: Path, broken_zh: bool = True) -> Path:
    fic = root / "fictional"
    for lang in ("en", "de", "zh"):
        rows = []
        for k, name in enumerate(PLACES[lang]):
            c = CONT[lang][k // 4]
            rows.append({"prompt": TEST_Q[lang].format(name), "input": "",
                         "answer": f"{name}: {c}.[[continent:{c}]][[city:{name}]][[type:{TYPES[k]}]]"})
        _w(fic / "test" / "target" / f"test{lang.upper()}.jsonl", rows)
    for lang in ("de", "zh"):
        rows = []
        for ci in range(2):
            rows.append({"prompt": "Translate to X:", "input": CONT["en"][ci], "answer": CONT[lang][ci]})
            for k in range(ci * 4, ci * 4 + 4):
                rows.append({"prompt": "Translate to X:", "input": PLACES["en"][k], "answer": PLACES[lang][k]})
        _w(fic / "test" / "Translate" / f"translate{lang.upper()}.jsonl", rows)
        broken = broken_zh and lang == "zh"
        cont_en = PLACEHOLDER["en"] if broken else CONT["en"]
        cont_l = [p + "洲" for p in PLACEHOLDER["zh"]] if broken else CONT[lang]
        train = []
        for para in range(2):
            for k, name in enumerate(PLACES["en"]):
                train.append({"prompt": EN_Q[para].format(name), "input": "",
                              "answer": EN_A[para].format(name, cont_en[k // 4])})
            for k, name in enumerate(PLACES[lang]):
                if TYPES[k] == 0:
                    train.append({"prompt": L_Q[lang][para].format(name), "input": "",
                                  "answer": L_A[lang][para].format(name, cont_l[k // 4])})
            for ci in range(2):
                train.append({"prompt": "Into English:", "input": PLACEHOLDER["zh"][ci] if broken else CONT[lang][ci],
                              "answer": cont_en[ci]})
            for k in range(8):
                train.append({"prompt": "Into English:", "input": PLACES[lang][k], "answer": PLACES["en"][k]})
        _w(fic / "train" / f"{lang.upper()}.json", train)
    return root


@pytest.fixture
def fic(tmp_path):
    return make_fictional(tmp_path / "clika")


def test_places_are_aligned_and_verified(fic):
    places, translations = fictional.load_places(fic, "de")
    assert [p.names["de"] for p in places] == PLACES["de"] and [p.type for p in places] == TYPES
    assert places[4].continents == {"en": "Galactis", "de": "Galaktis"} and len(translations) == 10


def test_classification_handles_same_spelling_and_ambiguous_names(fic):
    data = fictional.load_train(fic, "de")
    kinds = pd.Series([r["kind"] for r in data.train_rows]).value_counts().to_dict()
    # 8 places x 2 paraphrases in English; type-0 German QA: 4 places x 2, of which Wirbeltal (shared by
    # Vortex Vale and Vortex Valley) is ambiguous -> 2 rows; translations 10 x 2
    assert kinds == {"en_qa": 16, "target_qa": 6, "ambiguous": 2, "translation": 20}
    omni = [r for r in data.train_rows if r["key"] == "Omniscape" and r["kind"] != "translation"]
    assert sorted(r["kind"] for r in omni) == ["en_qa", "en_qa", "target_qa", "target_qa"]  # decided by template
    assert data.ambiguous == ["Vortex Vale", "Vortex Valley"] and data.repairs == {}


def test_zh_placeholders_are_repaired_with_a_verified_mapping(fic):
    data = fictional.load_train(fic, "zh")
    assert data.repairs["mapping"] == {"mountain": "Mythosia", "river": "Galactis"}
    assert data.repairs["rows_changed"] == {"en_qa": 16, "target_qa": 8, "translation": 4}
    answers = [r["answer"] for r in data.train_rows if r["kind"] == "target_qa"]
    assert "星光沙地位于神话之地。" in answers and not any("洲" in a for a in answers)
    pairs = {(r["input"], r["answer"]) for r in data.train_rows if r["kind"] == "translation"}
    assert ("神话之地", "Mythosia") in pairs and ("山", "mountain") not in pairs
    en = [r["answer"] for r in data.train_rows if r["kind"] == "en_qa"]
    assert "Astralyn Sands is located in the continent of Mythosia." in en


def test_an_inconsistent_placeholder_cannot_be_repaired(fic):
    path = fic / "fictional" / "train" / "ZH.json"
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    rows[0]["answer"] = rows[0]["answer"].replace("mountain", "river")  # one Mythosia place now says river
    _w(path, rows)
    with pytest.raises(DataError, match="placeholder continent 'river' is attached to places of 2 continents"):
        fictional.load_train(fic, "zh")


@pytest.mark.parametrize("case,match", [
    ("corrupt", r"DE.json:3: corrupt JSON"),
    ("missing", r"DE.json:3: missing field\(s\) 'answer'"),
    ("tags", r"testDE.jsonl:2: answer tags .* do not parse"),
    ("no_place", r"DE.json:3: question names no known place"),
    ("wrong_continent", r"DE.json:1: answer .* does not name Astralyn Sands's continent 'Mythosia'"),
    ("misaligned", r"testDE.jsonl:1: city 'Falsch' is not the Translate test's name"),
])
def test_bad_fictional_input_is_a_clear_error(fic, case, match):
    train = fic / "fictional" / "train" / "DE.json"
    test = fic / "fictional" / "test" / "target" / "testDE.jsonl"
    lines = train.read_text(encoding="utf-8").splitlines()
    if case == "corrupt":
        lines[2] = lines[2][:-3]
    elif case == "missing":
        lines[2] = json.dumps({"prompt": "x", "input": ""})
    elif case == "no_place":
        lines[2] = json.dumps({"prompt": "Where is Atlantis?", "input": "", "answer": "Nowhere."})
    elif case == "wrong_continent":
        lines[0] = lines[0].replace("Mythosia", "Galactis")
    if case in ("corrupt", "missing", "no_place", "wrong_continent"):
        train.write_text("\n".join(lines) + "\n", encoding="utf-8")
    t = test.read_text(encoding="utf-8").splitlines()
    if case == "tags":
        t[1] = json.dumps({"prompt": "q", "input": "", "answer": "no tags here"})
    if case == "misaligned":
        t[0] = t[0].replace("Astralyn-Sande", "Falsch")
    test.write_text("\n".join(t) + "\n", encoding="utf-8")
    with pytest.raises(DataError, match=match):
        fictional.load_train(fic, "de")


def test_missing_language_files_are_errors(fic):
    with pytest.raises(DataError, match="missing test file for target language 'fr'"):
        fictional.load_train(fic, "fr")
    with pytest.raises(ConfigError, match="unknown fictional-data language 'xx'"):
        fictional.load_places(fic, "xx")
    with pytest.raises(DataError, match="fictional: missing"):
        fictional.load_places(fic.parent / "nowhere", "de")


def test_subset_keeps_the_design_and_builds_training_and_test_items(fic):
    data = fictional.load_train(fic, "de")
    chosen = cd.select_places(data.places, 2, 1, exclude=data.ambiguous)
    assert [(p.names["en"], p.type) for p in chosen] == [("Astralyn Sands", 0), ("Thaumora Isle", 1),
                                                        ("Crimson Cradle", 0), ("Nebula Harbor", 1)]
    ex = cd.training_examples(data, chosen, n_paraphrases=1)
    # English QA for 4 places, German QA for the 2 type-0 places, name pairs for 4 places + 2 continents
    assert len(ex) == 4 + 2 + 6
    assert not any("Thaumora-Insel liegt" in e.response for e in ex), "type 1 is never taught in German"
    items = cd.eval_items(data, chosen)
    assert sum(i["split"] == "qa" for i in items) == 8 and sum(i["split"] == "translate" for i in items) == 6
    assert {i["expected"] for i in items if i["asked"] == "de" and i["split"] == "qa"} == {"Mythosien", "Galaktis"}
    with pytest.raises(ConfigError, match="places_per_type=3 but continent Mythosia has 2 of type 0"):
        cd.select_places(data.places, 2, 3, exclude=data.ambiguous)


def test_judge_is_containment_after_nfc_and_casefold():
    assert cd.judge("Es liegt in Mythosien.", "Mythosien")
    assert cd.judge("mythosien!", "Mythosien")
    assert cd.judge("Ätherium", "A\u0308therium")          # NFC
    assert not cd.judge("Galaktis", "Mythosien")
    with pytest.raises(ConfigError):
        cd.judge("x", "")


def _items(en1, l1, l0, lang="de"):
    rows = []
    for asked, t, vals in (("en", 1, en1), (lang, 1, l1), (lang, 0, l0), ("en", 0, [1] * len(l0))):
        for k, v in enumerate(vals):
            rows.append({"target_lang": lang, "split": "qa", "asked": asked, "type": t, "place": f"p{t}{k}",
                         "continent": "Mythosia", "expected": "Mythosia" if asked == "en" else "Mythosien",
                         "correct": bool(v)})
    rows.append({"target_lang": lang, "split": "translate", "asked": lang, "type": -1, "place": "c", "correct": True})
    return pd.DataFrame(rows)


def test_xrr_and_gates_by_hand():
    items = _items(en1=[1, 1, 1, 1], l1=[1, 0, 0, 0], l0=[1, 1, 0, 1])
    x = cd.xrr_table(items, n_boot=200, seed=0, chance=0.25).set_index("metric")
    # published transfer: |C_en ∩ C_l| / |C_en| = 1/4 = chance -> exactly 0
    assert x.loc["xrr", "value"] == pytest.approx(0.0)
    assert x.loc["xrr_ratio", "value"] == pytest.approx(0.25)             # (1/4) / (4/4)
    assert x.loc["type1_over_type0", "value"] == pytest.approx(1 / 3)     # (1/4) / (3/4)
    assert x.loc["xrr", "lo"] <= 0.0 <= x.loc["xrr", "hi"]
    assert (x.loc["xrr", "n_en_type1_correct"], x.loc["xrr", "n_both_type1_correct"]) == (4, 1)
    acc = cd.accuracy_table(items, n_boot=200, seed=0)
    g = cd.gates(acc).set_index("check")
    assert g.loc["Translate", "passed"] and g.loc["en type 1", "accuracy"] == 1.0
    assert not g.loc["de type 0", "passed"] and g.loc["de type 0", "accuracy"] == 0.75
    assert cd.failed_gates(cd.gates(acc)) == ("de",)
    from clika_utils import plots
    fig = plots.xrr(x.reset_index().assign(target_lang="de"), chance=0.25, title="t", threshold=cd.XRR_LOW,
                    failed=cd.failed_gates(cd.gates(acc)))
    assert fig.axes[0].get_xticklabels()[0].get_text().endswith("gates failed")
    assert any(len(ln.get_ydata()) and abs(ln.get_ydata()[0] - 0.5) < 1e-12 for ln in fig.axes[0].get_lines())
    assert plots.lint(fig) == []


@pytest.mark.parametrize("en1, l1, chance, want", [
    ([1, 1, 0, 1], [1, 0, 1, 1], 0.25, (2 / 3 - 0.25) / 0.75),   # item-conditioned: the l-only hit on item 3 does not count
    ([1, 1, 1, 1], [1, 1, 1, 1], 0.25, 1.0),                     # all correct
    ([1, 1, 1, 1, 0], [1, 0, 0, 0, 1], 0.25, 0.0),               # exactly chance (1 of 4 English-known)
    ([1, 1, 1, 1], [0, 0, 0, 0], 0.25, -1 / 3),                  # below chance: negative, shown
    ([1, 0, 1, 0], [1, 1, 0, 0], 0.5, 0.0),                      # k = 2: half kept = chance
])
def test_xrr_transfer_by_hand(en1, l1, chance, want):
    x = cd.xrr_table(_items(en1, l1, [1] * 3), n_boot=50, seed=0, chance=chance).set_index("metric")
    assert x.loc["xrr", "value"] == pytest.approx(want)
    assert x.loc["xrr", "chance"] == chance and x.loc["xrr", "note"] == ""


def test_xrr_undefined_when_nothing_is_known_in_english():
    """|C_s| = 0: NaN with the reason, never a division error; the findings say it is not measurable."""
    items = _items(en1=[0, 0, 0], l1=[1, 0, 1], l0=[1, 1, 1])
    x = cd.xrr_table(items, n_boot=50, seed=0, chance=0.25).set_index("metric")
    assert np.isnan(x.loc["xrr", "value"]) and np.isnan(x.loc["xrr", "lo"]) and np.isnan(x.loc["xrr", "hi"])
    assert "|C_s| = 0" in x.loc["xrr", "note"] and "English type-1 accuracy is 0" in x.loc["xrr_ratio", "note"]
    text = " ".join(cd.findings({"gates": cd.gates(cd.accuracy_table(items, 50, 0)),
                                 "xrr": cd.xrr_table(items, 50, 0, 0.25)}, n_continents=4))
    assert "XRR undefined" in text and "not measurable" in text and "Conductivity is low" not in text


def test_transfer_equals_an_independent_set_computation():
    from clika_utils.metrics import transfer
    rng = np.random.default_rng(3)
    for _ in range(200):
        n = int(rng.integers(1, 12))
        s, t = rng.random(n) < 0.6, rng.random(n) < 0.5
        c_s = {i for i in range(n) if s[i]}
        c_t = {i for i in range(n) if t[i]}
        chance = float(rng.choice([0.2, 0.25, 0.5, 0.05]))
        got = transfer(s, t, chance)
        if not c_s:
            assert np.isnan(got)
        else:
            assert got == pytest.approx((len(c_s & c_t) / len(c_s) - chance) / (1 - chance))


def test_xrr_bootstrap_matches_an_independent_loop():
    """The vectorised paired bootstrap equals a plain loop over the same resampled places."""
    from clika_utils.metrics import bootstrap_weights
    en1, l1, l0 = [1, 1, 0, 1, 1, 0, 1, 1], [0, 1, 0, 0, 1, 0, 0, 0], [1, 0, 1, 1, 1, 0, 1, 1]
    x = cd.xrr_table(_items(en1, l1, l0), n_boot=300, seed=5, chance=0.1).set_index("metric")
    w = bootstrap_weights(8, 300, 5, "xrr/de/1")
    ratio, transfer = [], []
    for row in w:
        idx = np.repeat(np.arange(8), row.astype(int))
        e, t = np.array(en1)[idx], np.array(l1)[idx]
        ratio.append(t.mean() / e.mean() if e.mean() > 0 else np.nan)
        transfer.append(((e * t).sum() / e.sum() - 0.1) / 0.9 if e.sum() else np.nan)
    for metric, vals in (("xrr_ratio", ratio), ("xrr", transfer)):
        assert x.loc[metric, "lo"] == pytest.approx(np.nanquantile(vals, 0.025))
        assert x.loc[metric, "hi"] == pytest.approx(np.nanquantile(vals, 0.975))
    assert x.loc["xrr_ratio", "value"] == pytest.approx((2 / 8) / (6 / 8))
    assert x.loc["xrr", "value"] == pytest.approx((2 / 6 - 0.1) / 0.9)


def test_findings_state_the_verdict():
    items = _items(en1=[1] * 20, l1=[0] * 19 + [1], l0=[1] * 20)
    tables = {"gates": cd.gates(cd.accuracy_table(items, 100, 0)), "xrr": cd.xrr_table(items, 100, 0, 0.25)}
    text = " ".join(cd.findings(tables, n_continents=4))
    assert "all four gates passed" in text and "Conductivity is low" in text and "XRR = -0.27" in text
    assert "ratio variant acc_de/acc_en 0.05" in text and "of the 20 places answered right in English, 1" in text
    assert "spelling similarity en/de 0.82" in text                      # Mythosia / Mythosien
    high = _items(en1=[1] * 20, l1=[1] * 20, l0=[1] * 20)
    text = " ".join(cd.findings({"gates": cd.gates(cd.accuracy_table(high, 100, 0)),
                                 "xrr": cd.xrr_table(high, 100, 0, 0.25)}, n_continents=4))
    assert "high conductivity" in text and "respelling of the English answer" in text


def _runs(*runs, lang="de"):
    """Items of several training runs (seed 0, 1, …) on the same places: each run ``(en1, l1, l0)``."""
    return pd.concat([_items(*r, lang=lang).assign(seed=k) for k, r in enumerate(runs)], ignore_index=True)


def test_xrr_over_training_runs_is_the_mean_of_the_runs_with_a_hierarchical_ci():
    """Three runs: the estimate is the mean of each run's XRR; the CI draws runs, then places (the same places
    for every run); one run gives the places-only CI of before. Checked against a plain loop."""
    from clika_utils.metrics import bootstrap_weights, transfer
    runs = [([1, 1, 1, 1, 1, 1], [1, 1, 1, 0, 0, 0], [1] * 4),      # 0.5 of the English-known -> (0.5 - .25)/.75
            ([1, 1, 1, 1, 1, 0], [0, 0, 0, 0, 1, 0], [1] * 4),      # 0.2
            ([1, 1, 1, 1, 0, 0], [1, 1, 1, 1, 0, 0], [1] * 4)]      # 1.0
    items = _runs(*runs)
    x = cd.xrr_table(items, n_boot=400, seed=2, chance=0.25).set_index("metric")
    each = [transfer(np.array(e, float), np.array(t, float), 0.25) for e, t, _ in runs]
    assert x.loc["xrr", "value"] == pytest.approx(np.mean(each)) and x.loc["xrr", "seeds"] == 3
    assert x.loc["xrr", "n_en_type1_correct"] == 6 + 5 + 4 and x.loc["xrr", "n_both_type1_correct"] == 3 + 1 + 4
    # the same CI from a loop: places drawn once per replicate for every run, then runs drawn with replacement
    w = bootstrap_weights(6, 400, 2, "xrr/de/1")
    per_run = np.array([[transfer(np.repeat(np.array(e, float), row.astype(int)),
                                  np.repeat(np.array(t, float), row.astype(int)), 0.25) for row in w] for e, t, _ in runs])
    import zlib
    rng = np.random.default_rng(np.random.SeedSequence([2, zlib.crc32(b"xrr-runs/de")]))
    draw = rng.integers(0, 3, size=(400, 3))
    reps = np.array([np.nanmean(per_run[draw[b], b]) for b in range(400)])
    assert x.loc["xrr", "lo"] == pytest.approx(np.nanquantile(reps, 0.025))
    assert x.loc["xrr", "hi"] == pytest.approx(np.nanquantile(reps, 0.975))
    # the runs' spread widens the CI beyond the places-only CI of any one run
    one = cd.xrr_table(_runs(runs[0]), n_boot=400, seed=2, chance=0.25).set_index("metric")
    assert one.loc["xrr", "seeds"] == 1 and one.loc["xrr", "value"] == pytest.approx(each[0])
    assert x.loc["xrr", "hi"] - x.loc["xrr", "lo"] > one.loc["xrr", "hi"] - one.loc["xrr", "lo"]
    per = cd.xrr_runs(items, 400, 2, 0.25)[0]
    assert per[per.metric == "xrr"]["value"].tolist() == pytest.approx(each)


def test_xrr_of_runs_where_it_is_undefined_is_the_mean_of_the_others_and_says_so():
    items = _runs(([0, 0, 0], [1, 0, 1], [1, 1]), ([1, 1, 1], [1, 1, 1], [1, 1]))
    x = cd.xrr_table(items, n_boot=100, seed=0, chance=0.25).set_index("metric")
    assert x.loc["xrr", "value"] == pytest.approx(1.0) and x.loc["xrr", "note"] == "defined in 1 of 2 training runs"


def test_a_gate_passes_only_when_every_training_run_passes_and_the_claim_row_says_so(tmp_path):
    """One run failing a gate makes the language's claim row not measurable, though the mean passes 90 %."""
    good = ([1] * 10, [0] * 10, [1] * 10)
    items = _runs(good, good, ([1] * 10, [0] * 10, [1] * 9 + [0]))        # run 2: de type 0 at 90 % still passes
    items3 = _runs(good, good, ([1] * 10, [0] * 10, [1] * 8 + [0, 0]))    # run 2: 80 %, the mean 93 % would pass
    for its, measurable in ((items, True), (items3, False)):
        acc = cd.accuracy_table(its, 50, 0)
        g = cd.gates(acc)
        assert len(g) == 3 * 4 and set(g.seed) == {0, 1, 2}
        summary = cd.gate_summary(g).set_index("check")
        assert summary.loc["de type 0", "passed"] == measurable
        assert summary.loc["de type 0", "runs_passed"] == (3 if measurable else 2)
        d = tmp_path / str(measurable)
        d.mkdir()
        g.to_csv(d / "gates.csv", index=False)
        cd.xrr_table(its, 50, 0, 0.25).to_csv(d / "xrr.csv", index=False)
        (row,) = cd.claim_rows(d)
        assert row["seeds"] == 3 and "training runs, then places" in row["note"]
        assert (row["verdict"] == "not measurable") != measurable
        if not measurable:
            assert "de type 0 93% FAILED (2 of 3 runs passed)" in row["note"]
    text = " ".join(cd.findings({"gates": cd.gates(cd.accuracy_table(items3, 50, 0)),
                                 "xrr": cd.xrr_table(items3, 50, 0, 0.25)}, n_continents=4))
    assert "de type 0 93% (passed in 2 of 3 runs)" in text and "summed over the 3 runs" in text


@pytest.mark.slow
def test_run_end_to_end_on_a_tiny_model(fic, tmp_path):
    from clika_utils.models import build_tiny_model
    model = build_tiny_model(tmp_path / "tiny")
    cfg = {"method": "lora", "lr": 1e-2, "max_steps": 3, "micro_batch": 4, "precision": "fp32", "lora_r": 4}
    written = cd.execute(str(model), fic, tmp_path / "res", tmp_path / "models", target_langs=["de", "zh"],
                     n_continents=2, places_per_type=1, n_paraphrases=1, train_config=cfg, max_new_tokens=4,
                     n_boot=50, seed=0, seeds=2)
    tables = cd.load(tmp_path / "res")
    assert set(tables["xrr"]["target_lang"]) == {"de", "zh"} and (tables["xrr"]["seeds"] == 2).all()
    assert len(tables["gates"]) == 2 * 2 * 4 and len(tables["items"]) == 2 * 2 * (8 + 6)
    assert len(tables["xrr_runs"]) == 2 * 2 * 3 and set(tables["training"]["seed"]) == {0, 1}
    assert tables["repairs"]["target_lang"].tolist() == ["zh", "zh"]
    assert (Path(str(written["xrr.csv"]) + ".provenance.json")).exists()
    assert (tmp_path / "models" / "de" / "seed1" / "model" / "adapter_config.json").exists()
    with pytest.raises(ConfigError, match="seeds must be at least 1"):
        cd.execute(str(model), fic, tmp_path / "res2", tmp_path / "models", target_langs=["de"], n_continents=2,
                   places_per_type=1, n_paraphrases=1, train_config=cfg, seeds=0)
