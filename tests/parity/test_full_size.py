"""Full-size SAM3 (840 M parameters, about 7 GB, minutes on a CPU): slow, not in every CI run."""
import pytest
import torch

from npu_compat.parity.coverage import coverage_report
from npu_compat.npu_releases.kernels import load_kernel_list
from npu_compat.parity.pipeline import synthetic_inputs
from npu_compat.parity.replay import replay_inventory
from npu_compat.parity.sam3_runs import capture_sam3, e2e_sam3

pytestmark = pytest.mark.slow
needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


def test_full_size_capture_has_the_tiny_models_op_families():
    inventory = capture_sam3("full", "cpu", runs=("image", "text"), record_ranges=False)
    ops = inventory.ops()
    assert {"aten.convolution.default", "aten.native_layer_norm.default", "aten.view_as_complex.default"} <= ops
    report = coverage_report(inventory, load_kernel_list("2.7.1.post2"))
    assert report.ops and "distinct ops" in report.summary()


@needs_cuda
@pytest.mark.parametrize("autocast_bf16", [False, True])
def test_full_size_replay_on_cuda(autocast_bf16):
    inventory = capture_sam3("full", "cuda", runs=("image", "text", "box"), autocast_bf16=autocast_bf16)
    results = replay_inventory(inventory, "cuda", progress=False)
    bad = [(r.op, r.args, r.reason) for r in results if r.verdict in ("fail", "error")]
    assert not bad, bad[:10]


@needs_cuda
@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_full_size_e2e_on_cuda(precision):
    result = e2e_sam3("full", "cuda", precision=precision, reference="fp32", inputs=synthetic_inputs(0))
    assert result.passed, result.summary()
