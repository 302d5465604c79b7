"""clika_utils.experiments.representation_alignment: pooling over real tokens only, CKA against an independent (HSIC)
formulation, retrieval and cosine gap by hand, peak layer, cache, bad input."""

import numpy as np
import pytest

from clika_utils.experiments import representation_alignment as rep
from clika_utils.errors import ConfigError, DataError
from clika_utils.models import build_tiny_model, load_model


@pytest.fixture(scope="module")
def tiny_lm(tmp_path_factory):
    return load_model(str(build_tiny_model(tmp_path_factory.mktemp("tiny") / "m")), device="cpu", dtype="float32")


def _hsic_cka(x, y):
    """CKA as HSIC of centred linear kernels: tr(KHLH) / sqrt(tr(KHKH) tr(LHLH))."""
    n = len(x)
    h = np.eye(n) - np.ones((n, n)) / n
    k, l_ = x @ x.T, y @ y.T
    kc, lc = h @ k @ h, h @ l_ @ h
    return np.trace(kc @ lc) / np.sqrt(np.trace(kc @ kc) * np.trace(lc @ lc))


def test_cka_matches_hsic_and_its_invariances():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(30, 8)), rng.normal(size=(30, 5))
    assert rep.linear_cka(x, y) == pytest.approx(_hsic_cka(x, y), abs=1e-12)
    q, _ = np.linalg.qr(rng.normal(size=(8, 8)))
    assert rep.linear_cka(x, 3.0 * x @ q + 2.0) == pytest.approx(1.0)    # orthogonal, scale, shift invariant
    assert 0 <= rep.linear_cka(x, y) < 0.6


def test_retrieval_and_cosine_gap_by_hand():
    x = {0: np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])}
    y = {0: np.array([[1.0, 0.1], [1.0, 0.0], [1.0, 1.0]])}
    sim = rep.cosine_matrix(x[0], y[0])
    rxy, ryx = rep.retrieval(sim)
    assert rxy.tolist() == [0.0, 0.0, 1.0]          # x0 prefers y1 (exactly parallel); x1 prefers y2
    assert ryx.tolist() == [1.0, 0.0, 1.0]          # y0 is closest to x0; y1 (=x0's direction) too; y2 to x2
    t = rep.alignment(x, y, n_boot=0).iloc[0]
    matched = np.diag(sim)
    off = (sim.sum(1) - matched) / 2
    assert t.cos_gap == pytest.approx((matched - off).mean()) and t.retrieval_xy == pytest.approx(1 / 3)
    assert t.retrieval_yx == pytest.approx(2 / 3)


def test_peak_layer_finds_the_planted_layer():
    rng = np.random.default_rng(1)
    base = rng.normal(size=(40, 16))
    xs, ys = {}, {}
    for k, noise in enumerate([3.0, 1.0, 0.1, 1.0, 3.0]):
        xs[k] = base + rng.normal(scale=noise, size=base.shape)
        ys[k] = base + rng.normal(scale=noise, size=base.shape)
    p = rep.peak_layer(xs, ys, "cos_gap", n_boot=200)
    assert p["peak"] == 2 and p["peak_lo"] == p["peak_hi"] == 2 and p["share"][2] == 1.0
    t = rep.alignment(xs, ys, n_boot=200)
    assert t.set_index("layer").retrieval_xy.idxmax() == 2 and (t.cos_gap_lo <= t.cos_gap).all()


def test_pooling_ignores_padding_and_bos(tiny_lm, tmp_path):
    import torch
    sents = ["hello world, a longer sentence here", "hi", "ok then"]
    together = rep.pooled_states(tiny_lm, sents, batch_size=3)
    alone = [rep.pooled_states(tiny_lm, [s], batch_size=1) for s in sents]
    for k in together:
        for i in range(3):
            np.testing.assert_allclose(together[k][i], alone[i][k][0], atol=1e-5)
    ids = tiny_lm.tokenizer(sents[1], add_special_tokens=False).input_ids
    bos = [tiny_lm.tokenizer.bos_token_id] if tiny_lm.tokenizer.bos_token_id is not None else []
    with torch.inference_mode():
        hs = tiny_lm.model.base_model(input_ids=torch.tensor([bos + ids]), output_hidden_states=True).hidden_states
    last = max(together)
    np.testing.assert_allclose(together[last][1], hs[last][0, len(bos):].mean(0).numpy(), atol=1e-5)
    cached = rep.pooled_states(tiny_lm, sents, cache_dir=tmp_path)
    again = rep.pooled_states(tiny_lm, sents, cache_dir=tmp_path, layers=[0, last])
    assert set(again) == {0, last} and np.array_equal(again[last], cached[last])


def test_bad_input(tiny_lm):
    with pytest.raises(DataError, match="sentence 2 .* tokenizes to nothing"):
        rep.pooled_states(tiny_lm, ["ok", ""])
    with pytest.raises(ConfigError, match="out of range"):
        rep.pooled_states(tiny_lm, ["ok"], layers=[99])
    with pytest.raises(DataError, match="same count"):
        rep.alignment({0: np.ones((3, 2))}, {0: np.ones((2, 2))})
    with pytest.raises(ConfigError, match="peak_layer metric must be one of"):
        rep.peak_layer({0: np.eye(3)}, {0: np.eye(3)}, "cka")


