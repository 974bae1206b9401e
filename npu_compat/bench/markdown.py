"""Markdown for benchmark results, and its place in a document between two marker lines."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

from npu_compat.atomic_files import write_text_atomic

BEGIN = "<!-- bench results: {name}: begin (written by tools/bench.py --update-doc; edit the command, not this) -->"
END = "<!-- bench results: {name}: end -->"


def _value(value: Any, unit: str) -> str:
    if isinstance(value, float):
        text = f"{value:.1f}" if abs(value) >= 1000 else f"{value:.4g}"
    else:
        text = str(value)
    return f"{text} {unit}".strip()


def result_markdown(result: Any) -> str:
    env = result.environment
    lines = [f"### {result.name}", "",
             f"{env.get('date', '?')}; {env.get('machine', '?')}, {env.get('cores', '?')} cores, "
             f"{env.get('memory_gib', '?')} GiB, CPU flags {' '.join(env.get('cpu_flags', [])) or 'none listed'}"
             f" (native bf16: {'yes' if env.get('native_bf16') else 'no'}); device {env.get('device', '?')}"
             f"{' (' + env['accelerator'] + ')' if env.get('accelerator') else ''}; "
             f"torch {env.get('torch', '?')} ({env.get('torch_threads', '?')} threads), sam3 {env.get('sam3')}, "
             f"transformers {env.get('transformers')}.", "", f"    {env.get('command', '')}", ""]
    if result.skipped:
        return "\n".join(lines + [f"Skipped: {result.skipped}", ""])
    lines += ["| measurement | value | note |", "| --- | --- | --- |"]
    lines += [f"| {name} | {_value(value, unit)} | {note} |" for name, value, unit, note in result.rows]
    return "\n".join(lines + [""])


def suite_markdown(results: Sequence[Any]) -> str:
    return "\n".join(result_markdown(r) for r in results)


def write_markdown(path: str | Path, results: Sequence[Any]) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(path, suite_markdown(results))


def update_document(path: str | Path, results: Sequence[Any]) -> None:
    """Per result, replace the text between its ``BEGIN`` and ``END`` markers in ``path`` (appended at the end
    with its markers if absent): a run updates only the sub-benchmarks it ran."""
    path = Path(path)
    text = path.read_text()
    for result in results:
        begin, end = BEGIN.format(name=result.name), END.format(name=result.name)
        block = f"{begin}\n\n{result_markdown(result).strip()}\n\n{end}"
        if begin in text and end in text:
            head, rest = text.split(begin, 1)
            text = head + block + rest.split(end, 1)[1]
        else:
            text = text.rstrip("\n") + "\n\n" + block + "\n"
    write_text_atomic(path, text)


__all__ = ["BEGIN", "END", "result_markdown", "suite_markdown", "write_markdown", "update_document"]
