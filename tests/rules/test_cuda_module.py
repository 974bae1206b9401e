import time

import pytest
import torch

from npu_compat import cpu_standins
from npu_compat.rules.cuda_module import CPU_STANDINS, cuda_module_rules, cuda_names
from npu_compat.target import CAPABILITIES, Target


def test_cpu_stand_ins_behave(shim_cpu):
    torch.cuda.synchronize()
    assert torch.cuda.device_count() == 1 and torch.cuda.current_device() == 0
    props = torch.cuda.get_device_properties(0)
    assert props.major == 0 and props.total_memory > 0
    assert torch.cuda.memory_allocated() > 0 and torch.cuda.max_memory_allocated() >= torch.cuda.memory_allocated()
    free, total = torch.cuda.mem_get_info()
    assert 0 < free <= total
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    start.record()
    time.sleep(0.01)
    end.record()
    end.synchronize()
    assert 5 <= start.elapsed_time(end) < 1000
    with torch.cuda.stream(torch.cuda.Stream()):
        assert torch.cuda.current_stream().query()
    with torch.cuda.device(0):
        pass


def test_cuda_seeding_seeds_the_targets_generator(shim_cpu):
    torch.cuda.manual_seed(123)
    a = torch.rand(3)
    torch.cuda.manual_seed_all(123)
    b = torch.rand(3)
    assert torch.equal(a, b)
    state = torch.cuda.get_rng_state()
    c = torch.rand(3)
    torch.cuda.set_rng_state(state)
    assert torch.equal(c, torch.rand(3))
    torch.manual_seed(5)  # torch's own seeding calls torch.cuda.manual_seed_all: must not recurse


def test_every_row_installs_or_says_why(shim_cpu):
    statuses = {r.key: r for r in shim_cpu.report.rules}
    for row in CPU_STANDINS:
        st = statuses[f"cuda.{row.name}" if row.owner == "torch.cuda" else f"cuda.{row.owner[11:]}.{row.name}"]
        assert st.status == "installed" or st.reason, row.name
        assert getattr(cpu_standins, row.name)


def test_accelerator_target_covers_every_public_cuda_name():
    """The xpu module exists in every torch build: each torch.cuda name goes to torch.xpu's, or,
    where torch.xpu lacks it, to a one-line error naming the API (never faked)."""
    rules = cuda_module_rules(Target("xpu", None, CAPABILITIES["xpu"]))
    names = {r.attr for r in rules}
    modules = {n for n in cuda_names() if type(getattr(torch.cuda, n)).__name__ == "module"}
    missing_modules = {n for n in modules if not hasattr(torch.xpu, n)}
    assert names == set(cuda_names()) - missing_modules
    assert len(cuda_names()) > 100
    by_name = {r.attr: r for r in rules}
    assert by_name["synchronize"].key == "cuda.synchronize" and by_name["synchronize"].category.value == "match"
    assert by_name["Stream"].note == "-> torch.xpu.Stream"
    if hasattr(torch.xpu, "XPUGraph"):
        assert by_name["CUDAGraph"].note == "-> torch.xpu.XPUGraph"  # CUDAGraph -> NPUGraph on npu
    assert by_name["FloatTensor"].category.value == "modified"  # torch.xpu has no legacy types
    assert by_name["current_blas_handle"].key == "cuda.missing.current_blas_handle"
    assert cuda_module_rules(Target("cuda", None, CAPABILITIES["cuda"])) == []


def test_cpu_stand_ins_for_the_rest_of_the_surface(shim_cpu):
    assert "host memory" in torch.cuda.memory_summary()
    torch.cuda.set_per_process_memory_fraction(0.5)
    assert torch.cuda.get_per_process_memory_fraction() == 0.5
    ptr = torch.cuda.caching_allocator_alloc(64)
    assert isinstance(ptr, int) and ptr != 0
    torch.cuda.caching_allocator_delete(ptr)
    assert 0 <= torch.cuda.utilization() <= 100
    torch.cuda.memory._record_memory_history(max_entries=10)
    assert torch.cuda.memory._snapshot()["segments"] == []
    assert torch.cuda.memory.memory_allocated() > 0  # the submodule's copy is covered too
    assert torch.cuda.is_current_stream_capturing() is False
    fn = lambda x: x * 2  # noqa: E731
    assert torch.cuda.make_graphed_callables(fn, (torch.ones(1),)) is fn


def test_names_without_a_cpu_meaning_fail_with_one_line_naming_the_api(shim_cpu):
    from npu_compat.errors import MissingApiError

    for call in (torch.cuda.current_blas_handle, torch.cuda.CUDAGraph, lambda: torch.cuda.graph(None)):
        with pytest.raises(MissingApiError) as err:
            call()
        msg = str(err.value)
        assert "\n" not in msg and msg.startswith("torch.cuda.") and "NVIDIA" not in msg
        assert isinstance(err.value, RuntimeError)


def test_legacy_tensor_types_map_to_their_dtype_on_the_target(shim_cpu):
    x = torch.cuda.FloatTensor(2, 3)
    assert x.shape == (2, 3) and x.dtype == torch.float32 and x.device.type == "cpu"
    assert isinstance(x, torch.cuda.FloatTensor) and not isinstance(x, torch.cuda.HalfTensor)
    y = torch.cuda.LongTensor([1, 2])
    assert y.dtype == torch.int64 and y.tolist() == [1, 2]
    assert torch.cuda.DoubleTensor(1).dtype == torch.float64  # kept, not silently narrowed
    assert torch.cuda.FloatStorage(4).device.type == "cpu"


