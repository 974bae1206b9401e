"""The simulated npu (a test double of the Ascend stack) registers ``npu`` on PrivateUse1 once per
process, for good, so every test here runs it in a subprocess of its own."""
from __future__ import annotations

import json
import textwrap

from tests.conftest import run_python

SIM = "torch_npu==2.7.1.post2"


def run_sim(code: str, env: dict | None = None, timeout: int = 300) -> dict:
    """Run ``code`` under ``NPU_COMPAT_SIMULATE`` after the kit's own torch_npu import; it sets ``out``
    (a dict), printed as JSON on the last line."""
    script = "import json, torch, warnings\nfrom npu_compat import npu\ntorch_npu = npu.load_torch_npu()\nout = {}\n"
    script += textwrap.dedent(code) + "\nprint(json.dumps(out, default=str))\n"
    proc = run_python("-c", script, env={"NPU_COMPAT_SIMULATE": SIM, **(env or {})}, timeout=timeout)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def raises(expr: str) -> str:
    """Code that stores the error text of ``expr`` (or 'no error') under out[<expr>]."""
    return f"try:\n    {expr}\n    out[{expr!r}] = 'no error'\nexcept Exception as err:\n    out[{expr!r}] = str(err)\n"
