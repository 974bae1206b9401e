"""The committed matrices (one per series directory): wheel rows equal a fresh build over every
sam3 release on PyPI; git rows (produced from a snapshot CI cannot reach) are well formed, and
equal a fresh build when the snapshot's variable ($SAM3_MAIN_SRC, $SAM3_31_SRC) names it."""

import copy
import json

import pytest

from npu_compat.patchset.matrix import (build_matrix, matrix_differences, revision_format_problems, revision_row,
                                        to_markdown)
from npu_compat.patchset.series import load_series
from npu_compat.patchset.upstream import SNAPSHOT_ENVS, extracted_wheel, pypi_versions, snapshot_for
from tests.patchset.conftest import MAIN_SERIES, SAM31_SERIES, SERIES

SERIES_FILES = {"0.1.4": SERIES, "main@99d02f2": MAIN_SERIES, "sam3@96914d2": SAM31_SERIES}
OWN_ROW = {"0.1.4": None, "main@99d02f2": "sam3@99d02f2", "sam3@96914d2": "sam3@96914d2"}  # the row each is for
GIT_ROWS = {"sam3@99d02f2": "2026-01-27", "sam3@96914d2": "2026-07-30"}  # commit dates


def _committed(series):
    return json.loads((series.parent / "matrix.json").read_text())


@pytest.fixture(scope="module")
def versions():
    found = pypi_versions()
    assert "0.0.1" in found and "0.1.4" in found
    return found


@pytest.mark.parametrize("base", SERIES_FILES)
def test_committed_wheel_rows_are_current(base, versions):
    series = SERIES_FILES[base]
    committed = _committed(series)
    fresh = build_matrix(load_series(series), versions, extracted_wheel, committed["revisions"])
    assert matrix_differences(committed, fresh) == []
    assert (series.parent / "matrix.md").read_text() == to_markdown(fresh)
    assert fresh["versions"]["0.0.1"]["result"] == "n/a"
    row = fresh["versions"]["0.1.4"]
    if base == "0.1.4":
        assert row == {**row, "result": "ok", "imports": "ok", "tiny_cpu": "ok"}
    else:  # main's series is not for the wheel: it rejects there and the tree is not tried
        assert row["result"] == "fail" and row["imports"] == "not run"


@pytest.mark.parametrize("base", SERIES_FILES)
def test_committed_git_rows_are_well_formed(base):
    committed = _committed(SERIES_FILES[base])
    assert revision_format_problems(committed) == []
    assert "sam3@99d02f2" in committed["revisions"]
    for key, row in committed["revisions"].items():
        assert row["commit"].startswith(key.split("@")[1]) and row["date"] == GIT_ROWS[key], key
        assert row["result"] == ("ok" if key == OWN_ROW[base] else "fail"), key  # a series fits its own base only
    if OWN_ROW[base] is not None:
        assert OWN_ROW[base] in committed["revisions"]


@pytest.mark.parametrize("base", SERIES_FILES)
def test_git_rows_match_the_snapshot(base):
    series = SERIES_FILES[base]
    committed = _committed(series)
    at_hand = {key: snapshot_for(row["commit"]) for key, row in committed["revisions"].items()}
    at_hand = {key: path for key, path in at_hand.items() if path is not None}
    if not at_hand:
        pytest.skip(f"no snapshot of {sorted(committed['revisions'])}: set {' / '.join(SNAPSHOT_ENVS.values())} "
                    "(see docs/patches.md); CI checks the git rows' form")
    for key, snapshot in at_hand.items():
        old = committed["revisions"][key]
        fresh = revision_row(load_series(series), snapshot, old["commit"], old["date"])
        rebuilt = {**committed, "revisions": {**committed["revisions"], key: fresh}}
        assert matrix_differences(committed, rebuilt, only={key}) == [], key


def test_format_problems_are_found():
    committed = _committed(MAIN_SERIES)
    cases = {
        "commit": ("commit", "99d02f2"),
        "date": ("date", "27/01/2026"),
        "does not follow": ("result", "fail"),  # every cell fine and the tree ran: the result must be ok
        "unknown cells": ("patches", {name: "great" for name in committed["series"]}),
    }
    for expected, (key, value) in cases.items():
        broken = copy.deepcopy(committed)
        broken["revisions"]["sam3@99d02f2"][key] = value
        problems = revision_format_problems(broken)
        assert any(expected in p for p in problems), (key, problems)


def test_differences_are_reported_per_cell():
    base = {"series": ["a"], "versions": {"0.1.4": {"result": "ok", "patches": {"a": "exact"}}}}
    worse = {"series": ["a"], "versions": {"0.1.4": {"result": "fail", "patches": {"a": "reject(1/1)"}}}}
    [line] = matrix_differences(base, worse)
    assert "0.1.4" in line and "reject" in line
    later = {"series": ["a"], "revisions": {"sam3@abcdef0": {"produced": "2027-01-01", "result": "ok"}}}
    earlier = {"series": ["a"], "revisions": {"sam3@abcdef0": {"produced": "2026-01-01", "result": "ok"}}}
    assert matrix_differences(earlier, later) == []  # the day a row was produced is not a change
