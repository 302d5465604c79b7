"""CLiKA for lm-evaluation-harness: export (data + YAML), import of --log_samples output, the round
trip against `clika evaluate --method letter`, and bad samples."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from clika_utils import lmeval
from clika_utils.cli import main
from clika_utils.errors import ConfigError, DataError
from clika_utils.evaluate import evaluate

ROOT = Path(__file__).resolve().parent.parent


def _fake_samples(export_dir: Path, out: Path, scores_of) -> Path:
    """lm-eval's --log_samples layout, written from the exported documents and given log-likelihoods."""
    out.mkdir(parents=True, exist_ok=True)
    for data in sorted(export_dir.glob("x_*/*.jsonl")):
        task, lang = data.parent.name, data.stem
        lines = []
        for k, doc in enumerate(json.loads(x) for x in data.read_text(encoding="utf-8").splitlines()):
            lls = scores_of(task, lang, doc)
            lines.append(json.dumps({"doc_id": k, "doc": doc, "target": doc["gold"], "arguments": [],
                                     "resps": [[[v, False]] for v in lls], "filtered_resps": [[v, False] for v in lls],
                                     "acc": 1.0}, ensure_ascii=False))
        (out / f"samples_clika_{task}_{lang}_2026-12-01T00-00-00.jsonl").write_text("\n".join(lines) + "\n",
                                                                                     encoding="utf-8")
    return out


def test_export_writes_data_and_yaml_only(item_tree, tmp_path):
    counts = lmeval.export(item_tree, tmp_path / "tasks", tasks=["x_geo", "x_copa"], langs=["en", "zh"])
    assert counts == {"clika_x_geo_en": 5, "clika_x_geo_zh": 5, "clika_x_copa_en": 3, "clika_x_copa_zh": 3}
    files = sorted(p.relative_to(tmp_path / "tasks").as_posix() for p in (tmp_path / "tasks").rglob("*") if p.is_file()
                   and p.name != ".clika.lock")
    assert all(f.endswith((".yaml", ".jsonl", ".json")) for f in files)          # no code to import
    cfg = yaml.safe_load((tmp_path / "tasks" / "x_geo" / "clika_x_geo_zh.yaml").read_text(encoding="utf-8"))
    assert cfg["output_type"] == "multiple_choice" and cfg["target_delimiter"] == "" and cfg["doc_to_choice"] == "choices"
    doc = json.loads((tmp_path / "tasks" / "x_geo" / "zh.jsonl").read_text(encoding="utf-8").splitlines()[1])
    assert doc["choices"] == ["A", "B", "C", "D"] and doc["gold"] == 1 and doc["prompt"].endswith("Answer:")
    group = yaml.safe_load((tmp_path / "tasks" / "clika.yaml").read_text(encoding="utf-8"))
    assert group["group"] == "clika" and group["task"] == ["clika_x_copa", "clika_x_geo"]
    text = lmeval.export(item_tree, tmp_path / "text", tasks=["x_copa"], langs=["en"], method="text")
    doc = json.loads((tmp_path / "text" / "x_copa" / "en.jsonl").read_text(encoding="utf-8").splitlines()[0])
    assert text == {"clika_x_copa_en": 3} and doc["choices"][0] == "A. It was fragile."


def test_import_of_samples_gives_the_official_layout_and_scores(tiny, item_tree, tmp_path):
    """Samples carrying our own letter log-probabilities import to predictions and scores equal to
    clika evaluate's, and clika score reads them (accuracy, RankC)."""
    evaluate(tiny, item_tree, tmp_path / "ours", tasks=["x_geo"], langs=["en", "zh"], method="letter", system="t",
             progress=False)
    ours = {lang: {json.loads(x)["id"]: json.loads(x) for x in
                   (tmp_path / "ours" / "x_geo" / lang / "t_res.jsonl").read_text(encoding="utf-8").splitlines()}
            for lang in ("en", "zh")}
    lmeval.export(item_tree, tmp_path / "tasks", tasks=["x_geo"], langs=["en", "zh"])
    samples = _fake_samples(tmp_path / "tasks", tmp_path / "lm" / "model",
                            lambda task, lang, doc: ours[lang][doc["item_id"]]["scores"])
    counts = lmeval.import_samples(samples.parent, item_tree, tmp_path / "imp", system="lm")
    assert counts == {("x_geo", "en"): 5, ("x_geo", "zh"): 5}
    for lang in ("en", "zh"):
        rows = [json.loads(x) for x in (tmp_path / "imp" / "x_geo" / lang / "lm_res.jsonl").read_text().splitlines()]
        assert [r["res"] for r in rows] == [ours[lang][r["id"]]["res"] for r in rows]
        assert [r["scores"] for r in rows] == [ours[lang][r["id"]]["scores"] for r in rows]
    assert main(["score", "--data-dir", str(tmp_path / "imp"), "--out", str(tmp_path / "sc"), "--tasks", "x_geo",
                 "--langs", "zh", "--n-boot", "20"]) == 0


