"""Tests for npu_compat.sam3.kernels: the replacement map, drop-in names, and the no-triton path.

The no-triton path is what Ascend hosts, macOS and CPU-only torch wheels take. This venv has
triton (PyPI torch is a CUDA build), so the test hides it in a subprocess with
``sys.modules["triton"] = None``: ``import triton`` then raises ModuleNotFoundError and
``importlib.util.find_spec("triton")`` returns None, as when it is not installed. (A meta-path
finder that raises ImportError does not work with torch 2.14.1: ``import torch`` itself calls
``importlib.util.find_spec("triton")`` and would fail.)
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import inspect
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from npu_compat.sam3.kernels import UPSTREAM_REPLACEMENTS

REPO_ROOT = Path(__file__).resolve().parents[3]


def upstream_sam3_root() -> Path:
    spec = importlib.util.find_spec("sam3")
    if spec is None or spec.origin is None:
        pytest.skip("sam3 is not installed")
    return Path(spec.origin).parent


def upstream_source(module_name: str) -> ast.Module:
    relative = Path(*module_name.split(".")[1:]).with_suffix(".py")
    return ast.parse((upstream_sam3_root() / relative).read_text())


def names_sam3_imports_from(module_name: str) -> set[str]:
    """Every name any sam3 source file imports with ``from <module_name> import ...``."""
    imported: set[str] = set()
    for path in upstream_sam3_root().rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module == module_name:
                imported.update(alias.name for alias in node.names)
    return imported


def plain_public_functions(tree: ast.Module) -> dict[str, list[str]]:
    """Top-level public functions that are not triton kernels, with their parameter names."""
    functions = {}
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and not node.name.startswith("_") and not node.decorator_list:
            functions[node.name] = [argument.arg for argument in node.args.args]
    return functions


@pytest.mark.parametrize("upstream_name", sorted(UPSTREAM_REPLACEMENTS))
def test_replacement_offers_every_name_sam3_imports_with_upstream_signatures(upstream_name):
    replacement = importlib.import_module(UPSTREAM_REPLACEMENTS[upstream_name])
    missing = names_sam3_imports_from(upstream_name) - set(dir(replacement))
    assert not missing, f"{replacement.__name__} lacks {sorted(missing)}"
    for name, parameters in plain_public_functions(upstream_source(upstream_name)).items():
        assert hasattr(replacement, name), f"{replacement.__name__} lacks {name}"
        assert list(inspect.signature(getattr(replacement, name)).parameters)[: len(parameters)] == parameters


def test_every_upstream_module_that_imports_triton_at_top_level_has_a_replacement():
    triton_importers = set()
    for path in upstream_sam3_root().rglob("*.py"):
        tree = ast.parse(path.read_text())
        for node in tree.body:
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            if any(name == "triton" or name.startswith("triton.") for name in names):
                module = "sam3." + ".".join(path.relative_to(upstream_sam3_root()).with_suffix("").parts)
                triton_importers.add(module)
    lazily_reached = {"sam3.perflib.triton.connected_components", "sam3.perflib.triton.nms"}
    assert triton_importers - lazily_reached <= set(UPSTREAM_REPLACEMENTS)
    assert "sam3.model.edt" in triton_importers


NO_TRITON_SCRIPT = textwrap.dedent(
    """
    import sys
    sys.modules["triton"] = None  # as if triton were not installed
    import importlib
    import torch

    from npu_compat.sam3.kernels import UPSTREAM_REPLACEMENTS
    from npu_compat.sam3.kernels.connected_components import connected_components
    from npu_compat.sam3.kernels.edt import edt_triton
    from npu_compat.sam3.kernels.mask_nms import nms_masks
    from npu_compat.sam3.kernels.sigmoid_focal_loss import triton_sigmoid_focal_loss_reduce

    masks = torch.zeros(2, 6, 6, dtype=torch.bool)
    masks[0, 1:3, 1:3] = True
    masks[1, 4, 4] = True
    assert edt_triton(masks)[0, 1, 1] == 1.0
    labels, areas = connected_components(masks)
    assert areas.max() == 4 and labels.shape == (2, 1, 6, 6)
    keep = nms_masks(torch.tensor([0.9, 0.8]), masks.float() - 0.5, 0.5, 0.5)
    assert keep.tolist() == [True, True]
    loss = triton_sigmoid_focal_loss_reduce(torch.zeros(3, requires_grad=True), torch.ones(3))
    loss.backward()

    try:
        import sam3  # noqa: F401
    except ImportError as error:
        assert "triton" in str(error), error
    else:
        raise AssertionError("upstream sam3 imported without triton and without replacements")
    for name in [name for name in sys.modules if name == "sam3" or name.startswith("sam3.")]:
        del sys.modules[name]

    for upstream, replacement in UPSTREAM_REPLACEMENTS.items():
        sys.modules[upstream] = importlib.import_module(replacement)
    import sam3
    import sam3.model.sam3_tracker_utils as tracker_utils
    import sam3.model.sam3_image as sam3_image
    from sam3.model_builder import build_sam3_image_model, build_sam3_video_predictor  # noqa: F401
    from sam3.perflib.connected_components import connected_components as used_cc
    assert tracker_utils.edt_triton is edt_triton
    assert sam3_image.nms_masks is nms_masks
    assert used_cc is connected_components
    assert sys.modules["triton"] is None
    print("NO_TRITON_OK")
    """
)


def test_kernels_and_sam3_import_and_run_without_triton():
    upstream_sam3_root()
    completed = subprocess.run(
        [sys.executable, "-c", NO_TRITON_SCRIPT],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
    )
    assert completed.returncode == 0, completed.stderr[-4000:]
    assert "NO_TRITON_OK" in completed.stdout
