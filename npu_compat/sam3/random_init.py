"""Random weights for SAM3 builders: no Hugging Face download, a loud notice, finite outputs.

One replacement factory serves both ``build_sam3_image_model`` and ``build_sam3_video_model``:
with no checkpoint and ``load_from_HF=False`` (or ``NPU_COMPAT_SAM3_RANDOM_INIT=1``, which also
turns a would-be download into random init), the model is built, the notice is printed, and the
two ``torch.empty`` text parameters get normal(0, 0.02) so outputs are not NaN (sam3 creates
them with ``torch.empty`` and never initialises them; random-init outputs can then be all NaN).
"""
from __future__ import annotations

import functools
import inspect
import os
import sys
from typing import Any

import torch

from npu_compat.patcher import Context, Rule

RANDOM_INIT_ENV = "NPU_COMPAT_SAM3_RANDOM_INIT"
RANDOM_WEIGHTS_NOTICE = (
    "\n" + "!" * 78 + "\n"
    "!! npu_compat: NO CHECKPOINT GIVEN - SAM3 IS RUNNING WITH RANDOM WEIGHTS.\n"
    "!! Masks, boxes and scores are meaningless. Pass --checkpoint /path/to/sam3.pt\n"
    "!! (sam3.pt: gated repo facebook/sam3 on Hugging Face; README.md, Checkpoint).\n" + "!" * 78 + "\n"
)


def bind_arguments(fn: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
    """The call's arguments by name, defaults filled in."""
    bound = inspect.signature(fn).bind_partial(*args, **kwargs)
    bound.apply_defaults()
    return dict(bound.arguments)


def random_init(ctx: Context, rule: Rule, original: Any) -> Any:
    """Replacement factory for a sam3 model builder (a Rule's ``make``)."""
    from npu_compat.sam3.tiny import init_uninitialised_text_params

    hit, key, cat = ctx.report.hit, rule.key, rule.category.value

    @functools.wraps(original)
    def build(*args: Any, **kwargs: Any) -> Any:
        bound = bind_arguments(original, args, kwargs)
        if bound.get("checkpoint_path") is not None:
            return original(*args, **kwargs)
        if bound.get("load_from_HF", True):
            if os.environ.get(RANDOM_INIT_ENV, "") not in ("1", "true", "yes"):
                return original(*args, **kwargs)  # upstream behaviour: download the checkpoint
            bound["load_from_HF"] = False
        sys.stderr.write(RANDOM_WEIGHTS_NOTICE)
        model = original(**bound)
        names = init_uninitialised_text_params(model, torch.Generator().manual_seed(0))
        hit(key, cat, "no checkpoint", f"random init; text params normal(0, 0.02): {len(names)} tensors")
        return model

    return build
