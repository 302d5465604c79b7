"""Notebooks 07/08 behind the scenes: the analysis of a scaling table (law choice, bands, covariate),
the allocation study (predicted gain with CIs, measured gain with a paired bootstrap over test
sentences, checked against an independent resample-and-rescore), and the corpus statistics behind it."""

import numpy as np
import pandas as pd
import pytest

from clika_utils import allocation, decide, scaling, translation
from clika_utils.experiments import data_allocation as allocation_runs
from clika_utils.experiments import scaling_laws as scaling_runs
from clika_utils.errors import ConfigError, DataError

SIZES = [8, 16, 32, 64, 128, 256]


def _power_table(noise=0.4, seed=0):
    truth = {"ar": {"Pinf[ar]": 40.0, "A[ar]": 60.0, "alpha[ar]": 0.5, "x0[ar]": 0.0},
             "vi": {"Pinf[vi]": 55.0, "A[vi]": 90.0, "alpha[vi]": 0.5, "x0[vi]": 0.0},
             "zh": {"Pinf[zh]": 30.0, "A[zh]": 30.0, "alpha[zh]": 0.5, "x0[zh]": 0.0}}
    rng = np.random.default_rng(seed)
    rows = []
    for lang, p in truth.items():
        for x in SIZES:
            for s in range(2):
                y = scaling._curve("power", p, lang, np.array([x], float))[0] + rng.normal(0, noise)
                rows.append({"lang": lang, "size": x, "seed": s, "metric": "chrf++", "value": y})
                rows.append({"lang": lang, "size": x, "seed": s, "metric": "bleu", "value": y / 3})
    return pd.DataFrame(rows), truth


def test_analyse_prefers_the_true_family_and_bands_cover_the_truth():
    table, truth = _power_table()
    out = scaling_runs.analyse(table, metric="chrf++", covariate={"ar": 0.0, "vi": 0.9, "zh": 0.02}, n_boot=100)
    laws = out["laws"].set_index("law")
    assert list(laws.index) == ["loglinear", "power", "shared", "shared+cov"]
    assert laws.loc["loglinear", "bic"] > min(laws.loc["power", "bic"], laws.loc["shared", "bic"])
    assert scaling.preferred(out["laws"], "chrf++") in ("power", "shared")
    band = out["bands"][(out["bands"].law == "shared") & (out["bands"].lang == "vi")]
    true = scaling._curve("power", truth["vi"], "vi", band["size"].to_numpy())
    inside = (band.lo <= true + 0.5) & (true - 0.5 <= band.hi)
    assert inside.mean() > 0.9
    assert set(out["lolo"].law) == {"loglinear", "power", "shared", "shared+cov"}
    assert (out["bands"].metric == "chrf++").all() and set(out["params"].law) == set(laws.index)


def test_analyse_reports_a_law_it_cannot_fit_and_rejects_a_missing_metric():
    table, _ = _power_table()
    few = table[table["size"].isin([8, 16, 32])]           # 3 sizes: the per-language power law needs 4
    out = scaling_runs.analyse(few, metric="chrf++", n_boot=0)
    row = out["laws"].set_index("law").loc["power"]
    assert not row.converged and "fewer than the 4" in row.note and not row.preferred
    assert "power" not in set(out["bands"].law)
    with pytest.raises(ConfigError, match="no rows for metric 'comet'"):
        scaling_runs.analyse(table, metric="comet")


def test_latin_share_by_hand():
    assert scaling_runs.latin_share(["ab", "c1 d"]) == 1.0
    assert scaling_runs.latin_share(["aб"]) == 0.5                 # Cyrillic б
    assert scaling_runs.latin_share(["中文 ok"]) == 0.5
    with pytest.raises(ConfigError, match="no letters"):
        scaling_runs.latin_share(["123 !"])


