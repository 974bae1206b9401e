"""The monkeypatch engine: install declared rules, guard signatures, revert exactly.

A rule names an owner (``"torch.cuda"``, ``"torch.Tensor"``, ``"sam3.model_builder"``), an
attribute, a factory that builds the replacement from the original, and a category. Install
records the raw attribute from the owner's ``__dict__`` (or its absence), so revert restores
it by identity, or deletes what did not exist before. Owners that are not imported yet are
patched by a post-import hook the moment they are imported.
"""
from __future__ import annotations

import enum
import importlib
import inspect
import sys
import types
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Iterable

import torch

from npu_compat import dynamo_tables
from npu_compat.errors import RuleError
from npu_compat.import_hook import PostImportHook
from npu_compat.jit_builtins import alias_builtin, restore_builtin
from npu_compat.rebind import rebind_leftovers
from npu_compat.report import MigrationReport, RuleStatus

if TYPE_CHECKING:
    from npu_compat.device_mapping import DeviceMapper
    from npu_compat.shim_options import ShimOptions
    from npu_compat.target import Target

MISSING: Any = object()


class Category(str, enum.Enum):
    MATCH = "match"  # same meaning on the target
    MODIFIED = "modified"  # behaviour differs: the rule's note says how
    NOOP = "no-op"  # accepted and ignored


@dataclass
class Context:
    """What a replacement factory may use."""

    target: "Target"
    report: MigrationReport
    options: "ShimOptions"
    mapper: "DeviceMapper"
    state: dict[str, Any] = field(default_factory=dict)  # shared by the rows of one session (e.g. the cpu devices)


Factory = Callable[[Context, "Rule", Any], Any]


@dataclass(frozen=True)
class Rule:
    """One row of a redirect table."""

    key: str
    owner: str
    attr: str
    make: Factory
    category: Category = Category.MATCH
    note: str = ""
    lazy: bool = False  # owner may be imported later: patch it on import
    before_exec: bool = False  # owner is a module whose own top-level code must see the replacement: patch it
    # when the module is created, before its code runs (if it is imported already, at once)
    check_signature: bool = True
    install_missing: bool = False  # create the attribute even if the original lacks it
    unchecked: str = ""  # why the replacement's signature is not compared with the original's (then check_signature is off)

    def __post_init__(self) -> None:
        if self.category is not Category.MATCH and not self.note:
            raise RuleError(f"rule {self.key} is {self.category.value} but says nothing of how", "add a note")
        if self.unchecked:
            object.__setattr__(self, "check_signature", False)
        elif not self.check_signature:
            raise RuleError(f"rule {self.key} opts out of the signature check but says not why", "give unchecked='why'")


def resolve_owner(path: str, import_missing: bool = True) -> Any:
    """Import ``a.b.C`` as module ``a.b`` then attribute ``C``; MISSING if absent."""
    parts = path.split(".")
    for cut in range(len(parts), 0, -1):
        name = ".".join(parts[:cut])
        module = sys.modules.get(name)
        if module is None and import_missing:
            try:
                module = importlib.import_module(name)
            except ImportError:
                continue
        if module is None:
            continue
        obj = module
        for attr in parts[cut:]:
            obj = getattr(obj, attr, MISSING)
            if obj is MISSING:
                return MISSING
        return obj
    return MISSING


UNREADABLE = "any call: the original has no readable signature (a C builtin), the replacement takes *args, **kwargs"
ANY_CALL = "any call: the replacement takes *args, **kwargs"


