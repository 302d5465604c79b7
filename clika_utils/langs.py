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


#: Codes people type for a language that are not its ISO 639 code, with the code they meant.
LIKELY_MEANT = {"cn": "zh", "jp": "ja", "kr": "ko", "gr": "el", "ua": "uk", "cz": "cs", "dk": "da", "se": "sv",
                "zh-cn": "zh", "zh_cn": "zh", "iw": "he"}


def check_language_code(lang: str, what: str = "language") -> str:
    """An ISO 639 language code (any language CLDR knows, via babel), lower case, without a region;
    else a ConfigError that names the code it was probably meant to be."""
    from babel import Locale, UnknownLocaleError

    ok = isinstance(lang, str) and lang.isalpha() and lang.islower() and 2 <= len(lang) <= 3 and lang not in LIKELY_MEANT
    if ok:
        try:
            Locale.parse(lang)
        except (UnknownLocaleError, ValueError):
            ok = False
    if not ok:
        hint = f" (did you mean {LIKELY_MEANT[str(lang).lower()]!r}?)" if str(lang).lower() in LIKELY_MEANT else ""
        raise ConfigError(f"{what} {lang!r} is not an ISO 639 language code{hint}; expected a lower-case code such as "
                          f"{', '.join(sorted(set(LANGS) | {'el', 'es', 'hi', 'tr', 'vi'}))}")
    return lang
