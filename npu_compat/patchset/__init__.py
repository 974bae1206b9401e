"""Quilt-style adapt patches for upstream sam3: parse, apply, 3-way refresh, matrix, scan.

Library behind `tools/verify_patches.py`. Nothing happens at import time.
Entry points: `series.load_series`, `engine.apply_series`, `matrix.build_matrix`,
`refresh.refresh_series`, `scan.scan_tree`.
"""
