"""The ``.pth`` hook: every Python in the environment applies the shim once it imports torch.

The hook costs nothing for processes that never import torch: it only watches for the
``torch`` import. Set ``NPU_COMPAT_DISABLE=1`` to skip it for one process; the target comes
from ``NPU_COMPAT_DEVICE`` (or auto), the report path from ``NPU_COMPAT_REPORT``.
"""
from __future__ import annotations

import atexit
import os
import sys
import sysconfig
from pathlib import Path

PTH_NAME = "npu_compat_autoapply.pth"
PTH_LINE = "import npu_compat.autoapply as _npu_compat_auto; _npu_compat_auto.arm()\n"


def arm() -> None:
    """Called from the .pth file at interpreter start."""
    if os.environ.get("NPU_COMPAT_DISABLE") == "1":
        return
    if "torch" in sys.modules:
        _apply_from_env()
        return
    from npu_compat.import_hook import PostImportHook

    hook = PostImportHook()
    hook.callbacks["torch"] = [_apply_from_env]
    sys.meta_path.insert(0, hook)


def _apply_from_env() -> None:
    from npu_compat import shim
    from npu_compat.errors import NpuCompatError
    from npu_compat.report import LOG

    try:
        session = shim.apply()
    except NpuCompatError as err:
        sys.stderr.write(f"npu_compat: error: {err} (shim not applied)\n")
        return
    report = os.environ.get("NPU_COMPAT_REPORT")

    def at_exit() -> None:
        path = session.report.write_json(report) if report else None
        LOG.warning("%s", session.report.summary(path))

    atexit.register(at_exit)


def _site_dir(explicit: str | None) -> Path:
    return Path(explicit) if explicit else Path(sysconfig.get_paths()["purelib"])


def manage(action: str, site_dir: str | None = None) -> str:
    """install / uninstall / status of the hook; returns a line for the user."""
    pth = _site_dir(site_dir) / PTH_NAME
    if action == "install":
        pth.parent.mkdir(parents=True, exist_ok=True)
        tmp = pth.with_suffix(".tmp")
        tmp.write_text(PTH_LINE)
        os.replace(tmp, pth)
        return f"npu_compat: installed {pth}; every Python here now applies the shim when it imports torch"
    if action == "uninstall":
        if pth.exists():
            pth.unlink()
            return f"npu_compat: removed {pth}"
        return f"npu_compat: no hook at {pth}; nothing to remove"
    from npu_compat.target import resolve_target

    state = "installed" if pth.exists() else "not installed"
    try:
        target = str(resolve_target().device())
    except Exception as err:  # status must never crash
        target = f"unresolved ({err})"
    return f"npu_compat: hook {state} ({pth}); target would be {target}"