def signature_problem(original: Any, replacement: Any) -> str | None:
    """Why ``replacement`` cannot take every call ``original`` takes, or None if it can.

    The replacement is read by its own parameters: ``inspect.signature`` would follow the
    ``__wrapped__`` that ``functools.wraps`` sets and compare the original with itself. The
    original is read as its callers see it (through its own ``__wrapped__``, if any). An original
    without a readable signature (a C builtin) can be called any way, so the replacement must
    take ``*args, **kwargs``. Positional parameters must keep their places (a swapped order
    passes the arguments to the wrong names) and an optional parameter must stay optional.
    """
    if takes_any_call(replacement):
        return None  # nothing to compare: reading the original's signature is most of apply()'s guard cost
    try:
        repl = inspect.signature(replacement, follow_wrapped=False)
    except (TypeError, ValueError):
        return "the replacement has no readable signature"
    rp = repl.parameters
    kinds = {p.kind for p in rp.values()}
    var_pos = inspect.Parameter.VAR_POSITIONAL in kinds
    var_kw = inspect.Parameter.VAR_KEYWORD in kinds
    try:
        orig = inspect.signature(original)
    except (TypeError, ValueError):
        return None if (var_pos and var_kw) else "the original has no readable signature, so the replacement must take *args, **kwargs"
    positional = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    orig_pos = [p for p in orig.parameters.values() if p.kind in positional]
    repl_pos = [q for q in rp.values() if q.kind in positional]
    for i, p in enumerate(orig_pos):
        if i < len(repl_pos):
            q = repl_pos[i]
            if p.kind is p.POSITIONAL_OR_KEYWORD and q.kind is q.POSITIONAL_OR_KEYWORD and q.name != p.name:
                return f"positional parameter {i + 1} is '{p.name}' in the original, '{q.name}' in the replacement"
        elif not var_pos:
            return f"the original takes '{p.name}' as positional parameter {i + 1}, the replacement takes {len(repl_pos)}"
    for p in orig.parameters.values():
        if p.kind is p.VAR_POSITIONAL:
            if not var_pos:
                return f"original takes *{p.name}, replacement does not"
        elif p.kind is p.VAR_KEYWORD:
            if not var_kw:
                return f"original takes **{p.name}, replacement does not"
        elif p.name in rp:
            q = rp[p.name]
            if p.kind is p.POSITIONAL_OR_KEYWORD and q.kind not in (q.POSITIONAL_OR_KEYWORD,):
                if not (var_pos and var_kw):
                    return f"parameter '{p.name}' is {p.kind.description} in the original, {q.kind.description} in the replacement"
            if p.default is not p.empty and q.default is q.empty:
                return f"parameter '{p.name}' is optional in the original, required in the replacement"
        elif not (var_kw if p.kind is p.KEYWORD_ONLY else var_pos if p.kind is p.POSITIONAL_ONLY else (var_pos and var_kw)):
            return f"replacement lacks parameter '{p.name}'"
    for q in rp.values():
        if q.default is q.empty and q.kind in (q.POSITIONAL_OR_KEYWORD, q.KEYWORD_ONLY, q.POSITIONAL_ONLY):
            if q.name not in orig.parameters:
                return f"replacement requires '{q.name}', which the original does not take"
    return None


def takes_any_call(fn: Any) -> bool:
    """A plain ``def f(*args, **kwargs)`` (most wrappers): it takes every call, whatever it wraps.

    Read from the code object, without ``inspect``; anything else (a partial, a class, an explicit
    ``__signature__``) is left to :func:`signature_problem`'s full comparison.
    """
    code = getattr(fn, "__code__", None)
    if type(fn) is not types.FunctionType or code is None or "__signature__" in vars(fn):
        return False
    named = code.co_argcount + code.co_kwonlyargcount  # co_argcount counts positional-only ones too
    return named == 0 and bool(code.co_flags & inspect.CO_VARARGS) and bool(code.co_flags & inspect.CO_VARKEYWORDS)


def signature_checked(original: Any, replacement: Any) -> str:
    """How the signature check covered ``original``: for the report's ``signature`` field."""
    if takes_any_call(replacement):
        return ANY_CALL
    try:
        inspect.signature(original)
    except (TypeError, ValueError):
        return UNREADABLE
    return "checked"


@dataclass
class Installed:
    rule: Rule
    owner: Any
    had: bool
    raw: Any
    new: Any = None  # the object set on the owner


