"""Model lineage: for every system in the CLiKA stored outputs, what it was trained from and how.

The CLiKA paper compares released models; its training claims rest on who derives from whom. This
table is that knowledge, as data in the package. Fields per entry:

* ``system``   – the name in the result files (``<system>_res_bf16_add_simple_example.jsonl``)
* ``base``     – the system it was trained from (``""`` when trained from scratch or unknown); it may
  name a model that is not among the stored outputs (then no paired comparison uses it)
* ``stage``    – the training stage that produced ``system`` from ``base``: one of :data:`STAGES`
* ``langs``    – that stage's languages (ISO 639-1, ``+``-joined; ``multi`` = many, listed in ``note``)
* ``size``     – parameters, e.g. ``7B``; ``?`` when unpublished
* ``note``     – what else matters, and the source (model card or paper) the entry was taken from

Each entry's source is given in its comment. Use :func:`table` for a DataFrame, :func:`check`
against a data tree, and :func:`pairs` for (derived, base) pairs by stage.
"""

from __future__ import annotations

import pandas as pd

from .errors import ConfigError

STAGES = ("base", "continued pretraining", "mixed pretraining", "instruction tuning", "chat",
          "knowledge fine-tuning")

COLUMNS = ["system", "base", "stage", "langs", "size", "note"]

