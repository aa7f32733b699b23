"""EXPERIMENTAL. The Ola worker: AV-Reasoner / Ola-Omni checkpoints, run in the user's Ola environment.

The published AV-Reasoner checkpoints are Ola-Omni models (`OlaQwenForCausalLM`, a Whisper +
BEATs speech encoder, an Oryx ViT), which only the Ola code base (github.com/Ola-Omni/Ola,
Python 3.10, torch 2.1, transformers 4.43) can load. This file is started by
engine.backends.ola_backend with that environment's interpreter, BY FILE PATH: it imports
nothing of our package, only worker_protocol.py from its own folder, and nothing but the
standard library at import time (Python 3.10+). It speaks the same protocol as the
transformers worker (docs/worker-protocol.md).

Load options: `model` (checkpoint folder), `device` ("cuda"; Ola's loader needs a GPU),
`encoders_dir` (folder holding `large-v3.pt` and the BEATs file that the checkpoint's config
names by relative path; default: the checkpoint folder when they are there, else the current
folder, as in Ola's own instructions).

What the model receives, following Ola's inference script and AV-Reasoner's training code:
the request's frames as one video (Ola pools frames; per-frame captions cannot sit between
them, so the text keeps the frame times), the audio of the request's spans concatenated,
as Whisper log-mel chunks of 30 s (at most 25) plus the raw wave for BEATs, and the prompt
`<speech><image>\\n{text}` in Ola's `qwen_1_5` chat template. Greedy decoding, streamed.
"""

from __future__ import annotations

import os
import sys
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from worker_protocol import (  # noqa: E402  (found next to this file, not through our package)
    KIND_INPUT,
    KIND_OOM,
    KIND_UNAVAILABLE,
    WorkerError,
    serve,
)

WORKER_NAME = "ola"

# Ola reads these at import of its modules (resolution of video frames and images); the
# values are those of Ola's inference script and AV-Reasoner's trainer.
OLA_ENVIRONMENT = {
    "LOWRES_RESIZE": "384x32", "HIGHRES_BASE": "0x32", "VIDEO_RESIZE": "0x64", "VIDEO_MAXRES": "480",
    "VIDEO_MINRES": "288", "MAXRES": "1536", "MINRES": "0", "FORCE_NO_DOWNSAMPLE": "1",
    "LOAD_VISION_EARLY": "1", "PAD2STRIDE": "1",
}
AUDIO_RATE = 16000
CHUNK_SAMPLES = 30 * AUDIO_RATE  # Whisper's window
MAX_CHUNKS = 25
PAD_TOKEN_ID = 151643  # Qwen2's <|endoftext|>, Ola's padding id
SPEECH_IMAGE = "<speech><image>"


def require_ola() -> None:
    """A clear error when this interpreter has no Ola (the common set-up mistake)."""
    import importlib.util

    missing = [name for name in ("ola", "torch", "whisper") if importlib.util.find_spec(name) is None]
    if "ola" in missing:
        raise WorkerError(KIND_UNAVAILABLE, f"Ola is not installed in this environment ({sys.executable}, Python "
                          f"{sys.version.split()[0]}): clone github.com/Ola-Omni/Ola and `pip install -e .` it "
                          "there, then pass that environment's python with --python (see docs/servers.md)")
    if missing:
        raise WorkerError(KIND_UNAVAILABLE, f"the Ola environment {sys.executable} lacks {', '.join(missing)} "
                          "(Ola's `pip install -e .` installs them)")


def load(options: dict[str, Any]) -> OlaModel:
    require_ola()
    for key, value in OLA_ENVIRONMENT.items():
        os.environ.setdefault(key, value)
    model_dir = options.get("model")
    if not model_dir or not os.path.isdir(model_dir):
        raise WorkerError(KIND_UNAVAILABLE, f"--model must be an Ola / AV-Reasoner checkpoint folder, got {model_dir!r}")
    return OlaModel(model_dir, options.get("device") or "cuda", options.get("encoders_dir"))


def classify(exc: BaseException) -> str | None:
    """torch's out-of-memory error is an "oom" (the worker stays usable for the next item)."""
    return KIND_OOM if type(exc).__name__ == "OutOfMemoryError" else None


