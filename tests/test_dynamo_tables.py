"""torch.compile's tables of torch functions follow the shim's swaps (npu_compat/dynamo_tables.py)."""
from __future__ import annotations

import textwrap

from tests.conftest import run_python

# One process, two sessions, a fullgraph compile in each and one after revert. dynamo is first loaded
# while the first session is on, so its tables hold the first session's torch.zeros wrapper. Without
# forgetting them, the second session's wrapper is unknown to them, dynamo traces into it, meets the
# original builtin, which is not in them either, and the fullgraph compile stops: "Attempted to call
# function marked as skipped".
TWO_SESSIONS = textwrap.dedent("""
    import torch
    import npu_compat

    def step(x):
        return x + torch.zeros(2, device="cuda")

    for session in ("first", "second"):
        npu_compat.apply(device="cpu")
        print(session, torch.compile(step, backend="eager", fullgraph=True)(torch.ones(2)).tolist())
        npu_compat.revert()

    def plain(x):
        return x + torch.zeros(2)

    torch._dynamo.reset()
    print("reverted", torch.compile(plain, backend="eager", fullgraph=True)(torch.ones(2)).tolist())
    print("original back", torch.zeros is torch._C._VariableFunctions.zeros)
""")


def test_a_fullgraph_compile_works_in_a_second_session_and_after_revert(tmp_path):
    script = tmp_path / "two_sessions.py"
    script.write_text(TWO_SESSIONS)
    proc = run_python(str(script), env={"CUDA_VISIBLE_DEVICES": ""})
    assert proc.returncode == 0, proc.stderr[-3000:]
    for line in ("first [1.0, 1.0]", "second [1.0, 1.0]", "reverted [1.0, 1.0]", "original back True"):
        assert line in proc.stdout, proc.stdout
