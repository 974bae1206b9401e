"""One shim session: resolve the target, install every rule, apply the NPU profile; revert all."""
from __future__ import annotations

import dataclasses
import os
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Mapping

from npu_compat import child_processes, exit_signals, npu
from npu_compat.errors import NpuCompatError
from npu_compat.fallbacks import check_off_names, install_fallbacks
from npu_compat.npu import RuntimeProfile, Setting
from npu_compat.patcher import Context, Patcher
from npu_compat.report import LOG, MigrationReport, configure_logging
from npu_compat.rule_packs import enabled_packs
from npu_compat.rules import core_rules
from npu_compat.rules.device_mapping import DeviceMapper
from npu_compat.target import Target, parse_device, resolve_target


@dataclass(frozen=True)
class ShimOptions:
    device: str | None = None
    strict: bool = False
    cuda_available: str = "target"  # "target" (True), "truth" or "false"; see rules/availability.py
    truthful: tuple[str, ...] = ()  # extra module prefixes that see the real is_available()
    npu_profile: RuntimeProfile = RuntimeProfile()
    packs_off: tuple[str, ...] = ()  # rule packs left out (npu_compat/rule_packs.py)
    pack_options: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)  # per pack, by pack name
    fallback_off: tuple[str, ...] = ()
    log_level: str | None = None
    autocast: str | None = None  # "auto" (default), "keep", "fp32", "bf16", "fp16"; see rules/amp.py
    device_count: int = 1  # cpu target: how many "cuda" devices the script sees (all of them the CPU)


@dataclass
class Session:
    target: Target
    options: ShimOptions
    report: MigrationReport
    patcher: Patcher
    settings: list[Setting] = field(default_factory=list)
    apply_seconds: float = 0.0
    # child processes (npu_compat/child_processes.py)
    is_child: bool = False  # started by a shimmed parent: reports to it instead of the user
    process_dir: str | None = None  # root only: where the children's reports arrive
    saved_env: dict[str, str | None] = field(default_factory=dict)
    finished: bool = False  # the exit report of this process is written
    pid: int = field(default_factory=os.getpid)  # the process that applied it (a forked child differs)
    set_env: dict[str, str] = field(default_factory=dict)  # what propagate() put in os.environ
    implicit: bool = False  # applied by the torch-import hook, not by the script: the script's apply() replaces it
    report_path: str | None = None  # where the exit report goes (the CLI's --report, $NPU_COMPAT_REPORT)
    sigterm_handler: object = None  # the handler report_on_sigterm replaced, while its own is installed


_SESSION: Session | None = None
_LOCK = threading.RLock()  # one session per process, however many threads call apply()


def current() -> Session | None:
    """The active session, or None."""
    return _SESSION


def apply(device: str | None = None, options: ShimOptions | None = None, **kwargs: object) -> Session:
    """Install the shim, or return the session already installed with the same options.

    ``apply()`` with no arguments while a session is active returns it. Options that differ from
    the active session's are an error that names them (``revert()`` first), except over a session
    that the torch-import hook applied by itself (``.pth`` / child processes): the script's own
    ``apply(...)`` replaces it, and the calls recorded so far stay in the report. Thread-safe.
    """
    with _LOCK:
        return _apply_locked(device, options, kwargs)


def _apply_locked(device: str | None, options: ShimOptions | None, kwargs: dict[str, object]) -> Session:
    asked = options is not None or device is not None or bool(kwargs)
    opts = options or ShimOptions(device=device, **kwargs)  # type: ignore[arg-type]
    if options is not None and device is not None:
        opts = ShimOptions(**{**vars(options), "device": device})
    if _SESSION is not None:
        active = _SESSION
        kind, index = parse_device(opts.device) if opts.device else (active.target.type, active.target.index)
        if kind != active.target.type or index not in (None, active.target.index):
            if not active.implicit:
                raise NpuCompatError(
                    f"the shim is already applied for {active.target.device()}",
                    "call npu_compat.revert() before applying it for another device",
                )
        else:
            differ = [f.name for f in dataclasses.fields(ShimOptions)
                      if f.name != "device" and getattr(opts, f.name) != getattr(active.options, f.name)]
            if not asked or not differ:
                return active
            if not active.implicit:
                raise NpuCompatError(
                    f"the shim is already applied with other options ({', '.join(differ)} differ); "
                    "a second apply() does not change them",
                    "call npu_compat.revert() first, then apply() with the options you want",
                )
        _revert_locked()  # the hook's session gives way to the script's own options
        session = _install(opts)
        session.report.sites.update(active.report.sites)  # calls recorded under the hook's session
        session.report_path = active.report_path
        return session
    return _install(opts)


def _install(opts: ShimOptions) -> Session:
    global _SESSION
    if opts.fallback_off:
        check_off_names(opts.fallback_off)  # before anything is installed: a typo names no op
    start = time.perf_counter()
    configure_logging(opts.log_level)
    target = resolve_target(opts.device)
    if opts.device_count != 1 and (target.type != "cpu" or opts.device_count < 1):
        raise NpuCompatError(f"device_count={opts.device_count} is not possible on the {target.type} target",
                             "give a count of 1 or more, with --device cpu only (other targets have their real count)")
    report = MigrationReport(target=target.describe())
    ctx = Context(target, report, opts, DeviceMapper(target))
    patcher = Patcher(ctx, strict=opts.strict)
    session = Session(target, opts, report, patcher)
    try:
        patcher.install(core_rules(target))
        for pack in enabled_packs(opts.packs_off):  # client rule packs: npu_compat/rule_packs.py
            patcher.install(pack.rules(target))
            report.packs.append(pack.name)
        install_fallbacks(ctx, patcher)  # op fallbacks: npu_compat/fallbacks/
        if target.type == "npu":
            session.settings = npu.apply_runtime_profile(opts.npu_profile)
            report.settings = [s.as_dict() for s in session.settings]
        child_processes.propagate(session)  # every process started from here on runs shimmed
        patcher.install(child_processes.exec_rules(session))  # os.exec* writes the report first
        exit_signals.report_on_sigterm(session)
    except BaseException:
        exit_signals.restore_sigterm(session)
        child_processes.restore_env(session)
        patcher.revert()
        if session.settings:
            npu.revert_runtime_profile(session.settings)
        raise
    session.apply_seconds = time.perf_counter() - start
    _SESSION = session
    return session


def revert() -> None:
    """Remove the shim: every attribute back by identity, NPU knobs back to their old values."""
    with _LOCK:
        _revert_locked()


def _revert_locked() -> None:
    global _SESSION
    session, _SESSION = _SESSION, None
    if session is None:
        return
    if not session.is_child:
        child_processes.collect(session)  # reports of children that already exited stay readable
    exit_signals.restore_sigterm(session)
    child_processes.restore_env(session)
    left = session.patcher.revert()
    if left:
        LOG.warning("npu_compat: revert could not restore %s (their upstream module does not import here)", ", ".join(left))
    if session.settings:
        npu.revert_runtime_profile(session.settings)
