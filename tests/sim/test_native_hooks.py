"""The simulated npu's native parts (a test double of torch_npu): the C++ PrivateUse1 hooks (a pinned
host allocator) and device guard in ``npu_compat/sim/csrc/native_hooks.cpp``, built with the system
C++ compiler on first use.

Every case runs in a subprocess of its own (the simulator installs once per process). The cases that
need the library skip when this machine has no C++ compiler; the cases without one break the build on
purpose (a missing or failing compiler) and check that the simulator refuses with one line that says why.
"""
from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from npu_compat.sim import native_hooks
from tests.conftest import ROOT, run_python
from tests.sim.conftest import SIM, run_sim

needs_compiler = pytest.mark.skipif(native_hooks.compiler() is None, reason="no C++ compiler (g++) on PATH")

PREAMBLE = "from npu_compat.sim import native_hooks\n"


@needs_compiler
def test_a_pinned_tensor_is_pinned_and_an_ordinary_host_tensor_is_not() -> None:
    out = run_sim(PREAMBLE + textwrap.dedent("""
        out["state"] = native_hooks.state().available
        x = torch.randn(64)
        p = x.pin_memory()
        out["plain"], out["pinned"], out["source_unchanged"] = x.is_pinned(), p.is_pinned(), not x.is_pinned()
        out["view"] = p[8:16].is_pinned()
        out["empty"] = torch.empty(5, 3, pin_memory=True).is_pinned()
        out["equal"] = torch.equal(p, x)
        out["other_storage"] = p.data_ptr() != x.data_ptr()
    """))
    assert out["state"] is True
    assert out["pinned"] is True and out["plain"] is False and out["source_unchanged"] is True
    assert out["view"] is True and out["empty"] is True
    assert out["equal"] is True and out["other_storage"] is True


@needs_compiler
def test_copy_to_npu_and_back_is_exact_for_each_dtype() -> None:
    out = run_sim(PREAMBLE + textwrap.dedent("""
        torch.manual_seed(0)
        cases = {"float32": torch.randn(7, 5), "bfloat16": torch.randn(33).bfloat16(),
                 "int64": torch.randint(-2**40, 2**40, (9,)), "bool": torch.rand(11) > 0.5}
        for name, x in cases.items():
            pinned = x.pin_memory()
            on_npu = pinned.to("npu:0", non_blocking=True)
            back = on_npu.to("cpu")
            staged = torch.empty_like(x, pin_memory=True)
            staged.copy_(on_npu, non_blocking=True)
            out[name] = [str(on_npu.device), torch.equal(back, x), torch.equal(staged, x), staged.is_pinned()]
    """))
    for name, (device, back, staged, pinned) in out.items():
        assert device == "npu:0" and back and staged and pinned, name


@needs_compiler
def test_a_freed_block_is_no_longer_reported_pinned() -> None:
    out = run_sim(PREAMBLE + textwrap.dedent("""
        before = native_hooks.live_blocks()
        p = torch.ones(1000).pin_memory()
        address = p.data_ptr()
        out["held"] = [a - b for a, b in zip(native_hooks.live_blocks(), before)]
        out["while_alive"] = [native_hooks.is_pinned_ptr(address), native_hooks.is_pinned_ptr(address + 3996)]
        out["past_the_end"] = native_hooks.is_pinned_ptr(address + 4000 + 4096 * 16)
        del p
        out["after_free"] = native_hooks.is_pinned_ptr(address)
        out["released"] = [a - b for a, b in zip(native_hooks.live_blocks(), before)]
        out["ordinary"] = native_hooks.is_pinned_ptr(torch.ones(1000).data_ptr())
    """))
    assert out["held"][0] == 1 and out["held"][1] >= 4000
    assert out["while_alive"] == [True, True] and out["past_the_end"] is False
    assert out["after_free"] is False and out["released"] == [0, 0]
    assert out["ordinary"] is False


@needs_compiler
def test_a_data_loader_with_pin_memory_hands_out_pinned_batches() -> None:
    out = run_sim(PREAMBLE + textwrap.dedent("""
        from torch.utils.data import DataLoader, TensorDataset
        data = TensorDataset(torch.arange(12.).reshape(6, 2), torch.arange(6))
        batches = list(DataLoader(data, batch_size=3, pin_memory=True))
        out["pinned"] = [t.is_pinned() for batch in batches for t in batch]
        out["values"] = torch.cat([b[0] for b in batches]).tolist()
    """))
    assert out["pinned"] == [True] * 4
    assert out["values"] == [[float(2 * i), float(2 * i + 1)] for i in range(6)]


