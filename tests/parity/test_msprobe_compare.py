"""msprobe's own ``msprobe compare`` on dumps taken through the shim (cpu target), its table read by the kit."""
import math

import pytest

from npu_compat.parity import ParityError
from npu_compat.parity.msprobe_compare import ERROR, failing_calls, read_compare_table, run_msprobe_compare
from npu_compat.parity.msprobe_dump import find_dump_dir

pytest.importorskip("msprobe.pytorch", reason="msprobe is an optional extra: pip install -e '.[msprobe]'")


@pytest.fixture(scope="module")
def tables(toy_dumps, tmp_path_factory):
    out = tmp_path_factory.mktemp("compare")
    golden = find_dump_dir(toy_dumps / "golden")
    return {name: read_compare_table(run_msprobe_compare(find_dump_dir(toy_dumps / name), golden, out / name))
            for name in ("clean", "fault", "softmax_fault")}


def test_clean_rerun_passes_every_row(tables):
    rows = tables["clean"]
    assert rows and not failing_calls(rows)
    outputs = [r for r in rows if ".output." in r.name]
    assert outputs and all(r.cosine == pytest.approx(1.0) and r.max_abs_err == 0.0 for r in outputs)


def test_planted_layer_norm_fault_is_an_error_row_in_msprobes_table(tables):
    """Only the wrong kernel is marked: later calls see inputs that already differ (msprobe's rule)."""
    rows = tables["fault"]
    failing = failing_calls(rows)
    assert failing[0] == "Functional.layer_norm.0.forward", failing
    assert set(failing) <= {"Functional.layer_norm.0.forward", "Module.1.LayerNorm.forward.0"}
    row = next(r for r in rows if r.name == "Functional.layer_norm.0.forward.output.0")
    assert row.result == ERROR and row.one_thousandth < 0.1 and not math.isnan(row.cosine)
    assert row.call == "Functional.layer_norm.0.forward"
    assert failing_calls(tables["softmax_fault"])[0] == "Functional.softmax.0.forward"


def test_reading_a_table_that_is_not_msprobes_fails_in_one_line(tmp_path):
    (tmp_path / "x.csv").write_text("a,b\n1,2\n")
    with pytest.raises(ParityError, match="not msprobe's tensor compare table"):
        read_compare_table(tmp_path / "x.csv")
    with pytest.raises(ParityError, match="cannot read"):
        read_compare_table(tmp_path / "missing.csv")


def test_compare_of_mismatched_folders_is_a_parity_error(toy_dumps, tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(ParityError, match="msprobe compare failed"):
        run_msprobe_compare(tmp_path / "empty" / "proc0", find_dump_dir(toy_dumps / "golden"), tmp_path / "out")
