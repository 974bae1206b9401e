"""The committed matrix equals a fresh one over every sam3 release on PyPI."""

import json

from npu_compat.patchset.matrix import build_matrix, matrix_differences, to_markdown
from npu_compat.patchset.upstream import extracted_wheel, pypi_versions

from pathlib import Path

PATCHES = Path(__file__).resolve().parents[2] / "patches"


def test_committed_matrix_is_current(series_patches):
    versions = pypi_versions()
    assert "0.0.1" in versions and "0.1.4" in versions
    fresh = build_matrix(series_patches, versions, extracted_wheel)
    committed = json.loads((PATCHES / "matrix.json").read_text())
    assert matrix_differences(committed, fresh) == []
    assert (PATCHES / "matrix.md").read_text() == to_markdown(fresh)
    assert fresh["versions"]["0.0.1"]["result"] == "n/a"
    assert fresh["versions"]["0.1.4"]["result"] == "ok"


def test_differences_are_reported_per_cell(series_patches):
    base = {"series": ["a"], "versions": {"0.1.4": {"result": "ok", "patches": {"a": "exact"}}}}
    worse = {"series": ["a"], "versions": {"0.1.4": {"result": "fail", "patches": {"a": "reject(1/1)"}}}}
    [line] = matrix_differences(base, worse)
    assert "0.1.4" in line and "reject" in line
