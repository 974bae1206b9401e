"""Keep torch.compile's tables of torch functions in step with the functions the shim swaps.

dynamo decides how to treat a torch function by looking it up in tables it builds once, lazily,
from names (``torch._dynamo.trace_rules``): the entry for ``torch.zeros`` holds whatever
``torch.zeros`` was when the table was built. A table built during one shim session holds that
session's wrappers; in the next session, or after ``revert()``, neither the new wrapper nor the
original is in it, so a redirected call inside compiled code becomes a graph break and a
``fullgraph=True`` compile fails ("Attempted to call function marked as skipped"). The patcher
therefore forgets these tables after each install and revert (only where dynamo is loaded, so this
costs nothing otherwise), and dynamo rebuilds them from the functions in place at the next compile.
"""
from __future__ import annotations

import sys


def forget() -> None:
    """Drop dynamo's cached name tables, if dynamo is loaded; the next compile rebuilds them."""
    rules = sys.modules.get("torch._dynamo.trace_rules")
    if rules is not None:
        rules.clear_lru_cache()
