"""The aten ops that a torch_npu release has NPU kernels for, read from its own artifact.

torch_npu ships ``torch_npu/csrc/aten/npu_native_functions_by_codegen.yaml``: the op list its
code generator registers for the NPU (PrivateUse1) key. We read it from a wheel (as a zip; the
wheel is never installed or imported) or from an installed ``torch_npu`` folder, and keep the
names as JSON data with provenance (wheel file name, sha256, extraction date) in
``npu_compat/data/npu_kernels/``.
"""
from __future__ import annotations

import datetime as _dt
import hashlib
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from npu_compat.atomic_files import write_json_atomic
from npu_compat.errors import KernelListError
from npu_compat.npu_releases.release_files import data_file_name, read_release_json, versions_in

YAML_MEMBER = "torch_npu/csrc/aten/npu_native_functions_by_codegen.yaml"
VERSION_MEMBER = "torch_npu/version.py"
FORMAT = "npu_compat/npu-kernels@1"
SECTIONS = ("supported", "symint", "autograd", "custom", "quant")
DATA_DIR = Path(__file__).resolve().parent.parent / "data" / "npu_kernels"


@dataclass
class KernelList:
    version: str
    sections: dict[str, list[str]]
    source: dict[str, Any] = field(default_factory=dict)

    @property
    def overloads(self) -> set[str]:
        return {name for names in self.sections.values() for name in names}

    @property
    def base_names(self) -> set[str]:
        return {name.split(".")[0] for name in self.overloads}

    def has_overload(self, overload: str) -> bool:
        """``add.Tensor`` or ``relu`` (the default overload) has an NPU kernel."""
        return overload in self.overloads

    def as_dict(self) -> dict[str, Any]:
        return {"format": FORMAT, "torch_npu_version": self.version, "source": self.source,
                "counts": {"overloads": len(self.overloads), "base_names": len(self.base_names),
                           **{name: len(values) for name, values in self.sections.items()}},
                "sections": self.sections}


def _entry_name(entry: Any) -> str | None:
    text = entry if isinstance(entry, str) else entry.get("func") if isinstance(entry, dict) else None
    if not text:
        return None
    return text.split("(", 1)[0].strip()


def parse_codegen_yaml(text: str) -> dict[str, list[str]]:
    """Op overload names per section (``supported``, ``symint``, ``custom``...), sorted."""
    try:
        import yaml
    except ImportError:
        raise KernelListError("reading the torch_npu op yaml needs PyYAML; pip install pyyaml") from None
    data = yaml.safe_load(text)
    if not isinstance(data, dict) or "supported" not in data:
        raise KernelListError("not a torch_npu npu_native_functions_by_codegen.yaml (no 'supported' section)")
    sections = {}
    for section in SECTIONS:
        names = {_entry_name(entry) for entry in data.get(section) or []}
        sections[section] = sorted(name for name in names if name)
    return sections


def version_from_text(text: str) -> str | None:
    match = re.search(r"__version__\s*=\s*['\"]([^'\"]+)['\"]", text)
    return match.group(1) if match else None


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def extract_kernel_list(source: str | Path, today: str | None = None) -> KernelList:
    """Read the op list from a torch_npu wheel (.whl) or an installed ``torch_npu`` folder."""
    path = Path(source)
    date = today or _dt.date.today().isoformat()
    if path.is_file() and path.suffix == ".whl":
        try:
            with zipfile.ZipFile(path) as wheel:
                text = wheel.read(YAML_MEMBER).decode()
                version = version_from_text(wheel.read(VERSION_MEMBER).decode())
        except KeyError as err:
            raise KernelListError(f"{path.name} has no {err.args[0]}; is it a torch_npu wheel?") from None
        except zipfile.BadZipFile:
            raise KernelListError(f"{path} is not a valid wheel (zip) file") from None
        provenance = {"wheel": path.name, "sha256": sha256_of(path), "member": YAML_MEMBER}
    elif path.is_dir():
        root = path if (path / "csrc").is_dir() else path / "torch_npu"
        yaml_path = root / "csrc" / "aten" / "npu_native_functions_by_codegen.yaml"
        if not yaml_path.is_file():
            raise KernelListError(f"{yaml_path} not found; pass a torch_npu wheel or its installed folder")
        text = yaml_path.read_text()
        version_file = root / "version.py"
        version = version_from_text(version_file.read_text()) if version_file.is_file() else None
        provenance = {"installed": str(root), "sha256_yaml": hashlib.sha256(text.encode()).hexdigest(),
                      "member": YAML_MEMBER}
    else:
        raise KernelListError(f"{path} is neither a torch_npu .whl nor an installed torch_npu folder")
    if not version:
        raise KernelListError(f"cannot read torch_npu's __version__ from {path}")
    provenance.update({"extracted": date, "tool": "tools/extract_npu_kernels.py"})
    return KernelList(version, parse_codegen_yaml(text), provenance)


def load_kernel_list(version_or_path: str) -> KernelList:
    """A committed list by torch_npu version (``2.7.1.post2``), or a JSON file path."""
    data = read_release_json(DATA_DIR, version_or_path, "kernel list", FORMAT)
    return KernelList(data["torch_npu_version"], data["sections"], data.get("source", {}))


def available_versions() -> list[str]:
    return versions_in(DATA_DIR)


def save_kernel_list(kernels: KernelList, out_dir: str | Path = DATA_DIR) -> Path:
    """Write ``torch_npu-<version>.json`` atomically into ``out_dir``."""
    return write_json_atomic(Path(out_dir) / data_file_name(kernels.version), kernels.as_dict(), indent=1)
