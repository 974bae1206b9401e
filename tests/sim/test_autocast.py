"""Autocast on the simulated npu (a test double of the Ascend stack): CUDA's policy, applied by
kernels on AutocastPrivateUse1, only inside ``torch.autocast("npu")``."""
from textwrap import dedent

from tests.sim.conftest import run_sim


def test_lower_fp32_and_promote_policies():
    out = run_sim(dedent("""
        conv = torch.nn.Conv2d(3, 4, 3).to("npu")
        x = torch.randn(1, 3, 8, 8).to("npu")
        m = torch.randn(4, 4).to("npu")
        with torch.autocast("npu", dtype=torch.bfloat16):
            y = conv(x)
            out["inside"] = [str(y.dtype), str((m @ m).dtype), str(torch.softmax(m, -1).dtype),
                             str(torch.addcmul(m, m.bfloat16(), m).dtype), str((m + 1).dtype)]
            with torch.inference_mode():
                out["inference"] = str(conv(x).dtype)
        out["outside"] = [str(conv(x).dtype), str((m @ m).dtype)]
    """))
    assert out["inside"] == ["torch.bfloat16", "torch.bfloat16", "torch.float32", "torch.float32", "torch.float32"]
    assert out["inference"] == "torch.bfloat16"
    assert out["outside"] == ["torch.float32", "torch.float32"]
