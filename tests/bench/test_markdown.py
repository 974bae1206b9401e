"""Tests for npu_compat.bench.markdown: result tables and the results block of a document."""
from __future__ import annotations

from npu_compat.bench.markdown import BEGIN, END, result_markdown, update_document
from npu_compat.bench.suite import Result, write_json


def test_table_has_the_environment_command_and_rows():
    result = Result("image", environment={"date": "2026-12-01", "command": "python tools/bench.py image",
                                          "cpu_flags": ["avx2"], "device": "cpu"})
    result.add("set_image", 12.5, "ms", "median of 2")
    text = result_markdown(result)
    assert "    python tools/bench.py image" in text
    assert "| set_image | 12.5 ms | median of 2 |" in text
    assert "avx2" in text


def test_skipped_result_says_why():
    assert "Skipped: no transformers" in result_markdown(Result("peer-hf", skipped="no transformers"))


def test_update_document_replaces_only_the_runs_blocks_and_is_idempotent(tmp_path):
    doc = tmp_path / "benchmarks.md"
    doc.write_text("# Benchmarks\n\nintro\n")
    first = [Result("image", rows=[("a", 1.0, "ms", "first")]), Result("video", rows=[("b", 2.0, "s", "kept")])]
    update_document(doc, first)
    update_document(doc, [Result("image", rows=[("a", 3.0, "ms", "second")])])
    text = doc.read_text()
    for name in ("image", "video"):
        assert text.count(BEGIN.format(name=name)) == 1 and text.count(END.format(name=name)) == 1
    assert "second" in text and "first" not in text and "kept" in text
    assert text.startswith("# Benchmarks\n\nintro\n")
    update_document(doc, [Result("image", rows=[("a", 3.0, "ms", "second")])])
    assert doc.read_text() == text


def test_an_updated_doc_keeps_the_users_permissions(tmp_path):
    """The doc (and the JSON) is rewritten atomically, and keeps the usual mode (a bare mkstemp would leave it 0600)."""
    import os

    doc = tmp_path / "benchmarks.md"
    doc.write_text("intro\n")
    os.chmod(doc, 0o644)
    umask = os.umask(0o022)
    try:
        update_document(doc, [Result("image", rows=[("a", 1.0, "ms", "first")])])
        write_json(tmp_path / "results.json", [Result("image")])
    finally:
        os.umask(umask)
    assert (doc.stat().st_mode & 0o777) == 0o644 and "intro" in doc.read_text()
    assert ((tmp_path / "results.json").stat().st_mode & 0o777) == 0o644
