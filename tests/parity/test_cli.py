import json
import subprocess
import sys
from pathlib import Path

import torch

from npu_compat.parity.__main__ import main
from npu_compat.parity.argspec import encode_value
from npu_compat.parity.inventory import Inventory

ROOT = Path(__file__).resolve().parents[2]


def test_help_explains_every_command():
    done = subprocess.run([sys.executable, "-m", "npu_compat.parity", "--help"], capture_output=True, text=True,
                          cwd=ROOT, timeout=120)
    assert done.returncode == 0
    for word in ("capture", "replay", "e2e", "coverage", "Exit status"):
        assert word in done.stdout


def test_committed_coverage_doc_is_up_to_date(tmp_path, capsys):
    out = tmp_path / "npu-coverage.md"
    assert main(["coverage", "--out-md", str(out), "--out-json", str(tmp_path / "c.json")]) == 0
    assert out.read_text() == (ROOT / "docs" / "npu-coverage.md").read_text(), \
        "docs/npu-coverage.md is stale: run python -m npu_compat.parity coverage"
    assert "torch_npu 2.7.1.post2" in capsys.readouterr().out
    from npu_compat.npu_releases.kernels import available_versions

    # two committed inventories (fp32, bf16) times every release with a kernel list, then the three
    # SAM 3.1-vs-0.1.4 comparisons (image fp32, image bf16, multiplex video) times every release
    written = json.loads((tmp_path / "c.json").read_text())
    assert len(written) == 5 * len(available_versions()) == 15
    assert [row.get("since") for row in written[6:9]] == ["tiny SAM3 0.1.4 image, fp32"] * 3
    assert "# What SAM 3.1 needs that SAM3 0.1.4 did not" in out.read_text()


def test_compare_names_two_inventories(tmp_path, capsys):
    data = ROOT / "npu_compat" / "data"
    new, old = data / "sam31_inventory_tiny_fp32.json", data / "sam3_inventory_tiny_fp32.json"
    assert main(["coverage", "--inventory", str(new), "--compare", f"{new}={old}", "--torch-npu", "2.7.1",
                 "--out-json", str(tmp_path / "c.json")]) == 0
    written = json.loads((tmp_path / "c.json").read_text())
    assert [row.get("since") for row in written] == [None, "sam3_inventory_tiny_fp32"]
    assert main(["coverage", "--compare", str(new)]) == 2
    assert "--compare" in capsys.readouterr().err


def test_replay_cli_writes_reports_and_exit_status(tmp_path, capsys):
    inventory = Inventory()
    inventory.add("aten.mul.Tensor", encode_value([torch.randn(4), torch.randn(4)]), {})
    path = inventory.save(tmp_path / "inv.json")
    code = main(["replay", "--inventory", str(path), "--quiet", "--out-json", str(tmp_path / "r.json"),
                 "--out-md", str(tmp_path / "r.md")])
    assert code == 0 and "replay PASS on cpu" in capsys.readouterr().out
    assert (tmp_path / "r.md").read_text().startswith("**replay PASS")


def test_errors_are_one_line_with_exit_2(tmp_path, capsys):
    assert main(["replay", "--inventory", str(tmp_path / "none.json")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: inventory") and "\n" not in err
    assert main(["coverage", "--torch-npu", "0.0.1", "--out-md", str(tmp_path / "x.md")]) == 2


def test_unavailable_device_is_a_one_line_error(tmp_path, capsys):
    import pytest

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    path = Inventory().save(tmp_path / "empty.json")
    assert main(["replay", "--inventory", str(path), "--device", "cuda"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: device 'cuda'") and "\n" not in err


def test_dumps_compares_two_msprobe_dumps_from_anywhere(toy_dumps, tmp_path, capsys):
    """``parity dumps``: msprobe compare + the kit's standards on two given dumps (toy model, cpu target)."""
    import pytest

    pytest.importorskip("msprobe.pytorch", reason="msprobe is an optional extra: pip install -e '.[msprobe]'")
    assert main(["dumps", "--golden", str(toy_dumps / "golden"), "--device", str(toy_dumps / "fault"),
                 "--out-dir", str(tmp_path / "out")]) == 1
    out = capsys.readouterr().out
    assert "first divergent op Functional.layer_norm.0.forward" in out and "msprobe compare: FAIL" in out
    verdict = json.loads((tmp_path / "out" / "verdict.json").read_text())
    assert verdict["stages"] is None and verdict["ops"]["msprobe_errors"][0] == "Functional.layer_norm.0.forward"
    assert (tmp_path / "out" / "report.html").is_file()
    assert main(["dumps", "--golden", str(toy_dumps / "golden"), "--device", str(toy_dumps / "clean"),
                 "--out-dir", str(tmp_path / "clean")]) == 0


def test_msprobe_option_errors_are_one_line_before_any_model(tmp_path, capsys):
    cases = [(["e2e", "--golden-dump", str(tmp_path)], "need --msprobe-dir"),
             (["e2e", "--msprobe-dir", str(tmp_path / "o"), "--precision", "bf16"], "same dtype"),
             (["e2e", "--plant-fault", "nonsense"], "unknown --plant-fault"),
             (["e2e", "--msprobe-dir", str(tmp_path / "o"), "--device-dump", str(tmp_path / "none")], "does not exist"),
             (["dumps", "--golden", str(tmp_path / "none"), "--device", str(tmp_path), "--out-dir", str(tmp_path)],
              "does not exist")]
    for argv, message in cases:
        assert main(argv) == 2, argv
        err = capsys.readouterr().err.strip()
        assert err.startswith("error: ") and message in err and "\n" not in err, (argv, err)
    assert not (tmp_path / "o").exists()
