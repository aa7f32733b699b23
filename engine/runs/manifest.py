"""`<out>.manifest.json` beside the results file: what the run is and how far it got.

Other programs (the studio's Run panel) read it to show totals and state without parsing the
command line; the rows themselves stay in the JSONL. Rewritten atomically after every item.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from engine.errors import UserError
from engine.io import write_json_atomic


def manifest_path(out: str | Path) -> Path:
    out = Path(out)
    return out.with_name(out.name + ".manifest.json")


def write_manifest(out: str | Path, spec: dict, identity: dict, status: str, total: int, done: int,
                   failed: int, started: float, message: str = "") -> None:
    """status: running | finished | interrupted | failed."""
    write_json_atomic(manifest_path(out), {
        "status": status, "total": total, "done": done, "failed": failed, "message": message,
        "started": started, "updated": time.time(), "pid": os.getpid(),
        "identity": identity, "spec": spec,
    })


def check_same_protocol(out: str | Path, protocol: str) -> None:
    """Rows do not name their protocol; the manifest does. Refuse to mix protocols in one file."""
    path = manifest_path(out)
    if not Path(out).exists() or not path.exists():
        return
    try:
        earlier = json.loads(path.read_text(encoding="utf-8")).get("spec", {}).get("protocol")
    except (OSError, ValueError, AttributeError):
        return
    if earlier and earlier != protocol:
        raise UserError(f"{out} holds {earlier} answers (see {path.name}); give another --out for --protocol {protocol}")
