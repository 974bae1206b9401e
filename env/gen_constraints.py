#!/usr/bin/env python3
"""Print pins from npu_compat/env/versions.toml for the Dockerfile and the env/ shell scripts.

Examples:
  python3 env/gen_constraints.py --line cann8.5.0-910b > /tmp/constraints.txt
  python3 env/gen_constraints.py --line cann8.5.0-910b --field torch_npu
  python3 env/gen_constraints.py --field ffmpeg.sha256
  python3 env/gen_constraints.py --list

Stdlib only, and it loads versions.py by file path, so it runs before torch or this kit is
installed (the Dockerfile's first steps).
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

VERSIONS_PY = Path(__file__).resolve().parent.parent / "npu_compat" / "env" / "versions.py"


def _load_versions() -> ModuleType:
    spec = importlib.util.spec_from_file_location("npu_compat_env_versions", VERSIONS_PY)
    if spec is None or spec.loader is None:
        raise SystemExit(f"error: cannot load {VERSIONS_PY}; run from a checkout of the kit")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look the module up while the class is built
    spec.loader.exec_module(module)
    return module


def field_value(versions: ModuleType, line: str | None, key: str) -> str:
    """One value: ``ffmpeg.KEY``, ``decord.KEY``, ``default_line`` or a field of the line."""
    section, _, sub = key.partition(".")
    table = versions.load_table()
    if section in ("ffmpeg", "decord") and sub:
        value = table[section].get(sub)
    elif key == "default_line":
        value = versions.default_line()
    else:
        value = getattr(versions.get_line(line), key, None)
    if value is None or isinstance(value, dict):
        raise SystemExit(f"error: no field {key!r} in the version table")
    return str(value)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Print a pip constraints file, or one field, from the kit's version table "
        "(npu_compat/env/versions.toml).")
    parser.add_argument("--line", help="table line (default: the table's default_line)")
    parser.add_argument("--field", help="print one value, e.g. torch_npu, base_image, "
                        "ffmpeg.version, ffmpeg.sha256, decord.decord2")
    parser.add_argument("--list", action="store_true", help="print the known line names")
    parser.add_argument("-o", "--output", help="write the constraints here instead of stdout")
    args = parser.parse_args(argv)
    versions = _load_versions()
    try:
        if args.list:
            out = "\n".join(versions.known_lines()) + "\n"
        elif args.field:
            out = field_value(versions, args.line, args.field) + "\n"
        else:
            out = versions.constraints_text(args.line)
    except versions.VersionTableError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.output:
        Path(args.output).write_text(out)
    else:
        sys.stdout.write(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
