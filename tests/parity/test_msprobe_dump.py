"""msprobe dumps written through the shim (msprobe's own PrecisionDebugger) and read back by the kit."""
import json
import shutil

import pytest

from npu_compat.parity import ParityError
from npu_compat.parity.msprobe_dump import MsprobeDump, find_dump_dir
from tests.parity.conftest import dump_toy

pytest.importorskip("msprobe.pytorch", reason="msprobe is an optional extra: pip install -e '.[msprobe]'")

SIM = "torch_npu==2.7.1.post2"


def test_cpu_dump_has_msprobes_layout_and_the_kit_reads_its_calls(toy_dumps):
    directory = find_dump_dir(toy_dumps / "golden")
    assert directory.parent.name == "step0" and directory.name.startswith("proc")
    assert {"dump.json", "stack.json", "construct.json", "dump_tensor_data"} <= {p.name for p in directory.iterdir()}
    assert json.loads((directory / "dump.json").read_text())["task"] == "tensor"
    dump = MsprobeDump.load(toy_dumps / "golden")
    names = [call.name for call in dump.api_calls()]
    assert names[:3] == ["Functional.linear.0.forward", "Functional.layer_norm.0.forward", "Functional.relu.0.forward"]
    layer_norm = dump.api_calls()[1]
    assert layer_norm.module == "Module.1.LayerNorm.forward.0"
    assert "normalization.py" in layer_norm.call_site and "F.layer_norm(" in layer_norm.call_site, layer_norm.call_site
    output = dump.tensor(layer_norm.outputs[0])
    assert tuple(output.shape) == (4, 32) and abs(float(output.mean())) < 1e-5  # a LayerNorm output, read back


def test_find_dump_dir_accepts_root_step_or_proc_and_refuses_ambiguity(toy_dumps, tmp_path):
    proc = find_dump_dir(toy_dumps / "golden")
    assert find_dump_dir(proc) == proc == find_dump_dir(proc.parent)
    with pytest.raises(ParityError, match="does not exist"):
        find_dump_dir(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ParityError, match="no msprobe dump.json"):
        find_dump_dir(tmp_path / "empty")
    shutil.copytree(proc, tmp_path / "two" / "step0" / "proc1")
    shutil.copytree(proc, tmp_path / "two" / "step0" / "proc2")
    with pytest.raises(ParityError, match="holds 2 msprobe dumps"):
        find_dump_dir(tmp_path / "two" / "step0")


def test_statistics_dump_is_refused(toy_dumps, tmp_path):
    copy = shutil.copytree(find_dump_dir(toy_dumps / "golden"), tmp_path / "step0" / "proc1")
    data = json.loads((copy / "dump.json").read_text())
    (copy / "dump.json").write_text(json.dumps({**data, "task": "statistics"}))
    with pytest.raises(ParityError, match="tensor dumps"):
        MsprobeDump.load(tmp_path)


def test_simulated_npu_dump_through_the_shim_compares_with_msprobe(toy_dumps, tmp_path):
    """On the simulated npu (a test double of torch_npu + CANN, not an NPU): msprobe dumps the toy model,
    msprobe compare lines it up with the cpu golden, and the kit reads its table: all pass."""
    from npu_compat.parity.dump_verdict import judge_dumps
    from npu_compat.parity.msprobe_compare import read_compare_table, run_msprobe_compare

    done = dump_toy(tmp_path / "npu", device="npu", env={"NPU_COMPAT_SIMULATE": SIM})
    assert done.returncode == 0, done.stderr[-3000:]
    device, golden = MsprobeDump.load(tmp_path / "npu"), MsprobeDump.load(toy_dumps / "golden")
    rows = read_compare_table(run_msprobe_compare(device.directory, golden.directory, tmp_path / "compare"))
    verdict = judge_dumps(device, golden, rows)
    assert rows and verdict.msprobe_passed and verdict.passed, verdict.summary()