@pytest.mark.parametrize("damage, said", [
    ("version", "export version 0, expected 1"),
    ("duplicate", "item 0 appears twice"),
    ("missing", r"missing \(first: \[1\]\)"),
    ("last", r"missing \(first: \[4\]\)"),
    ("cut", "corrupt JSON"),
    ("prompt", "its prompt or label differs"),
])
def test_bad_samples_are_named_and_nothing_is_written(item_tree, tmp_path, damage, said):
    lmeval.export(item_tree, tmp_path / "tasks", tasks=["x_geo"], langs=["en"])
    samples = _fake_samples(tmp_path / "tasks", tmp_path / "lm", lambda t, l_, d: [0.0, -1.0, -2.0, -3.0])
    f = next(samples.glob("samples_*.jsonl"))
    lines = f.read_text(encoding="utf-8").splitlines()
    rows = [json.loads(x) for x in lines]
    if damage == "version":
        rows[0]["doc"]["export"] = 0
    elif damage == "duplicate":
        rows[1] = rows[0]
    elif damage == "missing":
        del rows[1]
    elif damage == "last":
        del rows[-1]
    elif damage == "prompt":
        rows[2]["doc"]["prompt_sha"] = "0" * 16
    text = "\n".join(json.dumps(r) for r in rows) + "\n"
    if damage == "cut":
        text = text[: len(text) // 2]
    f.write_text(text, encoding="utf-8")
    with pytest.raises(DataError, match=said) as e:
        lmeval.import_samples(tmp_path / "lm", item_tree, tmp_path / "imp", system="lm")
    assert str(f) in str(e.value) and not (tmp_path / "imp").exists()


def test_samples_missing_an_exported_language_are_refused(item_tree, tmp_path):
    lmeval.export(item_tree, tmp_path / "tasks", tasks=["x_geo"], langs=["en", "zh"])
    samples = _fake_samples(tmp_path / "tasks", tmp_path / "lm", lambda t, l_, d: [0.0, -1.0, -2.0, -3.0])
    next(samples.glob("samples_clika_x_geo_zh_*.jsonl")).unlink()
    with pytest.raises(DataError, match=r"no samples for 1 exported stream\(s\) \(x_geo/zh\)"):
        lmeval.import_samples(tmp_path / "lm", item_tree, tmp_path / "imp", system="lm")
    assert not (tmp_path / "imp").exists()


def _lm_eval_cli() -> str:
    """lm-eval's command from this environment (lm_eval is a pinned dependency in requirements.txt)."""
    cli = Path(sys.executable).parent / "lm_eval"
    assert cli.exists(), f"{cli} missing: lm_eval==0.4.13 is pinned in requirements.txt (./run_tests.sh installs it)"
    return str(cli)


@pytest.mark.slow
def test_round_trip_through_lm_eval_equals_clika_letter(tiny, tiny_path, item_tree, tmp_path):
    """export -> lm_eval --model hf on the tiny model -> import: per-item predictions identical to
    clika evaluate --method letter on the same model and items."""
    cli = _lm_eval_cli()
    evaluate(tiny, item_tree, tmp_path / "ours", tasks=["x_geo", "x_copa"], langs=["en", "zh"], method="letter",
             system="t", progress=False)
    lmeval.export(item_tree, tmp_path / "tasks", tasks=["x_geo", "x_copa"], langs=["en", "zh"])
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    subprocess.run([cli, "--model", "hf", "--model_args", f"pretrained={tiny_path},dtype=float32", "--include_path",
                    str(tmp_path / "tasks"), "--tasks", "clika", "--log_samples", "--output_path", str(tmp_path / "lm"),
                    "--device", "cpu", "--batch_size", "4"], check=True, env=env, capture_output=True)
    lmeval.import_samples(tmp_path / "lm", item_tree, tmp_path / "imp", system="t")
    for task in ("x_geo", "x_copa"):
        for lang in ("en", "zh"):
            a = (tmp_path / "ours" / task / lang / "t_res.jsonl").read_text(encoding="utf-8").splitlines()
            b = (tmp_path / "imp" / task / lang / "t_res.jsonl").read_text(encoding="utf-8").splitlines()
            pa, pb = ([json.loads(x)["res"] for x in s] for s in (a, b))
            assert pa == pb and len(pa) > 0, (task, lang)


def test_the_comparison_runs_the_peer_in_the_configs_dtype_and_checks_it_before_any_work(monkeypatch, tmp_path):
    """Notebook 02 once never passed its dtype to the comparison (the peer always ran in float32 while the sidecar
    said "auto"): the config's dtype reaches it, "auto" made concrete as the model loader makes it, and a dtype
    lm-eval cannot run is refused before the evaluation starts."""
    from clika_utils.experiments import live_evaluation as le
    monkeypatch.setenv("CLIKA_WORKDIR", str(tmp_path))
    seen = {}

    def fake_place(*a, **k):
        seen["placed"] = k["dtype"]
        return {}

    monkeypatch.setattr(le, "evaluate_and_place", fake_place)
    monkeypatch.setattr(le, "lm_eval_comparison", lambda *a, **k: seen.setdefault("compared", k["dtype"]) and {})
    base = le.Config.load("smoke", lm_eval_streams=["x_geo/en"])
    le.run(base.replace(dtype="bfloat16"), progress=False)
    assert seen == {"placed": "bfloat16", "compared": "bfloat16"}
    seen.clear()
    with pytest.raises(ConfigError, match="no autocast"):
        le.run(base.replace(dtype="bf16-autocast"), progress=False)
    assert seen == {}
    from clika_utils.models import placement
    assert placement("cpu", "auto") == ("cpu", "float32")