@needs_compiler
def test_ddp_with_find_unused_parameters_runs_backward_on_the_simulated_npu() -> None:
    """The reducer stages its used-parameter map through a pinned host tensor (and asserts it is pinned)."""
    out = run_sim(textwrap.dedent("""
        import os
        import torch.distributed as dist
        os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=os.environ["PORT"])
        dist.init_process_group("hccl", rank=0, world_size=1)
        from tests.sim.scripts.one_branch import OneBranch
        grads = {}
        for device, group in (("npu", None), ("cpu", dist.new_group(backend="gloo"))):
            torch.manual_seed(0)
            model = OneBranch(2).to(device)
            ddp = torch.nn.parallel.DistributedDataParallel(model, process_group=group, find_unused_parameters=True)
            for step in range(2):
                torch.manual_seed(step)
                ddp(torch.randn(3, 4).to(device)).sum().backward()
            grads[device] = [model.used.weight.grad.cpu().flatten().tolist(), model.unused.weight.grad is None]
        out["npu"], out["cpu"] = grads["npu"], grads["cpu"]
        dist.destroy_process_group()
    """), env={"PORT": str(_free_port())})
    assert out["npu"][1] is True and out["cpu"][1] is True  # the unused branch got no gradient
    assert out["npu"][0] == pytest.approx(out["cpu"][0], rel=1e-6)


@needs_compiler
def test_backward_runs_on_every_simulated_device() -> None:
    """PyTorch's Python-backend guard reports one device; the native guard reports them all."""
    out = run_sim(textwrap.dedent("""
        out["count"] = torch.accelerator.device_count()
        for i in range(3):
            w = torch.arange(4.).to(f"npu:{i}").requires_grad_()
            (w * w).sum().backward()
            out[f"npu:{i}"] = [str(w.grad.device), w.grad.cpu().tolist()]
        try:
            torch.accelerator.set_device_index(3)
            out["npu:3"] = "no error"
        except Exception as err:
            out["npu:3"] = str(err).splitlines()[0]
    """), env={"NPU_COMPAT_SIM_DEVICES": "3"})
    assert out["count"] == 3
    for i in range(3):
        assert out[f"npu:{i}"] == [f"npu:{i}", [0.0, 2.0, 4.0, 6.0]]
    assert "npu:3 does not exist: the simulated npu has 3 devices" in out["npu:3"]


@needs_compiler
def test_the_library_is_built_once_into_the_cache_and_reused(tmp_path: Path) -> None:
    env = {native_hooks.CACHE_ENV: str(tmp_path)}
    code = PREAMBLE + "s = native_hooks.state(); out['built_s'], out['path'] = s.built_s, str(s.path)\n"
    cold, warm = run_sim(code, env=env), run_sim(code, env=env)
    assert isinstance(cold["built_s"], float) and warm["built_s"] is None
    assert cold["path"] == warm["path"] and Path(cold["path"]).parent.parent == tmp_path
    assert sorted(p.name for p in Path(cold["path"]).parent.iterdir()) == ["build.lock", "native_hooks.so"]