def test_the_centred_cosine_gap_sees_alignment_that_anisotropy_hides():
    """States that share one dominant direction (anisotropy, strongest in layer 1) plus a translation signal of the
    same size in both layers: the raw cosine gap shrinks where the shared direction is larger — its "peak" is the
    isotropic layer 0 — while the mean-centred gap, which removes the shared direction, is the same in both
    layers (so a raw-gap peak can be an anisotropy artefact, issue 28)."""
    rng = np.random.default_rng(5)
    signal = rng.normal(size=(60, 32))
    xs, ys = {}, {}
    for k, common in enumerate([0.0, 30.0]):
        shared = np.zeros(32)
        shared[0] = common
        xs[k] = signal + shared + rng.normal(scale=0.5, size=signal.shape)
        ys[k] = signal + shared + rng.normal(scale=0.5, size=signal.shape)
    t = rep.alignment(xs, ys, n_boot=0).set_index("layer")
    assert t.cos_gap[1] < 0.2 * t.cos_gap[0]                                  # the raw gap collapses
    assert t.cos_gap_centred[1] == pytest.approx(t.cos_gap_centred[0], rel=0.15)
    assert rep.peak_layer(xs, ys, "cos_gap", n_boot=50)["peak"] == 0
    sim = rep.cosine_matrix(xs[1], ys[1], centred=True)
    x0, y0 = xs[1] - xs[1].mean(0), ys[1] - ys[1].mean(0)
    assert sim[3, 4] == pytest.approx(x0[3] @ y0[4] / np.linalg.norm(x0[3]) / np.linalg.norm(y0[4]))


def test_the_family_is_one_pooled_estimate():
    """The base and its variants on the same pairs give one row per metric: the mean advantage over systems and
    languages, its replicates averaged the same way — not one verdict per system."""
    reps = {s: np.linspace(-1, 1, 11) * w + a for s, (a, w) in {"base": (0.1, 0.02), "v": (0.3, 0.04)}.items()}
    adv = {(s, "retrieval"): [("de", a, reps[s], 32), ("zh", a, reps[s], 32)]
           for s, a in (("base", 0.1), ("v", 0.3))}
    fam = rep.family_table(adv).set_index("metric")
    assert list(fam.index) == ["retrieval"] and fam.systems.iloc[0] == 2 and fam.names.iloc[0] == "base+v"
    assert fam.advantage.iloc[0] == pytest.approx(0.2)
    pooled = (reps["base"] + reps["v"]) / 2
    assert fam.se.iloc[0] == pytest.approx(pooled.std(ddof=1))


def test_region_thirds_and_peak_verdict_inputs():
    assert [rep.region(k, 18) for k in (0, 5, 6, 11, 12, 18)] == ["early", "early", "middle", "middle", "late", "late"]


@pytest.mark.data
def test_parallel_sentences_are_aligned_and_mismatches_are_errors(real_clika, tmp_path):
    home = real_clika.parent
    out, inputs = rep.parallel_sentences(home, ["de", "zh"], source="xquad", n=5, seed=0)
    assert out["de"][0] == out["zh"][0] and len(out["de"][1]) == 5     # the same English questions
    assert all(p.exists() for p in inputs)
    tat, _ = rep.parallel_sentences(home, ["de"], source="tatoeba", n=0, seed=0)
    assert len(tat["de"][0]) == len(tat["de"][1]) > 5
    import json
    import shutil
    (tmp_path / "xquad").mkdir()
    shutil.copy(home / "xquad" / "xquad.en.json", tmp_path / "xquad" / "xquad.en.json")
    de = json.loads((home / "xquad" / "xquad.de.json").read_text(encoding="utf-8"))
    qas = de["data"][0]["paragraphs"][0]["qas"]
    qas.pop(0)                                                          # one question id missing in German
    (tmp_path / "xquad" / "xquad.de.json").write_text(json.dumps(de, ensure_ascii=False), encoding="utf-8")
    with pytest.raises(DataError, match="not parallel"):
        rep.parallel_sentences(tmp_path, ["de"], source="xquad", n=0, seed=0)
    with pytest.raises(ConfigError, match="source must be"):
        rep.parallel_sentences(home, ["de"], source="flores", n=3, seed=0)


def test_find_systems_keeps_finished_jobs_of_this_base_only(tmp_path):
    import json
    from clika_utils.models import fingerprint
    base = build_tiny_model(tmp_path / "base")
    other = build_tiny_model(tmp_path / "other", seed=1)
    root = tmp_path / "models" / "06_x"
    for name, status, fp in (("done", "complete", fingerprint(str(base))), ("running", "running", fingerprint(str(base))),
                             ("foreign", "complete", fingerprint(str(other)))):
        (root / name).mkdir(parents=True)
        (root / name / "train.json").write_text(json.dumps({"status": status, "job": {"fingerprint": fp}}),
                                                encoding="utf-8")
    found = rep.find_systems(str(base), [root, tmp_path / "absent"])
    assert found == {"base": None, "06:done": str(root / "done")}
