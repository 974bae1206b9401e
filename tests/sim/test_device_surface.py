"""The stand-in torch_npu (the simulated npu, a TEST DOUBLE of torch_npu + CANN + the chip) has the API
surface of the release it simulates, read from that release's wheel (npu_compat/data/torch_npu_surface/)."""
from __future__ import annotations

import functools
import pickle

import pytest

from npu_compat.npu_releases.surface import available_versions
from tests.conftest import run_python
from tests.sim.conftest import raises, run_sim

PROBE = """
import importlib
from npu_compat.npu_releases.surface import load_surface
from npu_compat.sim.device_surface import GRAPH_CAPTURE
surface = load_surface(torch_npu.__version__)
out["version"] = torch_npu.__version__
out["missing"] = sorted(n for n in surface.npu_names() if not hasattr(torch.npu, n) and n not in GRAPH_CAPTURE)
out["graph_capture"] = sorted(n for n in GRAPH_CAPTURE if hasattr(torch.npu, n))
out["modules"] = {}
for name, found in surface.modules.items():
    if name.startswith("torch_npu.npu.") and found is not None:
        try:
            module = importlib.import_module(name)
            out["modules"][name] = sorted(n for n in found.public if not hasattr(module, n) and n not in GRAPH_CAPTURE)
        except ImportError as err:
            out["modules"][name] = str(err)
out["tool_paths"] = {}
for path, present in surface.tool_paths.items():
    owner, _, attr = path.rpartition(".")
    try:
        found = hasattr(importlib.import_module(owner), attr) or bool(importlib.util.find_spec(path))
    except ImportError as err:
        found = "transfer_to_npu is not simulated" in str(err) or False
    out["tool_paths"][path] = [present, found]
"""


@functools.cache
def _probe(version: str) -> dict:
    return run_sim(PROBE, env={"NPU_COMPAT_SIMULATE": f"torch_npu=={version}"})


@pytest.mark.parametrize("version", available_versions())
def test_the_stand_in_covers_the_release_surface(version):
    out = _probe(version)
    assert out["version"] == version
    assert out["missing"] == []
    assert out["modules"] and all(names == [] for names in out["modules"].values()), out["modules"]
    for path, (present, found) in out["tool_paths"].items():
        assert bool(found) == present, (path, present, found)


def test_graph_capture_names_are_there():
    """From the simulator's graph capture (npu_compat/sim/graphs.py)."""
    assert _probe("2.7.1.post2")["graph_capture"] == ["NPUGraph", "graph", "make_graphed_callables"]


def test_host_side_meanings(tmp_path):
    dump = tmp_path / "snap.pickle"
    out = run_sim(f"""
out["utilization"] = torch.npu.utilization()
torch.npu.set_per_process_memory_fraction(0.25, 1)
out["fraction"] = [torch.npu.get_per_process_memory_fraction(1) if hasattr(torch.npu, "get_per_process_memory_fraction") else None]
{raises("torch.npu.set_per_process_memory_fraction(1)")}
{raises("torch.npu.set_per_process_memory_fraction(1.5)")}
pointer = torch.npu.caching_allocator_alloc(64)
out["pointer"] = isinstance(pointer, int) and pointer != 0
torch.npu.caching_allocator_delete(pointer)
{raises("torch.npu.caching_allocator_delete(pointer)")}
import torch_npu.npu.memory as memory
memory._record_memory_history()
memory._dump_snapshot({str(dump)!r})
x = torch.npu.FloatTensor([1.0, 2.0])
out["legacy"] = [str(x.device), str(x.dtype), isinstance(x, torch.npu.FloatTensor), isinstance(x.cpu(), torch.npu.FloatTensor),
                 torch.npu.LongTensor([2, 3]).tolist(), list(torch.npu.HalfTensor(2, 3).shape)]
{raises("torch.npu.set_dump('x.json')")}
{raises("import torch_npu.contrib.transfer_to_npu")}
{raises("torch_npu.HiFloat8Tensor")}
""")
    assert out["utilization"] == 0 and out["pointer"]
    assert "must be `float`" in out["torch.npu.set_per_process_memory_fraction(1)"]
    assert "Allowed range: 0~1" in out["torch.npu.set_per_process_memory_fraction(1.5)"]
    assert "was not allocated" in out["torch.npu.caching_allocator_delete(pointer)"]
    assert pickle.loads(dump.read_bytes())["segments"] == []
    assert out["legacy"] == ["npu:0", "torch.float32", True, False, [2, 3], [2, 3]]
    refused = out["torch.npu.set_dump('x.json')"]
    assert "torch.npu.set_dump" in refused and "torch_npu 2.7.1.post2" in refused and "simulated" in refused
    assert "python -m npu_compat.apply --device npu" in out["import torch_npu.contrib.transfer_to_npu"]
    assert "HiFloat8Tensor" in out["torch_npu.HiFloat8Tensor"]  # 2.7.1.post2 has none: AttributeError


def test_a_release_without_surface_data_is_refused_before_anything_runs():
    proc = run_python("-c", "from npu_compat import npu; npu.load_torch_npu()",
                      env={"NPU_COMPAT_SIMULATE": "torch_npu==0.0.1"})
    assert proc.returncode != 0 and "0.0.1" in proc.stderr
