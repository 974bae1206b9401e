import time

import torch

from npu_compat import cpu_standins
from npu_compat.rules.cuda_module import CUDA_MODULE_TABLE, cuda_module_rules
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
    for row in CUDA_MODULE_TABLE:
        st = statuses[f"cuda.{row.name}"]
        assert st.status == "installed" or st.reason, row.name
        assert getattr(cpu_standins, row.name)


def test_accelerator_target_redirects_to_its_module_and_skips_missing_names():
    """The xpu module exists in every torch build; rows it lacks are skipped, not faked."""
    rules = cuda_module_rules(Target("xpu", None, CAPABILITIES["xpu"]))
    assert {r.key for r in rules} == {f"cuda.{row.name}" for row in CUDA_MODULE_TABLE}
    assert all(r.category.value == "match" for r in rules)
    assert cuda_module_rules(Target("cuda", None, CAPABILITIES["cuda"])) == []
