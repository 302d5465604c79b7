"""Issue 17's table of bad inputs and faults, one test per row: a clear error (exit 2, ``error: …``) or
a warning with counts, nothing written outside the output folder, no user file deleted or overwritten
without ``--overwrite``, and a failed write that leaves the previous result set whole."""

import json
import os
from pathlib import Path

import pytest

from clika_utils import config, runner
from clika_utils.cli import main
from clika_utils.errors import ClikaWarning, ConfigError, DataError

from conftest import FOLDER, result_name

EVAL = ["evaluate", "--method", "letter", "--tasks", "x_geo", "--langs", "en"]


def _eval(tiny_path, item_tree, out, *extra):
    return main(EVAL + ["--model", str(tiny_path), "--data-dir", str(item_tree), "--out", str(out), *extra])


def _tree(path: Path) -> dict:
    return {str(p.relative_to(path)): p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()}


# --- the rows that lost data or gave wrong numbers -----------------------------------------------

@pytest.mark.parametrize("name", ["../../../../escape", "/tmp/abs-escape", "a/b", "..", " x"])
def test_system_name_cannot_escape_the_output_folder(tiny_path, item_tree, tmp_path, capsys, name):
    out = tmp_path / "work" / "out"
    before = _tree(tmp_path)
    assert _eval(tiny_path, item_tree, out, "--system", name) == 2
    assert "cannot name a file" in capsys.readouterr().err
    assert _tree(tmp_path) == before and not Path("/tmp/abs-escape.eval.json").exists()


def test_train_refuses_a_folder_holding_a_users_model(tiny_path, tmp_path, capsys):
    out = tmp_path / "job"
    (out / "model").mkdir(parents=True)
    (out / "model" / "pytorch_model.bin").write_bytes(b"the user's weights")
    (out / "metrics.csv").write_text("mine\n", encoding="utf-8")
    data = tmp_path / "d.jsonl"
    data.write_text('{"prompt": "a", "response": "b"}\n', encoding="utf-8")
    args = ["train", "--model", str(tiny_path), "--data", str(data), "--out", str(out), "--max-steps", "1",
            "--no-progress", "--precision", "fp32"]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "changed since (metrics.csv, model/pytorch_model.bin)" in err and "--overwrite" in err
    assert (out / "model" / "pytorch_model.bin").read_bytes() == b"the user's weights"
    assert (out / "metrics.csv").read_text(encoding="utf-8") == "mine\n" and not (out / "train.json").exists()


def test_a_killed_evaluation_is_not_continued_by_another_model(tiny, tiny_path, item_tree, tmp_path, monkeypatch):
    from clika_utils import evaluate as ev
    from clika_utils.models import build_tiny_model, load_model
    out = tmp_path / "out"
    monkeypatch.setattr(ev, "_score_part", lambda *a, **k: (_ for _ in ()).throw(KeyboardInterrupt()))
    with pytest.raises(KeyboardInterrupt):
        ev.evaluate(tiny, item_tree, out, tasks=["x_geo"], langs=["en"], method="letter", system="s", progress=False)
    manifest = json.loads((out / "s.eval.json").read_text(encoding="utf-8"))
    assert manifest["status"] == "running" and manifest["fingerprint"] == tiny.fingerprint   # written first
    monkeypatch.undo()
    other = load_model(str(build_tiny_model(tmp_path / "other", seed=7, vocab_size=590)), dtype="float32")
    with pytest.raises(ConfigError, match="holds results of .*fingerprint"):
        ev.evaluate(other, item_tree, out, tasks=["x_geo"], langs=["en"], method="letter", system="s", progress=False)


def test_a_second_concurrent_evaluation_is_refused(tiny_path, item_tree, tmp_path, capsys):
    from filelock import FileLock
    out = tmp_path / "out"
    out.mkdir()
    with FileLock(str(out / ".clika.lock")):           # another run holds the folder
        assert _eval(tiny_path, item_tree, out) == 2
    assert "another clika evaluate is writing into this folder" in capsys.readouterr().err
    assert not list(out.rglob("*_res.jsonl"))
    assert _eval(tiny_path, item_tree, out, "--limit", "2") == 0       # and once it is free, it runs


