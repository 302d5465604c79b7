"""RankC (Qi et al., EMNLP 2023): the official formula, hand cases, an independent re-implementation,
and RankC in ``clika score`` for result files that store option scores."""

import json
import math

import numpy as np
import pytest

from clika_utils.errors import DataError
from clika_utils.metrics import bootstrap_weights, rankc_chance, rankc_items, rankc_metrics, rankc_weights
from clika_utils.scoring import score_tree

from conftest import FOLDER, result_name


def _reference_rankc(scores_1, scores_2) -> float:
    """RankC as the official pipeline computes it, written independently: each item's candidates are
    strings with a loss (lower = better); the ranking is the candidates sorted by loss (Python's stable
    sort); for each depth j the top-j candidates of the two languages are mapped to their positions in
    the item's candidate list and compared; weights are exp(N - j + 1) normalised; mean over items."""
    total = 0.0
    for s1, s2 in zip(scores_1, scores_2):
        cands = [f"option{k}" for k in range(len(s1))]
        loss1 = dict(zip(cands, (-v for v in s1)))
        loss2 = dict(zip(cands, (-v for v in s2)))
        rank1 = [c for c, _ in sorted(loss1.items(), key=lambda kv: kv[1])]
        rank2 = [c for c, _ in sorted(loss2.items(), key=lambda kv: kv[1])]
        n = len(cands)
        raw = [math.exp(n - j) for j in range(n)]
        weights = [r / sum(raw) for r in raw]
        for j in range(n):
            a = {cands.index(c) for c in rank1[: j + 1]}
            b = {cands.index(c) for c in rank2[: j + 1]}
            total += weights[j] * len(a & b) / len(a)
    return total / len(scores_1)


def test_rankc_hand_cases():
    w = rankc_weights(4)
    assert w == pytest.approx(np.exp([4, 3, 2, 1]) / np.exp([4, 3, 2, 1]).sum()) and w.sum() == pytest.approx(1)
    same = [[0.1, -2.0, -1.0, -3.0]]
    assert rankc_items(same, same) == pytest.approx([1.0])                       # identical rankings -> 1
    rev = rankc_items([[4.0, 3.0, 2.0, 1.0]], [[1.0, 2.0, 3.0, 4.0]])           # reversed: only depths 3 and 4 overlap
    assert rev == pytest.approx([w[2] * 2 / 3 + w[3] * 1])
    # ties keep option order: [0,0,0,0] ranks A B C D; [0,0,0,1] ranks D A B C
    assert rankc_items([[0, 0, 0, 0]], [[1, 0, 0, 0]]) == pytest.approx([1.0])
    assert rankc_items([[0, 0, 0, 0]], [[0, 0, 0, 1]]) == pytest.approx([w[1] / 2 + w[2] * 2 / 3 + w[3]])
    w2 = rankc_weights(2)                                                          # two options (x_copa)
    assert rankc_items([[0.0, -1.0]], [[-1.0, 0.0]]) == pytest.approx([w2[1]]) and w2[1] == pytest.approx(1 / (math.e + 1))
    assert rankc_chance(2) == pytest.approx(w2[0] * 0.5 + w2[1])
    # chance: the mean over all rankings of 3 options against a fixed one
    import itertools
    perms = list(itertools.permutations(range(3)))
    fixed = [[3.0, 2.0, 1.0]]
    mean = np.mean([rankc_items(fixed, [[3.0 - p.index(k) for k in range(3)]])[0] for p in perms])
    assert rankc_chance(3) == pytest.approx(mean)


def test_rankc_equals_the_independent_reference_on_random_scores():
    rng = np.random.default_rng(0)
    for k in (2, 4, 5):
        for _ in range(40):
            n = int(rng.integers(1, 15))
            a = rng.integers(-3, 3, size=(n, k)).astype(float)    # small integers: many ties
            b = rng.normal(size=(n, k)) if rng.random() < 0.5 else rng.integers(-3, 3, size=(n, k)).astype(float)
            assert rankc_items(a, b).mean() == pytest.approx(_reference_rankc(a.tolist(), b.tolist()), abs=1e-12)


def test_rankc_metrics_bootstrap_matches_a_naive_loop():
    rng = np.random.default_rng(1)
    en, de = rng.normal(size=(12, 4)), rng.normal(size=(12, 4))
    w = bootstrap_weights(12, 200, 0, "t")
    m = rankc_metrics([en, de, None], 0, w)
    assert m["rankc"][0] == pytest.approx(1.0) and np.isnan(m["rankc"][2])
    per_item = rankc_items(en, de)
    reps = [per_item[np.repeat(np.arange(12), row.astype(int))].mean() for row in w]
    assert m["rankc"][1] == pytest.approx(_reference_rankc(en.tolist(), de.tolist()))
    assert (m["rankc_lo"][1], m["rankc_hi"][1]) == pytest.approx((np.quantile(reps, 0.025), np.quantile(reps, 0.975)))
    assert np.isnan(rankc_metrics([None, de], 0, w)["rankc"]).all()             # no English scores: undefined


def _add_scores(tree, system, task, lang, scores):
    path = tree / task / FOLDER[task][lang] / result_name(system)
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    path.write_text("".join(json.dumps({**r, "scores": s}) + "\n" for r, s in zip(rows, scores)), encoding="utf-8")
    return path


def test_score_tree_reports_rankc_where_option_scores_are_stored(tiny_tree):
    en = [[0.0, -1.0, -2.0, -3.0]] * 4
    zh = [[0.0, -1.0, -2.0, -3.0], [-3.0, -2.0, -1.0, 0.0], [0.0, -1.0, -2.0, -3.0], [0.0, -1.0, -2.0, -3.0]]
    _add_scores(tiny_tree, "sysA", "x_geo", "en", en)
    _add_scores(tiny_tree, "sysA", "x_geo", "zh", zh)
    s = score_tree(tiny_tree, langs=("en", "zh", "de", "he"), n_boot=50).summary.set_index(["system", "task", "lang"])
    assert s.loc[("sysA", "x_geo", "en"), "rankc"] == 1.0
    assert s.loc[("sysA", "x_geo", "zh"), "rankc"] == pytest.approx(_reference_rankc(en, zh))
    assert s.loc[("sysA", "x_geo", "zh"), "rankc_lo"] <= s.loc[("sysA", "x_geo", "zh"), "rankc"]
    assert np.isnan(s.loc[("sysA", "x_geo", "de"), "rankc"])                    # de stores no scores
    assert s.loc[("chatgpt", "x_geo", "zh")][["rankc", "rankc_lo", "rankc_hi"]].isna().all()


def test_malformed_scores_are_a_clear_error(tiny_tree):
    path = _add_scores(tiny_tree, "sysA", "x_geo", "en", [[0.0, 1.0, 2.0]] + [[0.0] * 4] * 3)
    with pytest.raises(DataError, match="expected 4 finite numbers") as e:
        score_tree(tiny_tree, langs=("en", "zh"), n_boot=10)
    assert f"{path}:1:" in str(e.value)
