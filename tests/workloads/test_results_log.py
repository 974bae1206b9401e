"""Tests for npu_compat.workloads.results_log: torn tails, resume, merge order and preference."""
from __future__ import annotations

import json

from npu_compat.workloads.results_log import (ImageEntry, ResultsLog, finished_image_ids, merge_entries,
                                               read_entries, write_json_atomic)


def test_torn_tail_is_cut_on_resume_and_complete_lines_kept(tmp_path):
    log = ResultsLog(tmp_path / "rank-0.jsonl", resume=False)
    log.append(ImageEntry(3, "ok", [{"score": 0.5}]))
    log.append(ImageEntry(1, "ok", []))
    log.close()
    with (tmp_path / "rank-0.jsonl").open("ab") as fh:
        fh.write(b'{"image_id": 7, "status": "o')  # a kill in the middle of a write
    assert finished_image_ids(tmp_path) == {1, 3}
    log = ResultsLog(tmp_path / "rank-0.jsonl", resume=True)
    log.append(ImageEntry(7, "ok", []))
    log.close()
    assert [e.image_id for e in read_entries(tmp_path / "rank-0.jsonl")] == [3, 1, 7]


def test_without_resume_the_log_starts_empty(tmp_path):
    ResultsLog(tmp_path / "rank-0.jsonl", resume=False).append(ImageEntry(1, "ok", []))
    ResultsLog(tmp_path / "rank-0.jsonl", resume=False).close()
    assert list(read_entries(tmp_path / "rank-0.jsonl")) == []


def test_skipped_images_are_not_finished_and_ok_wins_the_merge(tmp_path):
    a = ResultsLog(tmp_path / "rank-0.jsonl", resume=False)
    a.append(ImageEntry(2, "skipped", error="missing"))
    a.append(ImageEntry(1, "ok", [{"k": 1}]))
    a.close()
    b = ResultsLog(tmp_path / "rank-1.jsonl", resume=False)
    b.append(ImageEntry(2, "ok", [{"k": 2}]))
    b.close()
    assert finished_image_ids(tmp_path) == {1, 2}
    merged = merge_entries(tmp_path, [1, 2, 9])
    assert [(e.image_id, e.status, e.records) for e in merged] == [(1, "ok", [{"k": 1}]), (2, "ok", [{"k": 2}])]


def test_write_json_atomic_leaves_no_temp_file(tmp_path):
    write_json_atomic(tmp_path / "out.json", [1, 2])
    write_json_atomic(tmp_path / "out.json", {"a": 1})
    assert json.loads((tmp_path / "out.json").read_text()) == {"a": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]


def test_a_corrupt_complete_line_names_file_and_line(tmp_path):
    import pytest

    from npu_compat.workloads.results_log import ResultsLogError, read_entries

    log = tmp_path / "rank-0.jsonl"
    good = '{"image_id": 1, "status": "ok", "records": [], "error": ""}'
    log.write_text(f"{good}\n{good.replace('1', '2')}\n{{garbage\n{good}\n")
    with pytest.raises(ResultsLogError, match=rf"{log} line 3 is corrupt"):
        list(read_entries(log))
    log.write_text(f'{good}\n{{"status": "ok"}}\n')  # valid JSON, not an entry
    with pytest.raises(ResultsLogError, match="line 2"):
        list(read_entries(log))
    log.write_text(f"{good}\n{{torn")  # a torn last line is not an error
    assert [e.image_id for e in read_entries(log)] == [1]
