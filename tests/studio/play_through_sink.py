"""Child process of the audio-device test: plays a video's audio through the studio's own playback
code (PlaybackController over the audio output `create_audio_output` picks) and logs the video
clock (the playhead) against the system's monotonic clock, as JSON on stdout.

Run by path: `python play_through_sink.py VIDEO SECONDS`. A separate process so PortAudio
enumerates devices after the test started its sound server.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from PySide6.QtCore import QCoreApplication, QTimer

from avr_studio.models import Playhead
from avr_studio.playback.playback import PlaybackController
from engine.media import open_video

PREFETCH_SECONDS = 0.8


def main() -> int:
    video, seconds = Path(sys.argv[1]), float(sys.argv[2])
    app = QCoreApplication([])
    playhead = Playhead()
    with open_video(video) as opened:
        playhead.set_media(opened.duration, opened.fps)
    controller = PlaybackController(playhead)
    clock: list[tuple[float, float]] = []
    playhead.time_changed.connect(lambda t: clock.append((time.monotonic(), t)))
    controller.set_audio(video)
    QTimer.singleShot(round(PREFETCH_SECONDS * 1000), lambda: playhead.set_playing(True))
    QTimer.singleShot(round((PREFETCH_SECONDS + seconds) * 1000), app.quit)
    start = time.monotonic()
    app.exec()
    playhead.set_playing(False)
    output = controller.output
    report = {"output": type(output).__name__, "muted": output.muted, "note": output.note,
              "device": _device_name(output), "started_at": start, "clock": clock}
    controller.shutdown()
    print(json.dumps(report))
    return 0


def _device_name(output) -> str:
    sd = getattr(output, "sd", None)
    if sd is None:
        return ""
    return str(sd.query_devices(sd.default.device[1])["name"])


if __name__ == "__main__":
    sys.exit(main())
