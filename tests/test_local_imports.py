"""Every import inside a function in ``npu_compat`` has a reason in the allow-list below.

An import inside a function must never hide an import cycle (docs/shim.md, "How the kit is
layered"; ``lint-imports`` counts such imports too). The ones that stay load something on purpose
only when it is needed: an optional or heavy dependency, the one torch_npu import, or, in the entry
and client layers, the work of a command only once it runs (so ``--help``, bad input and the
``.pth`` hook answer before torch and sam3 load). Each row of :data:`ALLOWED` says which imports
where, and why. A function-local import that matches no row fails the test, with its place.
"""
from __future__ import annotations

import ast
import fnmatch
import shutil
from pathlib import Path

from tests.conftest import ROOT

# Third-party packages that are extras, or heavy, or present only on some machines.
OPTIONAL = (
    "sam3", "transformers", "pycocotools", "skimage", "cv2", "PIL", "hydra", "omegaconf", "iopath", "msprobe",
    "matplotlib", "scipy", "yaml", "tqdm", "torchvision", "numpy", "decord", "av", "open_clip", "accelerate",
)
ANY = "*"
KIT = "npu_compat"

# (where: a file pattern under npu_compat/, imports: module prefixes or ANY, why)
ALLOWED: tuple[tuple[str, tuple[str, ...] | str, str], ...] = (
    ("npu_compat/*", OPTIONAL,
     "an optional dependency (an extra, or a library present only on some machines), imported when the feature "
     "that needs it runs"),
    ("npu_compat/npu.py", ("torch_npu",), "the kit's one torch_npu import, when the npu target is used"),
    ("npu_compat/__init__.py", (KIT,), "importing npu_compat does nothing: apply/revert/current load the shim when called"),
    ("npu_compat/autoapply.py", ANY, "the .pth hook runs in every Python of the environment: it loads the kit only "
     "when torch is first imported"),
    ("npu_compat/child_boot/*", ANY, "the sitecustomize of every child process: as light as the .pth hook"),
    ("npu_compat/apply.py", ANY, "the entry point: --help, --install/--status and bad options answer before torch loads"),
    ("npu_compat/commands/*", ANY, "commands: --help and bad input answer before torch and sam3 load"),
    ("npu_compat/*/__main__.py", ANY, "a command-line module: --help and bad input answer before its work loads"),
    ("npu_compat/workloads/*", ANY, "clients: a workload loads what it runs (sam3, the shim, I/O) when it runs"),
    ("npu_compat/parity/*", ANY, "clients: a parity run loads the model, the shim and msprobe when it runs"),
    ("npu_compat/bench/*", ANY, "clients: a benchmark loads what it measures when it runs (and measures that load)"),
    ("npu_compat/training/*", ANY, "clients: a training run loads sam3 and the shim when it runs"),
    ("npu_compat/patchset/*", ANY, "clients: the patch tools load upstream trees and git helpers when they run"),
    ("npu_compat/sam3/rule_pack.py", ("npu_compat.sam3.rules",),
     "the pack's rows load at apply() with the pack on; its command-line options are read without them"),
    ("npu_compat/sam3/*", ("npu_compat.sam3.", "npu_compat.workloads", "torch."),
     "the sam3 pack's tiny models and video helpers load sam3's builders when one is built"),
    ("npu_compat/rules/batch_norm.py", ("torch.distributed.nn",),
     "torch.distributed.nn loads the distributed stack: only when a SyncBatchNorm runs with a process group"),
)


def function_local_imports(root: Path) -> list[tuple[str, int, str]]:
    """``(path relative to root, line, imported module)`` for every import inside a function under root/npu_compat."""
    found = []
    for path in sorted((root / KIT).rglob("*.py")):
        tree = ast.parse(path.read_text(), str(path))
        seen: set[int] = set()
        for fn in ast.walk(tree):
            if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                continue
            for node in ast.walk(fn):
                if isinstance(node, (ast.Import, ast.ImportFrom)) and id(node) not in seen:
                    seen.add(id(node))
                    rel = str(path.relative_to(root))
                    if isinstance(node, ast.Import):
                        found += [(rel, node.lineno, alias.name) for alias in node.names]
                    else:
                        module = ("." * node.level) + (node.module or "")
                        found.append((rel, node.lineno, module))
    return found


def _matches(module: str, prefixes: tuple[str, ...] | str) -> bool:
    if prefixes == ANY:
        return True
    return any(module == p or module.startswith(p if p.endswith(".") else p + ".") for p in prefixes)


def unexplained(root: Path) -> list[str]:
    return [f"{path}:{line}: import {module}" for path, line, module in function_local_imports(root)
            if not any(fnmatch.fnmatch(path, where) and _matches(module, imports) for where, imports, _ in ALLOWED)]


def test_every_function_local_import_has_a_reason():
    assert function_local_imports(ROOT), "the walk finds the lazy imports the allow-list explains"
    assert unexplained(ROOT) == []


def test_every_row_of_the_allow_list_is_used_and_says_why():
    found = function_local_imports(ROOT)
    for where, imports, why in ALLOWED:
        assert len(why) > 30, where
        assert any(fnmatch.fnmatch(p, where) and _matches(m, imports) for p, _, m in found), f"unused row: {where}"


def test_a_planted_function_local_import_fails(tmp_path):
    """An import inside a function of the core (here the report data model importing the shim) is named."""
    shutil.copytree(ROOT / KIT, tmp_path / KIT, ignore=shutil.ignore_patterns("__pycache__", "csrc", "data"))
    report = tmp_path / KIT / "report.py"
    lines = len(report.read_text().splitlines())
    report.write_text(report.read_text() + "\n\ndef _planted():\n    from npu_compat import shim\n    return shim\n")
    assert unexplained(tmp_path) == [f"npu_compat/report.py:{lines + 4}: import npu_compat"]
