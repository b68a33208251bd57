"""`specbot index` as a user runs it: per-file lines, exit status, JSON, incremental
re-indexing (unchanged skipped, changed replaced without leftovers) and --prune."""

from __future__ import annotations

import json
import os
from pathlib import Path

import docx

from tests import fixtures_docx as fx
from tests.conftest import run_cli


def env(data: Path) -> dict[str, str]:
    return {"SPECBOT_DATA_DIR": str(data)}


def make_doc(path: Path, body: str) -> Path:
    d = docx.Document()
    d.add_heading("Brake hold", 1)
    d.add_paragraph(body)
    d.save(path)
    return path


def search(data: Path, query: str) -> list[dict]:
    # In-process on the same data dir as the CLI runs (isolated_settings): saves a
    # subprocess start per lookup; the index the CLI wrote is what is read.
    from indexer.search import search as run_search

    assert os.environ["SPECBOT_DATA_DIR"] == str(data)
    return [h.to_json() for h in run_search(query, k=5, mode="keyword")]


def test_index_lines_exit_status_and_json(tmp_path: Path, isolated_settings: Path) -> None:
    folder = tmp_path / "specs"
    folder.mkdir()
    fx.make_numbered(folder / "a.docx")
    fx.make_tables_doc(folder / "b.docx", long_rows=30)
    (folder / "c.docx").write_bytes(b"garbage")
    r = run_cli("index", str(folder), env=env(isolated_settings), timeout=300)
    assert r.returncode == 1  # one file failed
    lines = r.stdout.strip().splitlines()
    assert len(lines) == 3  # one line per file; the progress display goes to stderr
    a, b, c = lines
    assert a.startswith("indexed") and "a.docx" in a and "sections=14" in a and "tables=0" in a
    assert b.startswith("indexed") and "tables=3" in b and "chunks=" in b and b.endswith("s")
    assert c.startswith("failed") and "c.docx" in c and "not a .docx" in c
    # The good files are searchable although one failed.
    assert any(h["doc"] == "b.docx" for h in search(isolated_settings, "REQ-BRK-0007"))

    r = run_cli("index", str(folder), "--json", env=env(isolated_settings), timeout=300)
    data = {Path(x["path"]).name: x for x in json.loads(r.stdout)}
    assert data["a.docx"]["status"] == "unchanged" and data["c.docx"]["status"] == "failed"
    assert set(data["b.docx"]) >= {"status", "sections", "tables", "chunks", "seconds", "error"}


def test_changed_file_replaced_and_prune(tmp_path: Path, isolated_settings: Path) -> None:
    spec = make_doc(tmp_path / "hold.docx", "The old wording mentions zebracrossing timers.")
    other = make_doc(tmp_path / "other.docx", "Unrelated text.")
    assert run_cli("index", str(spec), str(other), env=env(isolated_settings)).returncode == 0
    assert search(isolated_settings, "zebracrossing")

    make_doc(spec, "The new wording mentions pelicancrossing timers.")
    r = run_cli("index", str(spec), env=env(isolated_settings))
    assert r.returncode == 0 and r.stdout.startswith("indexed")
    assert search(isolated_settings, "zebracrossing") == []  # no chunk of the old version left
    hits = search(isolated_settings, "pelicancrossing")
    assert [h["doc"] for h in hits] == ["hold.docx"]

    os.unlink(other)
    r = run_cli("index", "--prune", str(spec), env=env(isolated_settings))
    assert r.returncode == 0
    assert "unchanged hold.docx" in r.stdout and "pruned" in r.stdout and "other.docx" in r.stdout
    from indexer.store import open_index

    assert [d.doc for d in open_index().list_documents()] == ["hold.docx"]
    assert search(isolated_settings, "Unrelated") == []


def test_keep_going_reports_bad_files_and_exits_0_unless_nothing_was_indexed(
    tmp_path: Path, isolated_settings: Path
) -> None:
    """What the one-shot indexer of compose/k8s runs: one bad .docx must not stop the service."""
    folder = tmp_path / "specs"
    folder.mkdir()
    fx.make_numbered(folder / "a.docx")
    (folder / "bad.docx").write_bytes(b"garbage")
    r = run_cli("index", "--keep-going", str(folder), env=env(isolated_settings), timeout=300)
    assert r.returncode == 0, r.stderr
    assert "failed    bad.docx" in r.stdout and "not a .docx" in r.stdout
    assert "warning: 1 of 2 files could not be indexed: bad.docx" in r.stderr
    assert [h["doc"] for h in search(isolated_settings, "Introduction")][:1] == ["a.docx"]
    # A second run: a.docx is unchanged (still served), bad.docx still failing: still 0.
    r = run_cli("index", "--keep-going", "--json", str(folder), env=env(isolated_settings), timeout=300)
    assert r.returncode == 0
    assert {x["status"] for x in json.loads(r.stdout)} == {"unchanged", "failed"}
    # Nothing at all could be indexed: a distinct status, so a deployment can tell.
    only_bad = tmp_path / "only_bad"
    only_bad.mkdir()
    (only_bad / "bad.docx").write_bytes(b"garbage")
    r = run_cli("index", "--keep-going", str(only_bad), env=env(isolated_settings), timeout=300)
    assert r.returncode == 3
    assert "error: none of 1 file could be indexed" in r.stderr
    # Without the flag a failed file still fails the run (scripts and CI rely on it).
    assert run_cli("index", str(folder), env=env(isolated_settings), timeout=300).returncode == 1


def test_overlapping_index_runs_on_one_file_both_succeed_with_one_copy(tmp_path: Path, isolated_settings: Path) -> None:
    """Two `specbot index` runs at once (a cron job and a person, two replicas): they take
    turns on the index instead of one dying on a commit conflict, and one copy remains."""
    import subprocess

    from tests.conftest import ROOT

    spec = fx.make_tables_doc(tmp_path / "spec.docx", long_rows=30)
    exe = str(Path(__import__("sys").executable).parent / "specbot")
    for round_ in range(2):  # a fresh index (table and index creation race) and then re-indexing
        procs = [
            subprocess.Popen(
                [exe, "index", "--force", "--json", str(spec)],
                env={**os.environ, **env(isolated_settings)},
                cwd=ROOT,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(2)
        ]
        for p in procs:
            out, err = p.communicate(timeout=300)
            assert p.returncode == 0, (round_, err[-3000:], out[-3000:])
            assert json.loads(out)[0]["status"] == "indexed", out
    from indexer.store import open_index

    idx = open_index()
    (info,) = idx.list_documents()
    assert info.doc == "spec.docx" and info.chunks > 0
    assert idx.db.open_table("chunks").count_rows("doc = 'spec.docx'") == info.chunks  # type: ignore[attr-defined]
    assert search(isolated_settings, "REQ-BRK-0007")
