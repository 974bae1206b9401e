"""Stand-in ``torch_npu``: the simulated npu, a TEST DOUBLE of the Ascend stack.

This folder is on ``sys.path`` only under ``--simulate`` / ``NPU_COMPAT_SIMULATE``; importing it
installs the simulator (``npu_compat.sim``). It computes on the host and says nothing about NPU
numerics or speed. Its ``torch_npu.npu`` has the simulated release's API surface
(``npu_compat/data/torch_npu_surface/``); ``import torch_npu.npu.memory`` and the other submodules
resolve to the same objects as ``torch.npu.memory``.
"""
import sys as _sys

from npu_compat.npu_releases.surface import load_surface as _load_surface
from npu_compat.sim import install as _install
from npu_compat.sim.device_surface import refusal as _refusal

_runtime = _install()
npu = _runtime.npu
__version__ = _runtime.version
SIMULATED = True
SIMULATED_LABEL = _runtime.label
_sys.modules[__name__ + ".npu"] = npu
for _name, _value in vars(npu).items():
    if type(_value) is type(_sys) and _value.__name__.startswith("torch_npu.npu."):
        _sys.modules[_value.__name__] = _value
        for _inner in vars(_value).values():
            if type(_inner) is type(_sys) and _inner.__name__.startswith(_value.__name__ + "."):
                _sys.modules[_inner.__name__] = _inner
if "HiFloat8Tensor" in (_load_surface(__version__).module("torch_npu").names):  # 2.14.0 and later
    HiFloat8Tensor = type("HiFloat8Tensor", (), {"__init__": lambda self, *a, **k: _refusal(
        "torch_npu.HiFloat8Tensor", __version__)()})