def test_mt_score_language_typo_is_an_error(tmp_path, capsys):
    (tmp_path / "h").write_text("a\n", encoding="utf-8")
    (tmp_path / "r").write_text("a\n", encoding="utf-8")
    assert main(["mt-score", "--hyp", str(tmp_path / "h"), "--ref", str(tmp_path / "r"), "--lang", "cn"]) == 2
    assert "did you mean 'zh'" in capsys.readouterr().err
    assert main(["mt-score", "--hyp", str(tmp_path / "h"), "--ref", str(tmp_path / "r"), "--lang", "ko",
                 "--metrics", "chrf++"]) == 0                            # any real language code is fine


def _params_case(tmp_path, body: str):
    nb = tmp_path / "notebooks" / "01_x.ipynb"
    nb.parent.mkdir(parents=True)
    nb.write_text(json.dumps({"cells": [{"cell_type": "code", "metadata": {"tags": ["parameters"]}, "source": [
        'profile: str = "cpu"  # profile\n', "n_boot: int = 1000  # replicates\n",
        "render_only: bool = False  # redraw only\n"], "outputs": [], "execution_count": None}],
        "metadata": {}, "nbformat": 4, "nbformat_minor": 5}), encoding="utf-8")
    (tmp_path / "params" / "01_x").mkdir(parents=True)
    (tmp_path / "params" / "01_x" / "cpu.yaml").write_text(body, encoding="utf-8")
    return nb


def test_a_misspelt_parameter_is_an_error_before_any_work(tmp_path):
    nb = _params_case(tmp_path, "# cpu\nrender_only: false\nn_bootstrap: 50\n")
    with pytest.raises(ConfigError, match=r"cpu.yaml:3: unknown parameter 'n_bootstrap'.*'n_boot'"):
        config.load_params(tmp_path / "params", nb, "cpu")
    with pytest.raises(ConfigError, match="nothing was run"):
        runner.run_all("cpu", nb_dir=nb.parent, params_dir=tmp_path / "params", out_dir=tmp_path / "out",
                       progress=False)
    assert not (tmp_path / "out" / "01_x.ipynb").exists()


def test_a_string_where_a_bool_is_meant_is_an_error(tmp_path):
    nb = _params_case(tmp_path, 'render_only: "false"\n')
    with pytest.raises(ConfigError, match=r"cpu.yaml:1: render_only must be a bool \(write true or false"):
        config.load_params(tmp_path / "params", nb, "cpu")
    nb2 = _params_case(tmp_path / "b", "n_boot: true\n")
    with pytest.raises(ConfigError, match="n_boot must be a int"):
        config.load_params(tmp_path / "b" / "params", nb2, "cpu")


@pytest.mark.parametrize("limit", ["0", "-3", "x"])
def test_limit_must_be_positive(tiny_path, item_tree, tmp_path, capsys, limit):
    with pytest.raises(SystemExit) as e:
        _eval(tiny_path, item_tree, tmp_path / "out", "--limit", limit)
    assert e.value.code == 2 and "--limit" in capsys.readouterr().err and not (tmp_path / "out").exists()


def test_a_record_with_fields_of_two_formats_is_an_error(tmp_path):
    from clika_utils.formats import read_examples
    p = tmp_path / "d.jsonl"
    p.write_text('{"prompt": "a", "response": "b"}\n{"prompt": "q", "response": "r", "text": "t"}\n', encoding="utf-8")
    with pytest.raises(DataError, match=r"d.jsonl:2: fields of 2 record formats in one line \(prompt, text\)"):
        read_examples(p)


