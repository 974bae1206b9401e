"""SAM3 workloads: image inference, COCO evaluation (batched, resumable, sharded), benchmarks.

The CLIs in ``tools/`` parse arguments and call into these modules. Nothing happens at import time.
"""
