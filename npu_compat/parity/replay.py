"""Replay an inventory on a device against a CPU golden in higher precision.

For each entry, inputs are regenerated from a seed (same values on both sides), the op runs on
the target device in the inventory's dtype (or a float override, e.g. bf16) and on CPU in the
golden dtype (bf16/fp16 -> fp32, fp32 -> fp64; bit-exact ops stay in the device dtype), and the
outputs are judged by the op class's standard. An op that raises on the device is reported with
its error and never stops the run.
"""
from __future__ import annotations

import math
import warnings
import zlib
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Iterable

import torch
from torch.utils._pytree import tree_flatten, tree_map
from tqdm import tqdm

from npu_compat.parity.argspec import TensorRecipe, UnreplayableArgument, regenerate, value_hint
from npu_compat.parity.inventory import Inventory, InventoryEntry
from npu_compat.parity.judge import FAIL, PASS, Judgement, judge_value, worst
from npu_compat.parity.standards import OpClass, classify, golden_dtype, normalized_base
from npu_compat.parity.standards import TIE_TOLERANT_INDEX_OPS

ERROR, SKIPPED = "error", "skipped"
# Random or uninitialised results: nothing to compare.
SKIP_OPS = frozenset("""bernoulli dropout native_dropout rand rand_like randn randn_like randint
randint_like randperm normal uniform exponential multinomial empty empty_like empty_strided
new_empty new_empty_strided resize resize_as set record_stream""".split())
NPU_FALLBACK_WARNING = "will fall back to run on the CPU"


@dataclass
class ReplayResult:
    index: int
    op: str
    args: str
    dtype: str
    count: int
    runs: list[str]
    op_class: str
    verdict: str
    standard: str = ""
    score: float = 0.0
    metrics: dict[str, float] = field(default_factory=dict)
    reason: str = ""
    replayed_as: str = ""
    fell_back_to_cpu: bool = False

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["score"] = self.score if math.isfinite(self.score) else "inf"
        data["metrics"] = {k: (v if math.isfinite(v) else repr(v)) for k, v in self.metrics.items()}
        return data


def resolve_op(name: str) -> Any:
    """``aten.add.Tensor`` -> ``torch.ops.aten.add.Tensor``."""
    namespace, base, overload = (name.split(".") + ["default"])[:3]
    if namespace == "torchvision":
        import torchvision  # noqa: F401 - registers torch.ops.torchvision
    return getattr(getattr(getattr(torch.ops, namespace), base), overload)


def _sdpa(q, k, v, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None):
    return torch.ops.aten.scaled_dot_product_attention.default(
        q, k, v, attn_mask, dropout_p, is_causal, scale=scale)


# Backend-specific attention kernels are replayed through the portable op, which dispatches to
# whatever kernel the target device has; only the attention output is compared.
PORTABLE_FORMS: dict[str, Callable[[list[Any], dict[str, Any]], Any]] = {
    "aten._scaled_dot_product_flash_attention_for_cpu.default": lambda a, kw: _sdpa(
        a[0], a[1], a[2], kw.get("attn_mask"), *(a[3:5]), scale=kw.get("scale")),
    "aten._scaled_dot_product_flash_attention.default": lambda a, kw: _sdpa(
        a[0], a[1], a[2], None, *(a[3:5]), scale=kw.get("scale")),
    "aten._scaled_dot_product_efficient_attention.default": lambda a, kw: _sdpa(
        a[0], a[1], a[2], a[3], *(a[5:7]), scale=kw.get("scale")),
    "aten._scaled_dot_product_cudnn_attention.default": lambda a, kw: _sdpa(
        a[0], a[1], a[2], a[3], *(a[5:7]), scale=kw.get("scale")),
}


def _materialise(value: Any, device: torch.device, float_dtype: Callable[[torch.dtype], torch.dtype]) -> Any:
    """Build tensors on ``device``; point device arguments there; widen dtypes via ``float_dtype``."""
    def build(item: Any) -> Any:
        if isinstance(item, TensorRecipe):
            return item.build(device, float_dtype(item.base.dtype))
        if isinstance(item, torch.device):
            return device
        if isinstance(item, torch.dtype):
            return float_dtype(item)
        return item
    return tree_map(build, value, is_leaf=lambda x: isinstance(x, TensorRecipe))


