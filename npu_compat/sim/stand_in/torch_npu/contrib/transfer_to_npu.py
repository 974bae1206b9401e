"""``torch_npu.contrib.transfer_to_npu`` of the simulated npu (a TEST DOUBLE of the Ascend stack).

torch_npu's own CUDA redirect is not simulated: the kit's shim makes the same redirects, logged
and revertible, so a script that imports this is told to run under the shim instead.
"""
raise ImportError("torch_npu.contrib.transfer_to_npu is not simulated: run the script with "
                  "`python -m npu_compat.apply --device npu --simulate torch_npu==VERSION -- script.py`, "
                  "which makes the same CUDA-to-NPU redirects (logged and revertible)")
