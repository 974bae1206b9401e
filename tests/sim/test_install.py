"""Installing the simulated npu (a test double of the Ascend stack) from the command line: the
errors a user can make are one line with exit status 2."""
from tests.conftest import ROOT, run_python

DEMO = str(ROOT / "tools" / "sam3_demo.py")


def test_a_release_without_a_kernel_list_names_the_available_ones():
    proc = run_python("-m", "npu_compat.apply", "--device", "npu", "--simulate", "torch_npu==9.9.9", "--", DEMO)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        line for line in proc.stderr.strip().splitlines() if "no kernel list for torch_npu '9.9.9'" in line]
    assert "2.7.1.post2" in proc.stderr and "tools/extract_npu_kernels.py" in proc.stderr


def test_a_malformed_spec_is_a_usage_error():
    proc = run_python("-m", "npu_compat.apply", "--device", "npu", "--simulate", "torch==2.7.1", "--", DEMO)
    assert proc.returncode == 2 and "is not 'torch_npu==VERSION'" in proc.stderr.splitlines()[-1]


def _imported_modules(path):
    """Every module an ``import`` / ``from ... import`` statement in ``path`` names (not its docstrings)."""
    import ast

    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def test_the_shim_never_imports_the_simulator():
    """Only --simulate puts the stand-in where ``import torch_npu`` finds it; no kit module imports it."""
    for path in (ROOT / "npu_compat").rglob("*.py"):
        if "sim" in path.relative_to(ROOT / "npu_compat").parts[:1]:
            continue
        hits = {m for m in _imported_modules(path) if m == "npu_compat.sim" or m.startswith("npu_compat.sim.")}
        assert not hits, (path, hits)
