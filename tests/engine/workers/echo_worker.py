"""A real worker for protocol tests, run BY FILE PATH (as the Ola worker is), standard library only.

Its "model" streams the request's text back word by word. Load options and request options
let a test make it fail on purpose: refuse to load, raise MemoryError, die, or go silent.
"""

import os
import sys
import time

sys.path.insert(0, os.environ["AVR_WORKER_PROTOCOL_DIR"])  # the protocol file, not our package

import worker_protocol as wp  # noqa: E402


class EchoModel:
    def __init__(self, options):
        if options.get("refuse"):
            raise wp.WorkerError(wp.KIND_UNAVAILABLE, "Ola is not installed in this environment")
        print("model code printing to stdout must not disturb the protocol")
        self.info = {"model_id": "echo", "python": sys.version.split()[0]}
        self._stats = {}

    def generate(self, message):
        behaviour = message["options"].get("behaviour", "echo")
        words = message["request"]["text"].split()
        for position, word in enumerate(words):
            if behaviour == "oom" and position == 1:
                raise MemoryError("CUDA out of memory. Tried to allocate 20.00 GiB")
            if behaviour == "die" and position == 1:
                os._exit(3)
            if behaviour == "hang" and position == 1:
                time.sleep(60)
            print(f"generating {word}")  # stdout goes to the log, never to the parent's pipe
            yield word + " "
        self._stats = {"words": len(words)}

    def stats(self):
        return self._stats


if __name__ == "__main__":
    raise SystemExit(wp.serve("echo", EchoModel))