def test_without_the_shim_those_calls_hit_cuda():
    """Each call above fails on this GPU-less machine without the shim, so the tests can fail."""
    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    for call in (torch.cuda.memory_summary, lambda: torch.cuda.FloatTensor(2), torch.cuda.utilization,
                 lambda: torch.cuda.caching_allocator_alloc(64)):
        with pytest.raises(Exception):
            call()


@pytest.mark.parametrize("release", ["2.7.1.post2", "2.14.0"])
def test_npu_rows_come_from_the_release_surface(monkeypatch, release):
    """On the npu target every torch.cuda name that the release's torch_npu has (its API surface, read
    from the wheel) is a redirect row, torch.cuda's submodules included; the rest keep torch's
    behind a one-line error. Built from the data alone: no torch_npu is imported here."""
    from npu_compat.npu_releases.surface import load_surface

    monkeypatch.setenv("NPU_COMPAT_SIMULATE", f"torch_npu=={release}")
    surface = load_surface(release)
    rules = {r.key: r for r in cuda_module_rules(Target("npu", None, CAPABILITIES["npu"]))}
    for name in ("utilization", "set_per_process_memory_fraction", "caching_allocator_alloc", "graph",
                 "make_graphed_callables"):
        assert rules[f"cuda.{name}"].note == f"-> torch.npu.{name}"
    assert rules["cuda.CUDAGraph"].note == "-> torch.npu.NPUGraph"
    assert rules["cuda.memory._record_memory_history"].owner == "torch.cuda.memory"
    assert rules["cuda.memory._snapshot"].note == "-> torch.npu.memory._snapshot"
    assert rules["cuda.graphs.CUDAGraph"].note == "-> torch.npu.graphs.NPUGraph"
    assert rules["cuda.random.manual_seed"].note == "-> torch.npu.random.manual_seed"
    redirected = {r.attr for r in rules.values() if r.owner == "torch.cuda" and r.note.startswith("-> ")}
    for name in cuda_names():
        spellings = {name, name.replace("CUDA", "NPU"), name.replace("cuda", "npu")}  # cudart -> npurt (2.14.0)
        has = bool(spellings & surface.npu_names())
        assert (name in redirected) == has, name
    # get_per_process_memory_fraction arrived in torch_npu's memory module after 2.7.1
    fraction = rules.get("cuda.get_per_process_memory_fraction") or rules["cuda.missing.get_per_process_memory_fraction"]
    assert fraction.note.startswith("-> ") == (release == "2.14.0")


SIM_SCRIPT = """
import torch
from torch.cuda.memory import _record_memory_history, _snapshot
out = {"utilization": torch.cuda.utilization(),
       "fraction": torch.cuda.set_per_process_memory_fraction(0.5)}
torch.cuda.caching_allocator_delete(torch.cuda.caching_allocator_alloc(16))
_record_memory_history()
out["snapshot"] = _snapshot()["segments"]
from torch.cuda.random import manual_seed
manual_seed(3)
out["seeded"] = torch.npu.initial_seed()
print(out)
"""


def test_npu_surface_calls_reach_the_simulated_npu(tmp_path):
    """Through the shim on the simulated npu (a test double of torch_npu + CANN + the chip): calls that
    reached CUDA or raised MissingApiError before now run on torch.npu, each a reported row."""
    import json

    from tests.conftest import run_python

    script = tmp_path / "surface_calls.py"
    script.write_text(SIM_SCRIPT)
    report = tmp_path / "report.json"
    proc = run_python("-m", "npu_compat.apply", "--device", "npu", "--simulate", "torch_npu==2.7.1.post2",
                      "--report", str(report), "--", str(script), env={"CUDA_VISIBLE_DEVICES": ""}, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "{'utilization': 0, 'fraction': None, 'snapshot': [], 'seeded': 3}" in proc.stdout
    fired = {call["rule"] for call in json.loads(report.read_text())["calls"]}
    assert {"cuda.utilization", "cuda.set_per_process_memory_fraction", "cuda.caching_allocator_alloc",
            "cuda.caching_allocator_delete", "cuda.memory._record_memory_history", "cuda.memory._snapshot",
            "cuda.random.manual_seed"} <= fired


def test_cuda_graph_names_reach_npugraph_on_the_simulated_npu(tmp_path):
    """torch.cuda.CUDAGraph -> torch.npu.NPUGraph on the simulated npu (a test double of torch_npu + CANN + the chip)."""
    from tests.conftest import run_python

    script = tmp_path / "graph_names.py"
    script.write_text("import torch\ng = torch.cuda.CUDAGraph()\nprint(type(g).__name__, torch.cuda.graph.__name__)\n")
    proc = run_python("-m", "npu_compat.apply", "--device", "npu", "--simulate", "torch_npu==2.7.1.post2", "--",
                      str(script), env={"CUDA_VISIBLE_DEVICES": ""}, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "NPUGraph graph" in proc.stdout
