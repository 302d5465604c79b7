"""What the experiments share — and the only module they share. An experiment module imports the
library and this module, never another experiment.

* train a job or reuse it (:func:`train_or_reuse`), read its record (:func:`clika_utils.train.job_record`);
* evaluate trained adapters and the base model in mixed batches, cached per system
  (:func:`evaluate_adapters`, :func:`translate`), and the letter-method CLiKA evaluation of live
  systems (:func:`evaluate_live`);
* the stored-output half of the training claims (:func:`stored`) and live paired comparisons
  (:func:`live_claims`);
* write and load result tables (:func:`write`, :func:`load_tables`), the claims tables' report rows,
  and the verdict sentences of the findings.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd

from .. import claims, instructions, judge, lineage, qa, translation
from ..compare import VERDICTS, Claim, Comparison, check_claims, read_items
from ..data import TASKS, discover
from ..errors import ConfigError
from ..formats import Example, alpaca_prompt
from ..io import read_csv_checked, sha256_file, write_csv_atomic, write_json_atomic
from ..langs import LANGS
from ..metrics import wilson_ci
from ..provenance import input_hashes, write_result_set
from ..train import TrainConfig, job_record, load_trained, run_job, write_job_data

METRIC_NAMES = {"accuracy": "accuracy (PF)", "ra": "RA (PF)", "en_co": "en-CO (CT)",
                "co_kappa": "en-CO beyond chance (CT)", "nll_per_token": "held-out likelihood (−NLL per token)"}
#: what the PF/CT claims of notebooks 04/05 compare: Consistency by en-CO beyond chance (κ/κ_max, which has a
#: data-dependent null), not by raw en-CO, whose change follows the accuracies (docs/analysis-plan.md)
CLAIM_METRICS = ("accuracy", "ra", "co_kappa")


def check_seeds(seeds) -> None:
    """Training runs per arm (03, 08): a whole number, at least 1 — checked before any work."""
    if isinstance(seeds, bool) or not isinstance(seeds, int) or seeds < 1:
        raise ConfigError(f"seeds must be at least 1, got {seeds!r}")


def run_first(notebook: str, profile: str, missing: str) -> str:
    """The message of a notebook whose input from an earlier notebook is missing: what, and what to run."""
    return f"{missing}: run notebook {notebook} first (`./run_all.sh {profile} --only {notebook[:2]}`)"


def stored_items(data_dir, items_csv=None, systems=None) -> tuple[pd.DataFrame, dict]:
    """The stored systems' items: notebook 01's / ``clika score``'s ``items.csv`` when given, present and
    holding every one of ``systems`` (reused, not recomputed), else ``systems`` (default all) scored now.
    Returns (items, input hashes)."""
    if items_csv is not None and Path(items_csv).exists():
        items = read_items(items_csv)
        if systems is None or set(systems) <= set(items.system):
            return items, input_hashes([items_csv])
    from ..scoring import score_tree
    result = score_tree(data_dir, n_boot=1, systems=systems)
    return result.items, input_hashes([f.path for f in result.inventory.files], root=data_dir)


def stored(data_dir, claims_of, *, items_csv=None, n_boot: int = 1000, seed: int = 0) -> tuple[dict, dict]:
    """Tables for the stored-output half of notebooks 04 and 05: lineage, paired deltas, and the claims
    ``claims_of(systems)`` declares. Returns (tables, input hashes)."""
    systems = discover(data_dir).systems
    lin = lineage.check(systems)
    declared = claims_of(systems)
    pairs = sorted({tuple(p[:3]) for c in declared for p in c.pairs})
    systems_needed = sorted({s for p in pairs for s in p[:2]})
    items, inputs = stored_items(data_dir, items_csv, systems=systems_needed)
    cmp = Comparison(items, pairs, n_boot=n_boot, seed=seed, source=str(items_csv or data_dir))
    official = check_claims(cmp, declared, unit="pairs")
    # the same claims on the answers read by the look-alike judge (Cyrillic "А." as "A."): does a verdict depend on it?
    from ..scoring import score_tree
    variant = score_tree(data_dir, judge=judge.CHECKED, n_boot=1, systems=systems_needed)
    inputs.update(input_hashes([f.path for f in variant.inventory.files], root=data_dir))
    vcmp = Comparison(variant.items, pairs, n_boot=n_boot, seed=seed, source=f"{data_dir} ({judge.CHECKED} judge)")
    return {"lineage": lin, "stored_deltas": cmp.table(), "stored_claims": official,
            "stored_judge": judge_table(official, check_claims(vcmp, declared, unit="pairs"))}, inputs


def judge_table(official: pd.DataFrame, variant: pd.DataFrame, value: str = "delta") -> pd.DataFrame:
    """Each stored claim row's verdict and ``value`` (its Δ, or what it measured) under the official judge and under
    :data:`judge.CHECKED` (04 and 05's stored claims, 01's)."""
    v = variant.set_index("claim")
    return pd.DataFrame({"claim": official["claim"], "verdict": official["verdict"],
                         f"verdict_{judge.CHECKED}": official["claim"].map(v["verdict"]),
                         value: official[value], f"{value}_{judge.CHECKED}": official["claim"].map(v[value]),
                         "depends_on_judge": official["verdict"] != official["claim"].map(v["verdict"])})


def judge_note(table: pd.DataFrame | None) -> list[str]:
    """One sentence on whether a stored verdict depends on reading look-alike letters (:func:`judge_table`)."""
    if table is None or table.empty:
        return []
    flips = table[table["depends_on_judge"].astype(bool)]
    if flips.empty:
        return [f"No stored verdict depends on the judge: read with the {judge.CHECKED} judge (Cyrillic/full-width "
                f"letters that look like the option letter count as it), all {len(table)} stored rows keep their "
                f"verdict."]
    return [f"Stored verdict that depends on the judge: {r.claim} — {r.verdict} (official) vs "
            f"{getattr(r, f'verdict_{judge.CHECKED}')} ({judge.CHECKED} judge)." for r in flips.itertuples()]


def evaluate_live(models: dict[str, object], data_dir, live_dir, *, tasks, langs, limit: int | None, batch_size: int,
                  progress: bool) -> pd.DataFrame:
    """Letter-method CLiKA evaluation of ``models`` (system name -> callable returning a LoadedModel).
    Items already in ``live_dir`` for the same model fingerprint and settings are not recomputed
    (:func:`clika_utils.evaluate.evaluate` resumes); another model under the same name is refused.
    Returns the items table of those systems."""
    from ..evaluate import evaluate
    from ..scoring import score_tree

    for system, load in models.items():
        lm = load()
        evaluate(lm, data_dir, live_dir, tasks=tasks, langs=langs, method="letter", system=system, limit=limit,
                 batch_size=batch_size, progress=progress)
        del lm
    return score_tree(live_dir, systems=list(models), tasks=tasks, langs=langs, limit=limit, n_boot=1).items


def loader(model: str, job: Path | None):
    from ..models import load_model
    return (lambda: load_model(model)) if job is None else (lambda: load_trained(job))


# ----------------------------------------------------------------------------------------------
# the held-out CLDR probe (notebooks 04 and 05): facts the model is above chance on in English

#: options per probe question; chance is 1 / PROBE_OPTIONS
PROBE_OPTIONS = 4


def probe_questions(langs, *, heldout_fraction: float, probe_items: int, seed: int) -> pd.DataFrame:
    """Multiple-choice questions on ``probe_items`` CLDR facts of the held-out split (all of them when
    ``probe_items`` is at least its size) in ``langs``; the same table for notebooks 04 and 05 with the
    same parameters, so the base model's answers are shared."""
    from .. import cldr
    all_facts = cldr.facts()
    _, held = cldr.split(all_facts, heldout_fraction)
    if probe_items < 1:
        raise ConfigError(f"probe_items must be at least 1, got {probe_items}")
    pick = sorted(np.random.default_rng([seed, 5]).choice(len(held), min(probe_items, len(held)), replace=False))
    return cldr.qa_table([held[i] for i in pick], langs, n_options=PROBE_OPTIONS, seed=seed, pool=all_facts)


