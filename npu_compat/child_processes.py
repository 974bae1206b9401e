"""The shim follows the program: every Python process a shimmed script starts runs shimmed too.

``propagate(session)`` (called by ``apply()``) puts three things in ``os.environ`` for the
processes this one starts, and ``restore_env`` takes them out again at ``revert()``:

- ``NPU_COMPAT_SHIM_OPTIONS``: the session's options as JSON (device, strict, packs...);
- ``NPU_COMPAT_PROCESS_DIR``: a folder where each child writes its own report at exit,
  named by rank and pid (``rank1-pid4242.json``, or ``pid4242.json`` without ``RANK``);
- ``PYTHONPATH`` with ``npu_compat/child_boot`` first: its ``sitecustomize`` arms the same
  torch-import hook as the ``.pth`` file (``npu_compat.autoapply``), then runs any other
  ``sitecustomize`` as usual.

That reaches ``multiprocessing`` spawn and forkserver children, ``torch.multiprocessing.spawn``,
DataLoader workers, ``torchrun`` workers and any ``subprocess`` that keeps the environment.
Forked children inherit the patched process itself; an at-fork handler makes them write their
own report too. The process that created the folder (the root) merges every child report
into its own at exit (``finish``), in ``processes``, and removes the folder.
"""
from __future__ import annotations

import atexit
import dataclasses
import functools
import json
import multiprocessing.util as mp_util
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from npu_compat import exit_signals
from npu_compat.patcher import Category, Context, Rule
from npu_compat.report import LOG, process_identity
from npu_compat.session import Session
from npu_compat.shim_options import ShimOptions

OPTIONS_ENV = "NPU_COMPAT_SHIM_OPTIONS"
PROCESS_DIR_ENV = "NPU_COMPAT_PROCESS_DIR"
BOOT_DIR = str(Path(__file__).resolve().parent / "child_boot")
_ENV_KEYS = (OPTIONS_ENV, PROCESS_DIR_ENV, "PYTHONPATH")
_FORK_HANDLER_SET = False
_PROPAGATED: Session | None = None  # the session whose options this process hands down (a forked child keeps it)


# ---- options across the exec boundary -----------------------------------------------------
def options_to_json(options: "ShimOptions") -> str:
    return json.dumps(dataclasses.asdict(options), default=str)


def options_from_json(text: str) -> "ShimOptions":
    """The inverse of :func:`options_to_json`; fields this version does not know are dropped."""
    data = json.loads(text)
    values: dict[str, Any] = {}
    for f in dataclasses.fields(ShimOptions):
        if f.name not in data:
            continue
        value, default = data[f.name], f.default
        if dataclasses.is_dataclass(default) and isinstance(value, dict):
            value = type(default)(**value)
        elif isinstance(default, tuple) and isinstance(value, list):
            value = tuple(value)
        values[f.name] = value
    return ShimOptions(**values)


def inherited_options() -> "ShimOptions | None":
    """The options a shimmed parent passed down, or None when this process is not its child."""
    text = os.environ.get(OPTIONS_ENV)
    return options_from_json(text) if text else None


# ---- the parent side ----------------------------------------------------------------------
def propagate(session: "Session") -> None:
    """Make every process started from now on run shimmed, with this session's options."""
    global _PROPAGATED
    env = os.environ
    session.saved_env = {key: env.get(key) for key in _ENV_KEYS}
    session.is_child = bool(env.get(PROCESS_DIR_ENV))
    if not session.is_child:
        session.process_dir = tempfile.mkdtemp(prefix="npu_compat-processes-")
        env[PROCESS_DIR_ENV] = session.process_dir
        atexit.register(_remove_folder, session.process_dir, os.getpid())  # if neither finish() nor revert() ran
    opts = session.options
    if opts.device is None:  # children use the device this process resolved, not their own auto pick
        opts = dataclasses.replace(opts, device=str(session.target.device()))
    env[OPTIONS_ENV] = options_to_json(opts)
    parts = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p and p != BOOT_DIR]
    env["PYTHONPATH"] = os.pathsep.join([BOOT_DIR, *parts])
    session.set_env = {key: env[key] for key in _ENV_KEYS if key in env}
    _set_fork_handler()
    if session.is_child:
        _finish_in_mp_child(session)
    _PROPAGATED = session


def _finish_in_mp_child(session: "Session") -> None:
    """A multiprocessing child leaves by ``os._exit`` (fork, forkserver): no atexit, but its
    finalizers run. Register one now if this already is such a child, and one after
    multiprocessing's own post-fork reset in case it is about to become one (the shim is often
    applied while the child unpickles its target, before that reset)."""
    mp = sys.modules.get("multiprocessing")
    if mp is None:
        return
    if mp.parent_process() is not None:
        _register_mp_finalizer(session)
    mp_util.register_after_fork(session, _register_mp_finalizer)


def _remove_folder(folder: str, owner_pid: int) -> None:
    if os.getpid() == owner_pid:  # a forked child runs its parent's atexit handlers too
        shutil.rmtree(folder, ignore_errors=True)


def restore_env(session: "Session") -> None:
    """Take back what :func:`propagate` put in ``os.environ``. A variable the program changed
    since is the program's: it keeps its value, less the boot folder in ``PYTHONPATH``."""
    global _PROPAGATED
    if _PROPAGATED is session:
        _PROPAGATED = None
    env = os.environ
    for key, value in session.saved_env.items():
        ours = session.set_env.get(key)
        now = env.get(key)
        if now is not None and ours is not None and now != ours:
            if key == "PYTHONPATH":
                kept = [p for p in now.split(os.pathsep) if p != BOOT_DIR]
                if kept:
                    env[key] = os.pathsep.join(kept)
                else:
                    env.pop(key, None)
            continue
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    session.saved_env, session.set_env = {}, {}