@pytest.mark.parametrize("metric,tgt", [("chrf++", "de"), ("bleu", "zh"), ("bleu", "de")])
def test_corpus_stats_rescore_equals_sacrebleu_on_the_resampled_corpus(metric, tgt):
    hyps = ["the cat sat on the mat", "a dog barks", "我 爱 你", "hello world", "", "one two three four"]
    refs = ["the cat is on the mat", "the dog barks", "我爱你们", "hello there world", "nothing", "one two three"]
    stats, score_of = translation.corpus_stats(hyps, refs, tgt, metric)
    rng = np.random.default_rng(1)
    for _ in range(5):
        idx = rng.integers(0, len(hyps), len(hyps))
        direct = translation.score([hyps[i] for i in idx], [refs[i] for i in idx], tgt, metrics=(metric,),
                                   spbleu="off").score.iloc[0]
        assert score_of(stats[idx].sum(0)) == pytest.approx(direct, abs=1e-9)
    with pytest.raises(ConfigError):
        translation.corpus_stats(hyps, refs[:2], tgt, metric)


def _segments(scores_by_plan, seeds=(0,)):
    rows = []
    for plan, langs in scores_by_plan.items():
        for s in seeds:
            for lang, pairs in langs.items():
                for i, (h, r) in enumerate(pairs):
                    rows.append({"plan": plan, "seed": s, "lang": lang, "item_id": str(i), "hypothesis": h,
                                 "reference": r})
    return pd.DataFrame(rows)


def test_measured_gain_matches_an_independent_resample_and_rescore():
    refs_ar = ["a b c d", "e f g h", "i j k l", "m n o p", "q r s t"]
    refs_zh = ["w x y z", "u v w x", "s t u v", "o p q r", "k l m n"]
    opt = {"ar": list(zip(["a b c d", "e f g", "i j", "m n o p", "q"], refs_ar)),
           "zh": list(zip(["w x y", "u v", "s t u v", "o", "k l m n"], refs_zh))}
    uni = {"ar": list(zip(["a b", "e f g h", "i", "m", "q r s"], refs_ar)),
           "zh": list(zip(["w x y z", "u", "s", "o p q r", "k"], refs_zh))}
    seg = _segments({"optimal": opt, "uniform": uni})
    w = {"ar": 2.0, "zh": 1.0}
    got = allocation_runs.measured_gain(seg, metric="chrf++", weights=w, n_boot=200, seed=3)

    def total(plan, idx=None):
        out = 0.0
        for lang, pairs in (opt if plan == "optimal" else uni).items():
            take = pairs if idx is None else [pairs[i] for i in idx[lang]]
            out += w[lang] * translation.score([h for h, _ in take], [r for _, r in take], lang,
                                               metrics=("chrf++",), spbleu="off").score.iloc[0]
        return out
    assert got["optimal"] == pytest.approx(total("optimal")) and got["uniform"] == pytest.approx(total("uniform"))
    assert got["measured"] == pytest.approx(total("optimal") - total("uniform"))
    rng = np.random.default_rng(3)                     # the same draws, language by language in sorted order
    diffs = []
    draws = {lang: rng.integers(0, 5, size=(200, 5)) for lang in ("ar", "zh")}
    for b in range(200):
        idx = {lang: draws[lang][b] for lang in draws}
        diffs.append(total("optimal", idx) - total("uniform", idx))
    lo, hi = np.percentile(diffs, [2.5, 97.5])
    assert got["lo"] == pytest.approx(lo) and got["hi"] == pytest.approx(hi)


def test_training_seeds_are_the_outer_level_of_the_allocation_ci():
    """Three seeds whose gains disagree (one large, two none): the point estimate is their mean, and the CI
    resamples the seeds too, so it is wider than the one over sentences alone would be for the same mean — and
    with one seed the draws are exactly the sentence-only bootstrap."""
    refs = [f"w{i} x{i} y{i} z{i}" for i in range(8)]
    good = list(zip(refs, refs))
    bad = list(zip([r.split()[0] for r in refs], refs))
    by_seed = {0: (good, bad), 1: (bad, bad), 2: (good, good)}
    rows = []
    for s, (opt, uni) in by_seed.items():
        for plan, pairs in (("optimal", opt), ("uniform", uni)):
            rows += [{"plan": plan, "seed": s, "lang": "ar", "item_id": str(i), "hypothesis": h, "reference": r}
                     for i, (h, r) in enumerate(pairs)]
    seg = pd.DataFrame(rows)
    three = allocation_runs.measured_gain(seg, metric="chrf++", n_boot=400, seed=1)
    one = allocation_runs.measured_gain(seg[seg.seed == 0], metric="chrf++", n_boot=400, seed=1)
    assert three["seeds"] == 3 and one["seeds"] == 1
    assert three["measured"] == pytest.approx(one["measured"] / 3)
    assert three["lo"] <= 0 < three["hi"]             # one seed in three gains: not a decided gain
    assert one["lo"] > 0                              # a single seed hides it


