"""Errors a user can cause: each carries a one-line message fit for a status bar or stderr.

`UserError` is the one root: loaders, media and scoring raise subclasses of it, so the CLI and the
studio catch this one type and treat everything else as a bug.
"""


class UserError(Exception):
    """Bad input from the user (a file, a flag, a folder); never a bug in this program."""
