"""Test-declared fallback rows for the cpu target (loaded via NPU_COMPAT_EXTRA_FALLBACKS).

They mark ops *unsupported on cpu* so the fallback machinery runs for real on this machine.
"""
from npu_compat.fallbacks.registry import Action, FallbackRule, dtype_in

ROI_ALIGN_CPU = FallbackRule(
    op="test.roi_align", targets=("cpu",), action=Action.CPU, owner="torchvision.ops", attr="roi_align",
    why="test-declared: pretend cpu has no roi_align kernel", cost="test only")
GRID_SAMPLE_BF16_CPU = FallbackRule(
    op="test.grid_sample.bf16", targets=("cpu",), action=Action.CAST_UP, owner="torch.nn.functional",
    attr="grid_sample", when=dtype_in(__import__("torch").bfloat16), cast=(__import__("torch").bfloat16,),
    why="test-declared: pretend cpu has no bf16 grid_sample", cost="test only")
FALLBACKS = [ROI_ALIGN_CPU, GRID_SAMPLE_BF16_CPU]