@dataclass
class Patcher:
    """Installs rules and reverts them exactly."""

    ctx: Context
    strict: bool = False
    installed: list[Installed] = field(default_factory=list)
    _hook: PostImportHook | None = None
    _fold_armed: bool = False  # a callback waits for dynamo's constant-fold tables (dynamo_tables.py)
    # Modules imported before any rule was installed: revert's rebind scan skips them.
    loaded_before: frozenset[str] = field(default_factory=lambda: frozenset(sys.modules))

    def install(self, rules: Iterable[Rule]) -> None:
        for rule in rules:
            if (rule.lazy or rule.before_exec) and not _imported(rule.owner):
                self._defer(rule)
            else:
                self._install_one(rule)

    def _follow_dynamo(self, original: Any, replacement: Any) -> None:
        """torch.compile's tables follow a swapped torch function (npu_compat/dynamo_tables.py): its name
        tables are rebuilt at the next compile, and its constant-fold table gets the original beside the
        replacement, now if dynamo is loaded, else when it is (with every torch swap made by then)."""
        dynamo_tables.forget()
        if dynamo_tables.FOLD_MODULE in sys.modules:
            if original is not MISSING:
                dynamo_tables.fold_originals([(original, replacement)])
        elif not self._fold_armed:  # dynamo is imported later, at the first torch.compile
            self._fold_armed = True
            self._watch().callbacks.setdefault(dynamo_tables.FOLD_MODULE, []).append(self._fold_originals)

    def _fold_originals(self) -> None:
        dynamo_tables.fold_originals([(getattr(i.raw, "__func__", i.raw), getattr(i.new, "__func__", i.new))
                                      for i in self.installed if i.rule.owner.startswith("torch") and i.raw is not MISSING])

    def _watch(self) -> PostImportHook:
        if self._hook is None:
            self._hook = PostImportHook()
            sys.meta_path.insert(0, self._hook)
        return self._hook

    def _defer(self, rule: Rule) -> None:
        hook = self._watch()
        module = _module_part(rule.owner)
        waiting = hook.before if rule.before_exec else hook.callbacks
        waiting.setdefault(module, []).append(lambda: self._install_one(rule))
        self.ctx.report.rules.append(RuleStatus(rule.key, rule.category.value, "pending", f"waits for import of {module}", rule.note))

    def _status(self, rule: Rule, status: str, reason: str = "", signature: str = "") -> None:
        entry = RuleStatus(rule.key, rule.category.value, status, reason, rule.note, signature)
        for i, st in enumerate(self.ctx.report.rules):
            if st.key == rule.key and st.status == "pending":
                self.ctx.report.rules[i] = entry
                return
        self.ctx.report.rules.append(entry)

    def _install_one(self, rule: Rule) -> None:
        owner = sys.modules if rule.owner == "sys.modules" else resolve_owner(rule.owner)
        if owner is MISSING:
            self._status(rule, "skipped", f"{rule.owner} does not exist in this environment")
            return
        table = owner if isinstance(owner, dict) else vars(owner)
        had = rule.attr in table
        raw = table.get(rule.attr, MISSING)
        original = raw if isinstance(owner, dict) else getattr(owner, rule.attr, MISSING)
        if original is MISSING and not rule.install_missing:
            self._status(rule, "skipped", f"{rule.owner}.{rule.attr} does not exist in torch {_torch_version()}")
            return
        replacement = rule.make(self.ctx, rule, original)
        if replacement is MISSING:
            self._status(rule, "skipped", "no equivalent on the target")
            return
        signature = f"not checked: {rule.unchecked}" if rule.unchecked else "no original" if original is MISSING else ""
        if rule.check_signature and original is not MISSING:
            problem = signature_problem(original, replacement)
            if problem:
                if self.strict:
                    raise RuleError(f"rule {rule.key}: {problem}", "update the rule for this torch version")
                self._status(rule, "skipped", f"signature differs: {problem}")
                return
            signature = signature_checked(original, replacement)
        if rule.owner.startswith("torch"):
            alias_builtin(original, replacement)  # stays scriptable: npu_compat/jit_builtins.py
            self._follow_dynamo(original, replacement)  # and compilable
        if isinstance(raw, staticmethod):
            replacement = staticmethod(replacement)
        if isinstance(owner, dict):
            owner[rule.attr] = replacement
        else:
            setattr(owner, rule.attr, replacement)
        self.installed.append(Installed(rule, owner, had, raw, replacement))
        self._status(rule, "installed", signature=signature)

    def revert(self) -> list[str]:
        """Restore every attribute by identity; delete those that did not exist.

        Then names that other modules bound to a replacement while the shim was on get the
        original back (``npu_compat/rebind.py``). Returns the names that could not be restored.
        """
        undone = [(i.owner, i.rule.attr, i.had, i.raw, i.new) for i in self.installed]
        while self.installed:
            item = self.installed.pop()
            if item.rule.owner.startswith("torch"):
                original = None if item.raw is MISSING else getattr(item.raw, "__func__", item.raw)
                restore_builtin(original, getattr(item.new, "__func__", item.new))
            if isinstance(item.owner, dict):
                if item.had:
                    item.owner[item.rule.attr] = item.raw
                else:
                    item.owner.pop(item.rule.attr, None)
            elif item.had:
                setattr(item.owner, item.rule.attr, item.raw)
            else:
                try:
                    delattr(item.owner, item.rule.attr)
                except AttributeError:
                    pass
        if self._hook is not None:
            try:
                sys.meta_path.remove(self._hook)
            except ValueError:
                pass
            self._hook = None
        left = rebind_leftovers(undone, self.loaded_before)
        dynamo_tables.forget()
        return left


def _module_part(path: str) -> str:
    """The longest importable-looking module prefix of a dotted owner path."""
    parts = path.split(".")
    # Owners are modules or classes in modules; classes start with an upper-case letter.
    while len(parts) > 1 and parts[-1][:1].isupper():
        parts.pop()
    return ".".join(parts)


def _imported(owner: str) -> bool:
    return _module_part(owner) in sys.modules


def _torch_version() -> str:
    return torch.__version__
