"""Tests for npu_compat.env.check against recorded fixtures of an Ascend NPU host.

Every fixture under tests/env/fixtures/ascend_host_double/ is a TEST DOUBLE for an NPU host
(version.info files, npu-smi output, package versions); no NPU was used. The facts go through
the real host.gather() reader and the real check logic.
"""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from npu_compat.env import check, host, versions

DOUBLE = Path(__file__).parent / "fixtures" / "ascend_host_double"
DOCS = Path(__file__).resolve().parents[2] / "docs" / "env.md"
GOOD_VIDEO = host.VideoProbe(decord="0.6.1", frames=12, halves=(16.4, 234.8))
SOURCED = {"ASCEND_TOOLKIT_HOME": "/usr/local/Ascend/ascend-toolkit/latest"}


def ascend_host_double(line: str = "cann8.5.0-910b", smi: str | None = "910b",
                       env: dict[str, str] | None = None, root: str | None = None,
                       **packages: Any) -> host.HostFacts:
    """HostFacts read by host.gather() from a recorded NPU-host test double."""
    pkgs = json.loads((DOUBLE / f"packages-{line}.json").read_text())
    pkgs.update({k.replace("_", "-"): v for k, v in packages.items()})
    smi_text = (DOUBLE / f"npu-smi-info-{smi}.txt").read_text() if smi else None
    root_dir = DOUBLE / (root or ("root_cann8.5" if "8.5" in line else "root_cann8.3"))
    return host.gather(root=root_dir, env=SOURCED if env is None else env,
                       npu_smi=lambda: smi_text, packages=pkgs.get, torch_cuda=lambda: None,
                       video=lambda: GOOD_VIDEO, machine="aarch64", system="Linux")


def by_name(findings: list[check.Finding]) -> dict[str, check.Finding]:
    return {f.name: f for f in findings}


def doc_anchors() -> set[str]:
    """GitHub-style anchors of docs/env.md headings (explicit {#id} or slugified text)."""
    anchors = set()
    for heading in re.findall(r"^#+\s+(.*)$", DOCS.read_text(), re.M):
        explicit = re.search(r"\{#([\w-]+)\}", heading)
        anchors.add(explicit.group(1) if explicit else
                    re.sub(r"[^\w\- ]", "", heading.lower()).strip().replace(" ", "-"))
    return anchors


@pytest.mark.parametrize("line", versions.known_lines())
def test_good_combination_on_ascend_host_double_passes(line: str) -> None:
    facts = ascend_host_double(line)
    facts = replace(facts, python=versions.get_line(line).python + ".9")
    findings = check.run_checks(facts)
    bad = [f.render() for f in findings if f.status != "ok"]
    assert bad == [] and check.exit_status(findings) == 0
    got = by_name(findings)
    assert got["combination"].detail.endswith(f"match table line {line}")
    assert got["cann"].detail.startswith(f"CANN {versions.get_line(line).cann} ")
    assert got["npu"].detail.startswith("2 x 910B3") and "25.2.rc1" in got["npu"].detail
    assert got["driver"].detail == "driver 25.2.rc1"


MISMATCHES = [
    # (what the double changes, finding that fails, phrase in its detail, doc section)
    ({"torch": "2.14.1+cpu"}, "torch", "needs 2.7.1 (overridden", "torch-overridden"),
    ({"torch": "2.14.1+cpu"}, "torch_npu", "torch_npu 2.7.1.post2 needs torch 2.7.1, found 2.14.1",
     "torch-overridden"),
    ({"torchvision": "0.29.1"}, "torchvision", "needs 0.22.1", "torch-overridden"),
    ({"numpy": "1.24.0"}, "numpy", "sam3 needs >= 1.26", "numpy"),
    ({"numpy": "2.1.3"}, "numpy", "need numpy < 2", "numpy"),
    ({"triton": "3.3.1"}, "triton", "community triton 3.3.1", "triton"),
    ({"triton_ascend": "3.2.0rc4"}, "triton", "CANN 8.5.0 pairs with 3.2.0", "versions"),
    ({"torch_npu": None}, "torch_npu", "not installed", "quickstart"),
    ({"torch_npu": "2.7.1"}, "combination", "torch-npu 2.7.1 (want 2.7.1.post2)", "versions"),
]


@pytest.mark.parametrize(("change", "name", "phrase", "doc"), MISMATCHES,
                         ids=[f"{m[1]}-{next(iter(m[0].values()))}" for m in MISMATCHES])
def test_each_package_mismatch_fails_with_documented_fix(change: dict[str, Any], name: str,
                                                         phrase: str, doc: str) -> None:
    findings = check.run_checks(ascend_host_double(**change), "cann8.5.0-910b")
    got = by_name(findings)[name]
    assert got.status == "fail" and phrase in got.detail, got.render()
    assert got.fix and got.doc == doc and doc in doc_anchors()
    assert check.exit_status(findings) == 1
    pinned = {k.replace("-", "_") for k in versions.get_line().pins()}
    combination = by_name(findings)["combination"].status
    assert combination == ("fail" if set(change) & pinned else "ok")


