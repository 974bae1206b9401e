"""``python -m npu_compat.apply [options] -- script.py args`` (or ``-m module args``).

Runs an unmodified CUDA-written script on the target device, with ``sys.argv``, ``sys.path``
and ``__main__`` as ``python script.py`` would set them, then writes the migration report.
``--install`` / ``--uninstall`` / ``--status`` manage a ``.pth`` hook that applies the shim in
every Python of this environment as soon as it imports torch.
"""
from __future__ import annotations

import argparse
import os
import runpy
import sys
import types
from typing import Any, Sequence

from npu_compat.workloads.cli_parser import OneLineParser

USAGE = "python -m npu_compat.apply [options] (-- script.py | -m module) [args...]"


def _split(argv: Sequence[str]) -> tuple[list[str], str | None, str | None, list[str]]:
    """Split our options from the program: returns (options, script, module, program_args)."""
    argv = list(argv)
    for i, arg in enumerate(argv):
        if arg == "--":
            rest = argv[i + 1 :]
            return argv[:i], (rest[0] if rest else None), None, rest[1:]
        if arg == "-m":
            rest = argv[i + 1 :]
            return argv[:i], None, (rest[0] if rest else None), rest[1:]
    return argv, None, None, []


def build_parser() -> argparse.ArgumentParser:
    from npu_compat.cli_options import add_shim_arguments

    parser = OneLineParser(
        prog="python -m npu_compat.apply",
        usage=USAGE,
        description="Run an unmodified CUDA-written PyTorch script (e.g. SAM3) on the target device. Device "
        "arguments and torch.cuda.* are redirected, NPU runtime settings applied, every change logged with its call "
        "site, and a migration report written.",
        epilog="Examples:\n  python -m npu_compat.apply --device cpu --report out/report.json -- demo.py --flag\n"
        "  python -m npu_compat.apply -m my_package.main\n  python -m npu_compat.apply --install",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--report", metavar="PATH",
                        help="write the JSON migration report here at exit, with the reports of every process the program "
                        "started merged in; {pid} and {rank} expand, rank 0 outside torchrun (default $NPU_COMPAT_REPORT; schema: docs/report.md)")
    hooks = parser.add_mutually_exclusive_group()
    hooks.add_argument("--install", action="store_true", help="add a .pth hook: every Python here starts shimmed")
    hooks.add_argument("--uninstall", action="store_true", help="remove the .pth hook")
    hooks.add_argument("--status", action="store_true", help="show whether the hook is installed and the target")
    parser.add_argument("--site-dir", metavar="DIR", help="site-packages folder for --install/--uninstall/--status")
    add_shim_arguments(parser)
    return parser


def _fail(message: str) -> int:
    sys.stderr.write(f"npu_compat: error: {message}\n")
    return 2


def main(argv: Sequence[str] | None = None) -> int:
    from npu_compat import autoapply
    from npu_compat.cli_options import shim_options
    from npu_compat.errors import NpuCompatError

    ours, script, module, program_args = _split(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    args = parser.parse_args(ours)
    try:
        if args.install or args.uninstall or args.status:
            if script is not None or module is not None:
                flag = "--install" if args.install else "--uninstall" if args.uninstall else "--status"
                return _fail(f"{flag} takes no program, but one was given after '{'--' if script else '-m'}'; "
                             f"run {flag} alone, then run the program as usual")
            print(autoapply.manage("install" if args.install else "uninstall" if args.uninstall else "status",
                                   args.site_dir))
            return 0
        if script is None and module is None:
            return _fail(f"no program to run; put the script after '--' or use -m module (usage: {USAGE})")
        if script is not None and os.path.isdir(script) and not os.path.isfile(os.path.join(script, "__main__.py")):
            return _fail(f"'{script}' is a directory without __main__.py, not a script; give the .py file after '--' "
                         f"(or a package with -m)")
        if script is not None and not os.path.exists(script):
            return _fail(f"script '{script}' not found; check the path (usage: {USAGE})")
        if args.report:
            from npu_compat.output_paths import check_output_file

            check_output_file(args.report, "--report")  # a folder or unwritable place fails now, not after the run
        options = shim_options(args)
        from npu_compat import shim

        session = shim.apply(options=options)
    except NpuCompatError as err:
        return _fail(str(err))
    report = args.report or (None if session.is_child else os.environ.get("NPU_COMPAT_REPORT"))
    session.report_path = report  # also for a report written early (os.exec*)
    return _run(session, script, module, program_args, report)


def _run(session: Any, script: str | None, module: str | None, program_args: list[str], report: str | None) -> int:
    from npu_compat.child_processes import finish

    code: Any = 0
    try:
        if script is not None:
            sys.argv = [script, *program_args]
            sys.path[0] = os.path.abspath(script) if os.path.isdir(script) else os.path.dirname(os.path.abspath(script))
            runpy.run_path(script, run_name="__main__")
        else:
            sys.argv = [module or "", *program_args]
            sys.path[0] = os.getcwd()
            runpy.run_module(module or "", run_name="__main__", alter_sys=True)
    except SystemExit as exc:
        code = exc.code
    except ImportError as exc:
        if module is not None and exc.name == module:
            code = _fail(f"module '{module}' not found; check the name (usage: {USAGE})")
        else:
            raise
    finally:
        finish(session, report, summary=True)  # merges the reports of the processes the program started
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    sys.stderr.write(f"{code}\n")
    return 1


class _CallableModule(types.ModuleType):
    """Importing ``npu_compat.apply`` rebinds the package attribute ``npu_compat.apply`` to
    this module; making the module callable keeps ``npu_compat.apply(...)`` working."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        from npu_compat import shim

        return shim.apply(*args, **kwargs)


if __name__ == "__main__":
    sys.exit(main())
else:
    sys.modules[__name__].__class__ = _CallableModule