def probe(lm, qa: pd.DataFrame, system: str) -> pd.DataFrame:
    """Multiple-choice CLDR probe: an item is correct iff the gold option has the highest summed
    log-probability as the response to the Alpaca-formatted question (lm-evaluation-harness ``acc``)."""
    from ..evaluate import Engine
    engine = Engine(lm)
    prefix = engine.shared_prefix([alpaca_prompt(q) for q in qa.question.unique()])   # the Alpaca header, once
    # every (question, option) one row of a batched pass, each distinct context through the LM head once
    # (benchmarks/bench_probe.py: the same predictions as one question at a time on every system of a cpu run)
    scored = engine.continuation_logprobs_batched([alpaca_prompt(q) for q in qa.question],
                                                  [list(o) for o in qa.options], prefix)
    rows = []
    for r, (scores, _) in zip(qa.itertuples(), scored):
        rows.append({"system": system, "task": "cldr", "lang": r.lang, "item_id": r.item_id,
                     "fact": r.fact, "correct": int(int(np.argmax(scores)) == r.gold)})
    return pd.DataFrame(rows)


def probe_live(model: str, models: dict, jobs: dict, qa: pd.DataFrame, live_dir) -> pd.DataFrame:
    """:func:`probe` of every system (``models``: name -> loader; ``jobs``: name -> job folder or None for the
    base model), each cached in ``<live_dir>-probe/<system>.csv`` (beside the evaluation folder, which
    ``clika evaluate`` owns) under a key of the model (its training job's record) and the questions: a
    system probed before on the same questions is read, not rerun."""
    out = []
    qa_digest = _digest(qa.astype(str).to_dict("list"))
    for system, load in models.items():
        job = jobs.get(system)
        key = {"system": system, "model": model, "questions": qa_digest,
               "job": None if job is None else {k: v for k, v in job_record(job).items() if k in ("job", "steps",
                                                                                                  "final_loss")}}
        path = Path(live_dir).with_name(Path(live_dir).name + "-probe") / f"{system}.csv"
        digest = _digest(key)
        if _is_cached(path, digest):
            out.append(_read_cached(path))
            continue
        lm = load()
        table = probe(lm, qa, system)
        del lm
        out.append(_write_cached(table, path, digest, key))
    return pd.concat(out, ignore_index=True)


