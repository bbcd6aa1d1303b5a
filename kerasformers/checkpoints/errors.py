"""Errors raised while locating, reading or writing checkpoints.

Every problem with a user's checkpoint surfaces as a `CheckpointError` whose
message names the file (and the variable / shapes where that helps), so a user
staring at a traceback knows which file to look at.
"""

import difflib


class CheckpointError(ValueError):
    """A checkpoint is missing, malformed, truncated or lacks a variable."""


class MissingVariableError(CheckpointError, KeyError):
    """A variable name that is not in the checkpoint.

    Also a `KeyError`, so `reader[name]` behaves like a mapping lookup for
    code that catches `KeyError`.
    """

    def __str__(self):
        # KeyError.__str__ would wrap the message in quotes; keep it readable.
        return str(self.args[0]) if self.args else ""


def missing_variable(name, available, path):
    """Build the error for an unknown `name`, listing the closest known names."""
    close = difflib.get_close_matches(name, list(available), n=5, cutoff=0.6)
    hint = f" Close matches: {', '.join(close)}." if close else ""
    return MissingVariableError(
        f"Variable {name!r} not found in checkpoint {path} ({len(available)} variables).{hint}"
    )
