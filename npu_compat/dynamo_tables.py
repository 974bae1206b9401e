"""Keep torch.compile's tables of torch functions in step with the functions the shim swaps.

dynamo decides how to treat a torch function by looking it up in tables it builds once, lazily,
from names (``torch._dynamo.trace_rules``): the entry for ``torch.zeros`` holds whatever
``torch.zeros`` was when the table was built. A table built during one shim session holds that
session's wrappers; in the next session, or after ``revert()``, neither the new wrapper nor the
original is in it, so a redirected call inside compiled code becomes a graph break and a
``fullgraph=True`` compile fails ("Attempted to call function marked as skipped"). The patcher
therefore forgets these tables after each install and revert (only where dynamo is loaded, so this
costs nothing otherwise), and dynamo rebuilds them from the functions in place at the next compile.

One table is not rebuilt: the functions dynamo folds to a constant while it traces
(``torch.is_autocast_enabled``...), a dict of function objects made once, when dynamo's
``variables.torch`` module is imported. Made under the shim, it holds the shim's wrapper but not the
original that the wrapper calls, so tracing through the wrapper reaches an unfoldable call ("torch.*
op returned non-Tensor") and a ``fullgraph=True`` compile fails. :func:`fold_originals` adds each
wrapper's original beside it; the patcher calls it when that module is loaded, now or later.
"""
from __future__ import annotations

import sys
from typing import Any, Iterable

FOLD_MODULE = "torch._dynamo.variables.torch"  # where dynamo's constant-fold tables live


def forget() -> None:
    """Drop dynamo's cached name tables, if dynamo is loaded; the next compile rebuilds them."""
    rules = sys.modules.get("torch._dynamo.trace_rules")
    if rules is not None:
        rules.clear_lru_cache()


def fold_originals(swapped: Iterable[tuple[Any, Any]]) -> None:
    """For each ``(original, replacement)`` pair, where dynamo folds the replacement, fold the original too
    (the replacement calls it). Entries are only added: an original is foldable wherever torch's own table
    lists it under its own name, and a replacement left in the table after revert is never called again."""
    fold = sys.modules.get(FOLD_MODULE)
    if fold is None:
        return
    for name in ("constant_fold_functions", "constant_fold_functions_need_guards"):
        table = getattr(fold, name, None)
        if not isinstance(table, dict):
            continue
        for original, replacement in swapped:
            try:
                if replacement in table and original not in table:
                    table[original] = table[replacement]
            except TypeError:  # unhashable
                continue
