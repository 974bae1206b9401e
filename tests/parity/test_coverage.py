import torch

from npu_compat.parity.argspec import encode_value
from npu_compat.parity.coverage import COMPOSITE, KERNEL, MISSING, coverage_report, op_status
from npu_compat.parity.inventory import Inventory
from npu_compat.npu_releases.kernels import KernelList, load_kernel_list
from npu_compat.sim.kernel_rules import KernelRules, bind

KERNELS = KernelList("2.7.1.post2", {"supported": ["add.Tensor", "gelu.out", "scaled_dot_product_attention",
                                            "upsample_bilinear2d", "grid_sampler_2d", "mm", "topk"]})


def test_status_of_listed_composite_structured_and_missing_ops():
    assert op_status("aten.add.Tensor", KERNELS)[0] == KERNEL
    assert op_status("aten.t.default", KERNELS)[0] == COMPOSITE           # CompositeExplicitAutograd
    assert op_status("aten.gelu.default", KERNELS)[:2] == (COMPOSITE, "gelu")  # via gelu.out
    assert op_status("aten.sigmoid.default", KERNELS)[0] == MISSING
    assert op_status("aten._scaled_dot_product_flash_attention_for_cpu.default", KERNELS)[:2] == \
        (KERNEL, "scaled_dot_product_attention")
    assert op_status("torchvision.roi_align.default", KERNELS)[0] == MISSING


def _inventory_with(op, args, kwargs=None):
    inventory = Inventory()
    inventory.add(op, encode_value(args), kwargs or {})
    return inventory


def test_documented_limits_are_flagged():
    x = torch.zeros(1, 2, 4, 4)
    cases = {
        "interpolate-scale_factor": ("aten.upsample_bilinear2d.default", [x, [8, 8], False, 2.0, 2.0]),
        "grid_sample-bf16": ("aten.grid_sampler_2d.default",
                             [x.bfloat16(), torch.zeros(1, 2, 2, 2, dtype=torch.bfloat16), 0, 0, False]),
        "matmul-fp64": ("aten.mm.default", [torch.zeros(2, 2, dtype=torch.float64)] * 2),
        "sort-fp64": ("aten.sort.default", [torch.zeros(3, dtype=torch.float64)]),
        "topk-unsorted": ("aten.topk.default", [torch.zeros(5), 2, -1, True, False]),
        "pad-nonconstant-dtype": ("aten.reflection_pad2d.default", [x.bfloat16(), [1, 1, 1, 1]]),
    }
    for rule, (op, args) in cases.items():
        hits = coverage_report(_inventory_with(op, args), KERNELS).limits
        assert [h.rule for h in hits] == [rule], (rule, hits)
    fine = {"aten.upsample_bilinear2d.default": [x, [8, 8], False, None, None],
            "aten.topk.default": [torch.zeros(5), 2], "aten.mm.default": [torch.zeros(2, 2)] * 2}
    for op, args in fine.items():
        assert coverage_report(_inventory_with(op, args), KERNELS).limits == []


def test_tiny_sam3_coverage_for_torch_npu_271(tiny_inventory_fp32):
    report = coverage_report(tiny_inventory_fp32, load_kernel_list("2.7.1.post2"))
    statuses = {op.op: op.status for op in report.ops}
    assert statuses["aten.convolution.default"] == KERNEL
    assert statuses["aten.grid_sampler_2d.default"] == KERNEL
    assert statuses["torchvision.roi_align.default"] == MISSING
    assert sum(op.calls for op in report.ops) == sum(e.count for e in tiny_inventory_fp32)
    assert "missing (CPU fallback)" in report.summary()


def test_coverage_and_the_simulator_judge_a_call_by_the_same_limits_row():
    """One table: a recorded call (coverage) and a live one (the simulated npu's rules, a test double of
    the Ascend stack) get the same verdict, including bf16 reflect pad and nearest-exact upsampling."""
    aten = torch.ops.aten
    x = torch.zeros(1, 2, 4, 4)
    calls = [
        (aten.reflection_pad2d.default, [x.bfloat16(), [1, 1, 1, 1]], "pad-nonconstant-dtype"),
        (aten._upsample_nearest_exact2d.vec, [x, None, [2.0, 2.0]], "interpolate-scale_factor"),
        (aten.upsample_nearest2d.vec, [x, [8, 8], None], None),
        (aten.topk.default, [torch.zeros(5), 2, -1, True, False], "topk-unsorted"),
        (aten.mm.default, [torch.zeros(2, 2, dtype=torch.float64)] * 2, "matmul-fp64"),
    ]
    for version in ("2.7.1.post2", "2.14.0"):
        kernels = load_kernel_list(version)
        sim = KernelRules(kernels)
        for op, args, expected in calls:
            live = sim.limit(op, bind(op, tuple(args), {}))
            name = op.name().replace("::", ".")
            recorded = coverage_report(_inventory_with(name, args), kernels).limits
            want = expected if version == "2.7.1.post2" else None
            assert (live.name if live else None) == want, (version, op)
            assert [hit.rule for hit in recorded] == ([want] if want else []), (version, op)
