"""The worker protocol with a real child process under Python 3.10, run by file path.

The echo worker (standard library only) stands in for the Ola worker: it proves the protocol
module runs on 3.10 without our package, and exercises every parent-side path: handshake,
streamed chunks, typed errors, a crash, a silent worker, cancel, and the restart after each.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from engine.backends.base import BackendError, BackendUnavailable, Cancelled, GenerationTimeout, WorkerCrashed
from engine.backends.worker_process import WorkerProcess
from engine.backends.workers import worker_protocol

ECHO = Path(__file__).with_name("echo_worker.py")
PROTOCOL_DIR = Path(worker_protocol.__file__).parent


def _python310() -> str:
    for candidate in (shutil.which("python3.10"), os.path.expanduser("~/.pyenv/versions/3.10.13/bin/python")):
        if candidate and os.path.exists(candidate):
            version = subprocess.run([candidate, "-c", "import sys; print(sys.version_info[:2])"],
                                     capture_output=True, text=True)
            if version.stdout.strip() == "(3, 10)":
                return candidate
    pytest.skip("Python 3.10 not found")


@pytest.fixture(scope="module")
def python310() -> str:
    return _python310()


def _worker(python: str, tmp_path: Path, **load_options) -> WorkerProcess:
    env = {"PATH": os.environ.get("PATH", ""), "AVR_WORKER_PROTOCOL_DIR": str(PROTOCOL_DIR)}
    return WorkerProcess("echo", [python, str(ECHO)], load_options, env=env, startup_timeout=30, log_dir=tmp_path)


def _ask(worker: WorkerProcess, text: str, behaviour: str = "echo", **kwargs) -> str:
    payload = {"request": {"text": text}, "frames": None, "audio": [], "options": {"behaviour": behaviour}}
    return "".join(m["text"] for m in worker.request(payload, **kwargs))


def test_handshake_under_python_310_and_streamed_chunks(python310: str, tmp_path: Path) -> None:
    worker = _worker(python310, tmp_path)
    ready = worker.start()
    try:
        assert ready["python"].startswith("3.10.")
        payload = {"request": {"text": "one two three"}, "frames": None, "audio": [], "options": {}}
        chunks = [m["text"] for m in worker.request(payload)]
        assert chunks == ["one ", "two ", "three "]
        assert worker.info["last_stats"] == {"words": 3}
        assert "generating two" in worker.log_path.read_text()  # stdout went to the log
    finally:
        worker.close()
    assert not worker.alive and not worker.log_path.exists()


def test_load_failure_is_backend_unavailable(python310: str, tmp_path: Path) -> None:
    worker = _worker(python310, tmp_path, refuse=True)
    with pytest.raises(BackendUnavailable, match="Ola is not installed in this environment"):
        worker.start()
    assert not worker.alive


def test_out_of_memory_is_an_item_error_and_the_worker_stays(python310: str, tmp_path: Path) -> None:
    worker = _worker(python310, tmp_path)
    worker.start()
    pid = worker.pid
    try:
        with pytest.raises(BackendError, match="out of memory") as caught:
            _ask(worker, "a b c", "oom")
        assert not isinstance(caught.value, WorkerCrashed)
        assert worker.pid == pid and worker.alive
        assert _ask(worker, "still here") == "still here "
    finally:
        worker.close()


def test_a_dying_worker_is_worker_crashed_then_restarts(python310: str, tmp_path: Path) -> None:
    worker = _worker(python310, tmp_path)
    worker.start()
    first_pid = worker.pid
    try:
        with pytest.raises(WorkerCrashed, match=r"died \(exit code 3\) while answering item 7"):
            _ask(worker, "a b c", "die", what="while answering item 7")
        assert not worker.alive
        assert _ask(worker, "after restart") == "after restart "
        assert worker.pid != first_pid
    finally:
        worker.close()


def test_silence_is_a_timeout_and_stops_the_worker(python310: str, tmp_path: Path) -> None:
    worker = _worker(python310, tmp_path)
    worker.start()
    try:
        with pytest.raises(GenerationTimeout, match="sent nothing for 0.5 s"):
            _ask(worker, "a b c", "hang", timeout=0.5)
        assert not worker.alive
    finally:
        worker.close()


def test_cancel_stops_the_worker(python310: str, tmp_path: Path) -> None:
    worker = _worker(python310, tmp_path)
    worker.start()
    cancel = threading.Event()
    payload = {"request": {"text": "a b c"}, "frames": None, "audio": [], "options": {"behaviour": "hang"}}
    try:
        with pytest.raises(Cancelled):
            for _ in worker.request(payload, cancel=cancel):
                cancel.set()
        assert not worker.alive
    finally:
        worker.close()


def test_abandoning_a_request_stops_the_worker(python310: str, tmp_path: Path) -> None:
    worker = _worker(python310, tmp_path)
    worker.start()
    payload = {"request": {"text": "a b c"}, "frames": None, "audio": [], "options": {"behaviour": "hang"}}
    stream = worker.request(payload)
    assert next(stream)["text"] == "a "
    stream.close()  # the caller stopped reading (e.g. the runner's timeout)
    assert not worker.alive
    worker.close()


def test_protocol_module_is_standard_library_only() -> None:
    source = Path(worker_protocol.__file__).read_text()
    imports = {line.split()[1].split(".")[0] for line in source.splitlines()
               if line.startswith(("import ", "from "))}
    assert imports <= set(sys.stdlib_module_names) | {"__future__"}, imports


def test_media_files_round_trip_and_fall_back_from_a_small_shm(tmp_path: Path, monkeypatch) -> None:
    import numpy as np

    from engine.backends import media_handoff
    from engine.backends.media_handoff import MediaFiles, RequestMedia, load_media_files

    frames = np.arange(2 * 4 * 6 * 3, dtype=np.uint8).reshape(2, 4, 6, 3)
    media = RequestMedia(frames, (np.linspace(-1, 1, 160, dtype=np.float32),))
    with MediaFiles(media, parent=tmp_path) as files:
        back = load_media_files(files.payload)
        assert np.array_equal(back.frames, frames) and np.array_equal(back.audio[0], media.audio[0])
        assert files.payload["frames"]["shape"] == [2, 4, 6, 3] and files.payload["audio"][0]["samples"] == 160
    assert not files.folder.exists()
    # A /dev/shm without room for the frames is not used (the temp dir is).
    monkeypatch.setattr(media_handoff.shutil, "disk_usage", lambda _: type("U", (), {"free": 10 << 20})())
    assert media_handoff.shared_memory_dir(needed_bytes=138 << 20) is None


def test_the_worker_exits_when_its_parent_is_killed(python310: str, tmp_path: Path) -> None:
    import signal
    import textwrap
    import time

    import psutil

    parent_script = textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(Path(__file__).parents[3])!r})
        from tests.engine.workers.test_worker_process import _worker
        from pathlib import Path
        worker = _worker({python310!r}, Path({str(tmp_path)!r}))
        worker.start()
        print(worker.pid, flush=True)
        payload = {{"request": {{"text": "a b c"}}, "frames": None, "audio": [], "options": {{"behaviour": "hang"}}}}
        for _ in worker.request(payload):
            pass
    """)
    parent = subprocess.Popen([sys.executable, "-c", parent_script], stdout=subprocess.PIPE, text=True)
    worker_pid = int(parent.stdout.readline())
    time.sleep(0.5)  # the worker is now inside a generation that would last a minute
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            if psutil.Process(worker_pid).status() == psutil.STATUS_ZOMBIE:
                break
        except psutil.NoSuchProcess:
            break
        time.sleep(0.2)
    else:
        os.kill(worker_pid, signal.SIGKILL)
        pytest.fail("the worker outlived its parent by 10 s")
