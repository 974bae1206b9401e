"""``parity e2e --model tiny --msprobe-dir``: both sides dumped by msprobe through the shim (cpu target),
msprobe compare's table beside the kit's verdict; the two agree on the planted fault and on a clean run."""
import json

import pytest

from tests.conftest import run_python

pytest.importorskip("msprobe.pytorch", reason="msprobe is an optional extra: pip install -e '.[msprobe]'")

SIM = "torch_npu==2.7.1.post2"


def test_clean_tiny_run_passes_both_verdicts(tiny_msprobe_runs):
    root, codes = tiny_msprobe_runs
    assert codes["clean"] == 0
    verdict = json.loads((root / "clean" / "verdict.json").read_text())
    assert verdict["passed"] and verdict["ops"]["passed"] and verdict["ops"]["msprobe_passed"]
    assert verdict["stages"]["passed"] and len(verdict["stages"]["stages"]) == 6
    assert len(verdict["ops"]["rows"]) > 100  # every API call of the tiny SAM3 pipeline was judged
    assert list((root / "clean" / "golden" / "step0").glob("proc*/dump.json"))
    assert list((root / "clean" / "device" / "step0").glob("proc*/dump.json"))
    assert list((root / "clean" / "compare").glob("compare_result_*.csv"))


def test_planted_fault_fails_both_verdicts_at_the_first_layer_norm(tiny_msprobe_runs):
    root, codes = tiny_msprobe_runs
    assert codes["fault"] == 1
    verdict = json.loads((root / "fault" / "verdict.json").read_text())
    ops = verdict["ops"]
    assert not ops["passed"] and not ops["msprobe_passed"]
    first = ops["first_divergent"]
    assert first["call"] == "Functional.layer_norm.0.forward" == ops["msprobe_errors"][0]
    assert first["stage"] == "backbone.vision_backbone" and "vitdet.py" in first["call_site"]
    assert verdict["stages"]["first_divergence"] == "backbone"  # the kit's stage comparison agrees
    assert verdict["golden_dump"].startswith(str(root / "clean" / "golden"))  # the given golden was used


@pytest.mark.slow
def test_simulated_npu_tiny_run_catches_the_planted_fault_in_both(tmp_path):
    """On the simulated npu (a test double of torch_npu + CANN, not an NPU)."""
    done = run_python("-m", "npu_compat.parity", "e2e", "--model", "tiny", "--device", "npu", "--simulate", SIM,
                      "--msprobe-dir", str(tmp_path), "--plant-fault", "layer_norm_eps", timeout=1800)
    assert done.returncode == 1, done.stderr[-3000:]
    ops = json.loads((tmp_path / "verdict.json").read_text())["ops"]
    assert ops["first_divergent"]["call"] == "Functional.layer_norm.0.forward" == ops["msprobe_errors"][0]


def test_a_folder_that_already_holds_a_dump_is_refused_before_any_run(tmp_path, capsys):
    from npu_compat.parity.__main__ import main

    (tmp_path / "golden" / "step0").mkdir(parents=True)
    assert main(["e2e", "--model", "tiny", "--msprobe-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert "already holds a dump" in err and "\n" not in err
    assert not (tmp_path / "device").exists()
