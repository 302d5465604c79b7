"""The claims table's aggregation, cluster bootstrap and change log (clika_utils.claims,
scripts/compare_claims.py) on constructed tables — each rule with a case the old behaviour got wrong."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from clika_utils import claims

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("verdicts, word", [
    (["supported", "supported"], "supported"),
    (["contradicted"], "contradicted"),
    (["no effect", "negligible"], "no effect"),
    (["supported", "inconclusive"], "partly supported (1 of 2)"),       # the old rule said "supported"
    (["supported", "not measurable", "supported"], "partly supported (2 of 3)"),
    (["contradicted", "inconclusive", "no effect"], "partly contradicted (1 of 3)"),
    (["negligible", "inconclusive"], "partly no effect (1 of 2)"),
    (["supported", "contradicted", "no effect"], "mixed"),
    (["inconclusive", "not measurable"], "open"),
    ([], "—"),
])
def test_a_claim_is_supported_only_when_every_row_is(verdicts, word):
    assert claims.overall(pd.Series(verdicts, dtype=object)) == word


def test_stored_and_live_rows_never_vote_together():
    t = pd.DataFrame({"paper": "CLiKA", "notebook": ["01", "01", "01"], "source": ["stored", "live", "live"],
                      "claim": ["LLMs are less accurate in non-English languages than in English (RA < 1)"] * 3,
                      "headline": "Non-English answers are less accurate", "verdict": ["supported", "contradicted", "contradicted"]})
    h = claims.headlines(t).iloc[0]
    assert h.stored_verdict == "supported" and h.live_verdict == "contradicted"   # the old rule: one "mixed"
    assert "stored outputs **supported**, live runs **contradicted**" in claims.headline_sentence(h)


def test_the_cluster_bootstrap_resamples_systems_not_cells():
    """Twenty cells each from six systems whose cells are all alike: the cells are not 120 independent values, so
    the interval over systems is several times wider than the one over cells."""
    rng = np.random.default_rng(0)
    level = rng.normal(size=6)
    values = np.repeat(level, 20) + rng.normal(scale=0.01, size=120)
    groups = np.repeat(list("abcdef"), 20)
    m1, cells = claims.mean_summary(values)
    m2, systems = claims.mean_summary(values, groups=groups)
    assert m1 == m2 == pytest.approx(values.mean())
    assert (systems["hi"] - systems["lo"]) > 3 * (cells["hi"] - cells["lo"])
    assert systems["lo"] <= level.min() + 1 and systems["hi"] >= level.mean()


def _table(verdicts):
    return pd.DataFrame({"notebook": ["04", "04", "09"], "source": ["stored", "live", "live"],
                         "claim": ["a", "a", "b"], "metric": ["ra", "ra", "x"], "verdict": verdicts,
                         "measured": ["m1", "m2", "m3"], "ci": ["[1, 2]", "", "[0, 1]"]})


def test_the_change_log_lists_every_flip(tmp_path):
    old, new = _table(["contradicted", "inconclusive", "supported"]), _table(["no effect", "inconclusive", "supported"])
    new = pd.concat([new.iloc[:2], pd.DataFrame([{"notebook": "09", "source": "live", "claim": "c", "metric": "x",
                                                   "verdict": "negligible", "measured": "m4", "ci": ""}])])
    d = claims.changes(old, new)
    assert [(r.claim, r.verdict_old, r.verdict_new) for r in d.itertuples()] == [
        ("a", "contradicted", "no effect"), ("b", "supported", "absent"), ("c", "absent", "negligible")]
    text = claims.changes_markdown(d)
    assert "04 stored · a [ra]: contradicted (m1 [1, 2]) → no effect (m1 [1, 2])" in text and "→ —" in text
    assert claims.changes_markdown(claims.changes(old, old)) == "No verdict changed."
    old.to_csv(tmp_path / "old.csv", index=False)
    new.to_csv(tmp_path / "new.csv", index=False)
    run = subprocess.run([sys.executable, str(ROOT / "scripts" / "compare_claims.py"), str(tmp_path / "old.csv"),
                          str(tmp_path / "new.csv")], capture_output=True, text=True, check=False)
    assert run.returncode == 0 and run.stdout.strip() == text
    (tmp_path / "bad.csv").write_text("x,y\n1,2\n", encoding="utf-8")
    run = subprocess.run([sys.executable, str(ROOT / "scripts" / "compare_claims.py"), str(tmp_path / "bad.csv"),
                          str(tmp_path / "new.csv")], capture_output=True, text=True, check=False)
    assert run.returncode == 2 and run.stderr.startswith(f"error: {tmp_path / 'bad.csv'}:1:") and "Traceback" not in run.stderr


def test_the_consistency_claim_of_notebook_01_can_come_out_either_way(tmp_path):
    """en-CO beyond chance below 0.5 (the claim): systems near independence support it, systems whose correct sets
    nest contradict it — the old reading (RA − en-CO > 0) held for every possible table."""
    from clika_utils.experiments import performance_consistency as pc

    def rows(co):
        out = tmp_path / f"r{co}"
        out.mkdir()
        pd.DataFrame([{"system": s, "task": "x_geo", "lang": lang, "accuracy_lo": 0.8 if lang == "en" else 0.5,
                       "ra": 1.0 if lang == "en" else 0.7, "co_kappa": 1.0 if lang == "en" else co + 0.01 * k}
                      for k, s in enumerate("abcd") for lang in ("en", "de", "zh")]).to_csv(out / "summary.csv",
                                                                                         index=False)
        return {r["metric"]: r for r in pc.claim_rows(out)}
    assert rows(0.05)["co_kappa"]["verdict"] == "supported"
    assert rows(0.95)["co_kappa"]["verdict"] == "contradicted"


def test_every_claim_is_declared_once_with_a_unique_key_and_its_rows_are_built_from_the_declaration(tmp_path):
    """One declaration per claim (key, statement, metric, direction, headline): keys are unique over the project,
    the Δ claims of 04/05 (stored, live, probe, held-out loss) are built from it and resolve back to it by key,
    and a row's statement and headline come from the declaration, not from a copy in a results table."""
    from clika_utils import experiments
    from clika_utils.experiments import pretraining_variants as pv
    from clika_utils.experiments.shared import claims_table_rows, delta_claims
    keys = [c.key for nb in experiments.NOTEBOOKS for c in getattr(experiments.module(nb), "CLAIMS", [])]
    assert len(keys) == len(set(keys)) >= 15
    built = delta_claims(pv.CLAIMS, {"1a": [("a", "b", "zh")], "1c": [("m", "a", "zh")]})
    assert [c.claim for c in built] == ["1a accuracy", "1a ra", "1a co_kappa", "1c ra", "1c co_kappa"]
    assert built[0].statement == "Continued pretraining raises the target language's accuracy (PF)"
    assert [c.direction for c in built] == [1, 1, 1, 1, 1] and built[3].group == "others"
    # a results table whose statement text is stale still gives the declared statement and headline
    table = pd.DataFrame([{"claim": "1b ra", "statement": "an old wording", "metric": "ra", "cells": 3, "units": 3,
                           "n": 30, "delta": -0.2, "delta_lo": -0.3, "delta_hi": -0.1, "mde": 0.05, "margin": 0.1,
                           "verdict": "supported", "reason": "", "pairs": "a vs b"}])
    table.to_csv(tmp_path / "stored_claims.csv", index=False)
    (r,) = claims_table_rows(tmp_path, "04_x", ("stored_claims",), pv.CLAIMS)
    assert r["claim"] == "Continued pretraining lowers the other languages' RA (PF)" and r["key"] == "1b"
    assert r["headline"] == "Continued pretraining hurts the other languages"
    table.assign(claim="9z ra").to_csv(tmp_path / "stored_claims.csv", index=False)
    from clika_utils.errors import ConfigError
    with pytest.raises(ConfigError, match="names no declared claim"):
        claims_table_rows(tmp_path, "04_x", ("stored_claims",), pv.CLAIMS)
    with pytest.raises(ConfigError, match="declared PaperClaim"):
        claims.row("a free text", "04_x")
