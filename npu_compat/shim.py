"""One shim session: resolve the target, install every rule, apply the NPU profile; revert all."""
from __future__ import annotations

import threading
from dataclasses import fields
import time

from npu_compat import child_processes, exit_signals, npu, simulation
from npu_compat.device_mapping import DeviceMapper
from npu_compat.errors import NpuCompatError
from npu_compat.fallbacks import check_off_names, install_fallbacks
from npu_compat.patcher import Context, Patcher
from npu_compat.report import LOG, MigrationReport, configure_logging
from npu_compat.rule_packs import enabled_packs
from npu_compat.rules import core_rules
from npu_compat.session import Session
from npu_compat.shim_options import ShimOptions, behaviour_fields
from npu_compat.target import parse_device, resolve_target

__all__ = ["ShimOptions", "Session", "apply", "revert", "current"]


_SESSION: Session | None = None
_LOCK = threading.RLock()  # one session per process, however many threads call apply()


def current() -> Session | None:
    """The active session, or None."""
    return _SESSION


def apply(device: str | None = None, options: ShimOptions | None = None, **kwargs: object) -> Session:
    """Install the shim, or return the session already installed with the same options.

    ``apply()`` with no arguments while a session is active returns it, and so does one whose options
    differ only in reporting (``log_level``: the active session's stays). Options that change what the
    session does and differ from the active session's are an error that names them (``revert()``
    first), except over a session
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
            # an option the second call leaves unset (None: autocast, log_level) takes the active one's
            differ = [f.name for f in fields(ShimOptions)
                      if f.name != "device" and getattr(opts, f.name) is not None
                      and getattr(opts, f.name) != getattr(active.options, f.name)]
            if not asked or not differ:
                return active
            if not active.implicit:
                # options that only change the report (log_level) may differ: a kit tool that applies the
                # shim itself runs under `python -m npu_compat.apply --log-level ...`; the first call's stay
                behaviour = [name for name in differ if name in behaviour_fields()]
                if not behaviour:
                    return active
                raise NpuCompatError(
                    f"the shim is already applied with other options ({', '.join(behaviour)} differ); "
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
        patcher.install(core_rules(target, opts))
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
    simulation.listen_for_device_fallbacks(session.report_device_fallback)  # torch_npu's own CPU fallbacks
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
    simulation.listen_for_device_fallbacks(None)
    if not session.is_child:
        child_processes.collect(session)  # reports of children that already exited stay readable
    exit_signals.restore_sigterm(session)
    child_processes.restore_env(session)
    left = session.patcher.revert()
    if left:
        LOG.warning("npu_compat: revert could not restore %s (their upstream module does not import here)", ", ".join(left))
    if session.settings:
        npu.revert_runtime_profile(session.settings)
