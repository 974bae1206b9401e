"""sam3 main's module-level pkg_resources / decord imports get stand-ins for sam3's modules only.

Each of those sam3 modules gets its own builtins namespace before its code runs; ``builtins.__import__``
is never wrapped, so an ImportError anywhere else shows no frame of the kit.
"""
from __future__ import annotations

import builtins
import importlib.util
import json
import traceback

import pytest

from npu_compat.patcher import MISSING
from npu_compat.sam3 import scoped_imports
from npu_compat.sam3.scoped_imports import RULES, SCOPED_IMPORTS, ModuleBuiltins
from tests.conftest import run_python


def _rule(importer: str):
    return next(r for r in RULES if r.owner == importer)


def _import_as(session, module_name: str, statement: str) -> dict:
    """Run `statement` as module-level code of `module_name`, with the builtins the shim gives that module
    (its rule's own namespace; a module with no rule gets the plain builtins)."""
    rule = next((r for r in RULES if r.owner == module_name), None)
    scoped = rule.make(session.patcher.ctx, rule, MISSING) if rule else builtins.__dict__
    namespace = {"__name__": module_name, "__builtins__": scoped}
    exec(statement, namespace)  # noqa: S102 - the test drives the import statement itself
    return namespace


@pytest.fixture
def no_pkg_resources():
    if importlib.util.find_spec("pkg_resources") is not None:
        pytest.skip("this setuptools still ships pkg_resources: the stand-in is never used")


def test_sam3_model_builder_gets_resource_filename(shim_cpu, no_pkg_resources):
    ns = _import_as(shim_cpu, "sam3.model_builder", "import pkg_resources")
    path = ns["pkg_resources"].resource_filename("npu_compat", "sam3/scoped_imports.py")
    assert path.endswith("npu_compat/sam3/scoped_imports.py") and open(path).read().startswith('"""Module-level')
    assert "pkg_resources" not in __import__("sys").modules
    assert ns["__builtins__"]["len"]("abc") == 3  # other builtins are read from the builtins module


def test_other_modules_still_get_import_error(shim_cpu, no_pkg_resources):
    for name in ("sam3.model.decoder", "my_script", "__main__"):
        with pytest.raises(ImportError):
            _import_as(shim_cpu, name, "import pkg_resources")
    with pytest.raises(ImportError):
        exec("import pkg_resources", {"__name__": "sam3.model_builder"})  # the plain builtins: no stand-in


def test_decord_standin_raises_only_when_used(shim_cpu):
    if importlib.util.find_spec("decord") is not None:
        pytest.skip("decord is installed: the stand-in is never used")
    ns = _import_as(shim_cpu, "sam3.train.data.sam3_image_dataset", "from decord import cpu, VideoReader")
    with pytest.raises(ImportError, match="pip install decord"):
        ns["VideoReader"]("clip.mp4", ctx=ns["cpu"](0))
    with pytest.raises(ImportError):
        _import_as(shim_cpu, "sam3.model_builder", "import decord")  # not in that row's importers


def test_real_module_wins_when_installed(shim_cpu, monkeypatch):
    """A row whose module is importable (here `json`) passes through to the real module."""
    row = scoped_imports.ScopedImport("json", ("sam3.model_builder",), scoped_imports._pkg_resources_standin)
    monkeypatch.setattr(scoped_imports, "SCOPED_IMPORTS", (row,))
    ns = _import_as(shim_cpu, "sam3.model_builder", "import json")
    assert ns["json"] is json


def test_an_unrelated_import_error_shows_no_frame_of_the_kit(shim_cpu):
    """``import nonexistent`` in a shimmed program: its traceback runs from the import straight to the error."""
    assert builtins.__import__ is builtins.__dict__["__import__"] and not hasattr(builtins.__import__, "__wrapped__")
    for statement in ("import npu_compat_no_such_module", "from json import npu_compat_no_such_name"):
        with pytest.raises(ImportError) as err:
            exec(statement, {"__name__": "my_script"})  # noqa: S102
        files = [f.filename for f in traceback.extract_tb(err.value.__traceback__)]
        assert not [f for f in files if "npu_compat" in f], files


def test_a_sam3_module_runs_with_its_own_builtins_and_revert_gives_the_plain_ones_back():
    """A fresh ``import sam3`` under the shim: the row's module got its namespace before its code ran (its
    functions carry it), the rule is installed, and after ``revert()`` the module's ``__builtins__`` is what a
    fresh import gives; a failing import in the script shows no kit frame."""
    code = (
        "import builtins, inspect, json, traceback, npu_compat\n"
        "s = npu_compat.apply(device='cpu', log_level='quiet')\n"
        "import sam3.model_builder as mb\n"
        "from npu_compat.sam3.scoped_imports import ModuleBuiltins\n"
        "out = {'module': type(mb.__builtins__).__name__, 'function': type(inspect.unwrap(mb.build_sam3_image_model).__builtins__).__name__,\n"
        "       'status': [r.status for r in s.report.rules if r.key == 'sam3.scoped_imports.sam3.model_builder'],\n"
        "       'import_wrapped': hasattr(builtins.__import__, '__wrapped__')}\n"
        "try:\n    import npu_compat_no_such_module\n"
        "except ImportError as e:\n    out['frames'] = [f.filename for f in traceback.extract_tb(e.__traceback__)]\n"
        "npu_compat.revert()\n"
        "out['after'] = mb.__builtins__ is builtins.__dict__\n"
        "print(json.dumps(out))\n"
    )
    proc = run_python("-c", code)
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = json.loads(proc.stdout.splitlines()[-1])
    assert out["module"] == out["function"] == ModuleBuiltins.__name__
    assert out["status"] == ["installed"] and out["import_wrapped"] is False
    assert out["frames"] and not [f for f in out["frames"] if "npu_compat" in f]
    assert out["after"] is True


def test_rows_are_one_per_importing_module():
    assert [row.module for row in SCOPED_IMPORTS] == ["pkg_resources", "decord"]
    assert sorted(r.owner for r in RULES) == sorted({i for row in SCOPED_IMPORTS for i in row.importers})
    assert all(r.before_exec and r.attr == "__builtins__" for r in RULES)