def train_or_reuse(model: str, examples: list[Example], job: Path, cfg: TrainConfig, num_processes: int,
                   progress: bool, accelerate_config: str | None = None) -> dict:
    """Train the job in ``job`` on ``examples`` (or reuse it: :func:`clika_utils.train.run_job` does not train
    a finished job with the same inputs again); returns its steps, final loss, global batch and size."""
    data_file = write_job_data(job, examples)
    run_job(model, data_file, job, cfg, num_processes=num_processes, accelerate_config=accelerate_config,
            progress=progress)
    meta = job_record(job)
    return {"steps": int(meta["steps"]), "final_loss": float(meta["final_loss"]),
            "global_batch": int(meta["reports"]["global_batch"]), "examples": len(examples)}


def live_claims(items: pd.DataFrame, base: str, variants: dict[str, str], contrasts: list[tuple], n_boot: int,
                 seed: int, claims: list[Claim]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Paired deltas and claims of live systems (CLiKA streams or the CLDR probe, task ``cldr``): the pairs are
    designed, so items are the resampling unit; the chance gate applies to both."""
    pairs = [(system, base, langs) for system, langs in variants.items()] + contrasts
    cmp = Comparison(items, pairs, n_boot=n_boot, seed=seed, source="live results",
                     chance={"cldr": 1 / PROBE_OPTIONS})
    return cmp.table(), check_claims(cmp, claims)


def accuracy_summary(items: pd.DataFrame, keys=("system", "task", "lang")) -> pd.DataFrame:
    """Accuracy of 0/1 ``correct`` items per ``keys`` and ``n``."""
    return (items.groupby(list(keys), sort=False).correct.agg(["mean", "size"])
            .rename(columns={"mean": "accuracy", "size": "n"}).reset_index())


def write(tables: dict[str, pd.DataFrame], results_dir, *, parameters: dict, seed: int, inputs: dict) -> dict:
    written = write_result_set(results_dir, {f"{name}.csv": df for name, df in tables.items()},
                               parameters=parameters, seed=seed, inputs=inputs)
    return {name: written[f"{name}.csv"] for name in tables}


def load_tables(results_dir, names) -> dict[str, pd.DataFrame]:
    return {n: read_csv_checked(Path(results_dir) / f"{n}.csv", []) for n in names}


def verdict_lines(claims: pd.DataFrame, where: str) -> list[str]:
    """One plain sentence per claim row."""
    out = []
    for r in claims.itertuples():
        if not r.cells:
            out.append(f"[{where}] {r.claim}: {r.statement} — {r.reason}: {r.verdict.upper()}.")
            continue
        out.append(f"[{where}] {r.claim}: {r.statement} — mean Δ {r.delta:+.3f} "
                   f"[{r.delta_lo:+.3f}, {r.delta_hi:+.3f}] over {r.cells} cells ({r.n} items per language; "
                   f"δ {r.margin:g}, detectable {r.mde:.3f}): {r.verdict.upper()}.")
    return out


def summary_by_system(summary: pd.DataFrame) -> pd.DataFrame:
    """Mean accuracy per live system and task over languages (the compact view)."""
    return summary.pivot_table(index="system", columns="task", values="accuracy", aggfunc="mean", sort=False)


def stored_heatmap_table(deltas: pd.DataFrame, metric: str, pairs, kinds: dict | None = None) -> tuple[pd.DataFrame, pd.Series]:
    """(pair x language) mean Δ over tasks for the heatmap of the stored comparisons, rows named by the systems'
    published names ("Chinese-LLaMA-7B − LLaMA-7B"), and each row's kind of comparison (``kinds``: (derived,
    base) → kind, default "derived − base") so that unlike comparisons are drawn in separate blocks."""
    sub = deltas[deltas.metric == metric]
    rows, kind = {}, {}
    for d, b, *_ in pairs:
        part = sub[(sub.derived == d) & (sub.base == b)]
        if not part.empty:
            name = f"{lineage.display_name(d)} − {lineage.display_name(b)}"
            rows[name] = part.groupby("lang").delta.mean()
            kind[name] = (kinds or {}).get((d, b), "derived − base")
    table = pd.DataFrame(rows).T.reindex(columns=[lang for lang in LANGS if lang != "en"])
    return table, pd.Series(kind, dtype=object).reindex(table.index)


def stored_delta_note(deltas: pd.DataFrame, metric: str, pairs) -> str:
    """The uncertainty behind a stored Δ heatmap (whose cells are means over streams): the largest 95 % CI
    half-width of one stream's Δ, ×100, and the items per stream."""
    from ..plots import interval_note
    keys = {(d, b) for d, b, *_ in pairs}
    sub = deltas[(deltas.metric == metric).to_numpy() & np.array([k in keys for k in zip(deltas.derived, deltas.base)])]
    return interval_note(100 * (sub.delta_hi - sub.delta_lo) / 2, sub.n, what="one stream's 95 % CIs", per="stream")


