"""The API surface of torch_npu releases, read from wheel sources (never imported)."""
import json
import zipfile
from pathlib import Path

import pytest

from npu_compat.env.versions import load_table
from npu_compat.errors import KernelListError
from npu_compat.npu_releases.surface import (TOOL_PATHS, available_versions, extract_surface, load_surface,
                                            save_surface, surface_from_sources)

SOURCES = {
    "torch_npu/__init__.py": "import os\nfrom torch_npu.utils._error_code import ErrCode\n__all__ = ['HiFloat8Tensor']\n",
    "torch_npu/version.py": "__version__ = '9.9.9'\n",
    "torch_npu/npu/__init__.py": (
        "__all__ = ['utilization', 'NPUGraph']\n"
        "import threading\nfrom typing import Tuple\n"
        "from torch_npu.utils._error_code import ErrCode, pta_error\n"
        "from .graphs import NPUGraph, graph as graph\n"
        "from .memory import *\n"
        "try:\n    from .extra import only_in_try\nexcept ImportError:\n    pass\n"
        "def utilization(device=None):\n    def inner():\n        pass\n"
        "config = object()\n_private = 1\n"),
    "torch_npu/npu/graphs.py": "class NPUGraph:\n    pass\ndef graph():\n    pass\n",
    "torch_npu/npu/memory.py": "__all__ = ['caching_allocator_alloc']\ndef caching_allocator_alloc():\n    pass\n"
                               "def _record_memory_history():\n    pass\ndef not_exported():\n    pass\n",
    "torch_npu/npu/extra.py": "only_in_try = 1\n",
    "torch_npu/npu/amp/__init__.py": "",
    "torch_npu/utils/storage.py": "__all__ = []\ndef _rebuild_npu_tensor():\n    pass\n",
}


def test_names_bound_by_definitions_and_torch_npu_imports():
    surface = surface_from_sources(SOURCES, "9.9.9")
    npu = surface.module("torch_npu.npu")
    assert npu.all == ["utilization", "NPUGraph"]
    names = surface.npu_names()
    assert {"utilization", "NPUGraph", "graph", "config", "only_in_try", "caching_allocator_alloc"} <= names
    assert {"amp", "graphs", "memory"} <= names  # submodules are attributes once imported
    assert "not_exported" not in names  # the star import follows memory's __all__
    assert not names & {"threading", "Tuple", "ErrCode", "pta_error", "inner"}  # other packages, private modules, nested defs
    assert "_private" in npu.names and "_private" not in names


def test_tool_paths_say_which_exist():
    surface = surface_from_sources(SOURCES, "9.9.9")
    assert surface.tool_paths["torch_npu.utils.storage._rebuild_npu_tensor"] is True
    assert surface.tool_paths["torch_npu.npu.memory._record_memory_history"] is True
    assert surface.tool_paths["torch_npu.HiFloat8Tensor"] is True
    assert surface.tool_paths["torch_npu.utils.device_guard.torch_device_guard"] is False
    assert surface.module("torch_npu.utils.device_guard") is None
    assert set(surface.tool_paths) == set(TOOL_PATHS)


def test_wheel_round_trip(tmp_path):
    wheel = tmp_path / "torch_npu-9.9.9-cp311-cp311-manylinux_2_28_aarch64.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for name, text in SOURCES.items():
            archive.writestr(name, text)
    surface = extract_surface(wheel, today="2026-01-02")
    assert surface.version == "9.9.9" and surface.source["wheel"] == wheel.name and len(surface.source["sha256"]) == 64
    out = save_surface(surface, tmp_path)
    again = load_surface(str(out))
    assert again.npu_names() == surface.npu_names() and again.tool_paths == surface.tool_paths
    assert json.loads(out.read_text())["source"]["extracted"] == "2026-01-02"


def test_not_a_torch_npu_wheel(tmp_path):
    wheel = tmp_path / "x.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr("torch_npu/version.py", "__version__ = '1'\n")
    with pytest.raises(KernelListError, match="torch_npu/npu/__init__.py"):
        extract_surface(wheel)
    with pytest.raises(KernelListError, match="no API surface for torch_npu '0.0.1'"):
        load_surface("0.0.1")


def _table_releases():
    lines = load_table()["lines"].values()
    return sorted({line["torch_npu"] for line in lines} | {"2.14.0"})


@pytest.mark.parametrize("version", _table_releases())
def test_committed_data_for_every_release_in_the_version_table(version):
    assert version in available_versions()
    surface = load_surface(version)
    assert surface.version == version and surface.source["wheel"].startswith(f"torch_npu-{version}-")
    # FACTS: the real torch_npu has these (read from its sources)
    assert {"utilization", "set_per_process_memory_fraction", "caching_allocator_alloc", "NPUGraph", "graph",
            "make_graphed_callables", "memory", "amp"} <= surface.npu_names()
    assert surface.tool_paths["torch_npu.utils.storage._rebuild_npu_tensor"]


def test_releases_differ_where_torch_npu_changed():
    old, new = load_surface("2.7.1.post2"), load_surface("2.14.0")
    assert len(old.module("torch_npu.npu").all) == 128  # transfer_to_npu copies these 128 names (FACTS §3)
    assert "HiFloat8Tensor" not in old.module("torch_npu").names and new.tool_paths["torch_npu.HiFloat8Tensor"]
    assert "get_per_process_memory_fraction" in new.npu_names() - old.npu_names()
