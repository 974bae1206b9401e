"""One shim session: resolve the target, install every rule, apply the NPU profile; revert all."""
from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from typing import Any, Mapping

from npu_compat import child_processes
from npu_compat.errors import NpuCompatError
from npu_compat.npu import RuntimeProfile, Setting
from npu_compat.patcher import Context, Patcher
from npu_compat.report import MigrationReport, configure_logging
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
        from npu_compat.fallbacks import check_off_names

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
        from npu_compat.fallbacks import install_fallbacks  # op fallbacks: npu_compat/fallbacks/

        install_fallbacks(ctx, patcher)
        if target.type == "npu":
            from npu_compat import npu

            session.settings = npu.apply_runtime_profile(opts.npu_profile)
            report.settings = [s.as_dict() for s in session.settings]
        child_processes.propagate(session)  # every process started from here on runs shimmed
    except BaseException:
        patcher.revert()
        raise
    session.apply_seconds = time.perf_counter() - start
    _SESSION = session
    return session


def revert() -> None:
    """Remove the shim: every attribute back by identity, NPU knobs back to their old values."""
    global _SESSION
    session, _SESSION = _SESSION, None
    if session is None:
        return
    if not session.is_child:
        child_processes.collect(session)  # reports of children that already exited stay readable
    child_processes.restore_env(session)
    left = session.patcher.revert()
    if left:
        from npu_compat.report import LOG

        LOG.warning("npu_compat: revert could not restore %s (their upstream module does not import here)", ", ".join(left))
    if session.settings:
        from npu_compat import npu

        npu.revert_runtime_profile(session.settings)
