"""Errors a user can cause: each carries a one-line message fit for a status bar or stderr."""


class UserError(Exception):
    """Bad input from the user (a file, a flag, a folder); never a bug in this program."""
