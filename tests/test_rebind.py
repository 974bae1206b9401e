"""revert() also restores names bound to a replacement while the shim was on (npu_compat/rebind.py)."""
import json
import sys
import types

from npu_compat.patcher import Patcher, Rule
from tests.conftest import run_python
from tests.test_patcher import const, make_ctx

DESCRIBE = '''
import importlib, inspect, json, sys, types
def desc(v):
    if isinstance(v, types.ModuleType):
        return "module:" + str(getattr(v, "__file__", v.__name__))
    if isinstance(v, types.FunctionType):
        return f"func:{v.__module__}.{v.__qualname__}@{v.__code__.co_filename}:{v.__code__.co_firstlineno}"
    if isinstance(v, type):
        try:
            where = inspect.getfile(v)
        except Exception:
            where = "?"
        return f"class:{v.__module__}.{v.__qualname__}@{where}"
    if callable(v):
        return f"callable:{type(v).__name__}:{getattr(v, '__module__', None)}.{getattr(v, '__qualname__', None)}"
    return "value:" + type(v).__name__
def dump(names):
    return {n: {k: desc(v) for k, v in list(vars(sys.modules[n]).items()) if k != "__warningregistry__"}
            for n in names if n in sys.modules}
'''
SAM3_IMPORTS = "import sam3, sam3.model_builder, sam3.model.sam3_image_processor\n"


def test_apply_import_sam3_revert_leaves_torch_and_sam3_as_a_fresh_import(tmp_path):
    shimmed = run_python("-W", "ignore", "-c", DESCRIBE + (
        "import torch, npu_compat\n"
        "npu_compat.apply(device='cpu', log_level='quiet')\n" + SAM3_IMPORTS +
        "import sam3.model.sam3_tracker_utils as tu\n"
        "assert tu.edt_triton.__module__.startswith('npu_compat'), 'the swapped kernel was not bound'\n"
        "assert sam3.build_sam3_image_model.__code__.co_filename.find('npu_compat') > 0, 'the wrapper was not bound'\n"
        "npu_compat.revert()\n"
        "names = sorted(n for n in sys.modules if n.split('.')[0] in ('torch', 'sam3'))\n"
        f"json.dump({{'names': names, 'dump': dump(names)}}, open({str(tmp_path / 'a.json')!r}, 'w'))\n"))
    assert shimmed.returncode == 0, shimmed.stderr[-3000:]
    fresh = run_python("-W", "ignore", "-c", DESCRIBE + (
        f"a = json.load(open({str(tmp_path / 'a.json')!r}))\n"
        "import torch\n" + SAM3_IMPORTS +
        "for n in a['names']:\n    importlib.import_module(n)\n"
        f"json.dump(dump(a['names']), open({str(tmp_path / 'b.json')!r}, 'w'))\n"))
    assert fresh.returncode == 0, fresh.stderr[-3000:]
    after = json.loads((tmp_path / "a.json").read_text())["dump"]
    expected = json.loads((tmp_path / "b.json").read_text())
    assert len(after) > 500 and any(n.startswith("sam3.") for n in after)
    diffs = [(mod, key, attrs.get(key), expected[mod].get(key))
             for mod, attrs in after.items() for key in sorted(set(attrs) | set(expected[mod]))
             if attrs.get(key) != expected[mod].get(key)]
    assert diffs == []


def test_a_name_bound_from_a_patched_module_gets_the_original_back(tmp_path):
    owner = types.ModuleType("npu_compat_test_rebind_owner")  # stands in for a library module

    def f(a, b=1, *, c=2):
        return a

    owner.f = f
    sys.modules[owner.__name__] = owner
    try:
        p = Patcher(make_ctx())
        client = types.ModuleType("npu_compat_test_rebind_client")  # a module first imported while the shim is on
        sys.modules[client.__name__] = client
        p.install([Rule("t.f", owner.__name__, "f", const(7)),
                   Rule("t.new", owner.__name__, "created", const(8), install_missing=True, unchecked="a test row")])
        exec(f"from {owner.__name__} import f, created\nalias = f", vars(client))  # imported while the shim is on
        assert client.f() == 7 and client.alias() == 7 and client.created() == 8
        assert p.revert() == []
        assert client.f is f and client.alias is f
        assert not hasattr(client, "created")  # a fresh `from owner import created` would fail
    finally:
        sys.modules.pop(owner.__name__, None)
        sys.modules.pop(client.__name__, None)


def test_names_of_an_existing_object_used_as_a_replacement_are_left_alone():
    """torch.cuda.BFloat16Storage -> torch.BFloat16Storage style: the replacement lives on its own."""
    home = types.ModuleType("npu_compat_test_rebind_home")
    exec("class Storage:\n    pass\n", vars(home))
    home.Storage.__module__ = home.__name__
    owner = types.ModuleType("npu_compat_test_rebind_owner2")
    owner.Storage = type("Storage", (), {})
    original = owner.Storage
    sys.modules[home.__name__], sys.modules[owner.__name__] = home, owner
    try:
        p = Patcher(make_ctx())
        p.install([Rule("t.storage", owner.__name__, "Storage", lambda ctx, rule, orig: home.Storage, unchecked="a test row")])
        assert owner.Storage is home.Storage
        p.revert()
        assert owner.Storage is original and home.Storage.__module__ == home.__name__
        assert vars(home)["Storage"] is not original  # its own name was not taken for a leftover
    finally:
        sys.modules.pop(home.__name__, None)
        sys.modules.pop(owner.__name__, None)


def test_a_module_loaded_before_the_shim_keeps_the_kit_objects_it_imported_itself():
    """A test or user module that did ``from npu_compat.sam3.kernels.x import f`` before apply() keeps f:
    only modules imported while the shim was on can hold a replacement bound at import time."""
    kernel = types.ModuleType("npu_compat_test_rebind_kernel")  # stands in for the kit's kernel module
    exec("def labels(x):\n    return x\n", vars(kernel))
    kernel.labels.__module__ = kernel.__name__
    upstream = types.ModuleType("npu_compat_test_rebind_upstream")  # upstream lacks 'labels'
    user = types.ModuleType("npu_compat_test_rebind_user")
    user.labels = kernel.labels  # bound before the shim, on purpose
    sys.modules[upstream.__name__], sys.modules[user.__name__] = upstream, user
    try:
        p = Patcher(make_ctx())
        p.install([Rule("t.swap", "sys.modules", upstream.__name__, lambda ctx, rule, orig: kernel,
                        unchecked="a test row")])
        late = types.ModuleType("npu_compat_test_rebind_late")
        sys.modules[late.__name__] = late
        exec(f"from {upstream.__name__} import labels", vars(late))  # bound from the swapped module
        p.revert()
        assert user.labels is kernel.labels
        assert not hasattr(late, "labels")  # a fresh import of upstream has no such name
    finally:
        for name in (upstream.__name__, user.__name__, "npu_compat_test_rebind_late"):
            sys.modules.pop(name, None)
