"""The Python API names a torch_npu release has, read from its wheel's sources (never imported).

For each module of :data:`MODULES` (``torch_npu.npu`` and the submodules that ``torch.cuda``'s
counterparts map to, plus the modules other tools import), the data keep its literal ``__all__``
and the names its top level binds: functions, classes, assignments, and names imported from
inside torch_npu (``from .graphs import NPUGraph``; a ``from .memory import *`` is followed to
that module's ``__all__``; single names taken from a private module, such as ``ErrCode`` from
``torch_npu.utils._error_code``, are not counted). Imports of other packages (``os``, ``typing``) are not torch_npu's
API and are left out. :data:`TOOL_PATHS` are dotted names that other tools import (msprobe's
``torch_npu.utils.storage._rebuild_npu_tensor``...): the data say which a release has.

Stored as ``npu_compat/data/torch_npu_surface/torch_npu-<version>.json`` with the wheel's name,
sha256 and the extraction date, written by ``tools/extract_npu_kernels.py``.
"""
from __future__ import annotations

import ast
import datetime as _dt
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from npu_compat.atomic_files import write_json_atomic
from npu_compat.errors import KernelListError
from npu_compat.npu_releases.kernels import VERSION_MEMBER, sha256_of, version_from_text
from npu_compat.npu_releases.release_files import data_file_name, read_release_json, versions_in

FORMAT = "npu_compat/torch-npu-surface@1"
DATA_DIR = Path(__file__).resolve().parent.parent / "data" / "torch_npu_surface"
MODULES = (
    "torch_npu",
    "torch_npu.npu",
    "torch_npu.npu.amp",
    "torch_npu.npu.amp.autocast_mode",
    "torch_npu.npu.amp.grad_scaler",
    "torch_npu.npu.memory",
    "torch_npu.npu.random",
    "torch_npu.npu.streams",
    "torch_npu.npu.graphs",
    "torch_npu.npu.utils",
    "torch_npu.utils.storage",
    "torch_npu.utils.device_guard",
    "torch_npu.contrib.transfer_to_npu",
)
# Dotted names other tools import from torch_npu, and who imports them.
TOOL_PATHS = {
    "torch_npu.utils.device_guard.torch_device_guard": "msprobe (mindstudio-probe)",
    "torch_npu.utils.storage._rebuild_npu_tensor": "msprobe (mindstudio-probe); torch.load of npu tensors",
    "torch_npu.HiFloat8Tensor": "msprobe (mindstudio-probe)",
    "torch_npu.npu.memory._record_memory_history": "torch.cuda.memory._record_memory_history on the npu target",
    "torch_npu.npu.memory._snapshot": "torch.cuda.memory._snapshot on the npu target",
    "torch_npu.npu.memory._dump_snapshot": "torch.cuda.memory._dump_snapshot on the npu target",
    "torch_npu.npu.amp.autocast_mode.autocast": "torch._dynamo (through torch.cuda.amp)",
    "torch_npu.contrib.transfer_to_npu": "scripts that use torch_npu's own CUDA redirect",
}


@dataclass
class ModuleSurface:
    """One module of a release: its literal ``__all__`` (None if it has none) and its top-level names."""

    file: str
    all: list[str] | None
    binds: list[str]

    @property
    def names(self) -> set[str]:
        """Everything the module binds or exports, private names included."""
        return set(self.all or ()) | set(self.binds)

    @property
    def public(self) -> set[str]:
        return {name for name in self.names if not name.startswith("_")}