def test_cuda_torch_fails_with_the_two_accelerators_message() -> None:
    facts = replace(ascend_host_double(), torch_cuda="12.1")
    got = by_name(check.run_checks(facts))["torch"]
    assert got.status == "fail" and "Two accelerators cannot be used at the same time" in got.detail
    assert "download.pytorch.org/whl/cpu" in got.fix and got.doc in doc_anchors()


def test_cann_8_3_image_with_8_5_packages_names_the_matching_line() -> None:
    facts = ascend_host_double("cann8.5.0-910b", root="root_cann8.3")
    got = by_name(check.run_checks(facts))["cann"]
    assert got.status == "fail" and "CANN 8.3.RC1" in got.detail and "needs CANN 8.5.0" in got.detail
    assert "--build-arg LINE=cann8.3.rc1-910b" in got.fix


@pytest.mark.parametrize(("kwargs", "name", "phrase", "doc"), [
    ({"smi": None}, "npu", "no NPU", "run"),
    ({"smi": "910a"}, "npu", "found 910A, but every table line is for 910B", "versions"),
    ({"env": {}}, "set_env", "was not sourced", "set-env"),
])
def test_host_mismatch_fails_with_documented_fix(kwargs: dict[str, Any], name: str, phrase: str,
                                                 doc: str) -> None:
    findings = check.run_checks(ascend_host_double(**kwargs))
    got = by_name(findings)[name]
    assert got.status == "fail" and phrase in got.detail and got.doc == doc, got.render()
    assert doc in doc_anchors() and check.exit_status(findings) == 1


def test_missing_driver_and_cann_fail(tmp_path: Path) -> None:
    """An empty root stands in for a container started without the driver mount or CANN."""
    facts = replace(ascend_host_double(), driver_version=None, cann_version=None, set_env_script=None)
    got = by_name(check.run_checks(facts))
    assert got["driver"].status == "fail" and "/usr/local/Ascend/driver" in got["driver"].fix
    assert got["cann"].status == "fail" and got["set_env"].status == "fail"
    empty = host.gather(root=tmp_path, env={}, npu_smi=lambda: None, packages=lambda d: None,
                        torch_cuda=lambda: None, video=None)
    assert empty.driver_version is None and empty.cann_version is None


def test_build_mode_skips_device_and_sourcing_but_not_versions() -> None:
    """While an image builds there is no NPU, no driver and no ENTRYPOINT: not judged then."""
    facts = ascend_host_double(smi=None, env={})
    facts = replace(facts, driver_version=None)
    findings = check.run_checks(facts, build=True)
    names = by_name(findings)
    assert "npu" not in names and "driver" not in names
    assert names["set_env"].status == "ok" and check.exit_status(findings) == 0
    worse = check.run_checks(ascend_host_double(smi=None, env={}, numpy="1.24.0"), build=True)
    assert check.exit_status(worse) == 1


@pytest.mark.parametrize(("probe", "status", "doc"), [
    (host.VideoProbe(error="ImportError: libswscale.so.5: cannot open shared object file"), "fail",
     "libswscale"),
    (host.VideoProbe(error="ModuleNotFoundError: No module named 'decord'"), "warn", "decord"),
    (host.VideoProbe(decord="0.6.1", frames=0, error="DECORDError: cannot find video stream"),
     "fail", "decord"),
    (host.VideoProbe(decord="0.6.1", frames=12, halves=(128.0, 128.0)), "fail", "decord"),
])
def test_video_probe_results(probe: host.VideoProbe, status: str, doc: str) -> None:
    facts = replace(ascend_host_double(), video=probe)
    got = by_name(check.run_checks(facts))["video"]
    assert got.status == status and got.doc == doc and doc in doc_anchors(), got.render()


def test_parse_npu_smi_reads_chips_and_version() -> None:
    version, chips = check.parse_npu_smi((DOUBLE / "npu-smi-info-910b.txt").read_text())
    assert version == "25.2.rc1" and chips == [("910B3", "OK"), ("910B3", "OK")]
    assert check.parse_npu_smi("npu-smi: command failed") == (None, [])


def test_render_prints_fix_and_doc_only_for_problems() -> None:
    bad = check.Finding("numpy", "fail", "numpy 1.24.0", "pip install numpy==1.26.4", "numpy")
    assert bad.render().splitlines() == ["[FAIL] numpy: numpy 1.24.0",
                                         "       fix: pip install numpy==1.26.4 (see docs/env.md#numpy)"]
    assert check.Finding("numpy", "ok", "numpy 1.26.4", "x", "numpy").render() == "[ OK ] numpy: numpy 1.26.4"
