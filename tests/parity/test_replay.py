import torch

from npu_compat.parity.argspec import encode_value
from npu_compat.parity.capture import capture_callable
from npu_compat.parity.inventory import Inventory
from npu_compat.parity.planted_faults import planted_fault
from npu_compat.parity.replay import replay_entry, replay_inventory, resolve_op


def _plain_inventory():
    def run():
        x = torch.randn(2, 4, 6, 6)
        y = torch.nn.functional.conv2d(x, torch.randn(3, 4, 3, 3))
        z = torch.nn.functional.layer_norm(y, (y.shape[-1],))
        s = torch.softmax(z, dim=-1)
        q = torch.randn(1, 2, 5, 8)
        torch.nn.functional.scaled_dot_product_attention(q, q, q)
        torch.sort(s.flatten())
        torch.view_as_complex(torch.randn(4, 2)) * torch.polar(torch.ones(4), torch.arange(4.0))
        return z @ torch.randn(4, 5)
    with torch.no_grad():
        return capture_callable(run)[1]


def test_resolve_op():
    assert resolve_op("aten.add.Tensor") is torch.ops.aten.add.Tensor


def test_cpu_replay_passes_fp32_and_skips_random_ops():
    results = replay_inventory(_plain_inventory(), "cpu", progress=False)
    verdicts = {r.op: r.verdict for r in results}
    assert verdicts["aten.randn.default"] == "skipped"
    failing = [(r.op, r.reason, r.metrics) for r in results if r.verdict in ("fail", "error")]
    assert not failing
    assert any(r.op_class == "ulp" and r.verdict == "pass" for r in results)


def test_bf16_replay_of_tiny_sam3_passes_published_standards(tiny_inventory_bf16):
    """Must-show: the cpu target in bf16 against the fp32 (and fp64 for fp32 entries) golden."""
    results = replay_inventory(tiny_inventory_bf16, "cpu", progress=False)
    bf16 = [r for r in results if r.dtype == "bfloat16"]
    assert len(bf16) > 100
    bad = [(r.op, r.args, r.reason, r.metrics) for r in results if r.verdict in ("fail", "error")]
    assert not bad, bad[:5]
    assert sum(r.verdict == "skipped" for r in results) < len(results) * 0.05


def test_planted_layer_norm_fault_fails_fp32_replay_and_is_named(tiny_inventory_fp32):
    """A layer_norm whose eps is off by 1e-2 on fp32 only; the golden runs in fp64."""
    entries = [e for e in tiny_inventory_fp32 if "layer_norm" in e.op or e.op == "aten.mul.Tensor"]
    clean = replay_inventory(entries, "cpu", progress=False)
    assert all(r.verdict == "pass" for r in clean)
    with planted_fault("layer_norm_eps", torch.float32):
        faulty = replay_inventory(entries, "cpu", progress=False)
    failed = {r.op for r in faulty if r.verdict == "fail"}
    assert failed == {"aten.native_layer_norm.default"}


def test_planted_softmax_fault_fails_bf16_replay(tiny_inventory_bf16):
    entries = [e for e in tiny_inventory_bf16 if e.op == "aten._softmax.default"]
    assert entries
    with planted_fault("softmax_wrong_dim", torch.bfloat16):
        bf16 = replay_inventory(entries, "cpu", dtype_override=torch.bfloat16, progress=False)
    assert {r.verdict for r in bf16} == {"fail"}
    assert replay_inventory(entries, "cpu", dtype_override=torch.bfloat16, progress=False)[0].verdict == "pass"


def test_op_raising_on_device_is_reported_not_fatal():
    inventory = _plain_inventory()
    results = replay_inventory(inventory, "meta", progress=False)  # no data on meta: .cpu() raises
    errors = [r for r in results if r.verdict == "error"]
    assert errors and all(r.reason for r in errors)
    assert len(results) == len(inventory)


def test_sort_indices_may_differ_only_between_ties():
    inventory = Inventory()
    values = torch.tensor([3.0, 1.0, 3.0, 2.0, 1.0])
    inventory.add("aten.sort.default", encode_value([values], record_range=True), {})
    entry = next(iter(inventory))
    assert replay_entry(entry, 0, torch.device("cpu")).verdict == "pass"
