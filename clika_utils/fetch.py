"""Download the public data sources into the data home (for users with internet).

The same sources as the copies CI uses (see the README's "Data" section):
* ``clika/``   github.com/RiverGao/CLiKA at commit 51059fe (the task folders and ``fictional/``)
* ``xquad/``   github.com/google-deepmind/xquad (``xquad.<lang>.json``, CC-BY-SA-4.0)
* ``tatoeba/`` github.com/facebookresearch/LASER ``data/tatoeba/v1`` (test pairs, CC-BY 2.0 FR)

Existing files are kept unless ``force``. Every download goes to a temporary file first.
"""

from __future__ import annotations

import shutil
import tempfile
import urllib.request
import zipfile
from pathlib import Path

from .errors import ClikaError, ConfigError

CLIKA_COMMIT = "51059fe908ae2508740732056d8db3eba6c0f751"
CLIKA_URL = f"https://github.com/RiverGao/CLiKA/archive/{CLIKA_COMMIT}.zip"
CLIKA_FOLDERS = ("x_csqa", "x_copa", "x_geo", "x_name", "fictional")
XQUAD_URL = "https://raw.githubusercontent.com/google-deepmind/xquad/master/{name}"
XQUAD_LANGS = ("ar", "de", "el", "en", "es", "hi", "ro", "ru", "th", "tr", "vi", "zh")
TATOEBA_URL = "https://raw.githubusercontent.com/facebookresearch/LASER/main/data/tatoeba/v1/{name}"
#: ISO 639-3 codes of the languages both papers use (CLiKA's ten and x-LLaMA's six, plus Spanish).
TATOEBA_LANGS = ("ara", "cmn", "deu", "ell", "fra", "heb", "hin", "ita", "jpn", "pol", "rus", "spa", "tur", "vie")
SOURCES = ("clika", "xquad", "tatoeba")


def _download(url: str, dest: Path, timeout: float = 120) -> Path:
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", dir=dest.parent)
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp, open(fd, "wb") as fh:
            shutil.copyfileobj(resp, fh)
        Path(tmp).replace(dest)
    except Exception as exc:
        Path(tmp).unlink(missing_ok=True)
        raise ClikaError(f"download of {url} failed: {exc}") from None
    return dest


def fetch_clika(dest: Path, url: str = CLIKA_URL, force: bool = False) -> Path:
    target = dest / "clika"
    if target.exists() and not force:
        return target
    with tempfile.TemporaryDirectory(dir=dest) as tmp:
        archive = _download(url, Path(tmp) / "clika.zip")
        with zipfile.ZipFile(archive) as zf:
            top = {n.split("/", 1)[0] for n in zf.namelist() if "/" in n}
            if len(top) != 1:
                raise ClikaError(f"{url}: expected one top-level folder in the archive, found {sorted(top)}")
            prefix = top.pop() + "/"
            staging = Path(tmp) / "clika"
            for info in zf.infolist():
                rel = info.filename[len(prefix):]
                if info.is_dir() or rel.split("/", 1)[0] not in CLIKA_FOLDERS:
                    continue
                out = staging / rel
                if not out.resolve().is_relative_to(staging.resolve()):
                    raise ClikaError(f"{url}: unsafe path {info.filename!r} in archive")
                out.parent.mkdir(parents=True, exist_ok=True)
                out.write_bytes(zf.read(info))
        missing = [f for f in CLIKA_FOLDERS if not (staging / f).is_dir()]
        if missing:
            raise ClikaError(f"{url}: archive lacks {missing}; expected the CLiKA repository layout")
        if target.exists():
            shutil.rmtree(target)
        staging.replace(target)
    return target


def fetch_files(dest: Path, url_template: str, names, force: bool = False) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    for name in names:
        if force or not (dest / name).exists():
            _download(url_template.format(name=name), dest / name)
    return dest


def fetch(dest: Path, sources=SOURCES, force: bool = False) -> dict[str, Path]:
    unknown = [s for s in sources if s not in SOURCES]
    if unknown:
        raise ConfigError(f"unknown data source(s) {unknown}; expected some of {SOURCES}")
    dest.mkdir(parents=True, exist_ok=True)
    out = {}
    if "clika" in sources:
        out["clika"] = fetch_clika(dest, force=force)
    if "xquad" in sources:
        out["xquad"] = fetch_files(dest / "xquad", XQUAD_URL, [f"xquad.{lang}.json" for lang in XQUAD_LANGS], force)
    if "tatoeba" in sources:
        names = [f"tatoeba.{c}-eng.{s}" for c in TATOEBA_LANGS for s in (c, "eng")]
        out["tatoeba"] = fetch_files(dest / "tatoeba", TATOEBA_URL, names, force)
    return out