_L = [
    # LLaMA (Touvron et al. 2023, arXiv:2302.13971): trained from scratch, 1.4T tokens, ~90 % English,
    # 20 Latin/Cyrillic-script Wikipedia languages; no Chinese/Japanese/Arabic/Hebrew data by design.
    ("llama_7b", "", "base", "en", "7B", "English-dominant pretraining; arXiv:2302.13971"),
    ("llama_13b", "", "base", "en", "13B", "English-dominant pretraining; arXiv:2302.13971"),
    ("llama_65b", "", "base", "en", "65B", "English-dominant pretraining; arXiv:2302.13971"),
    # Llama 2 (Touvron et al. 2023, arXiv:2307.09288): 2T tokens, 89.7 % English (Table 10).
    ("llama2_7b", "", "base", "en", "7B", "89.7% English pretraining; arXiv:2307.09288"),
    ("llama2_13b", "", "base", "en", "13B", "89.7% English pretraining; arXiv:2307.09288"),
    ("llama2_70b", "", "base", "en", "70B", "89.7% English pretraining; arXiv:2307.09288"),
    # Llama-2-Chat: SFT + RLHF on mostly English dialogue (arXiv:2307.09288, section 3).
    ("llama2_7b_chat", "llama2_7b", "chat", "en", "7B", "SFT+RLHF; arXiv:2307.09288"),
    ("llama2_13b_chat", "llama2_13b", "chat", "en", "13B", "SFT+RLHF; arXiv:2307.09288"),
    ("llama2_70b_chat", "llama2_70b", "chat", "en", "70B", "SFT+RLHF; arXiv:2307.09288"),
    # Chinese-LLaMA / -Alpaca (Cui et al. 2023, arXiv:2304.08177; github ymcui/Chinese-LLaMA-Alpaca):
    # vocabulary extended with 20k Chinese tokens, continued pretraining on Chinese text (20 GB; "Plus":
    # 120 GB); Alpaca = instruction tuning of the LLaMA model on Chinese+English instructions;
    # "Pro" = the Plus-based Alpaca with longer answers.
    ("chinese_llama_7b", "llama_7b", "continued pretraining", "zh", "7B", "20GB Chinese; arXiv:2304.08177"),
    ("chinese_llama_13b", "llama_13b", "continued pretraining", "zh", "13B", "20GB Chinese; arXiv:2304.08177"),
    ("chinese_llama_plus_7b", "llama_7b", "continued pretraining", "zh", "7B", "120GB Chinese; arXiv:2304.08177"),
    ("chinese_llama_plus_13b", "llama_13b", "continued pretraining", "zh", "13B", "120GB Chinese; arXiv:2304.08177"),
    ("chinese_alpaca_7b", "chinese_llama_7b", "instruction tuning", "zh+en", "7B", "2M instructions; arXiv:2304.08177"),
    ("chinese_alpaca_13b", "chinese_llama_13b", "instruction tuning", "zh+en", "13B", "3M instructions; arXiv:2304.08177"),
    ("chinese_alpaca_pro_7b", "chinese_llama_plus_7b", "instruction tuning", "zh+en", "7B",
     "Plus-based, longer answers; github ymcui/Chinese-LLaMA-Alpaca v5.0"),
    ("chinese_alpaca_pro_13b", "chinese_llama_plus_13b", "instruction tuning", "zh+en", "13B",
     "Plus-based, longer answers; github ymcui/Chinese-LLaMA-Alpaca v5.0"),
    # Chinese-LLaMA-2 / -Alpaca-2 (github ymcui/Chinese-LLaMA-Alpaca-2): Llama 2 + 55k-token vocabulary,
    # continued pretraining on 120 GB Chinese; Alpaca-2 instruction-tuned on 5M (zh+en) instructions.
    ("chinese_llama2_7b", "llama2_7b", "continued pretraining", "zh", "7B", "120GB Chinese; ymcui/Chinese-LLaMA-Alpaca-2"),
    ("chinese_llama2_13b", "llama2_13b", "continued pretraining", "zh", "13B", "120GB Chinese; ymcui/Chinese-LLaMA-Alpaca-2"),
    ("chinese_alpaca2_7b", "chinese_llama2_7b", "instruction tuning", "zh+en", "7B", "5M instructions; ymcui/Chinese-LLaMA-Alpaca-2"),
    ("chinese_alpaca2_13b", "chinese_llama2_13b", "instruction tuning", "zh+en", "13B", "5M instructions; ymcui/Chinese-LLaMA-Alpaca-2"),
    # LeoLM (Plüster 2023, laion.ai/blog/leo-lm; HF LeoLM/leo-hessianai-13b): Llama 2 continued on 65B
    # German tokens; the chat model is instruction/chat-tuned on German (translated) data.
    ("LeoLM_leo_hessianai_13b", "llama2_13b", "continued pretraining", "de", "13B", "65B German tokens; laion.ai/blog/leo-lm"),
    ("LeoLM_leo_hessianai_13b_chat", "LeoLM_leo_hessianai_13b", "chat", "de", "13B",
     "German chat/instruction data; HF LeoLM/leo-hessianai-13b-chat"),
    # Baichuan 2 (Yang et al. 2023, arXiv:2309.10305): from scratch on 2.6T tokens, mostly Chinese and
    # English with other languages mixed in; chat = SFT + RLHF.
    ("baichuan2_7b_base", "", "mixed pretraining", "zh+en", "7B", "2.6T tokens, zh+en mix; arXiv:2309.10305"),
    ("baichuan2_13b_base", "", "mixed pretraining", "zh+en", "13B", "2.6T tokens, zh+en mix; arXiv:2309.10305"),
    ("baichuan2_7b_chat", "baichuan2_7b_base", "chat", "zh+en", "7B", "SFT+RLHF; arXiv:2309.10305"),
    ("baichuan2_13b_chat", "baichuan2_13b_base", "chat", "zh+en", "13B", "SFT+RLHF; arXiv:2309.10305"),
    # CLiKA's own conductivity runs (Gao et al. 2024, section 5): Baichuan2-13B-Chat fine-tuned on the
    # Chinese fictional data at four learning rates.
    ("Baichuan2-13B-ChatZH1e-4", "baichuan2_13b_chat", "knowledge fine-tuning", "zh+en", "13B", "lr 1e-4; CLiKA sec. 5"),
    ("Baichuan2-13B-ChatZH2e-4", "baichuan2_13b_chat", "knowledge fine-tuning", "zh+en", "13B", "lr 2e-4; CLiKA sec. 5"),
    ("Baichuan2-13B-ChatZH4e-4", "baichuan2_13b_chat", "knowledge fine-tuning", "zh+en", "13B", "lr 4e-4; CLiKA sec. 5"),
    ("Baichuan2-13B-ChatZH8e-4", "baichuan2_13b_chat", "knowledge fine-tuning", "zh+en", "13B", "lr 8e-4; CLiKA sec. 5"),
    # BLOOM (BigScience 2022, arXiv:2211.05100): from scratch on ROOTS, 46 natural languages (incl. ar fr
    # zh; not de it ja pl ru he). BLOOMZ (Muennighoff et al. 2023, arXiv:2211.01786): multitask
    # instruction tuning on xP3 (46 languages, English prompts); -mt: xP3mt (machine-translated prompts).
    ("bloom_7b1", "", "mixed pretraining", "multi", "7.1B", "ROOTS, 46 languages; arXiv:2211.05100"),
    ("bloomz_7b1", "bloom_7b1", "instruction tuning", "multi", "7.1B", "xP3, English prompts; arXiv:2211.01786"),
    ("bloomz_7b1_mt", "bloom_7b1", "instruction tuning", "multi", "7.1B", "xP3mt, translated prompts; arXiv:2211.01786"),
    # Stanford Alpaca (Taori et al. 2023, github tatsu-lab/stanford_alpaca): LLaMA-7B + 52k English
    # self-instruct demonstrations.
    ("Stanford_Alpaca", "llama_7b", "instruction tuning", "en", "7B", "52k English instructions; tatsu-lab/stanford_alpaca"),
    # m-LLaMA (Zhu et al. 2023, arXiv:2308.04948, "Extrapolating LLMs to non-English by aligning
    # languages"): LLaMA-7B + Alpaca data and en->X translation data in ar el hi tr vi zh.
    ("m_llama", "llama_7b", "instruction tuning", "multi", "7B", "Alpaca + translation, ar el hi tr vi zh; arXiv:2308.04948"),
    # BayLing (Zhang et al. 2023, arXiv:2306.10968): LLaMA-13B + interactive translation instructions
    # (en<->zh) and general instructions; v1.1 adds Chinese knowledge.
    ("bayling_13b_v11", "llama_13b", "instruction tuning", "zh+en", "13B", "interactive translation; arXiv:2306.10968"),
    # BigTranslate (Yang et al. 2023, arXiv:2305.18098): LLaMA-13B, continued pretraining on Chinese,
    # then multilingual translation instructions in 102 languages (the last stage is listed).
    ("bigtranslate", "llama_13b", "instruction tuning", "multi", "13B",
     "after zh continued pretraining; 102-language translation; arXiv:2305.18098"),
    # PolyLM (Wei et al. 2023, arXiv:2307.06018): PolyLM-13B (from scratch, 18 languages, not among the
    # stored outputs) + MultiAlpaca, 132k self-instruct examples in 11 languages.
    ("polylm_multialpaca_13b", "polylm_13b", "instruction tuning", "multi", "13B", "MultiAlpaca, 11 languages; arXiv:2307.06018"),
    # Vicuna v1.5 (lmsys.org, HF lmsys/vicuna-13b-v1.5): Llama 2 13B + ShareGPT conversations.
    ("vicuna_13b_v1.5", "llama2_13b", "chat", "en", "13B", "ShareGPT, mostly English; HF lmsys/vicuna-13b-v1.5"),
    # ChatGLM2-6B (THUDM, github THUDM/ChatGLM2-6B): GLM, 1.4T zh+en tokens, then SFT + RLHF; the
    # pretrained model was not released.
    ("chatglm2_6b", "", "chat", "zh+en", "6B", "zh+en pretraining + SFT/RLHF; THUDM/ChatGLM2-6B"),
    # ChatGPT (gpt-3.5-turbo) as evaluated by the CLiKA authors; training undisclosed.
    ("chatgpt", "", "chat", "multi", "?", "gpt-3.5-turbo, undisclosed; CLiKA sec. 3"),
]


