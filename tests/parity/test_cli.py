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

    # two committed inventories (fp32, bf16) times every release with a kernel list
    assert len(json.loads((tmp_path / "c.json").read_text())) == 2 * len(available_versions()) == 6


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
