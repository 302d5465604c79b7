"""The live evaluation engine on a tiny from-config model (saved to disk, loaded like any checkpoint)."""

import json

import pytest
import torch

from clika_utils.errors import ClikaError, ConfigError
from clika_utils.evaluate import Engine, evaluate, letter_token_ids, task_items
from clika_utils.models import build_tiny_model, load_model, resolve
from clika_utils.outdir import Ledger
from clika_utils.scoring import score_tree


def _independent_letter_predictions(lm, prompts, letters):
    """Plain transformers: full forward of each prompt alone, argmax over the letters' first tokens."""
    ids = [lm.tokenizer("Answer:" + L, add_special_tokens=False).input_ids[-1] for L in letters]
    preds = []
    with torch.no_grad():
        for p in prompts:
            logits = lm.model(**lm.tokenizer(p, return_tensors="pt")).logits[0, -1]
            preds.append(letters[int(torch.argmax(logits[ids]))])
    return preds


def test_letter_scores_equal_plain_forward(tiny, item_tree):
    items = task_items(item_tree, "x_geo", "zh")
    eng = Engine(tiny, batch_size=2)  # batches of unequal suffix lengths share one prefix cache
    ids = letter_token_ids(tiny.tokenizer, "ABCD")
    lp = eng.letter_logprobs([it.prompt for it in items], ids)
    with torch.no_grad():
        ref = torch.stack([torch.log_softmax(tiny.model(**tiny.tokenizer(it.prompt, return_tensors="pt")).logits[0, -1], -1)[ids]
                           for it in items])
    assert torch.allclose(lp, ref, atol=1e-5)
    preds = ["ABCD"[i] for i in lp.argmax(1).tolist()]
    assert preds == _independent_letter_predictions(tiny, [it.prompt for it in items], "ABCD")


def test_text_scores_equal_plain_forward(tiny, item_tree):
    it = task_items(item_tree, "x_geo", "en")[0]
    conts = [f"{L}. {o}" for L, o in zip("ABCD", it.options)]
    scores, lengths = Engine(tiny).continuation_logprobs(it.prompt, conts)
    tok = tiny.tokenizer
    with torch.no_grad():
        for c, s, n in zip(conts, scores, lengths):
            a, w = tok(it.prompt).input_ids, tok(it.prompt + c).input_ids
            logp = torch.log_softmax(tiny.model(torch.tensor([w])).logits[0], -1)
            assert s == pytest.approx(sum(logp[p - 1, w[p]].item() for p in range(len(a), len(w))), abs=1e-4)
            assert n == len(w) - len(a)


def test_text_scores_with_a_shared_prefix_equal_scores_without(tiny, item_tree):
    items = task_items(item_tree, "x_geo", "en")
    engine = Engine(tiny)
    prefix = engine.shared_prefix([it.prompt for it in items])
    assert len(prefix[1]) > 3
    for it in items:
        conts = [f"{L}. {o}" for L, o in zip("ABCD", it.options)]
        plain, n_plain = engine.continuation_logprobs(it.prompt, conts)
        cached, n_cached = engine.continuation_logprobs(it.prompt, conts, prefix)
        assert n_plain == n_cached and cached == pytest.approx(plain, abs=1e-4)
    # a prompt that does not start with the prefix is scored without it
    other = "Zzz " + items[0].prompt
    assert engine.continuation_logprobs(other, ["A"], prefix)[0] == pytest.approx(
        engine.continuation_logprobs(other, ["A"])[0], abs=1e-6)


def test_batched_continuation_scores_give_the_same_predictions_as_one_prompt_at_a_time(tiny, item_tree):
    """The batched path (equally long prompts together, then options as right-padded rows on their prompt's
    cache) against the per-prompt path: the same token counts, sums equal to float32 precision, the same argmax
    for every item, whatever the number of prompts and rows per pass."""
    import numpy as np
    items = [it for lang in ("en", "zh") for it in task_items(item_tree, "x_geo", lang)]
    engine = Engine(tiny)
    prompts = [it.prompt for it in items]
    conts = [[f"{L}. {o}" for L, o in zip("ABCD", it.options)] for it in items]
    prefix = engine.shared_prefix(prompts)
    alike = [[f" the answer is the one called {o}" for o in it.options] for it in items]   # long shared starts
    for options in (conts, alike):
        one = engine.continuation_logprobs_many(prompts, options, prefix)
        for rows, head_rows, tokens in ((1, 1, 1), (7, 128, 40), (64, 13, 1024)):
            many = engine.continuation_logprobs_batched(prompts, options, prefix, rows=rows, head_rows=head_rows,
                                                        tokens=tokens)
            for (a, na), (b, nb) in zip(one, many):
                assert na == nb and b == pytest.approx(a, abs=1e-4) and int(np.argmax(a)) == int(np.argmax(b))
    with pytest.raises(ClikaError, match="shared prefix"):
        engine.continuation_logprobs_batched(["Zzz " + prompts[0]], conts[:1], prefix)


