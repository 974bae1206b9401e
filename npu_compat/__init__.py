"""npu_compat: run CUDA-written PyTorch code (SAM3 first) on any torch device.

Nothing happens at import time. ``apply()`` installs the shim, ``revert()`` removes it.
"""
