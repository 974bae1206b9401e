"""One static HTML page per parity run: the verdicts, a plot of the worst errors, the first
divergent op with its call site, and the tables. No server, no script: the plot is a PNG
embedded as a data URI, so the page is one file that any browser opens.
"""
from __future__ import annotations

import base64
import html
import io
import math
from pathlib import Path
from typing import Iterable

from npu_compat.atomic_files import write_text_atomic
from npu_compat.parity.dump_verdict import INHERITED, UNMATCHED, DumpVerdict, OpRow
from npu_compat.parity.e2e import E2EResult
from npu_compat.parity.judge import FAIL
from npu_compat.parity.msprobe_compare import CompareRow
from npu_compat.parity.standards import OpClass

FLOOR = 1e-4                     # scores below this are drawn at it (a log axis has no zero)
CLASS_COLOURS = {OpClass.EXACT.value: "#4c72b0", OpClass.ULP.value: "#dd8452", OpClass.CONV.value: "#55a868",
                 OpClass.ELEMENTWISE.value: "#8172b3", OpClass.COSINE.value: "#c44e52"}
STYLE = """body{font-family:sans-serif;margin:24px;max-width:1200px;color:#222}
table{border-collapse:collapse;font-size:13px;margin:8px 0 20px}td,th{border:1px solid #ccc;padding:3px 6px;
text-align:left;vertical-align:top}th{background:#f0f0f0}.fail,.error{background:#fbdada}
.inherited,.warning{background:#fff3cd}.pass{background:#e2f4e2}.verdict{font-size:20px;font-weight:bold}
code{font-size:12px}.box{border:2px solid #c44e52;padding:8px 12px;margin:12px 0}img{display:block}"""


def worst_by_stage_and_class(rows: Iterable[OpRow]) -> dict[str, dict[str, float]]:
    """stage -> op class -> the worst score of a judged call (stages in call order)."""
    table: dict[str, dict[str, float]] = {}
    for row in rows:
        if row.verdict != UNMATCHED:
            cell = table.setdefault(row.stage, {})
            cell[row.op_class] = max(cell.get(row.op_class, 0.0), row.score)
    return table


