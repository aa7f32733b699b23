"""Qt-side media plumbing: the decode thread and the audio output (the decoding itself is engine.media)."""
