"""The ``clika`` command.

  clika score [--data-dir DIR] --out OUT [options]   score stored/live result files -> items.csv, summary.csv
  clika evaluate --model M --method letter --out DIR   run a causal LM on the CLiKA streams (official format)
  clika train --model M --data FILE.jsonl --out DIR   fine-tune (LoRA or full); under accelerate launch too
  clika qa-score DATA.json PRED.json LANG             EM/F1 as the official MLQA script, x-LLM's match, JSON out
  clika mt-score --hyp H --ref R --lang L              BLEU / chrF++ / spBLEU with sacrebleu signatures
  clika lm-eval export --out DIR / import SAMPLES --out DIR --system NAME   CLiKA for lm-evaluation-harness
  clika data check [--data-dir DIR]                    validate a CLiKA tree and list what is in it
  clika data fetch [--dest DIR] [--only SRC,...]       download the public sources (needs internet)
  clika paths                                          show the resolved settings
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path



from .errors import ClikaError, ClikaWarning, ConfigError, DataError, warn
from .judge import JUDGES
from .metrics import CO_VARIANTS


def _csv(value: str) -> list[str]:
    out = [v.strip() for v in value.split(",") if v.strip()]
    if not out:
        raise argparse.ArgumentTypeError(f"expected a comma-separated list of names, got {value!r}")
    return out


def _int_in(lo: int, hi: int | None = None):
    """argparse type: a whole number in [lo, hi]."""
    def parse(value: str) -> int:
        try:
            n = int(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {value!r}") from None
        if n < lo or (hi is not None and n > hi):
            raise argparse.ArgumentTypeError(f"expected a whole number {'>= ' + str(lo) if hi is None else f'from {lo} to {hi}'}"
                                             f", got {n}")
        return n
    return parse


OVERWRITE_HELP = ("start the folder clean: remove what clika wrote there before (for this system or job) and move "
                  "any other files, untouched, into a .clika-backup-<n> folder inside it")
MAX_BOOT = 100_000    #: bootstrap replicates: more adds nothing to a percentile CI and costs memory


def _score(args) -> int:
    from .outdir import adopt_sidecars, claim, locked
    from .settings import clika_dir

    root = clika_dir(args.data_dir)
    claim(args.out, what="clika results", overwrite=args.overwrite, adopt=adopt_sidecars)   # before the work
    with locked(args.out, "clika score"):
        return _score_locked(args, root)


def _score_locked(args, root) -> int:
    from .scoring import load_scores, score_tree, write_scores

    result = score_tree(root, judge=args.judge, ra_variant=args.ra_variant, co_variant=args.co_variant,
                        n_boot=args.n_boot, seed=args.seed, systems=args.systems or None, tasks=args.tasks or None,
                        langs=args.langs or None)
    paths = write_scores(result, args.out, parameters={"command": "clika score", "data_dir": str(root)},
                         seed=args.seed)
    tables = load_scores(args.out)
    systems = tables["systems"]
    print(f"scored {systems['system'].nunique()} systems, {len(tables['summary'])} (system, task, lang) rows "
          f"from {root}")
    incomplete = systems[~systems["complete"]]
    for row in incomplete.itertuples():
        print(f"  incomplete: {row.system} has no result in {row.n_missing} folder(s): {row.missing}")
    unparsed = systems[systems["n_unparsed"] > 0]
    if len(unparsed):
        print(f"  {len(unparsed)} systems gave answers whose first character is not an option letter "
              f"({int(unparsed['n_unparsed'].sum())} answers; judged wrong, as in the official script)")
    summary = tables["summary"]
    ranked = sorted(summary.loc[summary["rankc"].notna(), "system"].unique())
    if ranked:
        print(f"  RankC (en → l) for {len(ranked)} system(s) whose result files store option scores: {', '.join(ranked)}")
    undefined = summary[summary["en_co"].isna() & (summary["lang"] != "en")]
    en = summary[summary["lang"] == "en"]
    has_en = set(zip(en["system"], en["task"]))
    no_en = undefined[[(s, t) not in has_en for s, t in zip(undefined["system"], undefined["task"])]]
    if len(no_en):
        pairs = sorted({f"{s}/{t}" for s, t in zip(no_en["system"], no_en["task"])})
        print(f"  en-CO undefined (NaN) in {len(no_en)} cell(s) with no English results to compare with: "
              f"{', '.join(pairs[:6])}{' …' if len(pairs) > 6 else ''}")
    if len(undefined) > len(no_en):
        why = ("no item is right in either language" if args.co_variant == "jaccard"
               else "no item is right in English (|C_en| = 0)")
        print(f"  en-CO ({args.co_variant}) undefined (NaN) in {len(undefined) - len(no_en)} cell(s): {why}")
    for name, path in paths.items():
        print(f"  wrote {path}")
    return 0


def check_device(device: str) -> str:
    """``auto``, ``cpu`` or ``cuda[:N]`` that exists here; else a ConfigError."""
    import re
    if device in ("auto", "cpu"):
        return device
    m = re.fullmatch(r"cuda(?::(\d+))?", device)
    if not m:
        raise ConfigError(f"--device {device!r}: expected auto, cpu, cuda or cuda:N")
    import torch
    n = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if n == 0 or int(m.group(1) or 0) >= n:
        raise ConfigError(f"--device {device}: no such CUDA device here ({n} visible); use --device cpu or auto")
    return device


def _evaluate(args) -> int:
    from .data import TASKS
    from .evaluate import distributed_state, evaluate
    from .langs import LANGS
    from .models import load_model
    from .outdir import safe_name
    from .settings import clika_dir

    root = clika_dir(args.data_dir)
    system = safe_name(args.system or f"{Path(args.model.rstrip('/')).name}_{args.method}", "--system")
    check_device(args.device)
    state = distributed_state()
    device = str(state.device) if state and args.device == "auto" else args.device
    lm = load_model(args.model, device=device, dtype=args.dtype)
    manifest = evaluate(lm, root, args.out, tasks=args.tasks or list(TASKS), langs=args.langs or list(LANGS),
                        method=args.method, system=system, limit=args.limit, batch_size=args.batch_size,
                        max_new_tokens=args.max_new_tokens, num_beams=args.num_beams, overwrite=args.overwrite)
    if state and not state.is_main_process:
        return 0
    rep = manifest["reports"]
    print(f"{system}: {lm.name} ({lm.dtype} on {lm.device}), method {args.method}; results under {args.out}")
    print(f"  prompts truncated from the left to fit the context: {rep['truncated_prompts']}")
    if rep["cut_lines_removed_on_resume"]:
        print(f"  incomplete trailing lines removed on resume: {rep['cut_lines_removed_on_resume']}")
    for note in rep["notes"]:
        print(f"  note: {note}")
    return 0


def _train(args) -> int:
    import json

    import yaml

    from .config import load_yaml
    from .formats import read_examples
    from .io import read_text_strict
    from .train import TrainConfig, train

    values = {}
    if args.config:
        text = read_text_strict(args.config)
        try:
            values = json.loads(text) if args.config.endswith(".json") else (load_yaml(text) or {})
        except json.JSONDecodeError as e:
            raise DataError(args.config, f"not valid JSON ({e.msg})", line=e.lineno) from None
        except yaml.YAMLError as e:
            mark = getattr(e, "problem_mark", None)
            raise DataError(args.config, f"not valid YAML ({getattr(e, 'problem', e)})",
                            line=mark.line + 1 if mark else None) from None
        if not isinstance(values, dict):
            raise DataError(args.config, f"expected a mapping of training settings, got {type(values).__name__}")
    for key in ("method", "lr", "epochs", "max_steps", "micro_batch", "grad_accum", "lora_r", "lora_alpha",
                "lora_dropout", "max_length", "precision", "head", "seed", "save_every"):
        value = getattr(args, key)
        if value is not None:
            values[key] = value
    if args.lora_targets:
        values["lora_targets"] = args.lora_targets
    result = train(args.model, read_examples(args.data), args.out, TrainConfig.from_dict(values),
                   progress=not args.no_progress, overwrite=args.overwrite)
    print(f"{result.status}: {result.steps} steps, final loss {result.final_loss:.4f}, output {result.out_dir}")
    return 0


def _check(args) -> int:
    from .data import check_aligned, discover, load_result_file
    from .settings import clika_dir

    root = clika_dir(args.data_dir)
    inv = discover(root)
    by_task: dict[str, list] = {}
    for f in inv.files:
        by_task.setdefault(f.task, []).append(load_result_file(f))
    for task, tables in by_task.items():
        ref = next(t for t in tables if t.file.lang == "en") if any(t.file.lang == "en" for t in tables) else tables[0]
        for t in tables:
            check_aligned(ref, t)
        print(f"{task}: {len(tables)} result files, {len(ref.ids)} items, aligned across languages")
    print(f"{len(inv.systems)} systems; {len(inv.alternatives)} alternative result files not scored "
          f"({', '.join(sorted({f.path.name for f in inv.alternatives}))})")
    for system, missing in inv.incomplete_systems().items():
        print(f"  incomplete: {system} missing {len(missing)} folder(s)")
    return 0


def _fetch(args) -> int:
    from .fetch import SOURCES, fetch
    from .settings import data_home

    dest = args.dest or data_home(must_exist=False)
    for name, path in fetch(Path(dest), sources=args.only or SOURCES, force=args.force).items():
        print(f"{name}: {path}")
    print(f"set CLIKA_DATA_HOME={dest} if it is not the default")
    return 0


def _qa_score(args) -> int:
    import json

    from . import qa
    from .io import read_text_strict

    questions = qa.read_squad(args.dataset, args.lang)
    try:
        predictions = json.loads(read_text_strict(args.predictions))
    except json.JSONDecodeError as e:
        raise DataError(args.predictions, f"expected a JSON object {{question id: answer}} ({e.msg})",
                        line=e.lineno) from None
    if not isinstance(predictions, dict) or not all(isinstance(v, str) for v in predictions.values()):
        raise DataError(args.predictions, "expected a JSON object mapping question ids to answer strings")
    scores = qa.corpus_scores(questions, predictions, args.lang)
    ids = {q.id for q in questions}
    unknown = sorted(k for k in predictions if k not in ids)
    missing = [q.id for q in questions if q.id not in predictions]
    if unknown:
        warn(f"{args.predictions}: {len(unknown)} of {len(predictions)} prediction id(s) match no question of "
             f"{args.dataset} (first: {', '.join(unknown[:5])})")
    if missing:
        warn(f"{len(missing)} of {len(questions)} question(s) have no prediction and score 0 (first: "
             f"{', '.join(missing[:5])})")
    print(json.dumps({"exact_match": scores["em"], "f1": scores["f1"], "xllm_match": scores["xllm_match"],
                      "token_contains": scores["token_contains"]}))
    return 0


def _mt_score(args) -> int:
    from . import translation

    from .langs import check_language_code

    check_language_code(args.lang, "--lang")
    metrics = [m.strip() for group in args.metrics for m in group.split(",") if m.strip()]
    unknown = sorted(set(metrics) - set(translation.METRICS))
    if unknown or not metrics:
        raise ConfigError(f"--metrics: unknown metric(s) {unknown}; expected some of {list(translation.METRICS)} "
                          "(space- or comma-separated)")
    hyp, ref, dropped = translation.read_hypotheses(args.hyp, args.ref, drop_empty=args.drop_empty)
    empty = sum(not h.strip() for h in hyp)
    if dropped:
        print(f"--drop-empty: {dropped} of {len(hyp) + dropped} pair(s) with an empty hypothesis dropped; the "
              "score is not comparable with one over the whole test set", file=sys.stderr)
    elif empty:
        print(f"{empty} empty hypothesis line(s) scored as (wrong) translations, as sacrebleu does", file=sys.stderr)
    if not hyp:
        raise ConfigError("no hypothesis left to score")
    df = translation.score(hyp, ref, args.lang, metrics=metrics, tokenizer=args.tokenize)
    for r in df.itertuples():
        print(f"{r.metric}\t{r.score:.2f}\t{r.signature}" + (f"\t# {r.note}" if r.note else ""))
    return 0


def _lmeval_export(args) -> int:
    from . import lmeval
    from .settings import clika_dir

    root = clika_dir(args.data_dir)
    counts = lmeval.export(root, args.out, tasks=args.tasks, langs=args.langs, limit=args.limit, method=args.method,
                           overwrite=args.overwrite)
    print(f"{len(counts)} lm-eval tasks ({sum(counts.values())} documents, method {args.method}) in {args.out}")
    print(f"  run: lm_eval --model hf --model_args pretrained=MODEL --include_path {args.out} --tasks clika "
          f"--log_samples --output_path OUT")
    print("  then: clika lm-eval import OUT --out RESULTS --system NAME")
    return 0


def _lmeval_import(args) -> int:
    from . import lmeval
    from .settings import clika_dir

    root = clika_dir(args.data_dir)
    counts = lmeval.import_samples(args.samples, root, args.out, system=args.system, model=args.model,
                                   overwrite=args.overwrite)
    print(f"imported {sum(counts.values())} items of {len(counts)} (task, language) streams as system "
          f"{args.system!r} into {args.out}; score them with: clika score --data-dir {args.out} --out SCORES "
          f"--tasks {','.join(sorted({t for t, _ in counts}))} --langs {','.join(sorted({lang for _, lang in counts}))}")
    return 0


def _paths(args) -> int:
    from .settings import DATA_HOME_ENV, cache_dir, data_home, project_root, workdir

    print(f"project root : {project_root()}")
    home = data_home(must_exist=False)
    print(f"data home    : {home} ({'exists' if home.is_dir() else 'MISSING'}; ${DATA_HOME_ENV})")
    print(f"workdir      : {workdir()} ($CLIKA_WORKDIR)")
    print(f"cache        : {cache_dir()} ($CLIKA_CACHE_DIR)")
    return 0


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="clika", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--strict", action="store_true",
                    help="turn warnings about partial data (dropped lines, unmatched ids, mixed formats) into errors")
    sub = ap.add_subparsers(dest="command", required=True)
    sc = sub.add_parser("score", help="score result files into items.csv and summary.csv")
    sc.add_argument("--data-dir", help="CLiKA folder (default: $CLIKA_DATA_HOME/clika)")
    sc.add_argument("--out", required=True, type=Path, help="output folder")
    sc.add_argument("--judge", default="official", choices=list(JUDGES))
    sc.add_argument("--ra-variant", default="ratio", choices=["ratio", "chance_corrected"])
    sc.add_argument("--co-variant", default="jaccard", choices=list(CO_VARIANTS),
                    help="en-CO: jaccard (default), en_recall, or transfer = the authors' group's published "
                         "(|C_en ∩ C_l| / |C_en| - chance) / (1 - chance)")
    sc.add_argument("--n-boot", type=_int_in(1, MAX_BOOT), default=1000,
                    help=f"bootstrap replicates (default 1000, at most {MAX_BOOT:,})")
    sc.add_argument("--seed", type=_int_in(0), default=0)
    sc.add_argument("--tasks", type=_csv, help="comma-separated subset of x_csqa,x_copa,x_geo,x_name")
    sc.add_argument("--langs", type=_csv, help="comma-separated ISO 639-1 codes (en is always included)")
    sc.add_argument("--systems", type=_csv, help="comma-separated system names")
    sc.add_argument("--overwrite", action="store_true", help=OVERWRITE_HELP)
    sc.set_defaults(func=_score)
    ev = sub.add_parser("evaluate", help="evaluate a causal LM on the CLiKA streams")
    ev.add_argument("--model", required=True, help="registry name (gemma-3-270m, tiny-llama), local path or hub id")
    ev.add_argument("--method", required=True, choices=["generate", "letter", "text"])
    ev.add_argument("--out", required=True, type=Path, help="results folder (official layout)")
    ev.add_argument("--system", help="system name in the result file names (default: <model>_<method>)")
    ev.add_argument("--data-dir", help="CLiKA folder (default: $CLIKA_DATA_HOME/clika)")
    ev.add_argument("--tasks", type=_csv, help="comma-separated streams (default: all four)")
    ev.add_argument("--langs", type=_csv, help="comma-separated ISO 639-1 codes (default: all ten)")
    ev.add_argument("--limit", type=_int_in(1), help="only the first N items of each stream (N >= 1)")
    ev.add_argument("--batch-size", type=_int_in(1), default=16)
    ev.add_argument("--max-new-tokens", type=_int_in(1), default=5, help="generate: tokens to generate (default 5)")
    ev.add_argument("--num-beams", type=_int_in(1), default=1, help="generate: 1 = greedy (default), 2 = as the stored runs")
    ev.add_argument("--overwrite", action="store_true", help=OVERWRITE_HELP)
    ev.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:1 ...")
    ev.add_argument("--dtype", default="auto", choices=["auto", "float32", "bfloat16", "bf16-autocast"])
    ev.set_defaults(func=_evaluate)
    tr = sub.add_parser("train", help="fine-tune a causal LM (LoRA or full); resumable; accelerate-launchable")
    tr.add_argument("--model", required=True, help="registry name, local path or hub id")
    tr.add_argument("--data", required=True, help="JSON Lines: {prompt, response} | {instruction, input, output} | {text}")
    tr.add_argument("--out", required=True, type=Path, help="job folder (checkpoints, model/, metrics.csv)")
    tr.add_argument("--config", help="YAML or JSON file of training settings (clika_utils.train.TrainConfig)")
    tr.add_argument("--method", choices=["lora", "full"])
    tr.add_argument("--lr", type=float)
    tr.add_argument("--epochs", type=float)
    tr.add_argument("--max-steps", type=_int_in(1))
    tr.add_argument("--micro-batch", type=_int_in(1))
    tr.add_argument("--grad-accum", type=_int_in(1))
    tr.add_argument("--lora-r", type=_int_in(1))
    tr.add_argument("--lora-alpha", type=_int_in(1))
    tr.add_argument("--lora-dropout", type=float)
    tr.add_argument("--lora-targets", type=_csv, help="comma-separated module names (default: every linear layer)")
    tr.add_argument("--max-length", type=_int_in(1))
    tr.add_argument("--precision", choices=["auto", "fp32", "bf16"])
    tr.add_argument("--head", choices=["supervised", "full"])
    tr.add_argument("--seed", type=_int_in(0))
    tr.add_argument("--save-every", type=_int_in(1))
    tr.add_argument("--no-progress", action="store_true")
    tr.add_argument("--overwrite", action="store_true", help=OVERWRITE_HELP)
    tr.set_defaults(func=_train)
    data = sub.add_parser("data", help="check or fetch data").add_subparsers(dest="data_command", required=True)
    ck = data.add_parser("check", help="validate a CLiKA tree")
    ck.add_argument("--data-dir")
    ck.set_defaults(func=_check)
    fe = data.add_parser("fetch", help="download the public sources (needs internet)")
    fe.add_argument("--dest", type=Path, help="data home to fill (default: $CLIKA_DATA_HOME or <repo>/data)")
    fe.add_argument("--only", type=_csv, help="comma-separated subset of clika,xquad,tatoeba")
    fe.add_argument("--force", action="store_true", help="download again even if present")
    fe.set_defaults(func=_fetch)
    qs = sub.add_parser("qa-score", help="EM/F1 of QA predictions, as the official MLQA evaluation script")
    qs.add_argument("dataset", type=Path, help="SQuAD-format JSON (XQuAD, MLQA)")
    qs.add_argument("predictions", type=Path, help="JSON object {question id: predicted answer}")
    qs.add_argument("lang", help="answer language (en es hi vi de ar zh; el ro ru th tr ja by the documented extension)")
    qs.set_defaults(func=_qa_score)
    ms = sub.add_parser("mt-score", help="corpus BLEU / chrF++ / spBLEU of a translation file")
    ms.add_argument("--hyp", type=Path, required=True, help="hypotheses, one segment per line")
    ms.add_argument("--ref", type=Path, required=True, help="references, aligned line by line")
    ms.add_argument("--lang", required=True, help="target language (chooses the BLEU tokenizer)")
    ms.add_argument("--metrics", nargs="+", default=["bleu", "chrf++", "spbleu"], metavar="METRIC",
                    help="bleu chrf++ spbleu (space- or comma-separated; default all three)")
    ms.add_argument("--tokenize", help="override the BLEU tokenizer (13a, zh, ja-mecab, intl, char, flores101...)")
    ms.add_argument("--drop-empty", action="store_true",
                    help="drop pairs whose hypothesis is empty (default: score them, as the sacrebleu CLI does)")
    ms.add_argument("--keep-empty", action="store_true", help=argparse.SUPPRESS)   # the default since empty lines count
    ms.set_defaults(func=_mt_score)
    le = sub.add_parser("lm-eval", help="CLiKA for lm-evaluation-harness: export tasks, import samples")
    les = le.add_subparsers(dest="lmeval_command", required=True)
    lx = les.add_parser("export", help="write the CLiKA streams as an lm-eval task folder (--include_path)")
    lx.add_argument("--out", required=True, type=Path, help="task folder to write")
    lx.add_argument("--data-dir", help="CLiKA folder (default: $CLIKA_DATA_HOME/clika)")
    lx.add_argument("--tasks", type=_csv, help="comma-separated streams (default: all four)")
    lx.add_argument("--langs", type=_csv, help="comma-separated ISO 639-1 codes (default: all ten)")
    lx.add_argument("--limit", type=_int_in(1), help="only the first N items of each stream")
    lx.add_argument("--method", default="letter", choices=["letter", "text"],
                    help="letter: the option letters (as clika evaluate --method letter); text: the full options")
    lx.add_argument("--overwrite", action="store_true", help=OVERWRITE_HELP)
    lx.set_defaults(func=_lmeval_export)
    li = les.add_parser("import", help="lm-eval --log_samples output -> the official result layout")
    li.add_argument("samples", type=Path, help="lm-eval's --output_path folder (searched for samples_clika_*.jsonl)")
    li.add_argument("--out", required=True, type=Path, help="results folder (official layout)")
    li.add_argument("--system", required=True, help="system name in the result file names")
    li.add_argument("--model", default="lm-eval", help="model name recorded in the manifest")
    li.add_argument("--data-dir", help="CLiKA folder the tasks were exported from (default: $CLIKA_DATA_HOME/clika)")
    li.add_argument("--overwrite", action="store_true", help=OVERWRITE_HELP)
    li.set_defaults(func=_lmeval_import)
    pa = sub.add_parser("paths", help="show resolved settings")
    pa.set_defaults(func=_paths)
    return ap


def _show_warning(message, category, filename, lineno, file=None, line=None):
    if issubclass(category, ClikaWarning):
        print(f"warning: {message}", file=sys.stderr)
    else:
        _default_showwarning(message, category, filename, lineno, file, line)


_default_showwarning = warnings.showwarning


def main(argv=None) -> int:
    """Run one command. A user's mistake (bad value, missing or malformed file, unwritable folder, no
    CUDA, …) prints ``error: …`` and returns 2; partial data prints ``warning: …`` (``--strict``: an
    error); anything else is a bug and prints its traceback with a request to report it."""
    args = build_parser().parse_args(argv)
    with warnings.catch_warnings():
        warnings.showwarning = _show_warning
        warnings.simplefilter("error" if args.strict else "always", ClikaWarning)
        try:
            return args.func(args)
        except (ClikaError, ClikaWarning) as exc:
            print(f"error: {exc}" + (" (--strict turns warnings into errors)" if isinstance(exc, ClikaWarning) else ""),
                  file=sys.stderr)
            return 2
        except OSError as exc:     # missing, unreadable or unwritable file, full disk: the machine, not a bug
            where = f"{exc.filename}: " if exc.filename else ""
            print(f"error: {where}{exc.strerror or exc}", file=sys.stderr)
            return 2
        except KeyboardInterrupt:
            print("interrupted", file=sys.stderr)
            return 130
        except Exception:
            import traceback
            traceback.print_exc()
            print("error: this is a bug in clika-repro, not a mistake of yours; please report it with the command "
                  "line and the traceback above", file=sys.stderr)
            return 1


if __name__ == "__main__":
    sys.exit(main())