def test_negative_max_steps_is_refused_before_anything_is_written(tiny_path, tmp_path, capsys):
    data = tmp_path / "d.jsonl"
    data.write_text('{"prompt": "a", "response": "b"}\n', encoding="utf-8")
    with pytest.raises(SystemExit) as e:
        main(["train", "--model", str(tiny_path), "--data", str(data), "--out", str(tmp_path / "job"),
              "--max-steps", "-5"])
    assert e.value.code == 2 and "--max-steps" in capsys.readouterr().err and not (tmp_path / "job").exists()


# --- the weak rows: an error with a clear message, or a warning with counts ---------------------

@pytest.mark.parametrize("args, said", [
    (["--n-boot", "1e9"], "--n-boot"), (["--n-boot", "1000000"], "from 1 to 100000"), (["--seed", "-1"], "--seed"),
    (["--systems", ","], "comma-separated list"), (["--co-variant", "nope"], "transfer")])
def test_score_numbers_and_lists_are_checked(tiny_tree, tmp_path, capsys, args, said):
    with pytest.raises(SystemExit) as e:
        main(["score", "--data-dir", str(tiny_tree), "--out", str(tmp_path / "o"), *args])
    assert e.value.code == 2 and said in capsys.readouterr().err and not (tmp_path / "o").exists()


@pytest.mark.parametrize("args", [["--batch-size", "0"], ["--num-beams", "0"], ["--max-new-tokens", "-1"]])
def test_evaluate_numbers_are_checked(tiny_path, item_tree, tmp_path, capsys, args):
    with pytest.raises(SystemExit) as e:
        _eval(tiny_path, item_tree, tmp_path / "out", *args)
    assert e.value.code == 2 and args[0] in capsys.readouterr().err


def test_out_that_is_a_file_or_holds_foreign_files(tiny_tree, tmp_path, capsys):
    f = tmp_path / "afile"
    f.write_text("keep me\n", encoding="utf-8")
    assert main(["score", "--data-dir", str(tiny_tree), "--out", str(f), "--n-boot", "5", "--langs", "zh,de,he"]) == 2
    assert "is a file; expected an output folder" in capsys.readouterr().err and f.read_text() == "keep me\n"
    d = tmp_path / "mine"
    d.mkdir()
    (d / "notes.txt").write_text("mine\n", encoding="utf-8")
    assert main(["score", "--data-dir", str(tiny_tree), "--out", str(d), "--n-boot", "5", "--langs", "zh,de,he"]) == 2
    assert "holds files that no clika command wrote, or that changed since (notes.txt)" in capsys.readouterr().err
    assert main(["score", "--data-dir", str(tiny_tree), "--out", str(d), "--n-boot", "5", "--langs", "zh,de,he", "--overwrite"]) == 0
    assert (d / ".clika-backup-1" / "notes.txt").read_text() == "mine\n" and (d / "summary.csv").exists()  # moved aside
    assert not (d / "notes.txt").exists()
    assert main(["score", "--data-dir", str(tiny_tree), "--out", str(tmp_path / "o2"), "--n-boot", "5", "--langs", "zh,de,he"]) == 0
    assert main(["score", "--data-dir", str(tiny_tree), "--out", str(tmp_path / "o2"), "--n-boot", "5", "--langs", "zh,de,he"]) == 0  # its own


def test_a_full_disk_mid_write_keeps_the_previous_result_set(tiny_tree, tmp_path, monkeypatch, capsys):
    """Fault injection: the 4th file of the set fails to write; the previous set stays whole, byte for byte."""
    out = tmp_path / "o"
    assert main(["score", "--data-dir", str(tiny_tree), "--out", str(out), "--n-boot", "5", "--langs", "zh,de,he"]) == 0
    before = _tree(out)
    real_fsync, calls = os.fsync, []

    def failing_fsync(fd):
        calls.append(fd)
        if len(calls) == 4:
            raise OSError(28, "No space left on device")
        return real_fsync(fd)
    monkeypatch.setattr(os, "fsync", failing_fsync)
    assert main(["score", "--data-dir", str(tiny_tree), "--out", str(out), "--n-boot", "7", "--langs", "zh,de,he"]) == 2
    assert "No space left on device" in capsys.readouterr().err
    assert _tree(out) == before                     # same files, same bytes, no temporaries left


