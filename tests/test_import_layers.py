"""The kit's layers, as declared in pyproject.toml ([tool.importlinter]), checked by ``lint-imports``.

The first test runs the real ``lint-imports`` on this checkout. The others copy the package's
Python files and pyproject.toml to a temporary folder, plant one forbidden import there and show
that ``lint-imports`` fails on it and names it: an upward import at module level, inside a
function, or under ``TYPE_CHECKING``; the core naming the sam3 pack; the simulated npu importing
the shim; and a cycle between two modules of one layer.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint_imports(root: Path) -> subprocess.CompletedProcess:
    """``lint-imports`` on the package under ``root``, with that copy first on the path (no cache written)."""
    if not LINT_IMPORTS.exists():
        pytest.fail(f"{LINT_IMPORTS} is missing: pip install -e '.[dev]' installs import-linter")
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run([str(LINT_IMPORTS), "--no-cache", "--config", str(root / "pyproject.toml")],
                          cwd=root, env=env, capture_output=True, text=True, timeout=120)


def test_the_declared_layers_hold() -> None:
    proc = lint_imports(ROOT)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    assert "0 broken" in out and "KEPT" in out


@pytest.fixture
def package_copy(tmp_path: Path) -> Path:
    """The package's .py files and pyproject.toml, in a temporary folder."""
    shutil.copytree(ROOT / "npu_compat", tmp_path / "npu_compat",
                    ignore=lambda folder, names: [n for n in names
                                                  if not n.endswith(".py") and not (Path(folder) / n).is_dir()
                                                  or n == "__pycache__"])
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    assert lint_imports(tmp_path).returncode == 0  # the copy holds, so what breaks below is the planted import
    return tmp_path


def _plant(root: Path, module: str, code: str) -> None:
    path = root / module
    path.write_text(path.read_text() + "\n\n" + code + "\n")


@pytest.mark.parametrize("code", [
    "from npu_compat import shim",
    "def _planted():\n    from npu_compat import shim\n    return shim",
    "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from npu_compat import shim",
], ids=["module-level", "inside-a-function", "type-checking"])
def test_an_upward_import_breaks_the_layers(package_copy: Path, code: str) -> None:
    """The report data model (base) importing the shim (session) is refused, wherever the import stands."""
    _plant(package_copy, "npu_compat/report.py", code)
    proc = lint_imports(package_copy)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "Layers run one way" in out and "BROKEN" in out
    assert "npu_compat.report -> npu_compat.shim" in out


def test_the_core_naming_the_sam3_pack_is_refused(package_copy: Path) -> None:
    _plant(package_copy, "npu_compat/rules/amp.py", "def _planted():\n    import npu_compat.sam3.vocab")
    proc = lint_imports(package_copy)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "name no client pack BROKEN" in " ".join(out.split()) and "npu_compat.rules.amp -> npu_compat.sam3.vocab" in out


def test_the_command_line_options_naming_the_sam3_pack_are_refused(package_copy: Path) -> None:
    """Packs declare their own command-line options; ``cli_options`` reads them from every pack found."""
    _plant(package_copy, "npu_compat/cli_options.py", "from npu_compat.sam3.rule_pack import PACK")
    proc = lint_imports(package_copy)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "name no client pack BROKEN" in " ".join(out.split()) and "npu_compat.cli_options -> npu_compat.sam3.rule_pack" in out


def test_the_simulated_npu_importing_the_shim_is_refused(package_copy: Path) -> None:
    """The simulated npu (a test double of torch_npu + CANN) may read only torch and the base layer."""
    _plant(package_copy, "npu_compat/sim/dispatch.py", "def _planted():\n    from npu_compat import shim")
    proc = lint_imports(package_copy)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "reads only torch and the base layer BROKEN" in out and "npu_compat.sim.dispatch -> npu_compat.shim" in out


def test_a_cycle_inside_one_layer_is_refused(package_copy: Path) -> None:
    """rules.wrappers and rules.amp share a layer, so only the cycle contract stands between them."""
    _plant(package_copy, "npu_compat/rules/wrappers.py", "def _planted():\n    from npu_compat.rules import amp")
    proc = lint_imports(package_copy)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "No import cycle anywhere in the kit BROKEN" in out and "npu_compat.rules" in out