def _regenerate_entry(entry: InventoryEntry, seed: int, override: torch.dtype | None) -> tuple[list[Any], dict[str, Any]]:
    generator = torch.Generator().manual_seed(zlib.crc32(entry.signature().encode()) ^ seed)
    base = normalized_base(entry.op)
    args = [regenerate(spec, generator, value_hint(base, pos, entry.args), override)
            for pos, spec in enumerate(entry.args)]
    kwargs = {key: regenerate(spec, generator, value_hint(base, -1, entry.args), override)
              for key, spec in entry.kwargs.items()}
    return args, kwargs


def _call(entry: InventoryEntry, args: list[Any], kwargs: dict[str, Any]) -> Any:
    portable = PORTABLE_FORMS.get(entry.op)
    if portable is not None:
        return portable(args, kwargs)
    return resolve_op(entry.op)(*args, **kwargs)


def _to_cpu(value: Any) -> Any:
    return tree_map(lambda x: x.detach().cpu() if isinstance(x, torch.Tensor) else x, value)


def _leaves(value: Any) -> list[Any]:
    if isinstance(value, torch.Tensor) or not isinstance(value, (list, tuple, dict)):
        return [value]
    return tree_flatten(value)[0]


def _tie_equivalent(entry: InventoryEntry, args: list[Any], dev_out: Any, gold_out: Any) -> bool:
    """Index outputs of sort/topk/max... may differ only where the selected values tie."""
    if not isinstance(args[0], torch.Tensor):
        return False
    source = args[0].detach().cpu()
    dev_leaves, gold_leaves = _leaves(dev_out), _leaves(gold_out)
    dev_idx = [x for x in dev_leaves if isinstance(x, torch.Tensor) and x.dtype == torch.int64]
    gold_idx = [x for x in gold_leaves if isinstance(x, torch.Tensor) and x.dtype == torch.int64]
    if len(dev_idx) != 1 or len(gold_idx) != 1 or dev_idx[0].shape != gold_idx[0].shape:
        return False
    dim = _selection_dim(entry, args)
    flat = source.reshape(-1) if dim is None else source
    if dim is None:
        picked_dev, picked_gold = flat[dev_idx[0].reshape(-1)], flat[gold_idx[0].reshape(-1)]
    else:
        picked_dev = torch.gather(flat, dim, dev_idx[0])
        picked_gold = torch.gather(flat, dim, gold_idx[0])
    return bool(torch.equal(picked_dev, picked_gold))


def _selection_dim(entry: InventoryEntry, args: list[Any]) -> int | None:
    base = normalized_base(entry.op)
    position = {"sort": 1, "topk": 2, "kthvalue": 2}.get(base, 1)
    default = None if base in ("argmax", "argmin") else -1
    dim = entry.kwargs.get("dim", args[position] if len(args) > position else default)
    return dim if isinstance(dim, int) or dim is None else default


