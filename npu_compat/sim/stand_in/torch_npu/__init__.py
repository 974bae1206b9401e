"""Stand-in ``torch_npu``: the simulated npu, a TEST DOUBLE of the Ascend stack.

This folder is on ``sys.path`` only under ``--simulate`` / ``NPU_COMPAT_SIMULATE``; importing it
installs the simulator (``npu_compat.sim``). It computes on the host and says nothing about NPU
numerics or speed.
"""
from npu_compat.sim import install as _install

_runtime = _install()
npu = _runtime.npu
__version__ = _runtime.version
SIMULATED = True
SIMULATED_LABEL = _runtime.label
