"""sam3 main's module-level pkg_resources / decord imports get stand-ins for sam3's modules only."""
from __future__ import annotations

import builtins
import importlib.util

import pytest

from npu_compat.sam3.scoped_imports import SCOPED_IMPORTS


def _import_as(module_name: str, statement: str) -> dict:
    """Run `statement` as if it were module-level code of `module_name`."""
    namespace = {"__name__": module_name}
    exec(statement, namespace)  # noqa: S102 - the test drives the import statement itself
    return namespace


@pytest.fixture
def no_pkg_resources():
    if importlib.util.find_spec("pkg_resources") is not None:
        pytest.skip("this setuptools still ships pkg_resources: the stand-in is never used")


def test_sam3_model_builder_gets_resource_filename(shim_cpu, no_pkg_resources, tmp_path):
    ns = _import_as("sam3.model_builder", "import pkg_resources")
    path = ns["pkg_resources"].resource_filename("npu_compat", "sam3/scoped_imports.py")
    assert path.endswith("npu_compat/sam3/scoped_imports.py") and open(path).read().startswith('"""Module-level')
    assert "pkg_resources" not in __import__("sys").modules


def test_other_modules_still_get_import_error(shim_cpu, no_pkg_resources):
    for name in ("sam3.model.decoder", "my_script", "__main__"):
        with pytest.raises(ImportError):
            _import_as(name, "import pkg_resources")


def test_decord_standin_raises_only_when_used(shim_cpu):
    if importlib.util.find_spec("decord") is not None:
        pytest.skip("decord is installed: the stand-in is never used")
    ns = _import_as("sam3.train.data.sam3_image_dataset", "from decord import cpu, VideoReader")
    with pytest.raises(ImportError, match="pip install decord"):
        ns["VideoReader"]("clip.mp4", ctx=ns["cpu"](0))
    with pytest.raises(ImportError):
        _import_as("sam3.model_builder", "import decord")  # not in that row's importers


def test_real_module_wins_when_installed(shim_cpu, monkeypatch):
    """A row whose module is importable (here `json`) passes through to the real module."""
    from npu_compat.sam3 import scoped_imports

    row = scoped_imports.ScopedImport("json", ("sam3.model_builder",), scoped_imports._pkg_resources_standin)
    monkeypatch.setattr(scoped_imports, "SCOPED_IMPORTS", (row,))
    rule = scoped_imports.RULES[0]
    wrapped = scoped_imports._scoped_import(shim_cpu.patcher.ctx, rule, builtins.__import__)
    import json

    assert wrapped("json", {"__name__": "sam3.model_builder"}) is json


def test_revert_restores_builtins_import():
    import npu_compat

    original = builtins.__import__
    npu_compat.revert()
    npu_compat.apply(device="cpu")
    try:
        wrapped = builtins.__import__
        assert wrapped is not original and wrapped.__wrapped__ is original
        npu_compat.apply(device="cpu")  # twice == once: still one layer over the original
        assert builtins.__import__.__wrapped__ is original
    finally:
        npu_compat.revert()
    assert builtins.__import__ is original
    assert [row.module for row in SCOPED_IMPORTS] == ["pkg_resources", "decord"]