def table() -> pd.DataFrame:
    """The lineage as a DataFrame (columns :data:`COLUMNS`), validated."""
    df = pd.DataFrame(_L, columns=COLUMNS)
    dup = df.system[df.system.duplicated()].tolist()
    if dup:
        raise ConfigError(f"lineage lists {dup} twice")
    bad = sorted(set(df.stage) - set(STAGES))
    if bad:
        raise ConfigError(f"lineage uses unknown stage(s) {bad}; expected {STAGES}")
    return df


def check(systems) -> pd.DataFrame:
    """Validate the lineage against the systems that have outputs; returns the table with a
    ``base_stored`` column. An entry naming a system with no outputs is an error (a typo would
    otherwise drop a comparison silently); a stored system missing from the lineage is one too."""
    df = table()
    systems = set(systems)
    missing = sorted(set(df.system) - systems)
    if missing:
        raise ConfigError(f"lineage entries with no stored outputs: {missing}; "
                          f"the data tree has {len(systems)} systems")
    unlisted = sorted(systems - set(df.system))
    if unlisted:
        raise ConfigError(f"systems with outputs but no lineage entry: {unlisted}; add them to clika_utils/lineage.py")
    return df.assign(base_stored=df.base.isin(systems))


def pairs(stage: str, systems=None) -> list[tuple[str, str, str]]:
    """(derived, base, langs) for every entry of ``stage`` whose base is stored (in ``systems``,
    default: every lineage system)."""
    if stage not in STAGES:
        raise ConfigError(f"unknown stage {stage!r}; expected one of {STAGES}")
    df = table()
    have = set(df.system) if systems is None else set(systems)
    rows = df[(df.stage == stage) & df.base.isin(have) & df.system.isin(have)]
    return [(r.system, r.base, r.langs) for r in rows.itertuples()]