def test_generate_matches_unbatched_greedy(tiny, item_tree):
    items = task_items(item_tree, "x_geo", "en")
    batched = Engine(tiny, batch_size=3).generate([it.prompt for it in items], max_new_tokens=3)
    single = [Engine(tiny, batch_size=1).generate([it.prompt], max_new_tokens=3)[0] for it in items]
    assert batched == single


@pytest.mark.parametrize("method", ["generate", "letter", "text"])
def test_evaluate_writes_official_format_that_clika_score_reads(tiny, item_tree, tmp_path, method):
    out = tmp_path / "live"
    man = evaluate(tiny, item_tree, out, tasks=["x_geo", "x_copa"], langs=["en", "zh"], method=method,
                   system="tiny", limit=3, batch_size=2, progress=False)
    assert man["method"] == method and man["reports"]["truncated_prompts"] == 0
    rows = [json.loads(line) for line in (out / "x_copa" / "zh" / "tiny_res.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [r["id"] for r in rows] == [0, 1, 2] and all(r["label"] == "A" for r in rows)
    assert all(set(r) >= {"id", "input", "res", "label"} for r in rows)
    if method != "generate":
        assert all(len(r["scores"]) == 2 and r["res"] in "AB" for r in rows)
    s = score_tree(out, langs=["en", "zh"], tasks=["x_geo", "x_copa"], n_boot=10).summary
    assert len(s) == 4 and s["n"].tolist() == [3, 3, 3, 3]


def test_resume_after_a_kill_gives_the_same_file(tiny, item_tree, tmp_path):
    kw = dict(tasks=["x_geo"], langs=["en"], method="letter", system="tiny", progress=False, batch_size=2)
    evaluate(tiny, item_tree, tmp_path / "full", **kw)
    full = (tmp_path / "full" / "x_geo" / "en" / "tiny_res.jsonl").read_text(encoding="utf-8")
    part = tmp_path / "part" / "x_geo" / "en" / "tiny_res.jsonl"
    evaluate(tiny, item_tree, tmp_path / "part", **kw)
    lines = part.read_text(encoding="utf-8").splitlines(keepends=True)
    part.write_text("".join(lines[:2]) + lines[2][:15], encoding="utf-8")   # killed while writing line 3 ...
    Ledger(tmp_path / "part").pending([part], writer="clika evaluate", owner="tiny")   # ... its ledger says so
    man = evaluate(tiny, item_tree, tmp_path / "part", **kw)
    assert man["reports"]["cut_lines_removed_on_resume"] == 1
    assert part.read_text(encoding="utf-8") == full
    evaluate(tiny, item_tree, tmp_path / "part", **kw)                     # nothing left to do
    assert part.read_text(encoding="utf-8") == full


def test_output_dir_of_another_model_or_method_is_refused(tiny, tiny_path, item_tree, tmp_path):
    kw = dict(tasks=["x_geo"], langs=["en"], system="tiny", limit=2, progress=False)
    out = tmp_path / "out"
    evaluate(tiny, item_tree, out, method="letter", **kw)
    with pytest.raises(ConfigError, match="holds results of .*method='letter'"):
        evaluate(tiny, item_tree, out, method="text", **kw)
    other = load_model(str(build_tiny_model(tmp_path / "other", seed=2, vocab_size=590)), dtype="float32")
    with pytest.raises(ConfigError, match="holds results of .*fingerprint"):
        evaluate(other, item_tree, out, method="letter", **kw)


def test_unknown_model_task_language_method(tiny, item_tree, tmp_path):
    with pytest.raises(ConfigError, match="unknown model 'no-such-model'"):
        resolve("no-such-model")
    with pytest.raises(ConfigError, match="not a model folder"):
        resolve(str(tmp_path))
    with pytest.raises(ConfigError, match="unknown task"):
        evaluate(tiny, item_tree, tmp_path, tasks=["x_math"], langs=["en"], method="letter", system="t")
    with pytest.raises(ConfigError, match="unknown language"):
        evaluate(tiny, item_tree, tmp_path, tasks=["x_geo"], langs=["tlh"], method="letter", system="t")
    with pytest.raises(ConfigError, match="unknown method"):
        evaluate(tiny, item_tree, tmp_path, tasks=["x_geo"], langs=["en"], method="vibes", system="t")


def test_tokenizer_without_pad_token_is_reported(tiny_path, tmp_path):
    import shutil
    path = tmp_path / "nopad"
    shutil.copytree(tiny_path, path)
    cfg = json.loads((path / "tokenizer_config.json").read_text())
    cfg.pop("pad_token", None)
    (path / "tokenizer_config.json").write_text(json.dumps(cfg))
    lm = load_model(str(path), dtype="float32")
    assert lm.tokenizer.pad_token == lm.tokenizer.eos_token
    assert any("no pad token" in n for n in lm.notes)


def test_long_prompt_is_truncated_from_the_left_and_counted(tiny, item_tree, tmp_path):
    eng = Engine(tiny, max_length=64)
    prompt = "x " * 300 + "Answer:"
    ids = eng.encode(prompt)
    assert len(ids) == 48 and eng.n_truncated == 1
    assert tiny.tokenizer.decode(ids).endswith("Answer:")


def test_nan_logits_are_an_error(tiny_path, item_tree):
    lm = load_model(str(tiny_path), dtype="float32")
    with torch.no_grad():
        lm.model.get_output_embeddings().weight[0, 0] = float("nan")
    items = task_items(item_tree, "x_geo", "en")
    with pytest.raises(ClikaError, match="non-finite"):
        Engine(lm).letter_logprobs([items[0].prompt], letter_token_ids(lm.tokenizer, "ABCD"))


def test_merged_letter_token_is_an_error():
    class Tok:
        def __call__(self, text, add_special_tokens=False):
            class R:
                input_ids = [1, 2] if text == "Answer:" else [1, 9]
            return R()
    with pytest.raises(ConfigError, match="merges option letter"):
        letter_token_ids(Tok(), "AB")


@pytest.mark.slow
def test_two_process_data_parallel_run_equals_one_process(tiny_path, item_tree, tmp_path):
    """torchrun with 2 CPU processes (gloo, through accelerate's PartialState): each process scores
    half of the items; the merged files equal a single-process run line for line: the same ids,
    prompts and predictions, and scores equal to 1e-5 (the two runs batch different items together,
    so padding lengths and BLAS blocking differ and the 6th decimal may round the other way)."""
    import socket
    import subprocess
    import sys

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    args = ["clika_utils.cli", "evaluate", "--model", str(tiny_path), "--data-dir", str(item_tree),
            "--method", "letter", "--tasks", "x_geo,x_copa", "--langs", "en,zh", "--dtype", "float32",
            "--system", "tiny", "--batch-size", "2"]
    two = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
                          "--master_addr", "127.0.0.1", "--master_port", str(port), "-m", *args,
                          "--out", str(tmp_path / "two")], capture_output=True, text=True, timeout=300)
    assert two.returncode == 0, two.stderr[-3000:]
    one = subprocess.run([sys.executable, "-m", *args, "--out", str(tmp_path / "one")], capture_output=True,
                         text=True, timeout=300)
    assert one.returncode == 0, one.stderr[-3000:]
    files = sorted(p.relative_to(tmp_path / "one") for p in (tmp_path / "one").rglob("*_res.jsonl"))
    assert len(files) == 4
    for rel in files:
        two_rows = [json.loads(line) for line in (tmp_path / "two" / rel).read_text(encoding="utf-8").splitlines()]
        one_rows = [json.loads(line) for line in (tmp_path / "one" / rel).read_text(encoding="utf-8").splitlines()]
        assert len(two_rows) == len(one_rows) > 0
        for a, b in zip(two_rows, one_rows):
            assert {k: v for k, v in a.items() if k != "scores"} == {k: v for k, v in b.items() if k != "scores"}
            assert a["scores"] == pytest.approx(b["scores"], abs=1e-5)
    assert not list((tmp_path / "two").rglob("*.part*"))
    assert json.loads((tmp_path / "two" / "tiny.eval.json").read_text())["reports"]["processes"] == 2


