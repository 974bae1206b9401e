"""``torch.npu`` of the simulated npu (a test double of the Ascend stack): what the kit and SAM3
call, and the call log."""
from textwrap import dedent

from tests.sim.conftest import run_sim


def test_device_module_calls_and_their_log():
    out = run_sim(dedent("""
        from npu_compat.sim.device_module import CALLS
        npu_mod = torch.npu
        out["available"] = [npu_mod.is_available(), npu_mod.device_count(), npu_mod.current_device()]
        npu_mod.set_device(1)
        out["after_set"] = [npu_mod.current_device(), str(torch.zeros(1, device="npu").device)]
        npu_mod.set_device("npu:0")
        npu_mod.manual_seed(7); a = torch.randn(4, device="npu").cpu()
        state = npu_mod.get_rng_state()
        b = torch.randn(4, device="npu").cpu()
        npu_mod.set_rng_state(state); c = torch.randn(4, device="npu").cpu()
        npu_mod.manual_seed(7); d = torch.randn(4, device="npu").cpu()
        out["rng"] = [torch.equal(a, d), torch.equal(b, c), torch.equal(a, b)]
        host = torch.randn(4)  # the host generator is a different one
        before = npu_mod.memory_allocated()
        big = torch.empty(1024, 1024, device="npu")
        out["memory"] = [npu_mod.memory_allocated() - before, npu_mod.max_memory_allocated() >= 4 << 20]
        s = npu_mod.Stream(); e = npu_mod.Event(enable_timing=True); e.record(s); e.synchronize()
        out["stream"] = [str(s.device), s.query(), e.query(), str(npu_mod.current_stream().device)]
        out["amp"] = [str(d) for d in npu_mod.get_amp_supported_dtype()]
        out["props"] = [npu_mod.get_device_name(0), npu_mod.get_device_properties(0).major]
        out["log"] = sorted({name for name, _, _ in CALLS})
    """))
    assert out["available"] == [True, 2, 0]
    assert out["after_set"] == [1, "npu:1"]
    assert out["rng"] == [True, True, False]
    assert out["memory"] == [4 << 20, True]
    assert out["stream"] == ["npu:0", True, True, "npu:0"]
    assert out["amp"] == ["torch.float16", "torch.bfloat16"]
    assert "simulated npu (torch_npu 2.7.1.post2)" in out["props"][0]
    for name in ("is_available", "device_count", "set_device", "manual_seed", "get_rng_state", "set_rng_state",
                 "memory_allocated", "Event.synchronize", "get_amp_supported_dtype"):
        assert name in out["log"], name


def test_device_count_is_configurable_and_an_index_past_it_fails():
    out = run_sim("out['count'] = torch.npu.device_count()\n"
                  "try:\n    torch.zeros(1, device='npu:3')\nexcept RuntimeError as err:\n    out['err'] = str(err)\n",
                  env={"NPU_COMPAT_SIM_DEVICES": "3"})
    assert out["count"] == 3 and "Invalid device ordinal 3" in out["err"]
