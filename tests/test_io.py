import json
import os
import stat

import pytest

from clika_utils.errors import DataError
from clika_utils.io import atomic_open, read_jsonl, sha256_file, write_json_atomic


def test_reads_lines_and_records_line_numbers(tmp_path):
    p = tmp_path / "a.jsonl"
    p.write_text('{"id": 0}\n\n{"id": 1}\n', encoding="utf-8")
    rows = read_jsonl(p)
    assert [r["id"] for r in rows] == [0, 1]
    assert [r["_line"] for r in rows] == [1, 3]


def test_line_separator_characters_inside_strings_do_not_split_lines(tmp_path):
    p = tmp_path / "a.jsonl"
    p.write_text(json.dumps({"res": "a\u2028b\x85c"}, ensure_ascii=False) + "\n", encoding="utf-8")
    assert read_jsonl(p)[0]["res"] == "a\u2028b\x85c"


def test_corrupt_line_names_file_and_line(tmp_path):
    p = tmp_path / "bad.jsonl"
    p.write_text('{"id": 0}\n{"id": 1,\n', encoding="utf-8")
    with pytest.raises(DataError) as e:
        read_jsonl(p)
    assert e.value.line == 2 and e.value.path == p
    assert "bad.jsonl:2" in str(e.value) and "corrupt JSON" in str(e.value)


def test_non_utf8_bytes_name_the_line(tmp_path):
    p = tmp_path / "latin1.jsonl"
    p.write_bytes(b'{"res": "ok"}\n{"res": "caf\xe9"}\n')
    with pytest.raises(DataError, match=r"latin1.jsonl:2: not valid UTF-8 \(byte 0xe9"):
        read_jsonl(p)


def test_empty_file_is_an_error(tmp_path):
    p = tmp_path / "empty.jsonl"
    p.write_text("\n \n", encoding="utf-8")
    with pytest.raises(DataError, match="file is empty"):
        read_jsonl(p)


def test_non_object_and_missing_fields(tmp_path):
    p = tmp_path / "a.jsonl"
    p.write_text("[1, 2]\n", encoding="utf-8")
    with pytest.raises(DataError, match="expected a JSON object, got list"):
        read_jsonl(p)
    p.write_text('{"id": 0, "res": "A"}\n', encoding="utf-8")
    with pytest.raises(DataError, match=r"a.jsonl:1: missing field\(s\) 'label'"):
        read_jsonl(p, required=("id", "res", "label"))


def test_missing_file(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        read_jsonl(tmp_path / "nope.jsonl")


def test_atomic_write_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old", encoding="utf-8")
    with pytest.raises(RuntimeError):
        with atomic_open(target) as fh:
            fh.write("half")
            raise RuntimeError("boom")
    assert target.read_text(encoding="utf-8") == "old"
    assert os.listdir(tmp_path) == ["out.txt"]


def test_atomic_write_gives_normal_file_mode(tmp_path):
    p = write_json_atomic(tmp_path / "x.json", {"b": 1, "a": 2})
    assert p.read_text(encoding="utf-8") == '{\n  "a": 2,\n  "b": 1\n}\n'
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(p.stat().st_mode) == 0o666 & ~umask


def test_sha256(tmp_path):
    p = tmp_path / "x"
    p.write_bytes(b"abc")
    assert sha256_file(p) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"


def test_an_unfinished_write_of_a_killed_run_is_the_commands_own_file(tmp_path):
    """Every command's folder (score, evaluate, train, lm-eval): the temporary of an atomic write a killed
    run left counts as the file it was writing, and goes once the lock is held; a temporary of a file the
    command does not write is still foreign."""
    from clika_utils.errors import ConfigError
    from clika_utils.io import unfinished_write_of
    from clika_utils.outdir import LEDGER_NAME, Ledger, claim, locked

    out = tmp_path / "scores"
    out.mkdir()
    (out / "summary.csv").write_text("a\n", encoding="utf-8")
    Ledger(out).record([out / "summary.csv"], writer="clika score")
    (out / ".summary.csv.k3x_9q2a.tmp").write_text("a\n1", encoding="utf-8")
    assert unfinished_write_of(".summary.csv.k3x_9q2a.tmp") == "summary.csv" and unfinished_write_of(".x.tmp") is None
    claim(out, what="clika score")
    with locked(out, "clika score"):
        assert sorted(p.name for p in out.iterdir()) == sorted([".clika.lock", LEDGER_NAME, "summary.csv"])
    (out / ".notes.txt.k3x_9q2a.tmp").write_text("mine", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"no clika command wrote, or that changed since \(\.notes\.txt\.k3x_9q2a"):
        claim(out, what="clika score")
