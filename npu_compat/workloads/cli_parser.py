"""What every tool's command line shares: one-line usage errors and upstream's import noise silenced."""
from __future__ import annotations

import argparse
import sys
import warnings
from typing import NoReturn

# sam3 0.1.4 decorates functions with torch.jit.script at import time; torch 2.9+ warns on each.
_UPSTREAM_NOISE = (r"`torch\.jit\.script` is deprecated",)


class OneLineParser(argparse.ArgumentParser):
    """An ArgumentParser whose usage errors are one line (what is wrong, then where the help is), exit 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message}; see {self.prog} --help\n")


def quiet_upstream_warnings() -> None:
    """Silence warnings that upstream's imports raise on every run and that say nothing about the run."""
    for pattern in _UPSTREAM_NOISE:
        warnings.filterwarnings("ignore", message=pattern, category=FutureWarning)


def fail(prog: str, err: Exception) -> int:
    """Print a user error on one line; the exit status of a user error."""
    text = " ".join(str(err).split())
    sys.stderr.write(f"{prog}: error: {text}\n")
    return 2


__all__ = ["OneLineParser", "quiet_upstream_warnings", "fail"]
