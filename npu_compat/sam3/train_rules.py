"""Rule rows for sam3's trainer (``sam3/train/``): configs outside the wheel, and the scaler.

- ``sam3.train.configs``: ``sam3/train/train.py`` composes its ``-c`` config from the package
  ``sam3.train`` (``initialize_config_module("sam3.train")``), and the 0.1.4 wheel ships no
  configs there. ``hydra.initialize_config_module`` becomes a subclass that, for ``"sam3.train"``,
  appends search-path entries for each folder in ``$SAM3_TRAIN_CONFIG_PATH`` (``os.pathsep``-separated) and for this kit's
  configs (``pkg://npu_compat.training``), so ``-c configs/skimage_sample/tiny_ft.yaml`` or a
  user's own ``-c configs/<name>.yaml`` under one of those folders is found. Configs inside
  ``sam3.train`` (a source checkout) keep priority. Other modules' initialisation is untouched.
  (A ``hydra.searchpath`` override cannot do this: Hydra looks the primary config up in the main
  source before it reads the override. The row swaps the ``hydra`` attribute, which ``train.py``
  imports, because the lazy hook finds owners by module and the class name is lower-case.)
- ``sam3.train.grad_scaler``: the trainer enables its ``GradScaler`` whenever AMP is on; only
  float16 needs loss scaling (bfloat16 has float32's exponent range), so with any other AMP dtype
  the scaler is swapped for a disabled one (``scale`` returns the loss, ``step`` just steps).
"""
from __future__ import annotations

import functools
import inspect
import os
from typing import Any

import torch

from npu_compat.patcher import Category, Context, Rule
from npu_compat.target import Target

MOD = Category.MODIFIED
KIT_CONFIGS = "pkg://npu_compat.training"
CONFIG_PATH_ENV = "SAM3_TRAIN_CONFIG_PATH"
SAM3_TRAIN_MODULE = "sam3.train"
PROVIDER = "npu_compat"


def extra_search_path() -> list[str]:
    """Search-path entries added to sam3's trainer compositions, in priority order."""
    folders = [p for p in os.environ.get(CONFIG_PATH_ENV, "").split(os.pathsep) if p]
    return [f"file://{os.path.abspath(p)}" for p in folders] + [KIT_CONFIGS]


def add_search_path() -> list[str]:
    """Append :func:`extra_search_path` to the initialised Hydra's search path, after the main
    source; returns the entries added (none if they are there already)."""
    from hydra.core.config_search_path import SearchPathQuery
    from hydra.core.global_hydra import GlobalHydra

    loader = GlobalHydra.instance().config_loader()
    search_path = loader.get_search_path()
    present = {e.path for e in search_path.get_path()}
    entries = [e for e in extra_search_path() if e not in present]
    anchor = SearchPathQuery(provider="main", path=None)
    for existing in search_path.get_path():
        if existing.provider == PROVIDER:
            anchor = SearchPathQuery(provider=PROVIDER, path=existing.path)
    for entry in entries:  # after sam3.train (and earlier entries), before Hydra's schema source
        search_path.append(provider=PROVIDER, path=entry, anchor=anchor)
        anchor = SearchPathQuery(provider=PROVIDER, path=entry)
    if entries:
        # the same call Hydra makes for a hydra.searchpath in the primary config
        loader.repository.initialize_sources(search_path)
    return entries


def _add_search_path(ctx: Context, rule: Rule, original: Any) -> Any:
    hit, key, cat = ctx.report.hit, rule.key, rule.category.value
    signature = inspect.signature(original.__init__)

    class initialize_config_module(original):  # type: ignore[misc, valid-type]  # noqa: N801 (Hydra's name)
        __doc__ = original.__doc__

        @functools.wraps(original.__init__)
        def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            if signature.bind(self, *args, **kwargs).arguments.get("config_module") != SAM3_TRAIN_MODULE:
                return
            entries = add_search_path()
            if entries:
                hit(key, cat, f"pkg://{SAM3_TRAIN_MODULE}", entries)

    initialize_config_module.__module__ = original.__module__
    initialize_config_module.__qualname__ = original.__qualname__
    return initialize_config_module


def needs_grad_scaler(amp_dtype: str) -> bool:
    """Whether AMP in ``amp_dtype`` (the trainer's ``optim.amp.amp_dtype``) needs loss scaling: float16 only."""
    from sam3.train.utils.train_utils import get_amp_type

    return get_amp_type(amp_dtype) == torch.float16


def _setup_components(ctx: Context, rule: Rule, original: Any) -> Any:
    hit, key, cat = ctx.report.hit, rule.key, rule.category.value

    @functools.wraps(original)
    def _setup_components(self: Any) -> Any:
        out = original(self)
        amp = getattr(getattr(self, "optim_conf", None), "amp", None)
        scaler = getattr(self, "scaler", None)
        if amp is not None and amp.enabled and scaler is not None and scaler.is_enabled():
            if not needs_grad_scaler(amp.amp_dtype):
                hit(key, cat, f"GradScaler(enabled=True) for {amp.amp_dtype}", "GradScaler(enabled=False)")
                self.scaler = torch.amp.GradScaler(str(self.device.type), enabled=False)
        return out

    return _setup_components


def sam3_train_rules(target: Target) -> list[Rule]:
    """The trainer's rows; installed lazily (hydra and sam3.train import when the trainer starts)."""
    return [
        Rule("sam3.train.configs", "hydra", "initialize_config_module", _add_search_path, MOD,
             "initialize_config_module('sam3.train') also searches $SAM3_TRAIN_CONFIG_PATH and "
             "pkg://npu_compat.training (the 0.1.4 wheel ships no configs)", lazy=True),
        Rule("sam3.train.grad_scaler", "sam3.train.trainer.Trainer", "_setup_components", _setup_components, MOD,
             "the trainer's GradScaler is disabled unless AMP runs in float16 (the only dtype that needs loss "
             "scaling)", lazy=True),
    ]


__all__ = ["sam3_train_rules", "extra_search_path", "add_search_path", "needs_grad_scaler", "KIT_CONFIGS", "CONFIG_PATH_ENV"]