#: How figures and tables name each stored system (the result files' names are identifiers, not names).
DISPLAY = {
    "llama_7b": "LLaMA-7B", "llama_13b": "LLaMA-13B", "llama_65b": "LLaMA-65B",
    "llama2_7b": "Llama-2-7B", "llama2_13b": "Llama-2-13B", "llama2_70b": "Llama-2-70B",
    "llama2_7b_chat": "Llama-2-7B-Chat", "llama2_13b_chat": "Llama-2-13B-Chat", "llama2_70b_chat": "Llama-2-70B-Chat",
    "chinese_llama_7b": "Chinese-LLaMA-7B", "chinese_llama_13b": "Chinese-LLaMA-13B",
    "chinese_llama_plus_7b": "Chinese-LLaMA-Plus-7B", "chinese_llama_plus_13b": "Chinese-LLaMA-Plus-13B",
    "chinese_alpaca_7b": "Chinese-Alpaca-7B", "chinese_alpaca_13b": "Chinese-Alpaca-13B",
    "chinese_alpaca_pro_7b": "Chinese-Alpaca-Pro-7B", "chinese_alpaca_pro_13b": "Chinese-Alpaca-Pro-13B",
    "chinese_llama2_7b": "Chinese-LLaMA-2-7B", "chinese_llama2_13b": "Chinese-LLaMA-2-13B",
    "chinese_alpaca2_7b": "Chinese-Alpaca-2-7B", "chinese_alpaca2_13b": "Chinese-Alpaca-2-13B",
    "LeoLM_leo_hessianai_13b": "LeoLM-13B", "LeoLM_leo_hessianai_13b_chat": "LeoLM-13B-Chat",
    "baichuan2_7b_base": "Baichuan2-7B-Base", "baichuan2_13b_base": "Baichuan2-13B-Base",
    "baichuan2_7b_chat": "Baichuan2-7B-Chat", "baichuan2_13b_chat": "Baichuan2-13B-Chat",
    "Baichuan2-13B-ChatZH1e-4": "Baichuan2-13B-Chat + ZH lr 1e-4",
    "Baichuan2-13B-ChatZH2e-4": "Baichuan2-13B-Chat + ZH lr 2e-4",
    "Baichuan2-13B-ChatZH4e-4": "Baichuan2-13B-Chat + ZH lr 4e-4",
    "Baichuan2-13B-ChatZH8e-4": "Baichuan2-13B-Chat + ZH lr 8e-4",
    "bloom_7b1": "BLOOM-7B1", "bloomz_7b1": "BLOOMZ-7B1", "bloomz_7b1_mt": "BLOOMZ-7B1-MT",
    "Stanford_Alpaca": "Stanford Alpaca-7B", "m_llama": "m-LLaMA-7B", "bayling_13b_v11": "BayLing-13B v1.1",
    "bigtranslate": "BigTranslate-13B", "polylm_multialpaca_13b": "PolyLM-MultiAlpaca-13B",
    "vicuna_13b_v1.5": "Vicuna-13B v1.5", "chatglm2_6b": "ChatGLM2-6B", "chatgpt": "ChatGPT",
}

