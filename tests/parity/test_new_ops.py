"""The ops one inventory needs that another did not, and what the kit does about each (fast: no model runs).

The committed SAM 3.1 inventories (captured on sam3@96914d2 through the shim) are checked here as data;
tests/parity/test_sam31_inventory.py regenerates them where the 3.1 tree is at hand.
"""
from __future__ import annotations

import torch

from npu_compat.parity.__main__ import DEFAULT_COMPARISONS
from npu_compat.parity.argspec import encode_value
from npu_compat.parity.coverage import COMPOSITE, KERNEL, MISSING
from npu_compat.parity.inventory import Inventory
from npu_compat.parity.new_ops import fallback_row_for, kit_action, limit_row_for, new_ops_report
from npu_compat.npu_releases.kernels import KernelList, available_versions, load_kernel_list
from npu_compat.sam3.revision import SAM31

KERNELS = KernelList("2.7.1.post2", {"supported": ["add.Tensor", "mm", "topk"]})


def _inventory(*calls: tuple[str, list]) -> Inventory:
    inventory = Inventory()
    for op, args in calls:
        inventory.add(op, [encode_value(a) for a in args], {}, run="run")
    return inventory


def test_only_ops_the_baseline_never_called_are_listed():
    x = torch.ones(2, 2)
    old = _inventory(("aten.add.Tensor", [x, x]))
    new = _inventory(("aten.add.Tensor", [x, x]), ("aten.mm.default", [x, x]), ("aten.t.default", [x]))
    report = new_ops_report("new", new, "old", old, KERNELS)
    assert {op.op: op.status for op in report.ops} == {"aten.mm.default": KERNEL, "aten.t.default": COMPOSITE}
    assert "2 ops that old did not call" in report.summary()
    assert new_ops_report("same", old, "old", old, KERNELS).ops == []


def test_what_the_kit_does_for_each_status():
    x = torch.ones(2, 2)
    inventory = _inventory(("aten.mm.default", [x, x]), ("torchvision.roi_align.default", [x]),
                           ("torchvision._cuda_version.default", []), ("aten.linalg_eigh.default", [x]))
    assert kit_action("aten.mm.default", KERNEL, inventory).startswith("nothing needed (NPU kernel")
    assert kit_action("aten.t.default", COMPOSITE, inventory).startswith("nothing needed (runs on the NPU")
    assert kit_action("torchvision.roi_align.default", MISSING, inventory) == "fallback row `torchvision.roi_align`"
    assert "no tensor argument" in kit_action("torchvision._cuda_version.default", MISSING, inventory)
    assert "no kit row" in kit_action("aten.linalg_eigh.default", MISSING, inventory)


def test_fallback_and_limit_rows_are_found_by_name():
    assert fallback_row_for("torchvision.nms.default") == "torchvision.nms"
    assert fallback_row_for("aten.linalg_eigh.default") is None
    assert limit_row_for("grid_sample-bf16") == "grid_sample.bf16"
    assert limit_row_for("no-such-limit") is None


def test_a_new_limit_hit_names_the_row_that_works_around_it():
    grid = torch.ones(1, 4, 4, 2, dtype=torch.bfloat16)
    old = _inventory(("aten.add.Tensor", [grid, grid]))
    new = _inventory(("aten.grid_sampler_2d.default", [torch.ones(1, 1, 4, 4, dtype=torch.bfloat16), grid, 0, 0, False]))
    report = new_ops_report("new", new, "old", old, load_kernel_list("2.7.1.post2"))
    assert len(report.limits) == 1 and report.limits[0].startswith("`grid_sample-bf16` on `aten.grid_sampler_2d.default`")
    assert report.limits[0].endswith("(1 calls): fallback row `grid_sample.bf16`")
    assert report.new_calls == 1 and report.dropped == ["aten.add.Tensor"]


def test_an_old_op_with_a_new_dtype_is_checked_against_the_limits_too():
    x, grid = torch.ones(1, 1, 4, 4), torch.ones(1, 4, 4, 2)
    old = _inventory(("aten.grid_sampler_2d.default", [x, grid, 0, 0, False]))
    new = _inventory(("aten.grid_sampler_2d.default", [x.bfloat16(), grid.bfloat16(), 0, 0, False]))
    report = new_ops_report("new", new, "old", old, load_kernel_list("2.7.1.post2"))
    assert report.ops == [] and report.new_calls == 1
    assert [hit.split("`")[1] for hit in report.limits] == ["grid_sample-bf16"]


def test_committed_sam31_inventories_are_3_1_runs_through_the_shim():
    for label, path, _, base_path in DEFAULT_COMPARISONS:
        inventory, baseline = Inventory.load(path), Inventory.load(base_path)
        assert inventory.meta["sam3"] == SAM31, label
        assert baseline.meta["sam3"] == "0.1.4", label
        assert len(inventory) > 100 and inventory.meta["model"] == "tiny"
    video = Inventory.load(DEFAULT_COMPARISONS[2][1])
    assert video.runs == ["video"] and video.meta["video"]["version"] == "sam3.1"
    assert {"sam3.fa3.attention", "sam3.fused.addmm_act.vitdet", "sam3.upstream.init_state_offload_state"} \
        <= set(video.meta["rewritten"]), "FA3/fp8, the fused bf16 MLP and upstream's init_state bug met the pack"
    assert Inventory.load(DEFAULT_COMPARISONS[2][3]).meta["video"]["version"] == "sam3"


def test_every_missing_op_of_the_committed_comparisons_has_an_answer():
    for label, path, base_label, base_path in DEFAULT_COMPARISONS:
        inventory, baseline = Inventory.load(path), Inventory.load(base_path)
        for version in available_versions():
            report = new_ops_report(label, inventory, base_label, baseline, load_kernel_list(version))
            assert all(op.op not in baseline.ops() for op in report.ops)
            assert sum(op.calls for op in report.ops) == sum(e.count for e in inventory if e.op not in baseline.ops())
            for op in report.ops:
                assert op.kit, op
