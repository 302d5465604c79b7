"""Language codes. The CLiKA tree names its folders inconsistently (``ZH_trans``, ``DE``, ``he_trans``,
``en``); :func:`lang_from_folder` is the one place that maps them to ISO 639-1."""

from __future__ import annotations

from .errors import ConfigError

#: The ten CLiKA languages, ISO 639-1, in the order the figures use.
LANGS: tuple[str, ...] = ("en", "ar", "de", "fr", "he", "it", "ja", "pl", "ru", "zh")

#: English names, for captions and the narrative.
LANG_NAMES: dict[str, str] = {
    "ar": "Arabic", "de": "German", "en": "English", "fr": "French", "he": "Hebrew",
    "it": "Italian", "ja": "Japanese", "pl": "Polish", "ru": "Russian", "zh": "Chinese",
}


def lang_from_folder(name: str) -> str | None:
    """ISO 639-1 code of a CLiKA language folder name, or None when the name is not a language folder.

    Case is ignored and a ``_trans`` suffix (machine-translated X-CSQA folders) is dropped:
    ``ZH_trans`` -> ``zh``, ``DE`` -> ``de``, ``he_trans`` -> ``he``, ``en`` -> ``en``.
    """
    code = name.lower()
    if code.endswith("_trans"):
        code = code[: -len("_trans")]
    return code if code in LANG_NAMES else None


def check_langs(langs) -> tuple[str, ...]:
    """Validate user-given language codes; returns them in canonical order."""
    unknown = [lang for lang in langs if lang not in LANG_NAMES]
    if unknown:
        raise ConfigError(f"unknown language code(s) {unknown}; expected ISO 639-1 codes among {list(LANGS)}")
    return tuple(lang for lang in LANGS if lang in set(langs))
