"""Errors a user can fix. The CLI prints them as one line (no traceback) and exits with status 2."""


class UserError(Exception):
    """A problem with the user's input, files or options. The message names the problem and the fix."""


class CheckpointError(UserError, ValueError):
    """A file that is not a usable checkpoint: wrong format, truncated, unknown keys or mismatched shapes."""