@dataclass
class Surface:
    version: str
    modules: dict[str, ModuleSurface | None]
    tool_paths: dict[str, bool]
    source: dict[str, Any] = field(default_factory=dict)

    def module(self, name: str) -> ModuleSurface | None:
        return self.modules.get(name)

    def has(self, dotted: str) -> bool:
        """``torch_npu.npu.utilization`` or ``torch_npu.npu.memory`` (a module) exists in this release."""
        if self.modules.get(dotted) is not None:
            return True
        owner, _, name = dotted.rpartition(".")
        found = self.modules.get(owner)
        return found is not None and name in found.names

    def npu_names(self) -> set[str]:
        """The public names of ``torch_npu.npu`` (what ``torch.npu.X`` has)."""
        found = self.modules.get("torch_npu.npu")
        return found.public if found is not None else set()

    def as_dict(self) -> dict[str, Any]:
        return {"format": FORMAT, "torch_npu_version": self.version, "source": self.source,
                "counts": {"torch_npu.npu.__all__": len((self.modules.get("torch_npu.npu") or
                                                         ModuleSurface("", [], [])).all or []),
                           "torch_npu.npu public": len(self.npu_names())},
                "modules": {name: (vars(found) if found is not None else None)
                            for name, found in self.modules.items()},
                "tool_paths": self.tool_paths}


# ---- reading a wheel's sources ----------------------------------------------------------------
def _member(files: dict[str, str], module: str) -> str | None:
    base = module.replace(".", "/")
    for candidate in (f"{base}/__init__.py", f"{base}.py"):
        if candidate in files:
            return candidate
    return None


def _literal_all(tree: ast.Module) -> list[str] | None:
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets):
            try:
                value = ast.literal_eval(node.value)
            except ValueError:
                return None
            return [str(name) for name in value]
    return None


def _resolve_from(module: str, is_package: bool, node: ast.ImportFrom) -> str | None:
    """The absolute module a ``from X import`` names, if it is inside torch_npu."""
    if node.level:
        parts = module.split(".") if is_package else module.split(".")[:-1]
        parts = parts[: len(parts) - (node.level - 1)] if node.level > 1 else parts
        target = ".".join(parts + ([node.module] if node.module else []))
    else:
        target = node.module or ""
    return target if target == "torch_npu" or target.startswith("torch_npu.") else None


def _top_level(body: list[ast.stmt]) -> list[ast.stmt]:
    """Statements run at import: the module body and the bodies of its top-level if/try/with."""
    found: list[ast.stmt] = []
    for node in body:
        found.append(node)
        for attr in ("body", "orelse", "finalbody"):
            if isinstance(node, (ast.If, ast.Try, ast.With)) and getattr(node, attr, None):
                found += _top_level(getattr(node, attr))
        for handler in getattr(node, "handlers", []) if isinstance(node, ast.Try) else []:
            found += _top_level(handler.body)
    return found


def _target_names(target: ast.expr) -> list[str]:
    if isinstance(target, ast.Name):
        return [target.id]
    if isinstance(target, (ast.Tuple, ast.List)):
        return [name for item in target.elts for name in _target_names(item)]
    return []


def _binds(module: str, files: dict[str, str], seen: frozenset[str] = frozenset()) -> tuple[list[str] | None, list[str]]:
    member = _member(files, module)
    assert member is not None
    tree = ast.parse(files[member])
    is_package = member.endswith("__init__.py")
    names: set[str] = set()
    for node in _top_level(tree.body):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names.update(n for t in node.targets for n in _target_names(t))
        elif isinstance(node, (ast.AnnAssign, ast.AugAssign)):
            names.update(_target_names(node.target))
        elif isinstance(node, ast.ImportFrom):
            source = _resolve_from(module, is_package, node)
            if source is None:
                continue
            private_source = any(part.startswith("_") for part in source.split("."))
            for alias in node.names:
                if alias.name != "*":
                    if not private_source:  # ErrCode from torch_npu.utils._error_code is no API
                        names.add(alias.asname or alias.name)
                elif _member(files, source) and source not in seen:
                    exported, binds = _binds(source, files, seen | {module})
                    names.update(exported if exported is not None else [n for n in binds if not n.startswith("_")])
        elif isinstance(node, ast.Import):
            for alias in node.names:  # ``import torch_npu.npu.amp`` binds torch_npu only
                if alias.asname and alias.name.startswith("torch_npu."):
                    names.add(alias.asname)
    # submodules: a package's child modules are attributes once imported (torch_npu.npu.amp)
    if is_package:
        prefix = member[: -len("__init__.py")]
        for path in files:
            rest = path[len(prefix):] if path.startswith(prefix) else ""
            child = rest.split("/", 1)[0].removesuffix(".py")
            if rest and child and child != "__init__" and child.isidentifier() and (
                    rest == f"{child}.py" or rest == f"{child}/__init__.py"):
                names.add(child)
    names = {name for name in names if not (name.startswith("__") and name.endswith("__"))}
    return _literal_all(tree), sorted(names)


