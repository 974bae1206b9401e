"""The torch-import hook: a Python process applies the shim once it imports torch.

Armed by the ``.pth`` file that ``--install`` writes (every Python of the environment) and by
``npu_compat/child_boot/sitecustomize.py`` in processes that a shimmed parent starts. It costs
nothing for processes that never import torch: it only watches for the ``torch`` import.

- ``NPU_COMPAT_DISABLE=1`` skips it for one process.
- A child of a shimmed parent uses the parent's options and reports to it; any other process
  takes the target from ``NPU_COMPAT_DEVICE`` (or auto) and writes ``NPU_COMPAT_REPORT`` at exit
  (``{pid}`` and ``{rank}`` in the path expand, so separate programs need not share one file).
- When torch is first imported by the kit itself (``python -m npu_compat.apply``, the tools, a
  script that imports a kit module before torch), the hook stands aside: those entry points
  apply the shim with their own options, and applying it here, in the middle of the kit's
  own import, would be an import cycle.
"""
from __future__ import annotations

import atexit
import os
import sys
import sysconfig
from pathlib import Path

PTH_NAME = "npu_compat_autoapply.pth"
PTH_LINE = "import npu_compat.autoapply as _npu_compat_auto; _npu_compat_auto.arm()\n"
_ARMED = False


def arm() -> None:
    """Watch for the torch import (once per process, however many times it is called)."""
    global _ARMED
    if _ARMED or os.environ.get("NPU_COMPAT_DISABLE") == "1":
        return
    _ARMED = True
    if "torch" in sys.modules:
        _apply_from_env()
        return
    from npu_compat.import_hook import PostImportHook

    hook = PostImportHook()
    hook.callbacks["torch"] = [_apply_from_env]
    sys.meta_path.insert(0, hook)


def kit_is_importing() -> bool:
    """True while a module of this kit is half-way through its own import."""
    return any(
        getattr(getattr(module, "__spec__", None), "_initializing", False)
        for name, module in list(sys.modules.items())
        if name == "npu_compat" or name.startswith("npu_compat.")
    )


def _apply_from_env() -> None:
    if kit_is_importing():
        return
    from npu_compat import child_processes, shim
    from npu_compat.errors import NpuCompatError

    if shim.current() is not None:
        return
    try:
        session = shim.apply(options=child_processes.inherited_options())
    except NpuCompatError as err:
        sys.stderr.write(f"npu_compat: error: {err} (shim not applied)\n")
        return
    session.implicit = True  # the script's own apply(...) with other options replaces this session
    session.report_path = None if session.is_child else os.environ.get("NPU_COMPAT_REPORT")
    atexit.register(_finish_at_exit, session)


def _finish_at_exit(first: object) -> None:
    """The exit report of the session in force: the hook's, or the one the script's apply() put in its place."""
    from npu_compat import child_processes, shim

    session = shim.current() or first
    child_processes.finish(session, session.report_path)  # type: ignore[attr-defined]


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
