"""The one error type the patch engine raises for bad input; its message is one line."""


class PatchError(Exception):
    """Bad or unapplicable patch input. `str(err)` says what happened and what to do."""
