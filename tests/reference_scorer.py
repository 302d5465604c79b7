"""An independent re-implementation of the CLiKA scoring, for cross-checking clika_utils.

Written from the specification alone (README "Metrics"), in plain Python: its own directory walk,
its own folder-name mapping, its own JSON reading, loops instead of arrays. It shares no code with
clika_utils on purpose.
"""

import json
import os

OFFICIAL_FILE = {"chatgpt": "chatgpt_res.jsonl"}
SUFFIX = "_res_bf16_add_simple_example.jsonl"


def folder_to_lang(folder):
    name = folder.lower()
    return name[:-6] if name.endswith("_trans") else name


def read_results(path):
    out = {}
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                row = json.loads(line)
                out[row["id"]] = (row["label"], row["res"])
    return out


def judge(res, label):
    text = res.strip()
    return len(text) > 0 and text[0] == label


def score(clika_dir):
    """{(system, task, lang): {"accuracy", "ra", "en_co"}} with RA = acc_l/acc_en and
    en-CO = Jaccard of correctly answered item ids."""
    correct_sets, sizes = {}, {}
    for task in ("x_csqa", "x_copa", "x_geo", "x_name"):
        task_dir = os.path.join(clika_dir, task)
        for folder in os.listdir(task_dir):
            full = os.path.join(task_dir, folder)
            if not os.path.isdir(full):
                continue
            lang = folder_to_lang(folder)
            for fname in os.listdir(full):
                if fname == "chatgpt_res.jsonl":
                    system = "chatgpt"
                elif fname.endswith(SUFFIX):
                    system = fname[: -len(SUFFIX)]
                else:
                    continue
                rows = read_results(os.path.join(full, fname))
                correct_sets[(system, task, lang)] = {i for i, (lab, res) in rows.items() if judge(res, lab)}
                sizes[(system, task, lang)] = len(rows)
    out = {}
    for (system, task, lang), right in correct_sets.items():
        acc = len(right) / sizes[(system, task, lang)]
        en_right = correct_sets[(system, task, "en")]
        acc_en = len(en_right) / sizes[(system, task, "en")]
        union = right | en_right
        out[(system, task, lang)] = {
            "accuracy": acc,
            "ra": acc / acc_en if acc_en > 0 else float("nan"),
            "en_co": len(right & en_right) / len(union) if union else float("nan"),
        }
    return out
