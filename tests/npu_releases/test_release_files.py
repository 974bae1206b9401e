"""The per-release JSON files shared by the kernel lists and the API surfaces."""
import json

import pytest

from npu_compat.errors import KernelListError
from npu_compat.npu_releases.release_files import read_release_json, versions_in


def test_versions_sort_as_releases(tmp_path):
    for version in ("2.14.0", "2.7.1.post2", "2.7.1"):
        (tmp_path / f"torch_npu-{version}.json").write_text("{}")
    assert versions_in(tmp_path) == ["2.7.1", "2.7.1.post2", "2.14.0"]
    assert versions_in(tmp_path / "absent") == []


def test_reads_by_version_or_path_and_checks_the_format(tmp_path):
    (tmp_path / "torch_npu-1.0.json").write_text(json.dumps({"format": "f@1", "x": 1}))
    assert read_release_json(tmp_path, "1.0", "thing", "f@1")["x"] == 1
    assert read_release_json(tmp_path, str(tmp_path / "torch_npu-1.0.json"), "thing", "f@1")["x"] == 1
    with pytest.raises(KernelListError, match=r"1.0 is not a torch_npu thing \(format 'f@1'\)"):
        read_release_json(tmp_path, "1.0", "thing", "g@1")
    with pytest.raises(KernelListError, match=r"no thing for torch_npu '2.0'; available: 1.0; extract one with"):
        read_release_json(tmp_path, "2.0", "thing", "f@1")