#: Display names of the live models (registry names) and of this project's variant suffixes
#: (``<label>_<variant>``, as notebooks 02 and 04–06 name their systems).
MODEL_DISPLAY = {"gemma-3-270m": "Gemma-3-270M", "tiny-llama": "tiny-llama"}
VARIANT_DISPLAY = {
    "base": "base", "letter": "(letter)", "generate": "(generate)", "text": "(text)",
    "letter-all-items": "(letter, all items)", "lm-eval": "(lm-evaluation-harness)",
    "cpt-zh": "+ Chinese continued PT", "cpt-de": "+ German continued PT", "mixed": "+ mixed PT",
    "it-en": "+ English-only IT", "it-multi": "+ multilingual IT",
    "alpaca": "+ Alpaca (English IT)", "m-llama": "+ m-LLaMA (MuIT)",
}


def display_name(system: str) -> str:
    """The name a reader sees for ``system``: a stored system's published name (:data:`DISPLAY`), or for a
    live system ``<label>_<variant>`` the model's name and what was done to it (``x-llama-ar`` reads
    "+ x-LLaMA-ar (CoIT)"); a notebook-09 system ``06:<variant>`` is the tuned variant of its base."""
    if system in DISPLAY:
        return DISPLAY[system]
    if system.startswith("06:"):
        return _variant(system[3:])
    label, sep, variant = system.rpartition("_")
    if not sep:
        return MODEL_DISPLAY.get(system, system)
    return f"{MODEL_DISPLAY.get(label, label)} {_variant(variant)}"


def _variant(variant: str) -> str:
    if variant.startswith("x-llama-"):
        return f"+ x-LLaMA-{variant[len('x-llama-'):]} (CoIT)"
    return VARIANT_DISPLAY.get(variant, variant)


def _size(size: str) -> float:
    try:
        return float(size.rstrip("B"))
    except ValueError:
        return float("inf")


def system_order(systems) -> list[str]:
    """``systems`` ordered by family and size as the lineage lists them (families in the order of the
    lineage table, smaller models first, a base before what was trained from it); systems not in the
    lineage (live ones) follow in the order given."""
    df = table()
    base, pos = dict(zip(df.system, df.base)), {s: i for i, s in enumerate(df.system)}

    def root(s: str) -> str:  # the family of a system is its root ancestor's (the lineage's first of it)
        while base[s] in base:
            s = base[s]
        return s

    key = {s: (pos[root(s)], _size(size), pos[s]) for s, size in zip(df.system, df["size"])}
    systems = list(dict.fromkeys(systems))
    known = sorted((s for s in systems if s in key), key=key.__getitem__)
    return known + [s for s in systems if s not in key]
