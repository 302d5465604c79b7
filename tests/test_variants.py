"""clika_utils.experiments.pretraining_variants and instruction_tuning: claim construction from the lineage, live-run checks, verdict logic."""

import pandas as pd
import pytest

from clika_utils import corpus, lineage
from clika_utils.experiments import instruction_tuning as IT
from clika_utils.experiments import pretraining_variants as PT
from clika_utils.experiments import shared
from clika_utils.errors import ConfigError


def test_stored_claims_use_the_lineage_pairs():
    systems = set(lineage.table().system)
    claims = {c.claim: c for c in PT.pretraining_claims(systems)}
    assert ("chinese_llama_7b", "llama_7b", "zh") in claims["1a ra"].pairs
    assert claims["1a ra"].group == "target" and claims["1b ra"].direction == -1
    assert [p[:2] for p in claims["1c ra"].pairs] == [p[:2] for p in PT.MIXED_VS_CONTINUED]
    multi, english = IT.instruction_pairs(systems)
    assert ("bloomz_7b1", "bloom_7b1", "multi") in multi and ("Stanford_Alpaca", "llama_7b", "en") in english
    assert not any(p[0] == "bigtranslate" for p in multi)          # not a clean instruction-tuning delta
    # a lineage system without outputs drops out of the pairs instead of raising later
    assert not any("m_llama" in p[:2] for p in IT.instruction_pairs(systems - {"m_llama"})[0])


def test_nll_claims_directions():
    rows = []
    for system, shift in (("base", {"zh": 0, "de": 0, "fr": 0}), ("cpt", {"zh": -5, "de": 3, "fr": 3}),
                          ("mixed", {"zh": -1, "de": -1, "fr": -1})):
        for lang, s in shift.items():
            rows += [{"system": system, "lang": lang, "doc": f"d{i}", "nll": 20.0 + s + (i % 3), "tokens": 10}
                     for i in range(12)]
    cmp = corpus.NLLComparison(pd.DataFrame(rows), [("cpt", "base"), ("mixed", "base"), ("mixed", "cpt")], 100, 0)
    out = PT.nll_claims(cmp, "cpt", "mixed", "base", "zh", ["en", "de", "fr", "zh"]).set_index("claim")
    assert out.loc["1a nll", "delta"] == pytest.approx(-0.5) and out.loc["1a nll", "verdict"] == "supported"
    assert out.loc["1b nll", "delta"] == pytest.approx(0.3) and out.loc["1b nll", "verdict"] == "supported"
    assert out.loc["1c nll", "delta"] == pytest.approx(-0.4) and out.loc["1c nll", "verdict"] == "supported"
    assert out.loc["1b nll", "cells"] == 2                      # de, fr (en absent, zh is the target)


def test_live_runs_refuse_bad_settings(tmp_path):
    with pytest.raises(ConfigError, match="must be a non-English language among mix_langs"):
        PT.pretraining_live("tiny-llama", tmp_path, tmp_path, tmp_path, tmp_path, label="t", target="fr",
                           mix_langs=["en", "de"], budget=10, block=8, heldout_fraction=0.2, train_config={},
                           eval_limit=1)
    with pytest.raises(ConfigError, match="max_steps is required"):
        IT.instruction_live("tiny-llama", tmp_path, tmp_path, tmp_path, label="t", it_langs=["en", "de"],
                           train_facts=4, heldout_fraction=0.3, probe_items=2, train_config={"lr": 0.1},
                           eval_limit=1)
    with pytest.raises(ConfigError, match="must include 'en'"):
        IT.instruction_live("tiny-llama", tmp_path, tmp_path, tmp_path, label="t", it_langs=["de", "fr"],
                           train_facts=4, heldout_fraction=0.3, probe_items=2, train_config={"max_steps": 1},
                           eval_limit=1)


def test_verdict_lines_state_the_numbers():
    claims = pd.DataFrame([{"claim": "1a ra", "statement": "S", "cells": 4, "n": 30, "delta": 0.1, "delta_lo": 0.05,
                            "delta_hi": 0.2, "margin": 0.05, "mde": 0.0712, "verdict": "supported", "reason": ""},
                           {"claim": "1c ra", "statement": "T", "cells": 0, "n": 0, "delta": float("nan"),
                            "delta_lo": float("nan"), "delta_hi": float("nan"), "margin": 0.05, "mde": float("nan"),
                            "verdict": "not measurable", "reason": "no pair available"}])
    lines = shared.verdict_lines(claims, "stored")
    assert lines[0] == ("[stored] 1a ra: S — mean Δ +0.100 [+0.050, +0.200] over 4 cells (30 items per language; "
                        "δ 0.05, detectable 0.071): SUPPORTED.")
    assert lines[1] == "[stored] 1c ra: T — no pair available: NOT MEASURABLE."


def test_the_judge_check_of_the_stored_claims_names_each_verdict_that_flips():
    """04/05 decide every stored claim again on answers read by the look-alike judge: a row whose verdict differs
    is named with both verdicts, and when none differs one sentence says so."""
    official = pd.DataFrame({"claim": ["a", "b"], "verdict": ["supported", "inconclusive"], "delta": [-0.1, 0.02]})
    same = shared.judge_table(official, official.iloc[::-1])
    assert not same["depends_on_judge"].any() and list(same["verdict_lookalike"]) == ["supported", "inconclusive"]
    assert shared.judge_note(same) == ["No stored verdict depends on the judge: read with the lookalike judge "
                                       "(Cyrillic/full-width letters that look like the option letter count as it), "
                                       "all 2 stored rows keep their verdict."]
    flipped = shared.judge_table(official, official.assign(verdict=["supported", "contradicted"], delta=[-0.1, -0.2]))
    assert list(flipped["depends_on_judge"]) == [False, True] and flipped["delta_lookalike"].iloc[1] == -0.2
    assert shared.judge_note(flipped) == ["Stored verdict that depends on the judge: b — inconclusive (official) vs "
                                          "contradicted (lookalike judge)."]
    assert shared.judge_note(None) == []
