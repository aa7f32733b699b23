"""Prompt sets: every protocol x reasoning x category renders, the official wording and sampler
match the benchmark's scripts, and our scorer reads a correct answer written as each prompt asks."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from engine.backends.base import ModelRequest
from engine.backends.inputs import InputOptions, RequestBuilder, clue_timestamps, official_frame_indices
from engine.backends.prompts import PromptError, load_prompt_set
from engine.parsing import parse_count
from engine.scoring import score_clue

SETS = ("official", "default")
PROTOCOLS = ("long", "ref", "clue")
STYLES = ("direct", "thinking")


def _one_per_category(items):
    chosen = {}
    for item in items:
        chosen.setdefault(item.category, item)
    assert set(chosen) == {"event", "object", "attribute"}
    return list(chosen.values())


def _question_template(prompts, request: ModelRequest) -> str:
    return prompts.templates[request.extra["question_template"]]


def _correct_answer(item, request: ModelRequest, template: str) -> str:
    """The ground truth written in the format the rendered prompt asks for."""
    thinking = request.reasoning == "thinking"
    if request.protocol != "clue":
        answer = str(item.answer)
    elif item.category == "event":
        answer = json.dumps([[f"{c.start:.2f}", f"{c.end:.2f}"] for c in item.clue])
    else:
        answer = json.dumps(_boxes_answer(item, spaced_keys='"Frame 1"' in template))
    wrapped = request.protocol == "clue" or thinking
    body = f"<answer>{answer}</answer>" if wrapped else answer
    return f"<think>I looked at every frame.</think>{body}" if thinking else body


def _boxes_answer(item, spaced_keys: bool) -> dict:
    """Each GT box in the first frame of its own timestamp, keyed as the prompt's example does."""
    times = clue_timestamps(item)
    key = (lambda n: f"Frame {n}") if spaced_keys else (lambda n: f"Frame{n}")
    answer: dict = {key(n + 1): [] for n in range(len(times))}
    if item.category == "object":
        for box in item.clue:
            answer[key(times.index(box.timestamp) + 1)].append(list(box.bbox))
    else:
        for label, cluster in enumerate(item.clue):
            for box in cluster:
                answer[key(times.index(box.timestamp) + 1)].append({"bbox": list(box.bbox), "label": f"group {label}"})
    return answer


@pytest.mark.parametrize("set_name", SETS)
@pytest.mark.parametrize("frames_as", ["video", "images"])
def test_every_combination_renders_and_a_correct_answer_scores_full(tiny_bench, tiny_items, set_name, frames_as):
    prompts = load_prompt_set(set_name)
    for protocol in PROTOCOLS:
        for reasoning in STYLES:
            builder = RequestBuilder(prompts, tiny_bench.videos, protocol, reasoning,
                                     InputOptions(frames=8, frames_as=frames_as))
            for item in _one_per_category(tiny_items):
                request = builder.build(item)
                assert ModelRequest.from_json(json.loads(json.dumps(request.to_json()))) == request
                assert item.question in request.text and "${" not in request.text
                assert request.prompt_set == set_name and request.prompt_hash == prompts.hash
                text = _correct_answer(item, request, _question_template(prompts, request))
                where = f"{set_name}/{protocol}/{reasoning}/{item.category}"
                if protocol != "clue":
                    strict = parse_count(text, "strict").value
                    assert strict == item.answer, where
                    official = parse_count(text, "official").value
                    # The official rule reads the whole text with word2number: <answer>-tagged counts fail.
                    assert (official == item.answer) == (reasoning == "direct"), where
                else:
                    for mode in ("official", "strict"):
                        score = score_clue(item, text, mode)
                        assert not score.failed and score.score == pytest.approx(1.0), (where, mode, text)


def test_official_wording_matches_the_published_scripts(tiny_bench, tiny_items):
    prompts = load_prompt_set("official")
    event, obj, attribute = _one_per_category(tiny_items)
    long_request = RequestBuilder(prompts, tiny_bench.videos, "long", "direct", InputOptions(frames_as="images")).build(event)
    texts = [part for kind, part in long_request.segments if kind == "text"]
    assert texts[0].strip() == "This is a video:"
    assert texts[1].strip() == f"Frame1 sampled at {long_request.frame_times[0]} seconds"
    assert texts[-1] == (f"Please answer the question '{event.question}' with a number. "
                         "Just output the number itself, don't output anything else.")
    assert [kind for kind, _ in long_request.segments[1:3]] == ["text", "frame"]
    clue_request = RequestBuilder(prompts, tiny_bench.videos, "clue", "direct").build(obj)
    n = len(clue_timestamps(obj))
    assert clue_request.text.startswith(f"There are {n} frames in the size of 320x180\nFrame1:\n")
    assert clue_request.frames_as == "images" and len(clue_request.frame_indices) == n
    assert "<answer>{\"Frame1\": [[x_min, y_min, x_max, y_max]]" in clue_request.text
    attribute_request = RequestBuilder(prompts, tiny_bench.videos, "clue", "direct").build(attribute)
    assert "'label': \"Label 1\"" in attribute_request.text
    event_request = RequestBuilder(prompts, tiny_bench.videos, "clue", "thinking").build(event)
    assert '<answer>[["start_time", "end_time"], ...]</answer>' in event_request.text
    assert "<think>" in event_request.text


@pytest.mark.parametrize("frame_count", [1, 7, 50, 51, 749, 750, 90001])
def test_sampler_is_the_scripts_formula(frame_count):
    seg = float(frame_count - 1) / 50
    expected = [int(seg / 2 + np.round(seg * i)) for i in range(50)]
    assert official_frame_indices(frame_count, 50) == expected


def test_prompt_hash_tracks_every_file(tmp_path):
    official, default = load_prompt_set("official"), load_prompt_set("default")
    assert official.hash != default.hash and load_prompt_set("official").hash == official.hash
    mine = tmp_path / "mine"
    shutil.copytree(default.folder, mine)
    assert load_prompt_set(mine).hash == default.hash
    (mine / "long" / "direct.txt").write_text("Count: ${question}", encoding="utf-8")
    edited = load_prompt_set(mine)
    assert edited.hash != default.hash and edited.name == "mine"


def test_broken_prompt_sets_are_user_errors(tmp_path, tiny_bench, tiny_items):
    with pytest.raises(PromptError, match="no such folder"):
        load_prompt_set(tmp_path / "nope")
    broken = tmp_path / "broken"
    shutil.copytree(load_prompt_set("official").folder, broken)
    (broken / "ref" / "thinking.txt").unlink()
    with pytest.raises(PromptError, match="ref/thinking.txt"):
        load_prompt_set(broken)
    typo = tmp_path / "typo"
    shutil.copytree(load_prompt_set("official").folder, typo)
    Path(typo / "long" / "direct.txt").write_text("How many? ${questoin}", encoding="utf-8")
    builder = RequestBuilder(load_prompt_set(typo), tiny_bench.videos, "long", "direct")
    with pytest.raises(PromptError, match="questoin"):
        builder.build(tiny_items[0])
