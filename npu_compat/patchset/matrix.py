"""Which patch applies how to which upstream: JSON (committed next to the series) and Markdown.

Two kinds of rows, each with a per-patch cell, a result, and whether the patched tree imports
and runs the tiny SAM3 on cpu with no shim (only tried when the whole series applied):

- `versions`: every sam3 release on PyPI (wheels; regenerated anywhere PyPI is reachable);
- `revisions`: git revisions (`sam3@<rev>`), produced on a machine that has a snapshot of the
  revision and committed with its commit id, commit date and the day the row was produced.
"""

from __future__ import annotations

import datetime
import json
import re
import shutil
from pathlib import Path
from typing import Callable

from packaging.version import Version

from npu_compat.patchset.applier import OFFSET, REJECT
from npu_compat.patchset.checks import import_without_triton, tiny_cpu_run
from npu_compat.patchset.engine import MIXED, PatchReport, apply_series
from npu_compat.patchset.series import Patch

NOT_APPLICABLE = "n/a"
NOT_RUN = "not run"  # the series did not apply, so the patched tree was not tried
RUN_KEYS = ("imports", "tiny_cpu")
_CELL = re.compile(r"^(exact|already-applied|offset\([+-]\d+\)|fuzz\(\d+\)|reject\(\d+/\d+\)|mixed\(\d+/\d+ already\))$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_REVISION_KEYS = ("commit", "date", "produced", "result", "patches", *RUN_KEYS)


def is_sam3_tree(tree: Path) -> bool:
    """False for placeholder releases (0.0.1 ships no model code)."""
    return (tree / "sam3" / "model_builder.py").is_file()


def patch_cell(report: PatchReport) -> str:
    """`exact`, `offset(+n)` (largest shift), `fuzz(k)`, `already-applied`, `mixed(a/n already)`
    (a of n hunks already present, the rest applied) or `reject(r/n)`."""
    hunks = report.hunk_results
    if report.status == REJECT:
        return f"reject({sum(h.status == REJECT for h in hunks)}/{len(hunks)})"
    if report.status == OFFSET:
        worst = max((h.offset for h in hunks), key=abs)
        return f"offset({worst:+d})"
    if report.status == "fuzz":
        return f"fuzz({max(h.fuzz for h in hunks)})"
    if report.status == MIXED:
        return f"mixed({report.already_present}/{len(hunks)} already)"
    return report.status


def _run_cell(failure: str | None) -> str:
    """`ok`, or `fail: <the error>` (e.g. `fail: ModuleNotFoundError: No module named 'decord'`)."""
    return "ok" if failure is None else "fail: " + failure.split(" failed: ", 1)[-1][:120]


def _run_cell_ok(cell: str) -> bool:
    return cell in ("ok", NOT_RUN, NOT_APPLICABLE) or cell.startswith("fail: ")


def build_row(patches: list[Patch], tree: Path, run: bool = True) -> dict:
    """One row: the series applied (continuing past rejects) to `tree`, then, if every patch
    applied strictly, `import sam3` and the tiny model on cpu from the patched tree."""
    if not is_sam3_tree(tree):
        return {"result": NOT_APPLICABLE, "patches": {}, "imports": NOT_APPLICABLE, "tiny_cpu": NOT_APPLICABLE}
    report, work = apply_series(tree, patches, keep_going=True)
    try:
        cells = {p.name: patch_cell(p) for p in report.patches}
        ok = report.strict_ok()
        imports = tiny = NOT_RUN
        if ok and run and work is not None:
            imports = _run_cell(import_without_triton(work))
            tiny = NOT_RUN if imports != "ok" else _run_cell(tiny_cpu_run(work))
    finally:
        if work is not None:
            shutil.rmtree(work.parent, ignore_errors=True)
    result = "ok" if ok and not imports.startswith("fail") and not tiny.startswith("fail") else "fail"
    return {"result": result, "patches": cells, "imports": imports, "tiny_cpu": tiny}


def build_matrix(patches: list[Patch], versions: list[str], tree_for: Callable[[str], Path],
                 revisions: dict[str, dict] | None = None, run: bool = True) -> dict:
    """Wheel rows for `versions`; `revisions` rows as given (see `revision_row`)."""
    rows = {version: build_row(patches, tree_for(version), run) for version in sorted(versions, key=Version)}
    bases = sorted({p.header.get("Base-Version", "") for p in patches})
    return {"base_version": ", ".join(bases), "series": [p.name for p in patches], "versions": rows,
            "revisions": dict(sorted((revisions or {}).items()))}


def revision_row(patches: list[Patch], tree: Path, commit: str, date: str, run: bool = True) -> dict:
    """A git row: the revision's commit id and commit date, the day it was produced, its cells."""
    today = datetime.datetime.now(datetime.timezone.utc).date().isoformat()
    return {"commit": commit, "date": date, "produced": today, **build_row(patches, tree, run)}


def revision_format_problems(matrix: dict) -> list[str]:
    """What is malformed in the git rows (CI cannot regenerate them: it checks their form)."""
    problems = []
    series = matrix.get("series", [])
    for label, row in matrix.get("revisions", {}).items():
        where = f"revision {label}"
        if not re.match(r"^[A-Za-z0-9_.-]+@[0-9a-f]{7}$", label):
            problems.append(f"{where}: key is not sam3@<7 hex digits>")
        if tuple(row) != _REVISION_KEYS:
            problems.append(f"{where}: fields {list(row)} are not {list(_REVISION_KEYS)}")
            continue
        if not re.match(r"^[0-9a-f]{40}$", row["commit"]) or not row["commit"].startswith(label.split("@")[1]):
            problems.append(f"{where}: commit {row['commit']!r} is not the full id of {label}")
        for key in ("date", "produced"):
            if not _DATE.match(row[key]):
                problems.append(f"{where}: {key} {row[key]!r} is not YYYY-MM-DD")
        if list(row["patches"]) != series[:len(row["patches"])] or not row["patches"]:
            problems.append(f"{where}: patch cells do not follow the series")
        bad = [c for c in row["patches"].values() if not _CELL.match(c)]
        if bad:
            problems.append(f"{where}: unknown cells {bad}")
        if row["result"] not in ("ok", "fail") or not all(_run_cell_ok(row[k]) for k in RUN_KEYS):
            problems.append(f"{where}: result is not ok/fail, or imports/tiny_cpu not ok / fail: ... / not run")
        strict = all(_CELL.match(c) and not c.startswith(("reject", "fuzz", "mixed")) for c in row["patches"].values())
        complete = strict and len(row["patches"]) == len(series)
        if (row["result"] == "ok") != (complete and row["imports"] == row["tiny_cpu"] == "ok"):
            problems.append(f"{where}: result {row['result']!r} does not follow from its cells")
    return problems


def to_json(matrix: dict) -> str:
    return json.dumps(matrix, indent=2, sort_keys=False) + "\n"


def to_markdown(matrix: dict) -> str:
    """A table: one row per release or git revision, one column per patch, then the run columns."""
    names = matrix["series"]
    short = [name.split("-", 1)[0] for name in names]
    lines = [f"# Patch matrix (series based on {matrix['base_version']})", "",
             "Generated by `tools/verify_patches.py matrix --write`; do not edit by hand. PyPI rows are",
             "regenerated by CI; git rows were produced from a snapshot of the revision on the day shown.",
             "`imports` / `tiny cpu`: the patched tree imports sam3 and runs the tiny model on cpu (no shim;",
             "triton and decord blocked, as on Ascend hosts); tried only when every patch applied.", "",
             "| upstream | result | " + " | ".join(short) + " | imports | tiny cpu |",
             "| --- | --- | " + " | ".join("---" for _ in short) + " | --- | --- |"]

    def line(label: str, row: dict) -> str:
        cells = [row["patches"].get(name, NOT_APPLICABLE) for name in names]
        return f"| {label} | {row['result']} | " + " | ".join(cells) + f" | {row['imports']} | {row['tiny_cpu']} |"

    lines += [line(f"pypi {version}", row) for version, row in matrix["versions"].items()]
    lines += [line(f"git {label.split('@', 1)[1]} ({row['date']}, produced {row['produced']})", row)
              for label, row in matrix.get("revisions", {}).items()]
    lines += ["", "Patches:", ""] + [f"- `{s}`: {name}" for s, name in zip(short, names)]
    return "\n".join(lines) + "\n"


def _comparable(row: dict | None) -> dict | None:
    return None if row is None else {k: v for k, v in row.items() if k != "produced"}


def matrix_differences(expected: dict, actual: dict, only: set[str] | None = None) -> list[str]:
    """One line per row that differs (empty = same); `only`: compare just these row keys
    (the rows that were regenerated). A git row's `produced` day is not compared."""
    problems = []
    if expected.get("series") != actual.get("series"):
        problems.append(f"series differs: committed {expected.get('series')} vs now {actual.get('series')}")
    for kind, prefix in (("versions", "sam3=="), ("revisions", "")):
        keys = set(expected.get(kind, {})) | set(actual.get(kind, {}))
        for key in sorted(keys):
            if only is not None and key not in only:
                continue
            old, new = _comparable(expected.get(kind, {}).get(key)), _comparable(actual.get(kind, {}).get(key))
            if old != new:
                problems.append(f"{prefix}{key}: committed {json.dumps(old)} vs now {json.dumps(new)}")
    return problems


def load_matrix(path: Path) -> dict:
    return json.loads(Path(path).read_text(encoding="utf-8"))