def test_device_cuda_without_cuda(tiny_path, item_tree, tmp_path, capsys):
    import torch
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    assert _eval(tiny_path, item_tree, tmp_path / "out", "--device", "cuda") == 2
    assert "no such CUDA device here" in capsys.readouterr().err


def test_a_truncated_manifest_is_named(tiny_path, item_tree, tmp_path, capsys):
    out = tmp_path / "out"
    assert _eval(tiny_path, item_tree, out, "--limit", "2", "--system", "s") == 0
    (out / "s.eval.json").write_text('{"model": "x", "finger', encoding="utf-8")
    assert _eval(tiny_path, item_tree, out, "--limit", "2", "--system", "s") == 2
    assert "changed since (s.eval.json)" in capsys.readouterr().err          # not clika's any more: refused
    from clika_utils.outdir import Ledger
    Ledger(out).pending([out / "s.eval.json"], writer="clika evaluate", owner="s")   # as a run killed mid-write
    assert _eval(tiny_path, item_tree, out, "--limit", "2", "--system", "s") == 2
    assert f"{out / 's.eval.json'}:1: damaged manifest" in capsys.readouterr().err


def test_a_source_label_out_of_range(item_tree):
    from clika_utils.prompts import load_items
    p = item_tree / "x_geo" / "en" / "en_geo_data.jsonl"
    lines = p.read_text(encoding="utf-8").splitlines()
    lines[2] = json.dumps({**json.loads(lines[2]), "label": 7})
    p.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"en_geo_data.jsonl:3: label 7 is not an option index 0..3 of x_geo"):
        load_items(item_tree, "x_geo", "en")


@pytest.mark.parametrize("yaml_text, ok", [("lr: 2e-4\nmax_steps: 1\n", True), ('micro_batch: "4"\n', False),
                                           ("lora_r: 0\n", False), ("lora_dropout: 2\n", False), ("- a\n", False),
                                           ("lr: [\n", False)])
def test_training_config_files(tmp_path, capsys, yaml_text, ok):
    from clika_utils.cli import build_parser
    from clika_utils.train import TrainConfig
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml_text, encoding="utf-8")
    if ok:
        import yaml
        assert TrainConfig.from_dict(yaml.safe_load(yaml_text)).lr == pytest.approx(2e-4)
        return
    data = tmp_path / "d.jsonl"
    data.write_text('{"prompt": "a", "response": "b"}\n', encoding="utf-8")
    assert main(["train", "--model", "tiny-llama", "--data", str(data), "--out", str(tmp_path / "job"),
                 "--config", str(cfg), "--precision", "fp32"]) == 2
    assert capsys.readouterr().err.startswith("error: ") and not (tmp_path / "job").exists()
    assert build_parser() is not None


def test_a_missing_task_folder(tiny_tree, tmp_path, capsys):
    import shutil
    shutil.rmtree(tiny_tree / "x_name")
    assert main(["score", "--data-dir", str(tiny_tree), "--out", str(tmp_path / "o"), "--n-boot", "5", "--langs", "zh,de,he"]) == 2
    assert "x_name: missing task folder" in capsys.readouterr().err


