"""What every tool's command line shares: one-line usage errors and upstream's import noise silenced."""
from __future__ import annotations

import argparse
import sys
import warnings
from typing import NoReturn

# sam3 0.1.4 decorates functions with torch.jit.script at import time (torch 2.9+ warns on each), and its video
# module with torch.autocast("cuda") (torch warns on a host without CUDA, though no autocast region has run).
_UPSTREAM_NOISE = ((r"`torch\.jit\.script` is deprecated", FutureWarning),
                   (r"CUDA is not available or torch_xla is imported\. Disabling autocast", UserWarning))


class OneLineParser(argparse.ArgumentParser):
    """An ArgumentParser whose usage errors are one line (what is wrong, then where the help is), exit 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {' '.join(message.split())}; see {self.prog} --help\n")


def quiet_upstream_warnings() -> None:
    """Silence warnings that upstream's imports raise on every run and that say nothing about the run."""
    for pattern, category in _UPSTREAM_NOISE:
        warnings.filterwarnings("ignore", message=pattern, category=category)


def fail(prog: str, err: Exception) -> int:
    """Print a user error on one line; the exit status of a user error."""
    text = " ".join(str(err).split())
    sys.stderr.write(f"{prog}: error: {text}\n")
    return 2


__all__ = ["OneLineParser", "quiet_upstream_warnings", "fail"]
