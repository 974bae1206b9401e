"""Counters of the simulated npu (a test double of the Ascend stack): pure bookkeeping, tested
in-process, and what a device run records, tested in a subprocess."""
from textwrap import dedent

from npu_compat.sim.counters import Counters
from tests.sim.conftest import run_sim


def test_events_count_in_the_run_and_in_every_open_region():
    c = Counters()
    c.op("aten::mm")
    with c.region("outer"):
        c.copy("h2d")
        with c.region("inner"):
            c.sync("item")
            c.op("aten::mm", fallback=True)
    snap = c.snapshot()
    assert (snap["run"]["ops"], snap["run"]["fallback_ops"], snap["run"]["h2d"], snap["run"]["syncs"]) == (1, 1, 1, 1)
    assert snap["regions"]["outer"]["h2d"] == 1 and snap["regions"]["outer"]["syncs"] == 1
    assert snap["regions"]["inner"]["h2d"] == 0 and snap["regions"]["inner"]["by_op"] == {"aten::mm": 1}
    c.copy("d2h")  # a device-to-host copy is a host sync too
    assert c.snapshot()["run"]["sync_by_kind"] == {"item": 1, "d2h copy": 1}
    c.reset()
    assert c.snapshot() == {"run": Counters().run.as_dict(), "regions": {}}


def test_a_device_run_counts_copies_syncs_and_ops_per_region():
    out = run_sim(dedent("""
        from npu_compat.sim import counters
        counters.reset()
        x = torch.randn(16, 16).to("npu")
        with counters.region("compute"):
            y = (x @ x).relu()
        with counters.region("host syncs"):
            n = int((y > 0).sum().item())
            idx = torch.nonzero(y)
            back = y.cpu()
            torch.npu.synchronize()
        z = y.to("npu:1")
        with counters.region("cpu fallback"):
            torch.linalg.eigvalsh(x @ x.T)  # no kernel in 2.7.1.post2: to the host and back
        out.update(counters.snapshot())
    """))
    run, compute, syncs = out["run"], out["regions"]["compute"], out["regions"]["host syncs"]
    fallback = out["regions"]["cpu fallback"]
    # torch decomposes _linalg_eigh into its out= form before the device sees it: self and the two
    # out= tensors go to the host, the two results come back
    assert fallback["by_op"]["aten::_linalg_eigh.eigenvalues"] == 1
    assert (fallback["fallback_ops"], fallback["d2h"], fallback["h2d"]) == (1, 3, 2)
    assert (run["h2d"] - fallback["h2d"], run["d2h"] - fallback["d2h"], run["d2d"]) == (1, 1, 1)
    assert compute["by_op"] == {"aten::mm": 1, "aten::relu": 1} and compute["syncs"] == 0
    assert syncs["sync_by_kind"] == {"_local_scalar_dense": 1, "nonzero": 1, "d2h copy": 1,
                                      "synchronize": 1}