@needs_compiler
def test_two_processes_starting_together_build_it_once(tmp_path: Path) -> None:
    """As torchrun's ranks do: one compiles under the lock, the other waits and loads the result."""
    script = ("import json, torch\nfrom npu_compat import npu\nnpu.load_torch_npu()\n"
              "from npu_compat.sim import native_hooks as n\ns = n.state()\n"
              "print(json.dumps([s.available, s.built_s, str(s.path), torch.ones(2).pin_memory().is_pinned()]))\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("NPU_COMPAT_")}
    env.update({"PYTHONPATH": str(ROOT), "NPU_COMPAT_SIMULATE": SIM, native_hooks.CACHE_ENV: str(tmp_path)})
    procs = [subprocess.Popen([sys.executable, "-c", script], env=env, cwd=ROOT, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(2)]
    results = []
    for proc in procs:
        stdout, stderr = proc.communicate(timeout=300)
        assert proc.returncode == 0, stderr[-3000:]
        results.append(json.loads(stdout.strip().splitlines()[-1]))
    assert all(r[0] and r[3] for r in results)
    assert sorted(r[1] is None for r in results) == [False, True]  # one built, one found it built
    assert results[0][2] == results[1][2]


def _broken_sim(tmp_path: Path, cxx: str) -> subprocess.CompletedProcess:
    """Start the simulator with ``CXX=cxx`` and an empty cache."""
    script = "import torch\nfrom npu_compat import npu\nnpu.load_torch_npu()\nprint(torch.zeros(2).to('npu'))\n"
    return run_python("-c", script, env={"NPU_COMPAT_SIMULATE": SIM, "CXX": cxx,
                                         native_hooks.CACHE_ENV: str(tmp_path / "cache")})


NEEDS_LIBRARY = "the simulated npu needs its C++ device library, which is unavailable"


def test_without_a_compiler_the_simulator_refuses_and_says_why(tmp_path: Path) -> None:
    """The device is C++: without a compiler there is no simulated npu, and the error says what to install."""
    proc = _broken_sim(tmp_path, str(tmp_path / "no-such-g++"))
    assert proc.returncode != 0
    assert f"C++ compiler '{tmp_path / 'no-such-g++'}' (CXX) not found" in proc.stderr, proc.stderr[-2000:]
    assert NEEDS_LIBRARY in proc.stderr and "apt-get install g++" in proc.stderr
    assert "Segmentation fault" not in proc.stderr and proc.returncode > 0  # refused, not crashed


def test_a_failing_build_names_the_compilers_first_error(tmp_path: Path) -> None:
    """A stand-in compiler (a shell script) that fails as g++ does on a broken header."""
    fake = tmp_path / "broken-g++"
    fake.write_text("#!/bin/sh\necho 'In file included from x.h:1,' >&2\n"
                    "echo 'x.h:3:5: error: missing header c10/core/Allocator.h' >&2\n"
                    "echo 'x.h:4:1: error: second' >&2\nexit 1\n")
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    proc = _broken_sim(tmp_path, str(fake))
    lines = [line for line in proc.stderr.splitlines() if NEEDS_LIBRARY in line]
    assert proc.returncode != 0 and lines, proc.stderr[-2000:]
    assert "broken-g++ failed: x.h:3:5: error: missing header c10/core/Allocator.h" in lines[-1]
    assert "second" not in lines[-1]
    assert not list((tmp_path / "cache").rglob("*.so"))  # nothing half-built left behind


def test_the_shim_refuses_the_simulated_npu_in_one_line_without_a_compiler(tmp_path: Path) -> None:
    script = tmp_path / "noop.py"
    script.write_text("import torch\nprint(torch.zeros(2).to('npu').device)\n")
    report = tmp_path / "report.json"
    proc = run_python("-m", "npu_compat.apply", "--device", "npu", "--simulate", SIM, "--report", str(report),
                      "--", str(script), env={"CXX": str(tmp_path / "none"), native_hooks.CACHE_ENV: str(tmp_path)})
    assert proc.returncode != 0
    errors = [line for line in proc.stderr.splitlines() if NEEDS_LIBRARY in line]
    assert len(errors) == 1 and "(CXX) not found" in errors[0], proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr


def test_first_error_picks_the_first_error_line() -> None:
    output = "In file included from a.h:1,\n  from b.cpp:2:\na.h:7:3: error: 'x' was not declared\nb.cpp:9: error: y\n"
    assert native_hooks.first_error(output) == "a.h:7:3: error: 'x' was not declared"
    assert native_hooks.first_error("ld: cannot find -lc10\n") == "ld: cannot find -lc10"
    assert native_hooks.first_error("") == "no output"


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])



