"""Rule packs: client rule tables (one model, one library) that register with the shim.

The core knows no client by name. A pack is a :class:`RulePack` (a name and a function from
the target to rule rows) and reaches the shim in one of three ways, all found at ``apply()``:

- a folder inside this package with a ``rule_pack.py`` that defines ``PACK``
  (``npu_compat/sam3/rule_pack.py`` is the first);
- an entry point in the ``npu_compat.rule_packs`` group of any installed distribution,
  ``name = "module:PACK"`` (a third-party pack needs no edit of the kit);
- :func:`register` from Python, before ``apply()``.

``ShimOptions.packs_off`` (``--no-pack NAME``) leaves a pack out; naming a pack that does not
exist is an error, so a typo never leaves the pack on silently. A pack declares its own
command-line options (:class:`PackOption`, and an ``off_flag`` such as ``--no-sam3``); the shim's
command line (``npu_compat.cli_options``) adds those of every pack found, so it names no pack.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from importlib.metadata import entry_points
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable

from npu_compat.errors import NpuCompatError

if TYPE_CHECKING:
    from npu_compat.patcher import Rule
    from npu_compat.target import Target

ENTRY_POINT_GROUP = "npu_compat.rule_packs"
PACK_MODULE = "rule_pack"  # npu_compat/<folder>/rule_pack.py
PACK_ATTR = "PACK"


@dataclass(frozen=True)
class PackOption:
    """A command-line option of one pack: ``flag VALUE`` sets ``ShimOptions.pack_options[pack][key]``.

    ``type`` turns the text into the value (raise ``argparse.ArgumentTypeError`` or ``ValueError``
    for bad input); ``help`` should name the environment variable the pack falls back to, if any.
    """

    flag: str  # "--bpe"
    key: str  # "bpe_path"
    help: str
    metavar: str = "VALUE"
    type: Callable[[str], Any] = str


@dataclass(frozen=True)
class RulePack:
    """A named set of rule rows for one client, and the command-line options it reads."""

    name: str
    rules: Callable[["Target"], list["Rule"]]
    description: str = ""
    options: tuple[PackOption, ...] = ()  # read by its rules from ShimOptions.pack_options[name]
    off_flag: str = ""  # a short flag that leaves this pack out, the same as --no-pack NAME ("--no-sam3")


_REGISTERED: dict[str, RulePack] = {}
_DISCOVERED: dict[str, tuple[str, Callable[[], RulePack]]] | None = None


def register(pack: RulePack) -> None:
    """Add a pack for the next ``apply()`` (and every one after it)."""
    if not isinstance(pack, RulePack):
        raise NpuCompatError(f"register() got {type(pack).__name__}, not a RulePack", "pass npu_compat.rule_packs.RulePack(name, rules)")
    _REGISTERED[pack.name] = pack


def unregister(name: str) -> None:
    """Remove a pack added by :func:`register` (no error if it is not there)."""
    _REGISTERED.pop(name, None)


def _folder_packs() -> dict[str, tuple[str, Callable[[], RulePack]]]:
    found: dict[str, tuple[str, Callable[[], RulePack]]] = {}
    root = Path(__file__).resolve().parent
    for entry in sorted(root.iterdir()):
        if (entry / f"{PACK_MODULE}.py").is_file():
            module = f"{__package__}.{entry.name}.{PACK_MODULE}"
            found[entry.name] = (module, lambda m=module: getattr(importlib.import_module(m), PACK_ATTR))
    return found


def _entry_point_packs() -> dict[str, tuple[str, Callable[[], RulePack]]]:
    return {ep.name: (ep.value.split(":")[0], ep.load) for ep in entry_points(group=ENTRY_POINT_GROUP)}


def _discovered() -> dict[str, tuple[str, Callable[[], RulePack]]]:
    """Folder and entry-point packs by name (cached: found once per process)."""
    global _DISCOVERED
    if _DISCOVERED is None:
        found = _folder_packs()
        for name, (module, load) in _entry_point_packs().items():
            if name in found and found[name][0] != module:
                raise NpuCompatError(f"two rule packs are named '{name}' ({found[name][0]} and {module})",
                                     "uninstall one of the distributions that provide them")
            found.setdefault(name, (module, load))
        _DISCOVERED = found
    return _DISCOVERED


def available() -> list[str]:
    """Names of every pack the next ``apply()`` can install."""
    return sorted({*_discovered(), *_REGISTERED})


def enabled_packs(packs_off: Iterable[str] = ()) -> list[RulePack]:
    """The packs to install, in name order, without those in ``packs_off``."""
    off = set(packs_off)
    names = available()
    unknown = sorted(off - set(names))
    if unknown:
        raise NpuCompatError(f"no rule pack named {', '.join(map(repr, unknown))}",
                             f"known packs: {', '.join(names) or 'none'}")
    return [_load(name) for name in names if name not in off]


def loadable_packs() -> list[RulePack]:
    """Every pack found that loads, in name order (a broken one is named by ``apply()``, not here):
    the command line reads their options from these."""
    packs = []
    for name in available():
        try:
            packs.append(_load(name))
        except NpuCompatError:
            continue
    return packs


def _load(name: str) -> RulePack:
    if name in _REGISTERED:
        return _REGISTERED[name]
    module, load = _discovered()[name]
    try:
        pack = load()
    except Exception as exc:  # a broken pack must name itself
        raise NpuCompatError(f"rule pack '{name}' ({module}) failed to load: {exc}",
                             f"fix it or leave it out with --no-pack {name}") from exc
    if not isinstance(pack, RulePack):
        raise NpuCompatError(f"rule pack '{name}' ({module}) is a {type(pack).__name__}, not a RulePack",
                             f"define {PACK_ATTR} = RulePack(...) there")
    return pack
