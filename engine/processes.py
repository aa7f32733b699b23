"""Whether a process recorded in a file (a trainer's `status.json`, a run's manifest) still lives."""

from __future__ import annotations


def pid_alive(pid: object) -> bool:
    """True when `pid` names a running process (one we may not signal counts as running)."""
    import os

    if not isinstance(pid, int) or isinstance(pid, bool) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
