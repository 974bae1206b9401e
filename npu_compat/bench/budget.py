"""The committed budget of device ops and host syncs per unit of work (``count_budget.json``).

Counts are deterministic for a given model, prompt count and batch, so CI can hold them: a path whose syncs
or ops per prompt grow past its budget fails ``tests/bench/test_budget.py``. The budget file names the
rows it holds by ``count_key``; raising a budget is a reviewed edit of that file, with the reason.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Sequence

BUDGET_FILE = Path(__file__).with_name("count_budget.json")
LIMITS = ("syncs", "ops")


def count_key(model: str, prompts: int, prompt_batch: int) -> str:
    return f"{model}, {prompts} prompts, batch {prompt_batch}"


def load_budget(path: Path = BUDGET_FILE) -> dict[str, Any]:
    return json.loads(path.read_text())


def check_budget(key: str, rows: Sequence[dict[str, Any]], budget: dict[str, Any] | None = None) -> dict[str, Any]:
    """{"key", "over": [(row, measure, value, limit)], "unbudgeted": [row names]} for the rows of ``key``."""
    budget = load_budget() if budget is None else budget
    limits = budget.get("rows", {}).get(key, {})
    over, unbudgeted = [], []
    for row in rows:
        limit = limits.get(row["name"])
        if limit is None:
            unbudgeted.append(row["name"])
            continue
        for measure in LIMITS:
            if measure in limit and row[measure] > limit[measure] + 1e-9:
                over.append((row["name"], measure, row[measure], limit[measure]))
    return {"key": key, "known": bool(limits), "over": over, "unbudgeted": unbudgeted}


__all__ = ["BUDGET_FILE", "count_key", "load_budget", "check_budget"]
