"""``torch_npu.contrib`` of the simulated npu (a TEST DOUBLE of the Ascend stack)."""
