"""What each torch_npu release has, read from its own wheel: the aten ops with NPU kernels
(:mod:`.kernels`), the Python API names (:mod:`.surface`) and the documented dtype/argument
limits (:mod:`.limits`). A base-layer package: it imports torch, the standard library and the
kit's base modules only; the simulator, the shim's rules, the fallbacks and ``parity coverage``
all read it.
"""
