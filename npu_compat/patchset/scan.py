"""Find CUDA-specific code (AST plus text patterns) that no patch hunk covers."""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path

PATTERNS: dict[str, re.Pattern[str]] = {
    "dot-cuda": re.compile(r"\.cuda\("),
    "cuda-string": re.compile(r"""["']cuda(:\d+)?["']"""),
    "torch.cuda": re.compile(r"\btorch\.cuda\."),
    "backends.cuda": re.compile(r"\btorch\.backends\.(cuda|cudnn)\b"),
    "triton": re.compile(r"^\s*(import|from)\s+triton\b|@triton\.jit"),
    "pin_memory": re.compile(r"\.pin_memory\(|pin_memory\s*=\s*True"),
    "nccl": re.compile(r"""["']nccl["']"""),
}


@dataclass(frozen=True)
class Finding:
    path: str
    line: int
    kind: str
    code: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.kind}: {self.code}"


def _code_lines(source: str) -> set[int] | None:
    """Line numbers holding code (not docstrings or comments); None if it does not parse."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return None
    docstring_lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = getattr(node, "body", [])
            if body and isinstance(body[0], ast.Expr) and isinstance(getattr(body[0], "value", None), ast.Constant) \
                    and isinstance(body[0].value.value, str):
                docstring_lines.update(range(body[0].lineno, (body[0].end_lineno or body[0].lineno) + 1))
    lines: set[int] = set()
    for node in ast.walk(tree):
        lineno = getattr(node, "lineno", None)
        if lineno is not None and lineno not in docstring_lines:
            lines.update(range(lineno, (getattr(node, "end_lineno", None) or lineno) + 1))
    return lines - docstring_lines


def scan_file(path: Path, rel: str) -> list[Finding]:
    source = path.read_text(encoding="utf-8", errors="replace")
    code = _code_lines(source)
    found = []
    for number, text in enumerate(source.splitlines(), 1):
        stripped = text.split("#", 1)[0] if "#" in text and "'" not in text and '"' not in text else text
        if stripped.lstrip().startswith("#") or (code is not None and number not in code):
            continue
        for kind, pattern in PATTERNS.items():
            if pattern.search(stripped):
                found.append(Finding(rel, number, kind, text.strip()))
    return found


def scan_tree(tree: Path, package: str = "sam3") -> list[Finding]:
    """Every CUDA-specific line under `tree/package`."""
    root = Path(tree)
    return [finding for path in sorted((root / package).rglob("*.py"))
            for finding in scan_file(path, str(path.relative_to(root)))]


def uncovered(patched_tree: Path, added_lines: dict[str, set[str]], package: str = "sam3") -> list[Finding]:
    """Findings in the patched tree that are not lines our patches added on purpose
    (e.g. `pin_memory()` guarded by a device check)."""
    return [f for f in scan_tree(patched_tree, package) if f.code not in added_lines.get(f.path, set())]
