"""The experimental Ola worker: its entry runs by file path under Python 3.10 with nothing installed."""

from __future__ import annotations

import importlib.util
import json
import os
from pathlib import Path

import pytest

from engine.backends.base import BackendUnavailable, create_backend
from engine.backends.ola_backend import WORKER_ENTRY, ola_worker_env
from tests.engine.workers.test_worker_process import _python310 as python310


@pytest.fixture()
def checkpoint(tmp_path) -> Path:
    folder = tmp_path / "AV-Reasoner"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({
        "architectures": ["OlaQwenForCausalLM"],
        "speech_encoder": "/mnt/authors/ola/large-v3.pt",
        "music_encoder": "./BEATs_iter3_plus_AS2M_finetuned_on_AS2M_cpt2.pt",
    }))
    return folder


def test_entry_under_python_310_shakes_hands_then_says_ola_is_missing(checkpoint):
    python = python310()
    with pytest.raises(BackendUnavailable) as caught:
        create_backend("ola", python=python, model=str(checkpoint))
    message = str(caught.value)
    # the worker answered hello (protocol checked by the parent), received load, and reported:
    assert "could not load the model" in message
    assert "Ola is not installed in this environment" in message
    assert python in message and "Python 3.10." in message


def test_the_worker_sees_neither_our_package_nor_our_path():
    env = ola_worker_env()
    assert "PYTHONPATH" not in env and env["HF_HUB_OFFLINE"] == "1"
    source = WORKER_ENTRY.read_text()
    assert "from engine" not in source and "import engine" not in source


def test_clear_errors_before_any_process_starts(checkpoint, tmp_path):
    with pytest.raises(BackendUnavailable, match="needs --python"):
        create_backend("ola", model=str(checkpoint))
    with pytest.raises(BackendUnavailable, match="no such executable"):
        create_backend("ola", python=str(tmp_path / "nope"), model=str(checkpoint))
    with pytest.raises(BackendUnavailable, match="checkpoint folder"):
        create_backend("ola", python=python310(), model=str(tmp_path / "missing"))


def _worker_module():
    spec = importlib.util.spec_from_file_location("ola_worker_under_test", WORKER_ENTRY)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_encoder_files_are_found_next_to_the_checkpoint(checkpoint, tmp_path):
    worker = _worker_module()
    with pytest.raises(worker.WorkerError, match="large-v3.pt"):
        worker.encoder_overrides(str(checkpoint), worker.encoders_folder(str(checkpoint), None))
    for name in ("large-v3.pt", "BEATs_iter3_plus_AS2M_finetuned_on_AS2M_cpt2.pt"):
        (checkpoint / name).write_bytes(b"weights")
    base = worker.encoders_folder(str(checkpoint), None)
    assert base == str(checkpoint)
    overrides = worker.encoder_overrides(str(checkpoint), base)
    assert overrides == {
        "speech_encoder": os.path.join(str(checkpoint), "large-v3.pt"),
        "music_encoder": os.path.join(str(checkpoint), "BEATs_iter3_plus_AS2M_finetuned_on_AS2M_cpt2.pt"),
    }
