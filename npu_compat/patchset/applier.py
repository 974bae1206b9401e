"""Our own hunk applier: exact, offset(n), opt-in fuzz(k), already-applied, reject.

Matching follows `git apply`: a hunk starting at line 1 must match at the top of the
file and a hunk with no trailing context must match at its end (dropped under fuzz);
the search goes outward from the recorded line (forward first), bounded by `max_offset`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from npu_compat.patchset.hunks import Hunk

EXACT, OFFSET, FUZZ, ALREADY, REJECT = "exact", "offset", "fuzz", "already-applied", "reject"


@dataclass(frozen=True)
class HunkResult:
    """Verdict for one hunk: `status` plus the line offset and fuzz it needed."""

    index: int
    status: str
    offset: int = 0
    fuzz: int = 0
    line: int | None = None  # 1-based first line of the hunk in the result

    def describe(self) -> str:
        if self.status == OFFSET:
            return f"offset({self.offset:+d})"
        if self.status == FUZZ:
            return f"fuzz({self.fuzz}) offset({self.offset:+d})" if self.offset else f"fuzz({self.fuzz})"
        return self.status


@dataclass
class FileResult:
    """Patched lines of one file plus each hunk's verdict."""

    lines: list[str]
    hunks: list[HunkResult] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(h.status != REJECT for h in self.hunks)

    @property
    def already_applied(self) -> bool:
        return bool(self.hunks) and all(h.status == ALREADY for h in self.hunks)


def _expected_pos(hunk: Hunk) -> int:
    """0-based index where the pre-image starts in a file that has the earlier hunks applied."""
    return hunk.new_start - 1 if hunk.new_len > 0 else hunk.new_start


def find_position(lines: list[str], pre: list[str], start: int, max_offset: int,
                  anchor_begin: bool = False, anchor_end: bool = False) -> int | None:
    """Index where `pre` occurs, searching outward from `start`; None if not within max_offset."""
    size, length = len(lines), len(pre)

    def matches(pos: int) -> bool:
        if pos < 0 or pos + length > size:
            return False
        if (anchor_begin and pos != 0) or (anchor_end and pos + length != size):
            return False
        return lines[pos:pos + length] == pre

    start = max(0, min(start, size))
    if matches(start):
        return start
    for distance in range(1, max_offset + 1):
        forward, backward = start + distance, start - distance
        if forward + length > size and backward < 0:
            break
        if matches(forward):
            return forward
        if matches(backward):
            return backward
    return None


def _locate(lines: list[str], hunk: Hunk, start: int, max_offset: int, anchored: bool) -> int | None:
    begin = anchored and hunk.old_start <= 1
    end = anchored and hunk.trailing == 0
    return find_position(lines, hunk.old_lines, start, max_offset, begin, end)


def apply_hunks(lines: list[str], hunks: tuple[Hunk, ...] | list[Hunk], *,
                fuzz: int = 0, max_offset: int = 5000) -> FileResult:
    """Apply hunks in order to `lines` (with endings); rejected hunks leave lines unchanged."""
    out = list(lines)
    results: list[HunkResult] = []
    carried = 0  # offset found for the previous hunk, as GNU patch carries it
    for index, hunk in enumerate(hunks):
        recorded = _expected_pos(hunk)
        pos = _locate(out, hunk, recorded + carried, max_offset, anchored=True)
        if pos is not None:
            offset = pos - recorded
            status = EXACT if offset == 0 else OFFSET
            out[pos:pos + len(hunk.old_lines)] = hunk.new_lines
            results.append(HunkResult(index, status, offset, 0, pos + 1))
            carried = offset
            continue
        back = hunk.reversed()
        rpos = _locate(out, back, recorded + carried, max_offset, anchored=True)
        if rpos is not None:
            results.append(HunkResult(index, ALREADY, rpos - recorded, 0, rpos + 1))
            continue
        placed = False
        for level in range(1, fuzz + 1):
            trimmed = hunk.trimmed(level, level)
            front = hunk.leading - trimmed.leading
            pos = _locate(out, trimmed, recorded + front + carried, max_offset, anchored=False)
            if pos is not None:
                offset = pos - front - recorded
                out[pos:pos + len(trimmed.old_lines)] = trimmed.new_lines
                results.append(HunkResult(index, FUZZ, offset, level, pos + 1 - front))
                carried = offset
                placed = True
                break
        if not placed:
            results.append(HunkResult(index, REJECT, 0, 0, None))
    return FileResult(out, results)