def test_tokenizer_and_fingerprint_are_reused_until_the_files_change(tmp_path):
    from clika_utils.models import fingerprint, load_tokenizer
    path = build_tiny_model(tmp_path / "m")
    tok1, _ = load_tokenizer(str(path))
    tok1.padding_side = "right"                      # a caller's change is undone by the next load
    tok2, _ = load_tokenizer(str(path))
    assert tok2 is tok1 and tok2.padding_side == "left"
    fp = fingerprint(str(path))
    build_tiny_model(tmp_path / "m", seed=1)        # new weights and tokenizer files in the same folder
    assert fingerprint(str(path)) != fp
    tok3, _ = load_tokenizer(str(path))
    assert tok3 is not tok1


def test_gguf_conversion_shares_one_reader_and_restores_the_class(tmp_path):
    import gguf
    import numpy as np

    from clika_utils.models import _one_gguf_reader

    path = tmp_path / "t.gguf"
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_string("tokenizer.ggml.model", "llama")
    writer.add_array("tokenizer.ggml.tokens", ["a", "b", "c"])
    writer.add_tensor("w", np.arange(6, dtype=np.float32).reshape(2, 3))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    original = gguf.GGUFReader
    with _one_gguf_reader():
        first, again = gguf.GGUFReader(path), gguf.GGUFReader(str(path))
        assert first is again  # parsed once
        assert gguf.GGUFReader(path, "c") is not first  # another mode is another reader
    assert gguf.GGUFReader is original
    fresh = gguf.GGUFReader(path)
    assert fresh is not first and list(fresh.fields) == list(first.fields)
    assert np.array_equal(fresh.tensors[0].data, first.tensors[0].data)