def test_qa_predictions_that_match_no_question_are_named(tmp_path, capsys):
    data = {"data": [{"paragraphs": [{"context": "Paris is big.", "qas": [
        {"id": "q1", "question": "?", "answers": [{"text": "Paris", "answer_start": 0}]}]}]}]}
    (tmp_path / "d.json").write_text(json.dumps(data), encoding="utf-8")
    (tmp_path / "p.json").write_text(json.dumps({"Q1": "Paris", "zzz": "x"}), encoding="utf-8")
    args = ["qa-score", str(tmp_path / "d.json"), str(tmp_path / "p.json"), "en"]
    assert main(args) == 0
    err = capsys.readouterr().err
    assert "warning: " in err and "2 of 2 prediction id(s) match no question" in err and "Q1, zzz" in err
    assert "1 of 1 question(s) have no prediction" in err
    assert main(["--strict", *args]) == 2 and "--strict" in capsys.readouterr().err


def test_only_matches_by_number_or_name():
    nbs = runner.find_notebooks(runner.project_root() / "notebooks", ["0"])
    assert [p.stem for p in nbs] == ["00_tour"]
    assert [p.stem[:2] for p in runner.find_notebooks(runner.project_root() / "notebooks", ["3", "alloc"])] == ["03", "08"]
    with pytest.raises(ConfigError, match="--only '42' matches no notebook"):
        runner.find_notebooks(runner.project_root() / "notebooks", ["42"])


def test_items_missing_from_every_file_are_said(tiny_tree, tmp_path, capsys):
    """Every file of x_geo lacks its last item: still aligned, but fewer than the model inputs."""
    for system in ("sysA", "chatgpt"):
        for lang in ("en", "zh", "de", "he"):
            p = tiny_tree / "x_geo" / FOLDER["x_geo"][lang] / result_name(system)
            p.write_text("".join(p.read_text(encoding="utf-8").splitlines(keepends=True)[:-1]), encoding="utf-8")
    (tiny_tree / "x_geo" / "x_geo_en_model_input.jsonl").write_text(
        "".join(json.dumps({"input": f"q{i}", "label": "A"}) + "\n" for i in range(4)), encoding="utf-8")
    assert main(["score", "--data-dir", str(tiny_tree), "--out", str(tmp_path / "o"), "--n-boot", "5", "--langs", "zh,de,he"]) == 0
    assert "warning: x_geo: the result files hold 3 items but x_geo_en_model_input.jsonl has 4" in capsys.readouterr().err
    assert main(["--strict", "score", "--data-dir", str(tiny_tree), "--out", str(tmp_path / "o"), "--n-boot", "5", "--langs", "zh,de,he"]) == 2


def test_a_training_file_mixing_formats_is_said(tmp_path):
    from clika_utils.formats import read_examples
    p = tmp_path / "d.jsonl"
    p.write_text('{"prompt": "a", "response": "b"}\n{"text": "t"}\n{"instruction": "i", "input": "", "output": "o"}\n',
                 encoding="utf-8")
    with pytest.warns(ClikaWarning, match=r"mixes record formats \(1 prompt, 1 text, 1 instruction lines\)"):
        assert len(read_examples(p)) == 3


def test_a_prompt_longer_than_the_context_names_file_and_line(tiny_path, tmp_path):
    from clika_utils.formats import read_examples
    from clika_utils.train import TrainConfig, train
    p = tmp_path / "d.jsonl"
    p.write_text('{"prompt": "a", "response": "b"}\n' + json.dumps({"prompt": "word " * 400, "response": "x"}) + "\n",
                 encoding="utf-8")
    with pytest.raises(ConfigError, match=rf"{p}:2: no supervised token left within max_length=32"):
        train(str(tiny_path), read_examples(p), tmp_path / "job", TrainConfig(max_steps=1, max_length=32, precision="fp32"),
              progress=False)
    assert not (tmp_path / "job").exists()


def test_a_model_folder_with_an_empty_config(item_tree, tmp_path, capsys):
    bad = tmp_path / "m"
    bad.mkdir()
    (bad / "config.json").write_text("{}", encoding="utf-8")
    assert _eval(bad, item_tree, tmp_path / "out") == 2
    assert f"{bad / 'config.json'}: no 'model_type'" in capsys.readouterr().err and not (tmp_path / "out").exists()
