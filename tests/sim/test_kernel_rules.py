"""How the simulated npu (a test double of the Ascend stack) classifies an aten op against a
torch_npu release's kernel list. Only dispatcher queries: nothing is registered."""
import pytest
import torch

from npu_compat.npu_releases.kernels import KernelList, load_kernel_list
from npu_compat.sim.kernel_rules import COMPOSITE, IMPLICIT, KERNEL, MISSING, KernelRules, bind, overload_name

aten = torch.ops.aten


def test_overload_names_are_the_kernel_list_spelling():
    assert overload_name(aten.relu.default) == "relu" and overload_name(aten.add.Tensor) == "add.Tensor"


@pytest.mark.parametrize("op,status", [
    (aten.relu.default, KERNEL), (aten.mm.default, KERNEL), (aten._linalg_eigh.default, MISSING),
    (aten._assert_async.default, MISSING), (aten.t.default, COMPOSITE), (aten.linear.default, IMPLICIT),
])
def test_release_2_7_1_post2(op, status):
    assert KernelRules(load_kernel_list("2.7.1.post2")).status(op) == status


def test_a_structured_op_runs_from_its_listed_out_kernel():
    only_out = KernelRules(KernelList("test", {"supported": ["gelu.out"]}))
    assert only_out.status(aten.gelu.default) == KERNEL
    assert KernelRules(KernelList("test", {"supported": []})).status(aten.gelu.default) == MISSING


@pytest.mark.parametrize("op,args,kwargs,limit", [
    (aten.mm.default, (torch.ones(2, 2, dtype=torch.float64),) * 2, {}, "matmul-fp64"),
    (aten.sort.default, (torch.ones(3, dtype=torch.float64),), {}, "sort-fp64"),
    (aten.topk.default, (torch.ones(3), 2, -1, True, False), {}, "topk-unsorted"),
    (aten.upsample_nearest2d.vec, (torch.ones(1, 1, 2, 2), None, [2.0, 2.0]), {}, "interpolate-scale_factor"),
    (aten.mm.default, (torch.ones(2, 2),) * 2, {}, None),
    (aten.upsample_nearest2d.vec, (torch.ones(1, 1, 2, 2), [4, 4], None), {}, None),
])
def test_documented_limits(op, args, kwargs, limit):
    rule = KernelRules(load_kernel_list("2.7.1.post2")).limit(op, bind(op, args, kwargs))
    assert (rule.name if rule else None) == limit
