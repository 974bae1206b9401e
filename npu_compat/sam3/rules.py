"""SAM3 import and build fixes, as rule rows (installed lazily when sam3 modules import).

- sam3's triton modules (EDT, connected components, mask NMS, sigmoid focal loss) are replaced
  in ``sys.modules`` by the device-agnostic ``npu_compat.sam3.kernels`` before sam3 imports
  them; upstream's are kept on the cuda target when triton imports.
- The BPE vocabulary missing from every 0.1.x wheel is found (``--bpe``, ``SAM3_BPE_PATH``,
  open-clip-torch's copy).
- A model built with any device string lands on the target (upstream moves it only for
  ``device == "cuda"``), and ``Sam3Processor``'s default ``device="cuda"`` becomes the target.
- A model built with no checkpoint gets a loud random-weights notice and its two
  ``torch.empty`` text parameters initialised, so outputs are finite.
- torch's "`torch.jit.script` is deprecated" FutureWarning is not printed for sam3's own
  ``torch.jit.script`` calls (``npu_compat/sam3/quiet_warnings.py``).
"""
from __future__ import annotations

import functools
import importlib
import importlib.util
import os
from typing import Any

from npu_compat.patcher import Category, Context, Rule
from npu_compat.sam3 import (autocast_rules, capture_rules, quiet_warnings, sam31_rules, scoped_imports, sync_rules,
                              train_rules, video)
from npu_compat.sam3.kernels import UPSTREAM_REPLACEMENTS
from npu_compat.sam3.random_init import RANDOM_WEIGHTS_NOTICE, random_init
from npu_compat.sam3.revision import SAM31, detect_revision
from npu_compat.sam3.vocab import find_bpe
from npu_compat.target import Target

MOD = Category.MODIFIED
def _triton_importable() -> bool:
    return importlib.util.find_spec("triton") is not None


def _kernel_module(replacement: str):  # type: ignore[no-untyped-def]
    def make(ctx: Context, rule: Rule, original: Any) -> Any:
        return importlib.import_module(replacement)

    return make


def _bpe(ctx: Context, rule: Rule, original: Any) -> Any:
    hit, key, cat, explicit = ctx.report.hit, rule.key, rule.category.value, ctx.options.pack_options.get("sam3", {}).get("bpe_path")

    @functools.wraps(original)
    def _create_text_encoder(bpe_path: str) -> Any:
        if explicit or not bpe_path or not os.path.isfile(bpe_path):
            new = str(find_bpe(explicit))
            hit(key, cat, bpe_path, new)
            bpe_path = new
        return original(bpe_path)

    return _create_text_encoder


def _model_device(ctx: Context, rule: Rule, original: Any) -> Any:
    hit, key, cat, target = ctx.report.hit, rule.key, rule.category.value, ctx.target

    @functools.wraps(original)
    def _setup_device_and_mode(model: Any, device: Any, eval_mode: Any) -> Any:
        if device is not None and str(device) != str(target.device()):
            hit(key, cat, device, target.device())
            model = model.to(target.device())
            device = None
        return original(model, device, eval_mode)

    return _setup_device_and_mode


_random_init = random_init  # the image builder's row uses the shared factory


def _processor_device(ctx: Context, rule: Rule, original: Any) -> Any:
    hit, key, cat, mapper = ctx.report.hit, rule.key, rule.category.value, ctx.mapper

    @functools.wraps(original)
    def __init__(self: Any, model: Any, resolution: int = 1008, device: Any = "cuda", *args: Any, **kwargs: Any) -> None:
        new = mapper.map(device, True)
        if new is not device:
            hit(key, cat, device, new)
        original(self, model, resolution, new, *args, **kwargs)

    return __init__


def sam3_rules(target: Target) -> list[Rule]:
    rules: list[Rule] = []
    if target.type != "cuda" or not _triton_importable():
        for upstream, replacement in UPSTREAM_REPLACEMENTS.items():
            rules.append(Rule(f"sam3.kernel.{upstream.rsplit('.', 1)[1]}", "sys.modules", upstream,
                              _kernel_module(replacement), MOD,
                              f"triton/CUDA-only {upstream} replaced by the device-agnostic {replacement}",
                              install_missing=True,
                              unchecked="a whole module swapped in sys.modules: no signature to compare"))
    rules += [
        Rule("sam3.bpe", "sam3.model_builder", "_create_text_encoder", _bpe, MOD,
             "a missing BPE file is replaced by the one found by npu_compat.sam3.vocab", lazy=True),
        Rule("sam3.random_init", "sam3.model_builder", "build_sam3_image_model", random_init, MOD,
             "no checkpoint with load_from_HF=False (or NPU_COMPAT_SAM3_RANDOM_INIT=1): no download, loud "
             "notice, the torch.empty text parameters get normal(0, 0.02)", lazy=True),
    ]
    if target.type != "cuda":
        rules += [
            Rule("sam3.model_device", "sam3.model_builder", "_setup_device_and_mode", _model_device, MOD,
                 "any device string puts the model on the target (upstream moves it only for 'cuda')", lazy=True),
            Rule("sam3.processor_device", "sam3.model.sam3_image_processor.Sam3Processor", "__init__",
                 _processor_device, lazy=True),
        ]
    # The pack's other tables, one module each.
    if detect_revision() == SAM31:
        rules += sam31_rules.sam31_rules(target)  # SAM 3.1's FA3/fp8, fused MLP, multiplex video, upstream fix
    return (rules
            + list(scoped_imports.RULES)  # sam3 main: module-level pkg_resources / decord imports
            + list(quiet_warnings.RULES)  # torch.jit.script deprecation noise from sam3's own calls
            + sync_rules.sync_rules()  # host syncs in the prompt path
            + capture_rules.capture_rules(target)  # what keeps the grounding forward out of a captured graph
            + video.video_rules(target)
            + autocast_rules.sam3_autocast_rules(target)
            + train_rules.sam3_train_rules(target))


__all__ = ["sam3_rules", "RANDOM_WEIGHTS_NOTICE"]
