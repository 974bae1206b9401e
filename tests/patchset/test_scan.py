"""scan: CUDA-specific code in upstream, and what the series leaves uncovered."""

import shutil

from npu_compat.patchset.engine import apply_series
from npu_compat.patchset.scan import scan_tree, uncovered


def test_scan_finds_known_sites_and_the_series_covers_them(sam3_014, series_patches):
    findings = scan_tree(sam3_014)
    where = {(f.path, f.kind) for f in findings}
    assert ("sam3/model/position_encoding.py", "cuda-string") in where
    assert ("sam3/model/edt.py", "triton") in where
    assert ("sam3/model/geometry_encoders.py", "pin_memory") in where
    report, tree = apply_series(sam3_014, series_patches)
    added = {}
    for patch in series_patches:
        for change in patch.files:
            added.setdefault(change.path, set()).update(t.strip() for h in change.hunks for t in h.added)
    try:
        left = uncovered(tree, added)
    finally:
        shutil.rmtree(tree.parent)
    left_where = {(f.path, f.kind) for f in left}
    assert ("sam3/model/position_encoding.py", "cuda-string") not in left_where
    assert ("sam3/model/geometry_encoders.py", "pin_memory") not in left_where
    assert 0 < len(left) < len(findings)
