"""Unified diffs parsed with unidiff into plain, immutable file and hunk records."""

from __future__ import annotations

import re
from dataclasses import dataclass

from unidiff import PatchSet
from unidiff.errors import UnidiffParseError

from npu_compat.patchset.errors import PatchError
from npu_compat.patchset.paths import DEV_NULL, check_relative, strip_components


@dataclass(frozen=True)
class Hunk:
    """One hunk. `ops` are (' ' | '-' | '+', line-with-ending) in diff order."""

    old_start: int
    old_len: int
    new_start: int
    new_len: int
    ops: tuple[tuple[str, str], ...]

    @property
    def old_lines(self) -> list[str]:
        return [text for op, text in self.ops if op != "+"]

    @property
    def new_lines(self) -> list[str]:
        return [text for op, text in self.ops if op != "-"]

    @property
    def added(self) -> list[str]:
        return [text for op, text in self.ops if op == "+"]

    @property
    def leading(self) -> int:
        """Context lines before the first change."""
        count = 0
        for op, _ in self.ops:
            if op != " ":
                break
            count += 1
        return count

    @property
    def trailing(self) -> int:
        """Context lines after the last change."""
        count = 0
        for op, _ in reversed(self.ops):
            if op != " ":
                break
            count += 1
        return count

    def reversed(self) -> "Hunk":
        swap = {"+": "-", "-": "+", " ": " "}
        return Hunk(self.new_start, self.new_len, self.old_start, self.old_len,
                    tuple((swap[op], text) for op, text in self.ops))

    def trimmed(self, front: int, back: int) -> "Hunk":
        """The hunk with `front`/`back` context lines dropped (fuzz)."""
        ops = list(self.ops)
        front = min(front, self.leading)
        back = min(back, self.trailing)
        ops = ops[front: len(ops) - back]
        return Hunk(self.old_start + front, self.old_len - front - back,
                    self.new_start + front, self.new_len - front - back, tuple(ops))


@dataclass(frozen=True)
class FilePatch:
    """The change to one file; `old_path` None = new file, `new_path` None = deletion."""

    old_path: str | None
    new_path: str | None
    hunks: tuple[Hunk, ...]

    @property
    def path(self) -> str:
        return self.new_path or self.old_path or "?"

    @property
    def is_new(self) -> bool:
        return self.old_path is None

    @property
    def is_deleted(self) -> bool:
        return self.new_path is None

    @property
    def is_rename(self) -> bool:
        return self.old_path is not None and self.new_path is not None and self.old_path != self.new_path


def _hunk_ops(hunk) -> tuple[tuple[str, str], ...]:
    ops: list[tuple[str, str]] = []
    for line in hunk:
        if line.line_type == "\\":  # "\ No newline at end of file" ends the previous line
            if ops:
                op, text = ops[-1]
                ops[-1] = (op, text[:-1] if text.endswith("\n") else text)
            continue
        if line.line_type in (" ", "-", "+"):
            ops.append((line.line_type, line.value))
        elif line.line_type == "":  # an empty context line written without its space
            ops.append((" ", "\n"))
    return tuple(ops)


def _side(raw: str | None, strip: int) -> str | None:
    if raw is None or raw == DEV_NULL:
        return None
    rel = strip_components(raw, strip)
    check_relative(rel)
    return rel


_HUNK_HEADER = re.compile(r"^@@ -\d+(?:,(\d+))? \+\d+(?:,(\d+))? @@")


def _check_hunk_bodies(text: str, name: str) -> None:
    """unidiff silently drops body lines beyond a hunk's counts; `git apply` calls that corrupt."""
    old_left = new_left = 0
    in_hunk = False
    for number, line in enumerate(text.splitlines(), 1):
        header = _HUNK_HEADER.match(line)
        if header:
            old_left = int(header.group(1) or 1) if header.group(1) != "0" else 0
            new_left = int(header.group(2) or 1) if header.group(2) != "0" else 0
            in_hunk = True
            continue
        if not in_hunk or line.startswith("\\"):
            continue
        if old_left == 0 and new_left == 0:
            in_hunk = False
            if line[:1] in (" ", "+", "-") and not line.startswith(("--- ", "+++ ")):
                raise PatchError(f"{name}: malformed hunk counts: line {number} lies beyond its hunk's @@ counts; "
                                 "fix the @@ line or regenerate with `git diff`")
            continue
        op = line[:1]
        if op in (" ", ""):
            old_left, new_left = old_left - 1, new_left - 1
        elif op == "-":
            old_left -= 1
        elif op == "+":
            new_left -= 1


def parse_diff(text: str, name: str = "patch", strip: int = 1) -> list[FilePatch]:
    """Parse a unified diff; PatchError (one line) for malformed, binary or unsafe input."""
    _check_hunk_bodies(text, name)
    try:
        patch_set = PatchSet(text)
    except UnidiffParseError as err:
        raise PatchError(f"{name}: malformed diff ({err}); fix the @@ line counts or regenerate with `git diff`") from None
    files: list[FilePatch] = []
    for patched in patch_set:
        if patched.is_binary_file:
            raise PatchError(f"{name}: binary hunk for {patched.path} is not supported; ship binary files outside the series")
        old = _side(patched.source_file, strip)
        new = _side(patched.target_file, strip)
        if old is None and new is None:
            raise PatchError(f"{name}: file entry with neither source nor target; regenerate the patch")
        hunks = []
        for hunk in patched:
            ops = _hunk_ops(hunk)
            old_count = sum(1 for op, _ in ops if op != "+")
            new_count = sum(1 for op, _ in ops if op != "-")
            if old_count != hunk.source_length or new_count != hunk.target_length:
                raise PatchError(f"{name}: malformed hunk counts in {patched.path} "
                                 f"(@@ says -{hunk.source_length} +{hunk.target_length}, body has "
                                 f"-{old_count} +{new_count}); fix the @@ line or regenerate")
            hunks.append(Hunk(hunk.source_start, hunk.source_length,
                              hunk.target_start, hunk.target_length, ops))
        files.append(FilePatch(old, new, tuple(hunks)))
    if not files:
        raise PatchError(f"{name}: no file changes found; is it a unified diff?")
    return files
