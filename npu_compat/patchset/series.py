"""The quilt-style series file and the DEP-3 style header of each patch."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from npu_compat.patchset.errors import PatchError
from npu_compat.patchset.hunks import FilePatch, parse_diff
from npu_compat.atomic_files import write_text_atomic

HEADER_FIELDS = ("Description", "Base-Version", "Upstream-Status", "Reason")
_STATUS = re.compile(r"^(Pending|Accepted|Backport( \S.*)?|Submitted \S+.*|Inappropriate \S.*)$")
# `sam3==0.1.4` (a release) or `sam3@99d02f2` (a git revision: 7 to 40 hex digits)
_BASE = re.compile(r"^(?P<package>[A-Za-z0-9_.-]+)(==(?P<version>[^\s@]+)|@(?P<rev>[0-9a-f]{7,40}))$")
_DIFF_START = re.compile(r"^(---( |$)|diff |Index: |\+\+\+ )")


@dataclass
class Patch:
    """One patch of the series: its header fields and the unified diff after them."""

    name: str
    path: Path
    header: dict[str, str]
    diff: str
    _files: list[FilePatch] | None = field(default=None, repr=False)

    @property
    def files(self) -> list[FilePatch]:
        if self._files is None:
            self._files = parse_diff(self.diff, self.name)
        return self._files

    @property
    def base_version(self) -> str | None:
        """The version in `Base-Version: sam3==X`, or None (also for a git revision)."""
        match = _BASE.match(self.header.get("Base-Version", "").strip())
        return match.group("version") if match else None

    @property
    def base(self) -> str | None:
        """The whole `Base-Version` value when well formed (`sam3==X` or `sam3@REV`), else None."""
        value = self.header.get("Base-Version", "").strip()
        return value if _BASE.match(value) else None


def base_label(package: str, version: str | None = None, rev: str | None = None) -> str:
    """`package==version` or `package@rev` (rev shortened to 7 hex digits): a valid Base-Version."""
    label = f"{package}=={version}" if version else f"{package}@{(rev or '')[:7]}"
    if not _BASE.match(label):
        raise PatchError(f"{label!r} is not a Base-Version (sam3==X or sam3@<7+ hex digits>)")
    return label


def parse_base(value: str) -> tuple[str, str | None, str | None]:
    """(package, version, rev) of a Base-Version value; PatchError if malformed."""
    match = _BASE.match(value.strip())
    if not match:
        raise PatchError(f"Base-Version {value!r} is not of the form sam3==X or sam3@<git rev>")
    return match.group("package"), match.group("version"), match.group("rev")


def split_header(text: str) -> tuple[dict[str, str], str]:
    """(fields, diff): `Key: value` lines up to a `---` line or the first diff line."""
    lines = text.splitlines(keepends=True)
    header: dict[str, str] = {}
    last = None
    for index, line in enumerate(lines):
        if _DIFF_START.match(line):
            cut = index + 1 if line.rstrip("\r\n") == "---" else index
            return header, "".join(lines[cut:])
        if line[:1] in (" ", "\t") and last:
            header[last] += " " + line.strip()
        elif ":" in line:
            key, value = line.split(":", 1)
            last = key.strip()
            header[last] = value.strip()
    return header, ""


def header_problems(header: dict[str, str]) -> list[str]:
    """What is missing or wrong in a header (empty list = fine)."""
    problems = [f"missing header field {key}:" for key in HEADER_FIELDS if not header.get(key)]
    status = header.get("Upstream-Status")
    if status and not _STATUS.match(status):
        problems.append(f"Upstream-Status {status!r} is not Pending / Backport [<commit>] / Submitted <url> / "
                        "Inappropriate <why>")
    base = header.get("Base-Version")
    if base and not _BASE.match(base):
        problems.append(f"Base-Version {base!r} is not of the form sam3==X or sam3@<git rev>")
    return problems


def render_patch(header: dict[str, str], diff: str) -> str:
    """Header fields in canonical order, a `---` separator, then the diff."""
    keys = [k for k in HEADER_FIELDS if k in header] + [k for k in header if k not in HEADER_FIELDS]
    return "".join(f"{key}: {header[key]}\n" for key in keys) + "---\n" + diff


def read_patch(path: Path, name: str | None = None) -> Patch:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise PatchError(f"patch file {path} listed in the series does not exist; fix the series file") from None
    header, diff = split_header(text)
    return Patch(name or path.name, path, header, diff)


def series_names(series_path: Path) -> list[str]:
    """Patch file names in order; `#` comments and blank lines skipped."""
    try:
        raw = series_path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise PatchError(f"series file {series_path} not found; pass --series PATH") from None
    except IsADirectoryError:
        raise PatchError(f"series file {series_path} is a folder; pass --series PATH/series") from None
    except UnicodeDecodeError:
        raise PatchError(f"series file {series_path} is not text; pass --series PATH to a series file") from None
    names = []
    for line in raw.splitlines():
        entry = line.split("#", 1)[0].strip()
        if entry:
            name = entry.split()[0]
            if os.path.isabs(name) or ".." in Path(name).parts:
                raise PatchError(f"series file {series_path} lists {name!r}, outside its folder; list patch files "
                                 "by their path inside the series' folder")
            names.append(name)
    if not names:
        raise PatchError(f"series file {series_path} lists no patches")
    return names


def load_series(series_path: str | os.PathLike[str]) -> list[Patch]:
    """Every patch of the series, in order, with its header split off."""
    series_path = Path(series_path)
    return [read_patch(series_path.parent / name, name) for name in series_names(series_path)]


def write_atomic(path: Path, text: str) -> None:
    """Write via a temp file in the same folder, then os.replace."""
    write_text_atomic(path, text)