class OlaModel:
    """An Ola checkpoint loaded once; `generate` streams the answer to one protocol request."""

    def __init__(self, model_dir: str, device: str, encoders_dir: str | None) -> None:
        import torch
        from ola.model.builder import load_pretrained_model

        if device.startswith("cuda") and not torch.cuda.is_available():
            raise WorkerError(KIND_UNAVAILABLE, "no CUDA GPU visible: Ola's loader moves its vision tower to cuda")
        base = encoders_folder(model_dir, encoders_dir)
        overrides = encoder_overrides(model_dir, base)
        here = os.getcwd()
        try:
            os.chdir(base)  # other relative paths in the config (the vision tower) resolve here too
            tokenizer, model, image_processor, _ = load_pretrained_model(model_dir, None, device=device, **overrides)
        finally:
            os.chdir(here)
        self.tokenizer = tokenizer
        self.model = model.to(device).eval().to(torch.bfloat16)
        self.image_processor = image_processor
        self.device = device
        self.info = {"model_id": os.path.basename(os.path.normpath(model_dir)), "device": device,
                     "dtype": "bfloat16", "worker": WORKER_NAME, "experimental": True}
        self._last: dict[str, Any] = {}

    def stats(self) -> dict[str, Any]:
        return dict(self._last)

    def generate(self, message: dict[str, Any]):
        import threading
        import time

        import torch
        from transformers import TextIteratorStreamer

        request = message["request"]
        video = self._video_tensor(message.get("frames"))
        speech = self._speech_inputs(message.get("audio") or [])
        input_ids, stopping = self._prompt_ids(request, has_audio=speech["real"])
        streamer = TextIteratorStreamer(self.tokenizer, skip_prompt=True, skip_special_tokens=True)
        arguments = dict(
            inputs=input_ids, images=video, images_highres=video, modalities=["video"],
            speech=speech["mels"], speech_lengths=speech["lengths"], speech_chunks=speech["chunks"],
            speech_wav=speech["wavs"], attention_mask=input_ids.ne(PAD_TOKEN_ID).long(),
            use_cache=True, stopping_criteria=[stopping], do_sample=False, num_beams=1,
            max_new_tokens=int(request.get("max_new_tokens") or 1024), streamer=streamer,
        )
        failure: list[BaseException] = []

        def run() -> None:
            try:
                with torch.inference_mode():
                    self.model.generate(**arguments)
            except BaseException as exc:  # handed to the protocol loop below
                failure.append(exc)
                streamer.end()

        start = time.monotonic()
        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        pieces = []
        for text in streamer:
            pieces.append(text)
            yield text
        thread.join()
        if failure:
            raise failure[0]
        self._last = {"seconds": round(time.monotonic() - start, 3), "chars": sum(map(len, pieces))}

    # --- inputs ------------------------------------------------------------------------------

    def _video_tensor(self, frames: dict | None):
        import numpy as np
        import torch
        from ola.mm_utils import process_anyres_video
        from PIL import Image

        if not frames:
            raise WorkerError(KIND_INPUT, "the Ola worker needs frames (Ola answers about a video)")
        array = np.load(frames["path"])
        self.image_processor.do_resize = False
        self.image_processor.do_center_crop = False
        processed = [process_anyres_video(Image.fromarray(frame), self.image_processor) for frame in array]
        return torch.cat(processed, dim=0).to(self.device, dtype=torch.bfloat16)

    def _speech_inputs(self, audio: list[dict]) -> dict[str, Any]:
        import numpy as np
        import torch

        samples = [np.load(part["path"]).astype(np.float32).reshape(-1) for part in audio]
        wave = np.concatenate(samples) if samples else np.zeros(0, dtype=np.float32)
        if wave.size == 0:  # no audio: Ola's own placeholder of one silent window
            return {"real": False, "mels": [torch.zeros(1, 3000, 128, dtype=torch.bfloat16, device=self.device)],
                    "lengths": [torch.tensor([3000], device=self.device)],
                    "wavs": [torch.zeros(1, CHUNK_SAMPLES, device=self.device)],
                    "chunks": [torch.tensor([1], device=self.device)]}
        mels, wavs = _whisper_chunks(wave)
        return {"real": True, "mels": [mels.to(self.device, dtype=torch.bfloat16)],
                "lengths": [torch.tensor([mels.shape[1]] * mels.shape[0], device=self.device)],
                "wavs": [wavs.to(self.device)], "chunks": [torch.tensor([mels.shape[0]], device=self.device)]}

    def _prompt_ids(self, request: dict, has_audio: bool):
        from ola.constants import IMAGE_TOKEN_INDEX
        from ola.conversation import conv_templates
        from ola.datasets.preprocess import tokenizer_image_token, tokenizer_speech_image_token
        from ola.mm_utils import KeywordsStoppingCriteria

        text = "".join(part for kind, part in request["segments"] if kind == "text")
        conversation = conv_templates["qwen_1_5"].copy()
        if request.get("system_prompt"):
            conversation.system = f"<|im_start|>system\n{request['system_prompt']}"
        marker = SPEECH_IMAGE if has_audio else "<image>"
        conversation.append_message(conversation.roles[0], f"{marker}\n{text}")
        conversation.append_message(conversation.roles[1], None)
        prompt = conversation.get_prompt()
        tokenize = tokenizer_speech_image_token if has_audio else tokenizer_image_token
        input_ids = tokenize(prompt, self.tokenizer, IMAGE_TOKEN_INDEX, return_tensors="pt").unsqueeze(0)
        input_ids = input_ids.to(self.device)
        return input_ids, KeywordsStoppingCriteria([conversation.sep], self.tokenizer, input_ids)


