"""clika_utils.scaling (laws, fits, bootstrap, model choice, bad input) and clika_utils.allocation
(exactness against brute force on small grids, baselines, bad input)."""

import itertools

import numpy as np
import pandas as pd
import pytest

from clika_utils import allocation, scaling
from clika_utils.errors import ConfigError, DataError

SIZES = [100, 200, 400, 800, 1600, 3200, 6400]


def _table(truth, law, noise=0.3, seeds=2, seed=0):
    rng = np.random.default_rng(seed)
    rows = []
    for lang in truth:
        for x in SIZES:
            for s in range(seeds):
                y = scaling._curve(law, truth[lang], lang, np.array([x], float))[0]
                rows.append({"lang": lang, "size": x, "seed": s, "metric": "chrf", "value": y + rng.normal(0, noise)})
    return pd.DataFrame(rows)


def test_loglinear_cis_cover_the_known_parameters():
    truth = {"ar": {"a[ar]": 3.0, "b[ar]": -5.0}}
    covered = []
    for rep in range(40):
        f = scaling.fit(_table(truth, "loglinear", noise=0.5, seed=rep), "loglinear", n_boot=200, seed=rep)
        t = scaling.param_table(f).set_index("param")
        covered += [t.lo[n] <= v <= t.hi[n] for n, v in truth["ar"].items()]
    assert np.mean(covered) >= 0.85, np.mean(covered)     # nominal 95 %; small-sample bootstrap runs a bit under
    # exact on noise-free data
    g = scaling.fit(_table(truth, "loglinear", noise=0.0), "loglinear")
    assert g.params["a[ar]"] == pytest.approx(3.0) and g.params["b[ar]"] == pytest.approx(-5.0)


def test_power_law_recovers_known_parameters_and_is_preferred_by_bic():
    truth = {"zh": {"Pinf[zh]": 60.0, "A[zh]": 900.0, "alpha[zh]": 0.8, "x0[zh]": 50.0}}
    df = _table(truth, "power", noise=0.3, seeds=2)
    f = scaling.fit(df, "power", n_boot=100, seed=2)
    assert f.converged
    t = scaling.param_table(f).set_index("param")
    for name in ("Pinf[zh]", "alpha[zh]"):
        assert t.lo[name] <= truth["zh"][name] <= t.hi[name], (name, t.loc[name].to_dict())
    band = scaling.prediction_band(f, "zh", [100, 6400, 50000])
    assert (band.lo <= band.pred).all() and (band.pred <= band.hi).all()
    cmp = scaling.compare_laws(df, laws=("loglinear", "power"))
    assert cmp.set_index("law").preferred["power"]


def test_shared_exponent_law_and_covariate():
    truth = {"alpha": 0.6, "x0": 10.0, "Pinf[ar]": 40.0, "Pinf[zh]": 55.0, "A[ar]": 300.0, "A[zh]": 500.0}
    rows = []
    for lang in ("ar", "zh"):
        for x in SIZES:
            rows.append({"lang": lang, "size": x, "seed": 0, "metric": "bleu",
                         "value": scaling._curve("shared", truth, lang, np.array([x], float))[0]})
    df = pd.DataFrame(rows)
    f = scaling.fit(df, "shared")
    assert f.converged and f.params["alpha"] == pytest.approx(0.6, rel=1e-3)
    assert f.k == scaling.n_params("shared", 2) == 6
    cov = {"ar": 0.0, "zh": 1.0}
    g = scaling.fit(df, "shared", covariate=cov)
    assert g.params["c0"] == pytest.approx(40.0, rel=1e-3) and g.params["c1"] == pytest.approx(15.0, rel=1e-2)
    with pytest.raises(ConfigError, match="covariate applies to the shared law"):
        scaling.fit(df, "power", covariate=cov)


def test_the_no_growth_baseline_predicts_the_largest_size_by_the_next_largest():
    df = pd.DataFrame({"lang": ["a"] * 4 + ["b"] * 3, "size": [1, 2, 4, 4, 1, 2, 4], "seed": [0, 0, 0, 1, 0, 0, 0],
                       "metric": "chrf++", "value": [1.0, 2.0, 3.0, 5.0, 1.0, 1.0, 1.0]})
    base = scaling.no_growth_baseline(df).set_index("lang")
    assert base.loc["a", "predicted"] == 2.0 and base.loc["a", "observed"] == 4.0 and base.loc["a", "abs_error"] == 2.0
    assert base.loc["b", "abs_error"] == 0.0


def test_leave_largest_out_error_is_the_prediction_error():
    truth = {"ar": {"a[ar]": 2.0, "b[ar]": 1.0}}
    df = _table(truth, "loglinear", noise=0.0, seeds=1)
    lolo = scaling.leave_largest_out(df, "loglinear")
    assert lolo.abs_error[0] == pytest.approx(0.0, abs=1e-9) and lolo["size"][0] == 6400