def test_measured_gain_refuses_misaligned_segments():
    pairs = [("a b", "a b"), ("c", "c d")]
    seg = _segments({"optimal": {"ar": pairs}, "uniform": {"ar": pairs[:1]}})
    with pytest.raises(ConfigError, match="segments, expected 2"):
        allocation_runs.measured_gain(seg, metric="chrf++", n_boot=10)


def test_predicted_gain_is_the_objective_difference_with_a_ci():
    table, _ = _power_table()
    f = scaling.fit(table[table.metric == "chrf++"], "shared", n_boot=60, seed=0)
    laws = allocation_runs.laws_of(f)
    plans = {"optimal": allocation.optimal(laws, 120, minimums={"ar": 8, "vi": 8, "zh": 8}, unit=8),
             "uniform": allocation.uniform(list(laws), 120, minimums={"ar": 8, "vi": 8, "zh": 8}, unit=8)}
    g = allocation_runs.predicted_gain(f, plans)
    assert g["predicted"] == pytest.approx(allocation.objective(laws, plans["optimal"])
                                           - allocation.objective(laws, plans["uniform"]))
    assert g["predicted"] >= 0 and g["lo"] <= g["predicted"] <= g["hi"]
    f.converged = False
    with pytest.raises(ConfigError, match="did not converge"):
        allocation_runs.laws_of(f)


@pytest.mark.data
def test_allocation_study_on_a_tiny_model_from_a_user_table(real_clika, tmp_path, monkeypatch):

    monkeypatch.setenv("CLIKA_WORKDIR", str(tmp_path))
    table, _ = _power_table()
    table = table[table.lang.isin(["ar", "zh"])]
    csv = tmp_path / "cluster.csv"
    table.to_csv(csv, index=False)
    kw = dict(table_csv=str(csv), metric="chrf++", law="power", budget=8, minimums={"ar": 2, "zh": 2}, weights={},
              unit=2, resources={}, budgets=[4, 8], test_pairs=3, task_facts=0, seeds=1, max_new_tokens=3,
              batch_size=4, n_boot=20, seed=0, progress=False,
              train_config={"method": "lora", "lr": 0.01, "epochs": 1, "micro_batch": 4, "precision": "fp32",
                            "lora_r": 2, "lora_alpha": 4})
    args = ("tiny-llama", real_clika.parent, tmp_path / "res", tmp_path / "jobs", tmp_path / "live")
    allocation_runs.execute(*args, **kw)
    res = allocation_runs.load(tmp_path / "res")
    opt = res["plans"][res["plans"].plan == "optimal"].set_index("lang")["size"]
    assert opt.sum() <= 8 and (opt >= 2).all()
    assert set(res["measured"].plan) == {"optimal", "uniform"} and len(res["validation"]) == 1
    v = res["validation"].iloc[0]
    assert v.lo <= v.measured <= v.hi and v.verdict in decide.VERDICTS and v.n_langs == 2
    assert set(res["budgets"].budget) == {4, 8}
    monkeypatch.setattr(allocation_runs, "translate", lambda *a, **k: (_ for _ in ()).throw(AssertionError("not cached")))
    allocation_runs.execute(*args, **kw)                           # models and generations reused
    with pytest.raises(ConfigError, match="run notebook 07 first"):
        allocation_runs.execute(*args, **{**kw, "table_csv": None, "scaling_dir": tmp_path / "none"})
    for seeds in (0, -1):                                          # before any work, not a silent empty plan
        with pytest.raises(ConfigError, match="seeds must be at least 1"):
            allocation_runs.execute(*args, **{**kw, "seeds": seeds})
    bad = tmp_path / "bad.csv"
    bad.write_text("lang,size,value\nar,8,1.0\n", encoding="utf-8")
    with pytest.raises(DataError, match="missing column"):
        allocation_runs.execute(*args, **{**kw, "table_csv": str(bad)})