def replay_entry(entry: InventoryEntry, index: int, device: torch.device, seed: int = 0,
                 dtype_override: torch.dtype | None = None) -> ReplayResult:
    """Run one entry on ``device`` and on the CPU golden; never raises for op failures."""
    op_class = classify(entry.op)
    result = ReplayResult(index, entry.op, entry.short_args(), "", entry.count, entry.runs,
                          op_class.value, SKIPPED,
                          replayed_as="aten.scaled_dot_product_attention" if entry.op in PORTABLE_FORMS else "")
    if normalized_base(entry.op) in SKIP_OPS:
        result.reason = "random or uninitialised output: nothing to compare"
        return result
    try:
        recipes, kw_recipes = _regenerate_entry(entry, seed, dtype_override)
    except UnreplayableArgument as err:
        result.reason = str(err)
        return result
    same = lambda dt: dt  # noqa: E731
    golden_of = same if op_class is OpClass.EXACT else golden_dtype
    cpu = torch.device("cpu")
    golden_args = _materialise(recipes, cpu, golden_of)
    golden_kwargs = _materialise(kw_recipes, cpu, golden_of)
    try:
        golden = _to_cpu(_call(entry, golden_args, golden_kwargs))
    except Exception as err:  # noqa: BLE001 - some CPU kernels lack the wider dtype
        try:
            golden = _to_cpu(_call(entry, _materialise(recipes, cpu, same), _materialise(kw_recipes, cpu, same)))
            result.reason = f"golden in device dtype: CPU rejects the wider one ({_first_line(err)})"
        except Exception as err2:  # noqa: BLE001
            result.reason = f"golden failed on CPU too, inputs not valid for this op: {_first_line(err2)}"
            return result
    dev_args = _materialise(recipes, device, same)
    dev_kwargs = _materialise(kw_recipes, device, same)
    result.dtype = _first_float_dtype(dev_args, dev_kwargs)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            device_out = _to_cpu(_call(entry, dev_args, dev_kwargs))
        except Exception as err:  # noqa: BLE001 - reported, never fatal
            result.verdict, result.score, result.reason = ERROR, math.inf, _first_line(err)
            return result
    result.fell_back_to_cpu = any(NPU_FALLBACK_WARNING in str(w.message) for w in caught)
    judgement = _judge_outputs(entry, op_class, dev_args, device_out, golden)
    result.verdict, result.standard, result.score = judgement.verdict, judgement.standard, judgement.score
    result.metrics = judgement.metrics
    result.reason = "; ".join(part for part in (judgement.reason, result.reason) if part)
    return result


def _judge_outputs(entry: InventoryEntry, op_class: OpClass, dev_args: list[Any], device_out: Any,
                   golden: Any) -> Judgement:
    dev_leaves, gold_leaves = _leaves(device_out), _leaves(golden)
    if entry.op in PORTABLE_FORMS:
        gold_leaves = gold_leaves[:1]
    if len(dev_leaves) != len(gold_leaves):
        return Judgement(FAIL, "structure", math.inf, {}, f"{len(dev_leaves)} outputs vs golden {len(gold_leaves)}")
    judgements = [judge_value(d, g, op_class) for d, g in zip(dev_leaves, gold_leaves)]
    verdict = worst(judgements)
    if verdict.verdict == FAIL and normalized_base(entry.op) in TIE_TOLERANT_INDEX_OPS:
        values_ok = all(j.verdict == PASS for j, d in zip(judgements, dev_leaves)
                        if not (isinstance(d, torch.Tensor) and d.dtype == torch.int64))
        if values_ok and _tie_equivalent(entry, dev_args, device_out, golden):
            verdict = Judgement(PASS, "bit-exact values; indices differ only between ties", 0.0,
                                verdict.metrics, "indices differ between tied values")
    return verdict


def _first_float_dtype(args: Any, kwargs: Any) -> str:
    for leaf in tree_flatten([args, kwargs])[0]:
        if isinstance(leaf, torch.Tensor) and (leaf.is_floating_point() or leaf.is_complex()):
            return str(leaf.dtype).removeprefix("torch.")
    for leaf in tree_flatten([args, kwargs])[0]:
        if isinstance(leaf, torch.Tensor):
            return str(leaf.dtype).removeprefix("torch.")
    return "-"


def _first_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return f"{type(err).__name__}: {text[0] if text else ''}"[:300]


def replay_inventory(inventory: Inventory | Iterable[InventoryEntry], device: str | torch.device,
                     seed: int = 0, dtype_override: torch.dtype | None = None,
                     progress: bool = True) -> list[ReplayResult]:
    """Replay every entry; results are in inventory order (sort with ``report.worst_first``)."""
    target = torch.device(device)
    entries = list(inventory)
    return [replay_entry(entry, index, target, seed, dtype_override)
            for index, entry in enumerate(tqdm(entries, desc=f"replay on {target}", disable=not progress,
                                               unit="op"))]