def item_accuracy(items: pd.DataFrame, keys=("system", "lang")) -> pd.DataFrame:
    """:func:`accuracy_summary` per ``keys`` as ``value`` with its 95 % Wilson interval (``lo``/``hi``), for the
    figures' whiskers."""
    acc = accuracy_summary(items, keys)
    lo, hi = wilson_ci((acc.accuracy * acc.n).round(), acc.n)
    return acc.rename(columns={"accuracy": "value"}).assign(lo=lo, hi=hi)


def chance_note(summary: pd.DataFrame) -> list[str]:
    out = []
    cl = summary[summary.task.isin(list(TASKS))]
    for system, part in cl.groupby("system", sort=False):
        by_task = part.groupby("task").accuracy.mean()
        near = [t for t, a in by_task.items() if abs(a - TASKS[t].chance) <= 0.1]
        out.append(f"{system}: mean CLiKA accuracy " + ", ".join(f"{t} {a:.2f} (chance {TASKS[t].chance:.2f})"
                                                                for t, a in by_task.items())
                   + (f" — within 0.10 of chance on {len(near)} of {len(by_task)} tasks, so PF/CT deltas of "
                      "this model are mostly noise" if len(near) == len(by_task) else ""))
    return out


def verdict_count(claims: pd.DataFrame) -> str:
    c = claims.verdict.value_counts()
    return ", ".join(f"{c.get(v, 0)} {v}" for v in VERDICTS)


def claims_block(claims: pd.DataFrame, title: str, where: str) -> list[str]:
    """A heading with the verdict counts, then one line per claim."""
    return [f"{title} ({verdict_count(claims)}):"] + verdict_lines(claims, where)


