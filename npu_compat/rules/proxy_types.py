"""Stand-in classes that keep ``isinstance`` working (``torch.Generator``, ``torch.Event``, legacy
``torch.cuda.FloatTensor``...).

Calling a proxy class runs its ``construct`` function (which maps the device and builds an
instance of the real class); ``isinstance`` and ``issubclass`` ask ``instancecheck`` / the real
class, and attribute lookups (``torch.Event.from_ipc_handle``) go to the real class. A subclass
of a proxy in user code is not supported: construct returns instances of the real class.
"""
from __future__ import annotations

from typing import Any, Callable


class ProxyMeta(type):
    _construct: Callable[..., Any]
    _check: Callable[[Any], bool]
    _real: Any

    def __call__(cls, *args: Any, **kwargs: Any) -> Any:
        return cls._construct(*args, **kwargs)

    def __instancecheck__(cls, obj: Any) -> bool:
        return cls._check(obj)

    def __subclasscheck__(cls, sub: Any) -> bool:
        real = cls._real
        return real is not None and isinstance(sub, type) and issubclass(sub, real)

    def __getattr__(cls, name: str) -> Any:
        real = type.__getattribute__(cls, "_real")
        if real is None:
            raise AttributeError(name)
        return getattr(real, name)


def proxy_class(name: str, construct: Callable[..., Any], real: Any = None,
                check: Callable[[Any], bool] | None = None, doc: str = "") -> Any:
    """A class named ``name`` whose calls build via ``construct``; ``isinstance`` uses ``check``
    (default: an instance of ``real``)."""
    if check is None:
        check = (lambda obj: isinstance(obj, real)) if real is not None else (lambda obj: False)
    ns = {"_construct": staticmethod(construct), "_check": staticmethod(check), "_real": real,
          "__doc__": doc or getattr(real, "__doc__", None), "__module__": getattr(real, "__module__", __name__)}
    return ProxyMeta(name, (), ns)