def plot_png(rows: list[OpRow], title: str) -> bytes:
    """Grouped bars: per stage, the worst score of each op class (log scale; 1 is the standard)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg  # matplotlib: imported when a page is drawn
    from matplotlib.figure import Figure

    table = worst_by_stage_and_class(rows)
    stages = list(table) or ["(no calls)"]
    classes = [c.value for c in OpClass]
    width = 0.8 / len(classes)
    figure = Figure(figsize=(11, 4.2), dpi=90)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    peak = 10.0
    for index, name in enumerate(classes):
        values = [table.get(stage, {}).get(name) for stage in stages]
        shown = [min(max(v, FLOOR), 1e6) if v is not None else 0 for v in values]
        peak = max(peak, *shown)
        axes.bar([i + (index - len(classes) / 2 + 0.5) * width for i in range(len(stages))], shown, width,
                 label=name, color=CLASS_COLOURS[name])
    axes.axhline(1.0, color="black", linestyle="--", linewidth=1, label="standard (score 1)")
    axes.set_yscale("log")
    axes.set_ylim(FLOOR / 2, peak * 3)
    axes.set_xticks(range(len(stages)))
    axes.set_xticklabels(stages, rotation=20, ha="right", fontsize=8)
    starts = {row.stage for row in rows if row.verdict == FAIL}
    for label, stage in zip(axes.get_xticklabels(), stages):
        if stage in starts:  # a divergence starts in this stage: a call fails with agreeing inputs
            label.set_color("#c00000")
            label.set_fontweight("bold")
    axes.set_ylabel("worst score (metric / limit)")
    axes.set_title(title, fontsize=10)
    axes.legend(fontsize=8, ncol=3, loc="upper right")
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def _e(value: object) -> str:
    if isinstance(value, float):
        value = "inf" if math.isinf(value) else f"{value:.4g}"
    return html.escape(str(value))


def _metrics(metrics: dict[str, float]) -> str:
    keys = ("cosine", "max_err_ratio", "max_rel_err", "mean_ulp_err", "share_ulp_gt1", "share_beyond_rtol",
            "mismatches")
    return ", ".join(f"{k} {_e(metrics[k])}" for k in keys if k in metrics)


def _first_divergent(verdict: DumpVerdict) -> list[str]:
    first = verdict.first_divergent
    if first is None:
        return ["<p>No call misses its standard while its inputs agree: no divergent op.</p>"]
    return ['<div class="box"><b>First divergent op:</b> ',
            f"<code>{_e(first.call)}</code> ({_e(first.op_class)} class) in stage <b>{_e(first.stage)}</b><br>",
            f"called at <code>{_e(first.call_site or 'unknown')}</code><br>",
            f"standard: {_e(first.standard)}; score {_e(first.score)}; {_e(_metrics(first.metrics))}<br>",
            f"msprobe's Result for this call: <b>{_e(first.msprobe_result or '-')}</b>; first call msprobe marks "
            f"error: <code>{_e(verdict.msprobe_errors[0] if verdict.msprobe_errors else 'none')}</code></div>"]


def _stage_table(stages: E2EResult) -> list[str]:
    lines = ["<h2>Pipeline stages</h2>", f"<p>{_e(stages.summary())}</p>",
             "<table><tr><th>stage</th><th>verdict</th><th>metrics</th><th>limits</th><th>reason</th></tr>"]
    for stage in stages.stages:
        lines.append(f'<tr class="{_e(stage.verdict)}"><td>{_e(stage.stage)}</td><td>{_e(stage.verdict)}</td>'
                     f"<td>{_e(', '.join(f'{k} {v:.4g}' for k, v in stage.metrics.items()))}</td>"
                     f"<td>{_e(', '.join(f'{k} {v:g}' for k, v in stage.limits.items()))}</td>"
                     f"<td>{_e(stage.reason)}</td></tr>")
    return lines + ["</table>"]


def _op_table(rows: list[OpRow], limit: int) -> list[str]:
    order = {FAIL: 0, INHERITED: 1}
    shown = sorted(rows, key=lambda r: (order.get(r.verdict, 2), -r.score if math.isfinite(r.score) else -1e300))
    lines = [f"<h2>Calls, worst first ({min(limit, len(rows))} of {len(rows)})</h2>",
             "<table><tr><th>kit</th><th>msprobe</th><th>call</th><th>stage</th><th>class</th><th>score</th>"
             "<th>metrics</th><th>call site</th></tr>"]
    for row in shown[:limit]:
        lines.append(f'<tr class="{_e(row.verdict)}"><td>{_e(row.verdict)}</td>'
                     f'<td class="{_e(row.msprobe_result)}">{_e(row.msprobe_result or "-")}</td>'
                     f"<td><code>{_e(row.call)}</code></td><td>{_e(row.stage)}</td><td>{_e(row.op_class)}</td>"
                     f"<td>{_e(row.score)}</td><td>{_e(_metrics(row.metrics))}</td>"
                     f"<td><code>{_e(row.call_site)}</code></td></tr>")
    return lines + ["</table>"]


def _msprobe_table(rows: list[CompareRow], limit: int) -> list[str]:
    flagged = [r for r in rows if r.result in ("error", "warning")]
    lines = [f"<h2>msprobe compare: rows marked error or warning ({len(flagged)} of {len(rows)} rows)</h2>",
             "<table><tr><th>Result</th><th>NPU Name</th><th>dtype</th><th>shape</th><th>Cosine</th>"
             "<th>MaxAbsErr</th><th>MaxRelativeErr</th><th>One Thousandth Err Ratio</th><th>Err_message</th></tr>"]
    for row in flagged[:limit]:
        lines.append(f'<tr class="{_e(row.result)}"><td>{_e(row.result)}</td><td><code>{_e(row.name)}</code></td>'
                     f"<td>{_e(row.dtype)}</td><td>{_e(row.shape)}</td><td>{_e(row.cosine)}</td>"
                     f"<td>{_e(row.max_abs_err)}</td><td>{_e(row.max_rel_err)}</td><td>{_e(row.one_thousandth)}</td>"
                     f"<td>{_e(row.message)}</td></tr>")
    return lines + ["</table>"]


def report_html(title: str, verdict: DumpVerdict, stages: E2EResult | None = None,
                links: dict[str, str] | None = None, limit: int = 80) -> str:
    passed = verdict.passed and (stages is None or stages.passed)
    png = base64.b64encode(plot_png(verdict.rows, "worst error per stage and op class")).decode()
    lines = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">', f"<title>{_e(title)}</title>",
             f"<style>{STYLE}</style></head><body>", f"<h1>{_e(title)}</h1>",
             f'<p class="verdict {"pass" if passed else "fail"}">kit: {"PASS" if passed else "FAIL"} &middot; '
             f'msprobe compare: {"PASS" if verdict.msprobe_passed else "FAIL"}</p>',
             f"<p>{_e(verdict.summary())}</p>"]
    lines += _first_divergent(verdict)
    lines += ["<h2>Worst error per stage and op class</h2>",
              "<p>Score: the call's metric over its class's limit, worst output; above 1 misses the standard "
              "(inherited divergences included). Bars at the floor scored 0. Stages named in bold red hold a "
              "call where a divergence starts (it fails while its inputs agree).</p>",
              f'<img id="plot" alt="worst error per stage and op class" width="990" height="378" '
              f'src="data:image/png;base64,{png}">']
    if stages is not None:
        lines += _stage_table(stages)
    lines += _op_table(verdict.rows, limit) + _msprobe_table(verdict.msprobe_rows, limit)
    if links:
        lines += ["<h2>Files</h2><ul>"] + [f'<li>{_e(k)}: <a href="{_e(v)}">{_e(v)}</a></li>' for k, v in links.items()]
        lines.append("</ul>")
    return "\n".join(lines + ["</body></html>", ""])


def write_html_report(path: str | Path, title: str, verdict: DumpVerdict, stages: E2EResult | None = None,
                      links: dict[str, str] | None = None) -> Path:
    return write_text_atomic(path, report_html(title, verdict, stages, links))