def _digest(key: dict) -> str:
    return hashlib.sha256(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()


def _is_cached(path: Path, digest: str) -> bool:
    """Whether ``path`` holds the cached table of the key ``digest``. The cache is clika's by content: its key file
    records the table's sha256, and a table changed since (or one without a key file) is the user's — refused,
    never read as a result nor written over. (Key files of earlier versions record no hash: taken as written.)"""
    meta = path.with_suffix(".key.json")
    if not path.exists():
        return False
    try:
        record = json.loads(meta.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        record = None
    if not isinstance(record, dict) or "digest" not in record:
        raise ConfigError(f"{path}: a table no clika cache wrote (no key file {meta.name} of clika's beside it); "
                          "move it out of the folder, or choose other output folders")
    if record.get("sha256") not in (None, sha256_file(path)):
        raise ConfigError(f"{path}: the cached table changed since clika wrote it (sha256 differs from {meta.name}); "
                          "it is not read as a result: move it out of the folder to recompute it")
    return record["digest"] == digest


def _write_cached(table: pd.DataFrame, path: Path, digest: str, key: dict) -> pd.DataFrame:
    """Write a cached table and its key file (the key, and the table's sha256); return the table as read back, as a
    cached run reads it (a fresh and a cached run then hand on the same dtypes and values)."""
    write_csv_atomic(table, path)
    write_json_atomic(path.with_suffix(".key.json"), {"digest": digest, "key": key, "sha256": sha256_file(path)})
    return _read_cached(path)


def _read_cached(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, keep_default_na=False, na_values=[""], dtype={"item_id": str})


def translate(lm, pairs, src: str, tgt: str, *, adapters: list[str], max_new_tokens: int,
              batch_size: int) -> dict[str, pd.DataFrame]:
    """Greedy src→tgt translations of ``pairs`` by every adapter of ``lm`` (a model from
    :func:`clika_utils.train.load_adapters`; ``"__base__"``: none) in mixed batches: {adapter: segments
    table}."""
    from ..evaluate import Engine
    records = instructions.translation(pairs, src, tgt, test=True)
    prompts = [alpaca_prompt(r["instruction"], r["input"]) for r in records]
    flat = Engine(lm, batch_size=batch_size).generate(prompts * len(adapters), max_new_tokens,
                                                       adapter_names=[a for a in adapters for _ in prompts])
    gens = {a: flat[k * len(prompts): (k + 1) * len(prompts)] for k, a in enumerate(adapters)}
    return {name: pd.DataFrame([{"system": name, "lang": tgt, "item_id": str(i), "source": s, "reference": t,
                                 "hypothesis": qa.first_line(g)} for i, ((s, t), g) in enumerate(zip(pairs, out))])
            for name, out in gens.items()}


def evaluate_adapters(model: str, jobs: dict, caches: dict, compute) -> dict[str, dict[str, pd.DataFrame]]:
    """Evaluate trained LoRA jobs and the base model together, each result cached.

    ``jobs``: {system: job folder, or None for the base model}, in the order the mixed batches take
    them; ``caches``: {system: {kind: (csv path, key)}}. The systems with any stale kind are evaluated
    in one pass: one base model carrying their adapters unmerged (the base model's adapter name is
    ``"__base__"``); ``compute(lm, adapters)`` gets {system: adapter name} of those systems and
    returns {system: {kind: table}}. Returns {system: {kind: table}}, fresh or read from the cache."""
    digest = {s: {kind: _digest(key) for kind, (_, key) in kinds.items()} for s, kinds in caches.items()}
    hit = {s: {kind: _is_cached(path, digest[s][kind]) for kind, (path, _) in kinds.items()}
           for s, kinds in caches.items()}
    todo = [s for s in jobs if not all(hit[s].values())]
    fresh = {}
    if todo:
        from ..train import load_adapters
        lm = load_adapters(model, {s: jobs[s] for s in todo if jobs[s] is not None})
        fresh = compute(lm, {s: ("__base__" if jobs[s] is None else s) for s in todo})
        del lm
    out = {}
    for s in jobs:
        out[s] = {}
        for kind, (path, key) in caches[s].items():
            if hit[s][kind]:
                out[s][kind] = _read_cached(path)
                continue
            _write_cached(fresh[s][kind], path, digest[s][kind], key)
            out[s][kind] = fresh[s][kind]
    return out


# ----------------------------------------------------------------------------------------------
# translation-data grids (notebooks 07 and 08)


def split(data_home, lang: str, test_pairs: int) -> tuple[list, list]:
    """(test pairs, training pool) of en-``lang`` Tatoeba: one seed-0 permutation, the test first."""
    instructions.language_name(lang)
    pairs, _ = translation.read_tatoeba(data_home, lang)
    if test_pairs < 1 or test_pairs >= len(pairs):
        raise ConfigError(f"test_pairs must be between 1 and {len(pairs) - 1} for en-{lang}, got {test_pairs}")
    order = np.random.default_rng(0).permutation(len(pairs))
    return [pairs[i] for i in order[:test_pairs]], [pairs[i] for i in order[test_pairs:]]


def subset(pool: list, size: int, seed: int) -> list:
    """The first ``size`` pairs of ``pool`` in a permutation seeded by ``seed`` (nested across sizes)."""
    if size > len(pool):
        raise ConfigError(f"asked for {size} training pairs but only {len(pool)} are available")
    perm = np.random.default_rng(seed).permutation(len(pool))
    return [pool[i] for i in perm[:size]]


def task_records(lang: str, task_facts: int) -> list[dict]:
    """Fixed task data of a language: ``task_facts`` CLDR facts asked in English and in ``lang``."""
    if not task_facts:
        return []
    from .. import cldr
    facts = cldr.facts()
    pick = sorted(np.random.default_rng(0).choice(len(facts), min(task_facts, len(facts)), replace=False))
    chosen = [facts[i] for i in pick]
    return instructions.cldr_task(chosen, "en") + instructions.cldr_task(chosen, lang)


#: How each claims table of notebooks 04/05 is labelled in the claims table: (source, what was measured).
TABLE_SOURCES = {"stored_claims": ("stored", "stored outputs"), "live_claims": ("live", "live CLiKA streams"),
                 "nll_claims": ("live", "live held-out loss"), "probe_claims": ("live", "live CLDR probe")}


def claims_table_rows(results_dir, notebook: str, tables, declared) -> list[dict]:
    """Rows of the claims table from claims tables (``tables``: their names, e.g. ``stored_claims``) as
    :func:`clika_utils.compare.check_claims` writes them; the ``declared`` claims as *not run* when none
    of the tables exists."""
    rows = []
    for name in tables:
        t = claims.read(results_dir, name)
        source, what = TABLE_SOURCES[name]
        for r in ([] if t is None else t.itertuples()):
            decl = claims.declared(declared, r.claim)
            measure = METRIC_NAMES[r.metric]
            if not r.cells and r.reason == "no pair available":
                rows.append(claims.row(decl, notebook, f"{what}: no pair available", measure=measure,
                                       source=source, metric=r.metric))
                continue
            decision = {"effect": r.delta, "lo": r.delta_lo, "hi": r.delta_hi, "mde": r.mde, "margin": r.margin,
                        "verdict": r.verdict, "reason": "" if pd.isna(r.reason) else r.reason}
            if source == "stored":
                over = f"{int(r.units)} model pairs ({int(r.cells)} cells)"
                note = f"{int(r.units)} model pair(s), hierarchical bootstrap (pairs, then items); {r.pairs}"
            else:
                over = f"{int(r.cells)} cells"
                note = f"{r.pairs}; one training run per system" + ("; n = items per language"
                                                                    if name != "nll_claims" else "")
            measured = f"{what}: mean Δ {r.delta:+.3f} over {over}" if r.cells else f"{what}: no cell"
            rows.append(claims.row(decl, notebook, measured, decision, measure=measure, source=source,
                                   metric=r.metric, n=int(r.n), note=note))
    return rows or claims.not_run(declared, notebook)


def delta_claims(declared, pairs: dict[str, list]) -> list[Claim]:
    """The Δ claims the comparisons test, from the declared claims (:class:`clika_utils.claims.PaperClaim` with
    ``group`` and ``measures``): one per claim and measure, over ``pairs[claim.key]``, with the id
    "<key> <measure>" that :func:`claims_table_rows` resolves back to the declaration."""
    return [Claim(f"{c.key} {m}", c.stated(METRIC_NAMES[m]), pairs[c.key], m, c.group, c.direction)
            for c in declared if c.key in pairs for m in c.measures]
