"""Put first on a child's PYTHONPATH by a shimmed parent (npu_compat/child_processes.py).

It arms the same torch-import hook as the ``.pth`` file, then runs the ``sitecustomize`` that
this one shadows, if there is one. This folder is deliberately not a package.
"""
import importlib.machinery
import importlib.util
import os
import sys


def _boot() -> None:
    here = os.path.dirname(os.path.abspath(__file__))
    if importlib.util.find_spec("npu_compat") is None:  # the parent found the kit by a path the child lacks
        sys.path.append(os.path.dirname(os.path.dirname(here)))
    try:
        from npu_compat import autoapply

        autoapply.arm()
    except Exception as err:  # never break the child's start-up
        sys.stderr.write(f"npu_compat: error: the shim could not be armed in this child process ({err})\n")
    rest = [p for p in sys.path if os.path.abspath(p or os.curdir) != here]
    spec = importlib.machinery.PathFinder.find_spec("sitecustomize", rest)
    if spec is not None and spec.loader is not None:
        module = importlib.util.module_from_spec(spec)
        sys.modules["sitecustomize"] = module
        spec.loader.exec_module(module)


_boot()
