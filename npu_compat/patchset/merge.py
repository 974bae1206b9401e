"""3-way merge of one file with merge3: merged / conflict(k) / upstreamed."""

from __future__ import annotations

from dataclasses import dataclass

import merge3


@dataclass(frozen=True)
class MergeResult:
    status: str  # "merged", "conflict", "upstreamed"
    text: str  # merged text; with conflict markers when status == "conflict"
    conflicts: int = 0

    def describe(self) -> str:
        return f"conflict({self.conflicts})" if self.status == "conflict" else self.status


def three_way(base: str, ours: str, theirs: str, ours_label: str = "patch",
              theirs_label: str = "upstream") -> MergeResult:
    """Merge our change (base -> ours) into theirs (base -> theirs).

    `upstreamed`: theirs already holds every line our change makes (merge3 `same`)."""
    base_lines = base.splitlines(keepends=True)
    ours_lines = ours.splitlines(keepends=True)
    theirs_lines = theirs.splitlines(keepends=True)
    merger = merge3.Merge3(base_lines, ours_lines, theirs_lines)
    regions = list(merger.merge_regions())
    conflicts = sum(1 for region in regions if region[0] == "conflict")
    merged = "".join(merger.merge_lines(name_a=ours_label, name_b=theirs_label, name_base="base"))
    if conflicts:
        return MergeResult("conflict", merged, conflicts)
    if merged == theirs and ours != base:
        return MergeResult("upstreamed", merged)
    return MergeResult("merged", merged)
