"""Code that TorchScript compiles still compiles while the shim has replaced torch functions, and after revert."""
import pytest

from tests.conftest import run_python

SCRIPT = """
import torch
import torch.jit._builtins as builtins
if {fresh_table}:
    builtins._builtin_table = None  # the table gets built while the shim is on
import npu_compat

def body(x: torch.Tensor) -> torch.Tensor:
    return torch.as_tensor(x, dtype=torch.float32) + torch.zeros(2)

def body_after(x: torch.Tensor) -> torch.Tensor:  # compiled only after revert (script() caches per function)
    return torch.as_tensor(x, dtype=torch.float32) + torch.zeros(2)

npu_compat.apply(device="cpu")
assert torch.as_tensor is not torch._C._VariableFunctions.as_tensor  # the shim's wrapper is in place
print("SHIMMED", torch.jit.script(body)(torch.ones(2)).tolist())
npu_compat.revert()
assert torch.as_tensor is torch._C._VariableFunctions.as_tensor
print("REVERTED", torch.jit.script(body_after)(torch.ones(2)).tolist())
"""


@pytest.mark.parametrize("fresh_table", [False, True], ids=["table-built-before", "table-built-while-shimmed"])
def test_scripting_a_function_that_calls_a_replaced_torch_function(tmp_path, fresh_table):
    script = tmp_path / "scripted.py"  # TorchScript reads the function's source from its file
    script.write_text(SCRIPT.format(fresh_table=fresh_table))
    proc = run_python(str(script), env={"NPU_COMPAT_LOG": "quiet"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "SHIMMED [1.0, 1.0]" in proc.stdout and "REVERTED [1.0, 1.0]" in proc.stdout


def test_sam2_transforms_build_under_the_shim():
    """sam3's SAM2Transforms scripts torchvision transforms that call torch.as_tensor."""
    code = ("import torch, npu_compat\nnpu_compat.apply(device='cpu')\n"
            "from sam3.model.utils.sam1_utils import SAM2Transforms\n"
            "SAM2Transforms(resolution=64, mask_threshold=0.0)\nprint('BUILT')\n")
    proc = run_python("-c", code, env={"NPU_COMPAT_LOG": "quiet"})
    assert proc.returncode == 0 and "BUILT" in proc.stdout, proc.stderr[-3000:]