def _whisper_chunks(wave):
    """30 s windows (the last one padded) as 128-bin log-mels, and the raw windows for BEATs."""
    import torch
    import whisper

    windows = [wave[start:start + CHUNK_SAMPLES] for start in range(0, len(wave), CHUNK_SAMPLES)][:MAX_CHUNKS]
    windows = [whisper.pad_or_trim(window) for window in windows]
    mels = torch.stack([whisper.log_mel_spectrogram(window, n_mels=128).permute(1, 0) for window in windows])
    wavs = torch.stack([torch.from_numpy(window) for window in windows])
    return mels, wavs


ENCODER_KEYS = ("speech_encoder", "music_encoder")  # Whisper large-v3 and BEATs files in an Ola config


def encoders_folder(model_dir: str, encoders_dir: str | None) -> str:
    """Where the encoder files are looked for: the given folder, else the checkpoint folder
    when it holds them, else the current folder (Ola's own convention)."""
    if encoders_dir:
        return encoders_dir
    names = [os.path.basename(name) for name in _configured_encoders(model_dir).values()]
    if names and all(os.path.exists(os.path.join(model_dir, name)) for name in names):
        return model_dir
    return os.getcwd()


def encoder_overrides(model_dir: str, base: str) -> dict[str, str]:
    """Absolute paths for the encoder files the config names (often an absolute path on the
    authors' machine): as given if it exists, else by name in `base`; passed to
    from_pretrained as config overrides so Ola's loader finds them."""
    overrides = {}
    for key, name in _configured_encoders(model_dir).items():
        candidates = [name, os.path.join(base, name), os.path.join(base, os.path.basename(name))]
        found = next((path for path in candidates if os.path.isfile(path)), None)
        if found is None:
            raise WorkerError(KIND_UNAVAILABLE, f"the checkpoint's {key} file {os.path.basename(name)!r} is not in "
                              f"{base}: download Ola's speech encoders (large-v3.pt and "
                              "BEATs_iter3_plus_AS2M_finetuned_on_AS2M_cpt2.pt) into the checkpoint folder")
        overrides[key] = os.path.abspath(found)
    return overrides


def _configured_encoders(model_dir: str) -> dict[str, str]:
    import json

    with open(os.path.join(model_dir, "config.json"), encoding="utf-8") as handle:
        config = json.load(handle)
    return {key: config[key] for key in ENCODER_KEYS if isinstance(config.get(key), str) and config[key].endswith(".pt")}


if __name__ == "__main__":
    raise SystemExit(serve(WORKER_NAME, load, classify=classify))
