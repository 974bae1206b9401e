"""``torch_npu.utils`` of the simulated npu (a TEST DOUBLE of the Ascend stack): the module paths
other tools import (``torch_npu.utils.storage``)."""
