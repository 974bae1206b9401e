"""One shim session: resolve the target, install every rule, apply the NPU profile; revert all."""
from __future__ import annotations

import time

from npu_compat import child_processes, npu, simulation
from npu_compat.device_mapping import DeviceMapper
from npu_compat.errors import NpuCompatError
from npu_compat.fallbacks import check_off_names, install_fallbacks
from npu_compat.patcher import Context, Patcher
from npu_compat.report import LOG, MigrationReport, configure_logging
from npu_compat.rule_packs import enabled_packs
from npu_compat.rules import core_rules
from npu_compat.session import Session
from npu_compat.shim_options import ShimOptions
from npu_compat.target import parse_device, resolve_target

__all__ = ["ShimOptions", "Session", "apply", "revert", "current"]


_SESSION: Session | None = None


def current() -> Session | None:
    """The active session, or None."""
    return _SESSION


def apply(device: str | None = None, options: ShimOptions | None = None, **kwargs: object) -> Session:
    """Install the shim. Idempotent: a second call with the same target returns the same session."""
    global _SESSION
    opts = options or ShimOptions(device=device, **kwargs)  # type: ignore[arg-type]
    if options is not None and device is not None:
        opts = ShimOptions(**{**vars(options), "device": device})
    if _SESSION is not None:
        kind, index = parse_device(opts.device) if opts.device else (_SESSION.target.type, _SESSION.target.index)
        if kind == _SESSION.target.type and index in (None, _SESSION.target.index):
            return _SESSION
        raise NpuCompatError(
            f"the shim is already applied for {_SESSION.target.device()}",
            "call npu_compat.revert() before applying it for another device",
        )
    if opts.fallback_off:
        check_off_names(opts.fallback_off)  # before anything is installed: a typo names no op
    start = time.perf_counter()
    configure_logging(opts.log_level)
    target = resolve_target(opts.device)
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
    except BaseException:
        patcher.revert()
        raise
    session.apply_seconds = time.perf_counter() - start
    _SESSION = session
    simulation.listen_for_device_fallbacks(session.report_device_fallback)  # torch_npu's own CPU fallbacks
    return session


def revert() -> None:
    """Remove the shim: every attribute back by identity, NPU knobs back to their old values."""
    global _SESSION
    session, _SESSION = _SESSION, None
    if session is None:
        return
    simulation.listen_for_device_fallbacks(None)
    if not session.is_child:
        child_processes.collect(session)  # reports of children that already exited stay readable
    child_processes.restore_env(session)
    left = session.patcher.revert()
    if left:
        LOG.warning("npu_compat: revert could not restore %s (their upstream module does not import here)", ", ".join(left))
    if session.settings:
        npu.revert_runtime_profile(session.settings)
