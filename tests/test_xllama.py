"""clika_utils.xllama: relative gains (both documented variants) and the experiment end to end on a
tiny model, including reuse of cached evaluations."""

import numpy as np
import pandas as pd
import pytest

from clika_utils import qa, xllama
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
                         "em": v, "contains": v})
    g = xllama.qa_gains(pd.DataFrame(rows), label="t", langs=["ar", "zh"], pairs=[("x-llama", "alpaca")],
                        n_boot=200, seed=0).set_index(["metric", "how"])
    # ar: 0.75 vs 0.5 (+50 %); zh: 0.3 vs 0.2 (+50 %)
    assert g.loc[("f1", "mean_of_ratios"), "gain_pct"] == pytest.approx(50.0)
    assert g.loc[("f1", "ratio_of_means"), "gain_pct"] == pytest.approx(100 * (0.525 - 0.35) / 0.35)
    lo, hi = g.loc[("f1", "mean_of_ratios"), ["gain_lo", "gain_hi"]]
    assert lo <= 50.0 <= hi


@pytest.mark.data
def test_run_end_to_end_on_a_tiny_model_and_reuse(real_clika, tmp_path, monkeypatch):
    monkeypatch.setenv("CLIKA_WORKDIR", str(tmp_path))
    home = real_clika.parent
    kw = dict(label="tiny", langs=["ar", "zh"], task_facts=6, train_pairs=6, test_pairs=3, qa_items=3,
              qa_max_new_tokens=3, mt_max_new_tokens=3, n_boot=20, progress=False,
              train_config={"method": "lora", "lr": 0.01, "max_steps": 1, "micro_batch": 4, "precision": "fp32",
                            "lora_r": 2, "lora_alpha": 4})
    args = ("tiny-llama", home, tmp_path / "res", tmp_path / "models", tmp_path / "live")
    written = xllama.run(*args, **kw)
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
    xllama.run(*args, **kw)
    after = {n: (tmp_path / "res" / f"{n}.csv").read_bytes() for n in xllama.FILES}
    assert before == after
    assert stamp == adapters() and len(stamp) >= 8
    with pytest.raises(ConfigError, match="non-English target languages"):
        xllama.run(*args, **{**kw, "langs": ["en", "zh"]})
    with pytest.raises(ConfigError, match="unknown language code 'xx'"):
        xllama.run(*args, **{**kw, "langs": ["xx"]})
