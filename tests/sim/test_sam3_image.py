"""The tiny SAM3 image path end to end on the simulated npu (a test double of the Ascend stack):
``python -m npu_compat.apply --device npu --simulate torch_npu==2.7.1.post2 -- tools/sam3_demo.py``.

Two independent routes must agree: the CPU fallbacks that fire on the simulated device, and the
parity coverage report's prediction from a CPU capture of the same model against the same
release's kernel list."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import ROOT, run_python
from tests.sim.conftest import SIM

DEMO = ROOT / "tools" / "sam3_demo.py"
PROBE = Path(__file__).resolve().parent / "scripts" / "sam3_image_devices.py"
VERSION = SIM.split("==")[1]


def _apply(*program: str, env: dict | None = None, report: Path | None = None):
    args = ["-m", "npu_compat.apply", "--device", "npu", "--simulate", SIM]
    if report is not None:
        args += ["--report", str(report)]
    return run_python(*args, "--", *program, env={"CUDA_VISIBLE_DEVICES": "", **(env or {})}, timeout=600)


def _base(op: str) -> str:
    """``aten::_assert_async``, ``aten._assert_async.default``, ``torchvision.roi_align`` -> the op's name."""
    name = op.replace("::", ".").split(".")
    return name[1] if len(name) > 1 else name[0]


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    proc = _apply(str(DEMO), "--model", "tiny", "--dtype", "fp32", "--threshold", "0.0", "--out", str(out / "out"),
                  report=out / "report.json")
    assert proc.returncode == 0, proc.stderr[-3000:]
    return {"report": json.loads((out / "report.json").read_text()),
            "result": json.loads((out / "out" / "result.json").read_text()), "stderr": proc.stderr}


def test_demo_runs_text_and_box_prompts(demo):
    result = demo["result"]
    assert result["device"] == "npu:0"
    assert result["text"]["scores"] and result["box"]["scores"]


def test_values_equal_the_cpu_target_run(demo, tmp_path):
    """The simulator computes on the host: the same numbers as the cpu target (it checks data
    movement and coverage, not NPU numerics). fp32: autocast passes through on the simulated npu."""
    proc = run_python("-m", "npu_compat.apply", "--device", "cpu", "--", str(DEMO), "--model", "tiny",
                      "--dtype", "fp32", "--threshold", "0.0", "--out", str(tmp_path / "cpu"), env={"CUDA_VISIBLE_DEVICES": ""},
                      timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    cpu = json.loads((tmp_path / "cpu" / "result.json").read_text())
    # Not bit-equal: on the device, ops torch_npu does not list decompose as they do on any backend
    # (linear -> t + mm), while the CPU target runs fused CPU kernels. The tiny model's random mask
    # logits sit near 0, so a few pixels flip: mask areas get a relative tolerance.
    for route in ("text", "box"):
        for key in ("boxes", "scores"):
            assert _close(demo["result"][route][key], cpu[route][key], 1e-4), (route, key)
        assert abs(demo["result"][route]["mask_logit_mean"] - cpu[route]["mask_logit_mean"]) <= 1e-4
        for sim_area, cpu_area in zip(demo["result"][route]["mask_areas"], cpu[route]["mask_areas"], strict=True):
            assert abs(sim_area - cpu_area) <= 0.01 * max(cpu_area, 100), (route, sim_area, cpu_area)


def _close(a, b, tol: float = 1e-6) -> bool:
    if isinstance(a, list):
        return isinstance(b, list) and len(a) == len(b) and all(_close(x, y, tol) for x, y in zip(a, b))
    return abs(float(a) - float(b)) <= tol


def test_report_says_simulated_and_lists_the_runtime_settings(demo):
    target = demo["report"]["target"]
    assert target["device"].startswith("npu") and target["backend"] == f"simulated npu (torch_npu {VERSION})"
    assert any("on hardware this pair is refused" in note for note in target.get("notes", []))
    settings = {s["key"]: (s["old"], s["new"]) for s in demo["report"]["settings"]}
    assert settings["npu.jit_compile"] == (True, False) and settings["npu.allow_internal_format"] == (True, False)
    assert f"simulated npu (torch_npu {VERSION})" in demo["stderr"]


def _predicted(version: str, inventory: str) -> set[str]:
    """The parity coverage report's prediction: the inventory's ops that the release lacks or limits."""
    from npu_compat.npu_releases.kernels import load_kernel_list
    from npu_compat.parity.coverage import MISSING, coverage_report
    from npu_compat.parity.inventory import Inventory

    captured = Inventory.load(ROOT / "npu_compat" / "data" / f"sam3_inventory_tiny_{inventory}.json")
    predicted = coverage_report(captured, load_kernel_list(version))
    return {_base(op.op) for op in predicted.by_status(MISSING)} | {_base(hit.op) for hit in predicted.limits}


def test_fallbacks_that_fired_equal_the_coverage_prediction(demo):
    fired = {_base(op) for op in demo["report"]["fallbacks"]}
    assert fired == _predicted(VERSION, "fp32") and fired  # a non-empty set: the comparison says something


@pytest.mark.parametrize("version,dtype,inventory", [("2.14.0", "fp32", "fp32"), (VERSION, "bf16", "bf16")])
def test_the_routes_agree_for_another_release_and_under_autocast(tmp_path, version, dtype, inventory):
    proc = run_python("-m", "npu_compat.apply", "--device", "npu", "--simulate", f"torch_npu=={version}",
                      "--report", str(tmp_path / "r.json"), "--", str(DEMO), "--model", "tiny", "--dtype", dtype,
                      "--out", str(tmp_path / "out"), env={"CUDA_VISIBLE_DEVICES": ""}, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["target"]["backend"] == f"simulated npu (torch_npu {version})"
    assert {_base(op) for op in report["fallbacks"]} == _predicted(version, inventory)


def test_with_the_cpu_fallback_disabled_the_first_missing_op_fails_the_run(tmp_path):
    from npu_compat.npu_releases.kernels import load_kernel_list

    proc = _apply(str(DEMO), "--model", "tiny", "--out", str(tmp_path / "out"),
                  env={"TORCH_NPU_FALLBACK_CPU_DISABLE": "1"})
    assert proc.returncode != 0
    last = proc.stderr.strip().splitlines()[-1]
    assert "TORCH_NPU_FALLBACK_CPU_DISABLE=1" in last, last
    named = last.split("The operator '", 1)[1].split("'", 1)[0]
    assert not load_kernel_list(VERSION).has_overload(named.split("::", 1)[1])


def test_every_tensor_the_model_computes_is_on_npu(tmp_path):
    proc = _apply(str(PROBE), str(tmp_path / "devices.json"))
    assert proc.returncode == 0, proc.stderr[-3000:]
    found = json.loads((tmp_path / "devices.json").read_text())
    assert found["param_devices"] == ["npu:0"] and found["state_devices"] == ["npu:0"]
    assert found["text_scores"] > 0 and found["box_scores"] > 0
    assert found["by_device"]["npu"] > 1000
    # host tensors only from input preparation and inside the kit's fallbacks, never model compute
    assert "compute" not in found["host_ops"], [k for k in found["host_sites"] if k.startswith("compute")]
    assert found["host_ops"].get("in_fallback", 0) > 0  # the probe can see host work (roi_align's fallback)