def test_bad_input_is_a_clear_error(tmp_path):
    df = _table({"ar": {"a[ar]": 1.0, "b[ar]": 0.0}}, "loglinear", seeds=1)
    with pytest.raises(DataError, match="4 parameters but only"):
        scaling.fit(df.head(3).assign(lang=["ar", "zh", "zh"]), "loglinear")
    with pytest.raises(DataError, match="power law has 4 parameters but only 3"):
        scaling.fit(df.head(3), "power")
    bad = df.copy()
    bad.loc[2, "size"] = 0
    with pytest.raises(DataError, match="table:4: size must be > 0"):
        scaling.fit(bad, "loglinear")
    bad = df.copy()
    bad.loc[1, "value"] = np.nan
    with pytest.raises(DataError, match="table:3: value is not a finite number"):
        scaling.fit(bad, "loglinear")
    (tmp_path / "t.csv").write_text("lang,size,value\nar,100,3\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"t.csv: missing column\(s\) \['seed', 'metric'\]"):
        scaling.read_table(tmp_path / "t.csv")
    with pytest.raises(ConfigError, match="unknown law"):
        scaling.fit(df, "cubic")


@pytest.mark.parametrize("law,cov", [("power", None), ("shared", None), ("shared", {"ar": 0.1, "vi": 0.9, "zh": 0.3})])
def test_analytic_jacobian_equals_finite_differences_and_the_curve(law, cov):
    from scipy.optimize._numdiff import approx_derivative
    rng = np.random.default_rng(1)
    langs = ("ar", "vi", "zh")
    names = scaling._names(law, langs, cov is not None)
    lang_idx = np.repeat(langs, 4)
    x = np.tile([3.0, 12.0, 48.0, 300.0], 3)
    theta = np.array([rng.uniform(0.2, 1.5) if n.startswith("alpha") else rng.uniform(0.5, 20) if n.startswith("x0")
                      else rng.uniform(5, 60) for n in names])
    residuals, jacobian = scaling._power_terms(law, names, lang_idx, cov)
    y = rng.normal(size=len(x))
    p = dict(zip(names, theta))
    curve = np.concatenate([scaling._curve(law, p, lang, x[lang_idx == lang], cov) for lang in langs])
    assert np.allclose(residuals(theta, x, y), curve - y)
    numeric = approx_derivative(lambda t: residuals(t, x, y), theta, method="3-point")
    assert np.allclose(jacobian(theta, x), numeric, rtol=1e-6, atol=1e-8)


def test_non_converging_fit_is_reported_not_plotted(monkeypatch):
    import scipy.optimize
    df = _table({"zh": {"Pinf[zh]": 60.0, "A[zh]": 400.0, "alpha[zh]": 0.5, "x0[zh]": 50.0}}, "power")

    class Failed:
        success, x, cost, message = False, np.zeros(4), 0.0, "max evaluations"
    monkeypatch.setattr(scipy.optimize, "least_squares", lambda *a, **k: Failed())
    f = scaling.fit(df, "power")
    assert not f.converged and "max evaluations" in f.message
    with pytest.raises(ConfigError, match="did not converge"):
        f.predict("zh", [100])
    assert not scaling.param_table(f).converged[0]


# --- allocation ---------------------------------------------------------------------------------

def _brute(laws, budget, minimums, weights, unit):
    langs = sorted(laws)
    best = -np.inf
    grids = [range(minimums.get(lang, 0), budget + 1, unit) for lang in langs]
    for xs in itertools.product(*grids):
        if sum(xs) <= budget:
            best = max(best, sum(weights.get(lang, 1.0) * float(laws[lang](np.array([x], float))[0])
                                 for lang, x in zip(langs, xs)))
    return best


CASES = [
    ({"ar": lambda x: 3 * np.log1p(x), "zh": lambda x: 5 * np.log1p(x / 2)}, 10, {}, {}, 1),
    ({"ar": lambda x: 10 - 8 * (x + 1) ** -0.5, "el": lambda x: 7 - 9 * (x + 2) ** -0.8,
      "zh": lambda x: 12 - 11 * (x + 1) ** -0.3}, 12, {"el": 2}, {"zh": 0.5}, 1),
    ({"ar": lambda x: np.sqrt(x), "hi": lambda x: 0.5 * x ** 0.9, "tr": lambda x: -0.1 * x}, 12, {}, {}, 2),
    ({"ar": lambda x: (x >= 6) * 10.0, "zh": lambda x: 1.2 * x}, 10, {}, {}, 1),     # not concave: DP
    ({"ar": lambda x: x ** 2, "vi": lambda x: 3 * x}, 9, {"vi": 1}, {"ar": 0.4}, 1),   # convex: DP
]


@pytest.mark.parametrize("case", range(len(CASES)))
def test_optimal_equals_brute_force(case):
    laws, budget, minimums, weights, unit = CASES[case]
    got = allocation.optimal(laws, budget, minimums=minimums, weights=weights, unit=unit)
    assert sum(got.values()) <= budget and all(got[lang] >= minimums.get(lang, 0) for lang in got)
    assert allocation.objective(laws, got, weights) == pytest.approx(_brute(laws, budget, minimums, weights, unit))
    dp = allocation.optimal(laws, budget, minimums=minimums, weights=weights, unit=unit, method="dp")
    assert allocation.objective(laws, dp, weights) == pytest.approx(_brute(laws, budget, minimums, weights, unit))


def test_random_concave_cases_match_brute_force():
    rng = np.random.default_rng(0)
    for _ in range(40):
        laws = {}
        for lang in ("a", "b", "c")[: rng.integers(2, 4)]:
            p, A, al, x0 = rng.uniform(5, 20), rng.uniform(1, 15), rng.uniform(0.1, 1.5), rng.uniform(0.5, 5)
            laws[lang] = (lambda p, A, al, x0: lambda x: p - A * (x + x0) ** -al)(p, A, al, x0)
        budget = int(rng.integers(0, 13))
        got = allocation.optimal(laws, budget, method="greedy")
        assert allocation.objective(laws, got) == pytest.approx(_brute(laws, budget, {}, {}, 1))


def test_baselines_and_errors():
    assert allocation.uniform(["ar", "zh", "el"], 10) == {"ar": 4, "el": 3, "zh": 3}
    assert allocation.proportional({"ar": 1, "zh": 3}, 8) == {"ar": 2, "zh": 6}
    assert allocation.uniform(["ar", "zh"], 10, minimums={"ar": 4}, unit=2) == {"ar": 8, "zh": 2}
    laws = {"ar": np.sqrt, "zh": np.sqrt}
    with pytest.raises(ConfigError, match="below the sum of the minimums"):
        allocation.optimal(laws, 3, minimums={"ar": 2, "zh": 2})
    with pytest.raises(ConfigError, match="multiples of unit"):
        allocation.optimal(laws, 10, minimums={"ar": 3}, unit=2)
    with pytest.raises(ConfigError, match="non-finite"):
        allocation.optimal({"ar": lambda x: np.log(x - 1)}, 5)
    table = allocation.compare(laws, 10, resources={"ar": 1, "zh": 4})
    assert set(table.plan) == {"optimal", "uniform", "proportional"}
    obj = table.groupby("plan").objective.first()
    assert obj["optimal"] >= obj["uniform"] - 1e-12 and obj["optimal"] >= obj["proportional"] - 1e-12


# --- the training grid ------------------------------------------------------------------------------

def test_plan_puts_seeds_at_the_smallest_sizes():
    from clika_utils.experiments import scaling_laws as scaling_runs
    assert scaling_runs.plan([64, 8, 16, 32], seeds=2, n_small=2) == [(8, 0), (8, 1), (16, 0), (16, 1), (32, 0),
                                                                      (64, 0)]
    with pytest.raises(ConfigError, match="distinct positive"):
        scaling_runs.plan([0, 8], 2, 1)


@pytest.mark.data
def test_grid_on_a_tiny_model_nested_sets_tidy_table_and_reuse(real_clika, tmp_path, monkeypatch):
    import json
    from clika_utils.experiments import scaling_laws as scaling_runs
    monkeypatch.setenv("CLIKA_WORKDIR", str(tmp_path))
    kw = dict(langs=["zh"], sizes=[2, 4], seeds=2, n_small=1, test_pairs=3, task_facts=2, max_new_tokens=3,
              progress=False, train_config={"method": "lora", "lr": 0.01, "max_steps": 1, "micro_batch": 4,
                                            "precision": "fp32", "lora_r": 2, "lora_alpha": 4})
    args = ("tiny-llama", real_clika.parent, tmp_path / "jobs", tmp_path / "live")
    table, base = scaling_runs.run_grid(*args, **kw)
    assert list(table.columns) == list(scaling.COLUMNS)
    assert sorted(set(zip(table["size"], table.seed))) == [(2, 0), (2, 1), (4, 0)]
    assert set(table.metric) == {"chrf++", "bleu"} and set(base["size"]) == {0}
    scaling.check_table(table)

    def outputs(name):
        rows = [json.loads(line) for line in (tmp_path / "jobs" / "zh" / f"{name}.data.jsonl").open(encoding="utf-8")]
        return [r["response"] for r in rows]
    small, large = outputs("n2-s0"), outputs("n4-s0")
    assert small[:4] == large[:4] and set(small) <= set(large)    # same task data, nested translation sets
    assert outputs("n2-s1") != small
    monkeypatch.setattr(scaling_runs, "translate", lambda *a, **k: (_ for _ in ()).throw(AssertionError("not cached")))
    again, _ = scaling_runs.run_grid(*args, **kw)
    pd.testing.assert_frame_equal(again, table)
