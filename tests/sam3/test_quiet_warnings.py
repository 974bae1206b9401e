"""torch's `torch.jit.script` deprecation warning is silenced for sam3's own calls while the shim is on."""
from __future__ import annotations

import json

from tests.conftest import run_python

SCRIPT = r'''
import json, sys, warnings
import torch
import npu_compat

def user_fn(x: torch.Tensor) -> torch.Tensor:
    return x + 1

def warned(call):
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        call()
    return [str(w.message) for w in seen if "torch.jit.script" in str(w.message)]

npu_compat.apply(device="cpu")
from npu_compat.sam3.tiny import build_tiny_sam3_image_model  # imports sam3: @torch.jit.script at import time
model = build_tiny_sam3_image_model()
import sam3.model.box_ops as box_ops
user_call_under_shim = warned(lambda: torch.jit.script(user_fn))
npu_compat.revert()
user_call_after = warned(lambda: torch.jit.script(user_fn))
filters_left = [f[1].pattern for f in warnings.filters if f[1] is not None and "jit\\.script" in f[1].pattern]
print(json.dumps({"user_under_shim": user_call_under_shim, "user_after": user_call_after,
                  "filters_left": filters_left, "scripted": isinstance(box_ops.fast_diag_generalized_box_iou, torch.jit.ScriptFunction)}))
'''


def test_a_tiny_sam3_build_under_the_shim_prints_no_jit_script_warning(tmp_path):
    script = tmp_path / "user_script.py"  # a file: TorchScript reads the user's function's source
    script.write_text(SCRIPT)
    done = run_python("-W", "default", str(script), cwd=tmp_path, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "FutureWarning" not in done.stderr and "torch.jit.script" not in done.stderr, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["user_under_shim"], "the user's own torch.jit.script calls still warn under the shim"
    assert result["user_after"], "after revert torch.jit.script warns again"
    assert result["filters_left"] == [], "no warnings filter outlives the shim"
    assert result["scripted"], "sam3's decorated function is still a TorchScript function"