def exec_rules(session: "Session") -> list[Rule]:
    """``os.execv`` / ``os.execve`` (and so every ``os.exec*``): the new program replaces this
    process without running its exit handlers, so this process's report is written first (a root
    also merges its children's and removes their folder). The new program, if it is Python, runs
    shimmed with the same options, as a root of its own."""
    def make(ctx: "Context", rule: Rule, original: Any) -> Any:
        hit, key, cat = ctx.report.hit, rule.key, rule.category.value

        @functools.wraps(original)
        def exec_(path: Any, argv: Any, *env: Any) -> Any:
            hit(key, cat, f"{rule.attr}({path!r})", "report written before the exec")
            was_root = not session.is_child
            finish(session, session.report_path)
            if was_root:
                os.environ.pop(PROCESS_DIR_ENV, None)
                if env and isinstance(env[0], dict):
                    env = ({k: v for k, v in env[0].items() if k != PROCESS_DIR_ENV},)
            return original(path, argv, *env)

        return exec_

    note = "the report is written before the new program replaces this process"
    return [Rule(f"process.os.{name}", "os", name, make, Category.MODIFIED, note, unchecked=
                 "os.execv/execve are C builtins with no readable signature; the wrapper takes their (path, argv[, env])")
            for name in ("execv", "execve") if hasattr(os, name)]


def _set_fork_handler() -> None:
    global _FORK_HANDLER_SET
    if not _FORK_HANDLER_SET and hasattr(os, "register_at_fork"):
        os.register_at_fork(after_in_child=_after_fork_in_child)
        _FORK_HANDLER_SET = True


def _after_fork_in_child() -> None:
    """A forked child keeps the patched process: it counts its own calls and reports as a child."""
    session = _PROPAGATED
    if session is None:
        return
    root_dir = session.process_dir or os.environ.get(PROCESS_DIR_ENV)
    exit_signals.restore_sigterm(session)  # a parent may stop its forked workers with SIGTERM (Pool.terminate)
    session.is_child, session.process_dir, session.finished = True, None, False
    if root_dir:
        os.environ[PROCESS_DIR_ENV] = root_dir
    session.report.sites.clear()
    session.report.processes = []
    mp_util = sys.modules.get("multiprocessing.util")
    if mp_util is not None:  # a multiprocessing child: finalizers, after multiprocessing's reset
        mp_util.register_after_fork(session, _register_mp_finalizer)


def _register_mp_finalizer(session: "Session") -> None:
    mp_util.Finalize(session, finish, args=(session,), exitpriority=100)


# ---- reports ------------------------------------------------------------------------------
def _child_report_name(ident: dict[str, Any]) -> str:
    rank = f"rank{ident['rank']}-" if "rank" in ident else ""
    return f"{rank}pid{ident['pid']}.json"


def write_child_report(session: "Session") -> Path | None:
    """This process's report, into the root's folder (skipped when the root has finished)."""
    folder = os.environ.get(PROCESS_DIR_ENV)
    if not folder or not os.path.isdir(folder):
        return None
    return session.report.write_json(Path(folder) / _child_report_name(session.report.process))


def collect(session: "Session", wait: bool = False) -> None:
    """Root only: read every child report into ``report.processes``, then remove the folder.

    ``wait`` (at exit) first waits for non-daemonic multiprocessing children, as Python's own
    exit would; ``revert()`` does not wait, so it never blocks on children still at work."""
    folder = session.process_dir
    if not folder:
        return
    if wait:
        _join_children()
    found = []
    for path in sorted(Path(folder).glob("*.json")):
        try:
            found.append(json.loads(path.read_text()))
        except (OSError, ValueError):
            continue  # a child killed mid-write leaves only its temp file; a torn file is skipped
    found.sort(key=lambda r: (r.get("process", {}).get("rank", -1), r.get("process", {}).get("pid", 0)))
    session.report.processes = found
    shutil.rmtree(folder, ignore_errors=True)
    session.process_dir = None


def _join_children() -> None:
    """Non-daemonic multiprocessing children still running are waited for, as Python's exit would."""
    mp = sys.modules.get("multiprocessing")
    if mp is None:
        return
    for child in mp.active_children():
        if not child.daemon:
            child.join()


def finish(session: "Session", report_path: str | None = None, summary: bool | None = None) -> Path | None:
    """At exit, once per process: a child writes its report for the root; the root merges the
    children's, writes ``report_path`` (``{pid}`` and ``{rank}`` expand; a process outside torchrun is rank 0)
    and logs the summary."""
    if session.finished:
        return None
    session.finished = True
    if session.is_child:
        write_child_report(session)
    else:
        collect(session, wait=True)
    if os.getpid() != session.pid:  # a forked child leaving through its parent's exit code: its report is above
        return None
    path = None
    if report_path:
        ident = session.report.process
        path = session.report.write_json(report_path.replace("{pid}", str(ident["pid"])).replace("{rank}", str(ident.get("rank", 0))))
    if summary if summary is not None else not session.is_child:
        LOG.warning("%s", session.report.summary(path))
    return path
