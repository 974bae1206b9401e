"""The committed per-release JSON files (``torch_npu-<version>.json``) that each kind of release data
(kernel lists, API surfaces) keeps in its own folder under ``npu_compat/data/``."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from packaging.version import Version

from npu_compat.errors import KernelListError


def data_file_name(version: str) -> str:
    return f"torch_npu-{version}.json"


def versions_in(folder: Path) -> list[str]:
    """The releases with a file in ``folder``, oldest first."""
    names = [item.name for item in folder.glob("torch_npu-*.json")] if folder.is_dir() else []
    return sorted((name.removeprefix("torch_npu-").removesuffix(".json") for name in names), key=Version)


def read_release_json(folder: Path, version_or_path: str, what: str, fmt: str) -> dict[str, Any]:
    """The data of a release by version (``2.7.1.post2``), or of a JSON file path; ``what`` names the
    kind of data in errors, ``fmt`` is the format tag the file must carry."""
    path = Path(version_or_path)
    if path.suffix == ".json" and path.is_file():
        text = path.read_text()
    else:
        try:
            text = (folder / data_file_name(version_or_path)).read_text()
        except FileNotFoundError:
            raise KernelListError(f"no {what} for torch_npu {version_or_path!r}; available: "
                                  f"{', '.join(versions_in(folder)) or 'none'}; extract one with "
                                  "tools/extract_npu_kernels.py") from None
    data = json.loads(text)
    if data.get("format") != fmt:
        raise KernelListError(f"{version_or_path} is not a torch_npu {what} (format {data.get('format')!r})")
    return data


__all__ = ["data_file_name", "versions_in", "read_release_json"]
