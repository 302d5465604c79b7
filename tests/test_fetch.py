"""The downloader, exercised on local file:// sources laid out like the public ones."""

import zipfile

import pytest

from clika_utils import fetch
from clika_utils.errors import ClikaError


def _zip(path, names):
    with zipfile.ZipFile(path, "w") as zf:
        for name in names:
            zf.writestr(name, "{}\n")
    return path.as_uri()


def test_fetch_clika_extracts_the_task_folders(tmp_path):
    top = "CLiKA-51059fe"
    url = _zip(tmp_path / "a.zip", [f"{top}/{d}/en/x.jsonl" for d in fetch.CLIKA_FOLDERS] +
               [f"{top}/inference.py", f"{top}/README.md"])
    dest = tmp_path / "home"
    dest.mkdir()
    out = fetch.fetch_clika(dest, url=url)
    assert sorted(p.name for p in out.iterdir()) == sorted(fetch.CLIKA_FOLDERS)
    assert (out / "x_geo" / "en" / "x.jsonl").read_text() == "{}\n"


def test_fetch_clika_rejects_an_archive_without_the_layout(tmp_path):
    url = _zip(tmp_path / "b.zip", ["repo/x_geo/en/x.jsonl"])
    dest = tmp_path / "home"
    dest.mkdir()
    with pytest.raises(ClikaError, match="archive lacks"):
        fetch.fetch_clika(dest, url=url)
    assert not (dest / "clika").exists()


def test_fetch_files_and_failed_download(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "xquad.en.json").write_text("{}", encoding="utf-8")
    out = fetch.fetch_files(tmp_path / "xquad", src.as_uri() + "/{name}", ["xquad.en.json"])
    assert (out / "xquad.en.json").read_text() == "{}"
    with pytest.raises(ClikaError, match="download of .* failed"):
        fetch.fetch_files(tmp_path / "xquad", src.as_uri() + "/{name}", ["xquad.zz.json"])
    assert not list((tmp_path / "xquad").glob(".*"))  # no temporary leftovers