def surface_from_sources(files: dict[str, str], version: str, source: dict[str, Any] | None = None) -> Surface:
    """The surface of a release from its Python sources (``{"torch_npu/npu/__init__.py": text, ...}``)."""
    if _member(files, "torch_npu.npu") is None:
        raise KernelListError("no torch_npu/npu/__init__.py among the sources; is it a torch_npu wheel?")
    modules: dict[str, ModuleSurface | None] = {}
    for module in MODULES:
        member = _member(files, module)
        if member is None:
            modules[module] = None
            continue
        exported, binds = _binds(module, files)
        modules[module] = ModuleSurface(member, exported, binds)
    surface = Surface(version, modules, {}, dict(source or {}))
    surface.tool_paths = {path: surface.has(path) for path in TOOL_PATHS}
    return surface


def extract_surface(source: str | Path, today: str | None = None) -> Surface:
    """Read the surface from a torch_npu wheel (.whl) or an installed ``torch_npu`` folder."""
    path = Path(source)
    date = today or _dt.date.today().isoformat()
    if path.is_file() and path.suffix == ".whl":
        try:
            with zipfile.ZipFile(path) as wheel:
                files = {name: wheel.read(name).decode("utf-8", "replace") for name in wheel.namelist()
                         if name.startswith("torch_npu/") and name.endswith(".py")}
        except zipfile.BadZipFile:
            raise KernelListError(f"{path} is not a valid wheel (zip) file") from None
        provenance: dict[str, Any] = {"wheel": path.name, "sha256": sha256_of(path)}
    elif path.is_dir():
        root = path if (path / "npu").is_dir() else path / "torch_npu"
        if not (root / "npu" / "__init__.py").is_file():
            raise KernelListError(f"{root / 'npu' / '__init__.py'} not found; pass a torch_npu wheel or its installed folder")
        files = {f"torch_npu/{p.relative_to(root).as_posix()}": p.read_text(errors="replace")
                 for p in root.rglob("*.py")}
        provenance = {"installed": str(root)}
    else:
        raise KernelListError(f"{path} is neither a torch_npu .whl nor an installed torch_npu folder")
    version = version_from_text(files.get(VERSION_MEMBER, ""))
    if not version:
        raise KernelListError(f"cannot read torch_npu's __version__ from {path}")
    provenance.update({"extracted": date, "tool": "tools/extract_npu_kernels.py"})
    return surface_from_sources(files, version, provenance)


# ---- committed data ---------------------------------------------------------------------------
def available_versions() -> list[str]:
    return versions_in(DATA_DIR)


def load_surface(version_or_path: str) -> Surface:
    """A committed surface by torch_npu version (``2.7.1.post2``), or a JSON file path."""
    data = read_release_json(DATA_DIR, version_or_path, "API surface", FORMAT)
    modules = {name: (ModuleSurface(**found) if found is not None else None) for name, found in data["modules"].items()}
    return Surface(data["torch_npu_version"], modules, data["tool_paths"], data.get("source", {}))


def save_surface(surface: Surface, out_dir: str | Path = DATA_DIR) -> Path:
    """Write ``torch_npu-<version>.json`` atomically into ``out_dir``."""
    return write_json_atomic(Path(out_dir) / data_file_name(surface.version), surface.as_dict(), indent=1)


__all__ = ["Surface", "ModuleSurface", "MODULES", "TOOL_PATHS", "FORMAT", "DATA_DIR", "extract_surface",
           "surface_from_sources", "load_surface", "save_surface", "available_versions"]