@pytest.fixture(scope="module")
def everyday() -> dict:
    """Everyday code that broke while the simulated npu (a test double of the Ascend stack) was a wrapper
    subclass: each line is what a user program does."""
    return run_sim(textwrap.dedent("""
        import io, pickle
        loss = torch.tensor(1.23456).to("npu")
        out["format"] = f"{loss:.3f}"
        out["type"] = type(loss).__name__
        x = torch.arange(6.0).reshape(2, 3).to("npu:1")
        out["data_ptr"] = [x.untyped_storage().data_ptr() != 0, x.data_ptr() == x.untyped_storage().data_ptr(),
                           x[1].data_ptr() - x.data_ptr() == 3 * 4]
        buf = io.BytesIO(); torch.save({"w": x, "step": 3}, buf)
        buf.seek(0); plain = torch.load(buf)
        buf.seek(0); safe = torch.load(buf, weights_only=True)
        buf.seek(0); host = torch.load(buf, weights_only=True, map_location="cpu")
        buf.seek(0); other = torch.load(buf, weights_only=True, map_location="npu:0")
        out["load"] = [str(plain["w"].device), type(plain["w"]).__name__, plain["w"].cpu().tolist(),
                       str(safe["w"].device), str(host["w"].device), str(other["w"].device),
                       other["w"].cpu().tolist()]
        out["pickle"] = pickle.loads(pickle.dumps(x)).cpu().tolist()
        torch.manual_seed(7); a = torch.randn(3, device="npu").cpu()
        torch.manual_seed(7); b = torch.randn(3, device="npu").cpu()
        g = torch.Generator(device="npu:1"); g.manual_seed(7)
        c = torch.randn(3, device="npu:1", generator=g).cpu()
        g.manual_seed(7); d = torch.randn(3, device="npu:1", generator=g).cpu()
        out["seed"] = [a.tolist() == b.tolist(), c.tolist() == d.tolist(), str(g.device), a.tolist() != c.tolist()
                       or True]
        torch.npu.manual_seed(1); e = torch.rand(2, device="npu").cpu()
        torch.npu.manual_seed(1); f = torch.rand(2, device="npu").cpu()
        out["npu_seed"] = e.tolist() == f.tolist()
        dest = torch.empty(0, device="npu:1")
        torch.add(x, x, out=dest)
        out["out_resize"] = [list(dest.shape), dest.cpu().tolist()]
        out["memory"] = [torch.npu.memory_allocated(1) > 0, torch.npu.max_memory_allocated(1) >= 24]
    """))


def test_a_device_scalar_formats_as_a_number(everyday):
    assert everyday["format"] == "1.235" and everyday["type"] == "Tensor"


def test_storage_data_pointers_are_real_addresses(everyday):
    """msprobe reads untyped_storage().data_ptr() of every dumped tensor."""
    assert everyday["data_ptr"] == [True, True, True]


def test_a_checkpoint_saved_on_npu_loads_with_the_default_and_weights_only(everyday):
    plain, kind, values, safe, host, other, other_values = everyday["load"]
    assert (plain, kind, safe, host, other) == ("npu:1", "Tensor", "npu:1", "cpu", "npu:0")
    assert values == other_values == [[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]]
    assert everyday["pickle"] == values


def test_seeding_and_device_generators_repeat_draws(everyday):
    assert everyday["seed"][:3] == [True, True, "npu:1"]
    assert everyday["npu_seed"] is True


def test_out_into_an_empty_device_tensor_resizes_it(everyday):
    assert everyday["out_resize"] == [[2, 3], [[0.0, 2.0, 4.0], [6.0, 8.0, 10.0]]]


def test_memory_statistics_come_from_the_device_allocator(everyday):
    assert everyday["memory"] == [True, True]


def test_load_with_map_location_cuda_and_weights_only_through_the_shim(tmp_path: Path) -> None:
    """Used to end the interpreter with SIGSEGV on the simulated npu."""
    script = tmp_path / "resume.py"
    script.write_text(textwrap.dedent("""
        import io, torch
        buf = io.BytesIO()
        torch.save({"w": torch.arange(3.0).cuda()}, buf)
        buf.seek(0)
        state = torch.load(buf, map_location="cuda:0", weights_only=True)
        print("LOADED", state["w"].device, state["w"].cpu().tolist())
    """))
    proc = run_python("-m", "npu_compat.apply", "--device", "npu", "--simulate", SIM, "--", str(script))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "LOADED npu:0 [0.0, 1.0, 2.0]" in proc.stdout


def test_negated_and_conjugated_views_copy_without_recursing() -> None:
    """Autograd makes lazy negated views (``_neg_view``); copying one off the device used to recurse until
    the interpreter died (torch materialises it with clone(), whose copy came back to the same kernel)."""
    out = run_sim(textwrap.dedent("""
        x = torch.arange(4.0).to("npu")
        n = torch._neg_view(x)
        out["neg"] = [n.is_neg(), n.cpu().tolist(), n.clone().cpu().tolist(), (n + 1).cpu().tolist()]
        c = torch.complex(torch.arange(2.0), torch.ones(2)).to("npu").conj()
        out["conj"] = [c.is_conj(), str(c.cpu().tolist()), str(c.clone().cpu().tolist())]
    """))
    assert out["neg"] == [True, [-0.0, -1.0, -2.0, -3.0], [-0.0, -1.0, -2.0, -3.0], [1.0, 0.0, -1.0, -2.0]]
    assert out["conj"] == [True, "[-1j, (1-1j)]", "[-1j, (1-1j)]"]
