"""Tests for npu_compat.env.versions: the one table of known-good combinations."""

from __future__ import annotations

from pathlib import Path

import pytest

from npu_compat import npu
from npu_compat.env import versions


def test_table_has_the_two_lines_the_issue_requires() -> None:
    lines = {name: versions.get_line(name) for name in versions.known_lines()}
    by_cann = {line.cann: line for line in lines.values()}
    assert by_cann["8.5.0"].torch_npu == "2.7.1.post2"
    assert by_cann["8.5.0"].triton_ascend == "3.2.0"
    assert by_cann["8.3.RC1"].torch_npu == "2.7.1"
    assert by_cann["8.3.RC1"].triton_ascend == "3.2.0rc4"
    assert versions.known_lines()[0] == versions.default_line()


def test_every_line_uses_a_910b_image_and_documents_each_pairing() -> None:
    """Ascend's `-910-` image tags are for the older 910A chip and install other kernels; 910B needs `-910b-`."""
    for name in versions.known_lines():
        line = versions.get_line(name)
        assert "-910b-" in line.base_image and "-910-" not in line.base_image, name
        assert line.chip == "910b"
        for key in ("torch_npu", "triton_ascend", "torchvision", "base_image", "numpy"):
            assert line.sources.get(key), f"{name}: no source for the {key} pairing"
        # torch_npu X.Y.Z[.postN] needs torch X.Y.Z: a row that breaks this is a typo.
        assert versions.release(line.torch_npu) == line.torch
        major, minor = (int(x) for x in line.numpy.split(".")[:2])
        assert (1, 26) <= (major, minor) < (2, 0), "sam3 needs numpy>=1.26, decord needs <2"


@pytest.mark.parametrize(
    ("torch_npu", "torch"),
    [("2.7.1.post2", "2.7.1"), ("2.7.1", "2.7.1"), ("2.14.0", "2.14.0"),
     ("2.1.0.post10", "2.1.0"), ("2.5.1rc1", "2.5.1"), ("garbage", None), ("", None)],
)
def test_torch_for_torch_npu_rule(torch_npu: str, torch: str | None) -> None:
    assert versions.torch_for_torch_npu(torch_npu) == torch


def test_the_runtime_check_asks_for_the_torch_each_line_pins() -> None:
    """``npu.required_torch`` (what load_torch_npu refuses a torch by) keeps torch_npu's own rule and
    does not read this table (the engine does not import env/); every line must agree with it."""
    for name in versions.known_lines():
        line = versions.get_line(name)
        assert npu.required_torch(line.torch_npu) == line.torch == versions.torch_for_torch_npu(line.torch_npu), name


def test_table_row_overrides_the_rule(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    src = versions.TABLE_PATH.read_text()
    odd = src.replace('torch = "2.7.1"\ntorch_index', 'torch = "2.7.0"\ntorch_index', 1)
    assert odd != src
    path = tmp_path / "versions.toml"
    path.write_text(odd)
    monkeypatch.setattr(versions, "TABLE_PATH", path)
    assert versions.torch_for_torch_npu("2.7.1.post2") == "2.7.0"
    assert versions.torch_for_torch_npu("2.9.0.post2") == "2.9.0"


def test_constraints_pin_every_package_of_the_line() -> None:
    for name in versions.known_lines():
        line = versions.get_line(name)
        pins = [ln for ln in versions.constraints_text(name).splitlines() if not ln.startswith("#")]
        assert pins == [f"{dist}=={ver}" for dist, ver in line.pins().items()]
        assert f"torch-npu=={line.torch_npu}" in pins


def test_match_line_needs_every_pin() -> None:
    line = versions.get_line()
    installed = dict(line.pins())
    installed["torch"] += "+cpu"
    assert versions.match_line(installed) == line.name
    installed["numpy"] = "1.24.0"
    assert versions.match_line(installed) is None


def test_unknown_line_and_broken_table_give_one_line_errors(tmp_path: Path) -> None:
    with pytest.raises(versions.VersionTableError, match="known lines: cann8.5.0-910b"):
        versions.get_line("cann9-910")
    bad = tmp_path / "bad.toml"
    bad.write_text("schema = 1\n[lines\n")
    with pytest.raises(versions.VersionTableError, match="not valid TOML"):
        versions.load_table(bad)
    with pytest.raises(versions.VersionTableError, match="not found"):
        versions.load_table(tmp_path / "missing.toml")


def test_docs_version_table_matches_the_table() -> None:
    """docs/env.md shows the table to users; it must not drift from versions.toml."""
    docs = (Path(__file__).resolve().parents[2] / "docs" / "env.md").read_text()
    for name in versions.known_lines():
        line = versions.get_line(name)
        row = next(r for r in docs.splitlines() if r.startswith(f"| `{name}`"))
        cells = [c.strip().strip("`") for c in row.strip("|").split("|")]
        assert cells[1:] == [line.cann, line.base_image.rsplit(":", 1)[1], line.python, line.torch,
                             line.torchvision, line.torch_npu, line.triton_ascend, line.numpy,
                             line.sam3], row
