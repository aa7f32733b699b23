"""Tags and notes per item, saved beside the run: plain Python, no Qt."""

from __future__ import annotations

import json

import pytest

from avr_studio.models.annotations import Annotations, AnnotationsError, ItemNote, annotations_path
from engine.errors import UserError


def test_the_file_sits_beside_the_run(tmp_path):
    run = tmp_path / "runA"
    (run / "clue_acc").mkdir(parents=True)
    jsonl = tmp_path / "runB.jsonl"
    jsonl.write_text("")
    assert annotations_path(run) == run / "annotations.json"
    assert annotations_path(run / "clue_acc") == run / "annotations.json"  # the protocol folder's run
    assert annotations_path(jsonl) == tmp_path / "runB.annotations.json"


def test_tags_and_notes_are_saved_at_once_and_read_back(tmp_path):
    notes = Annotations.for_run(tmp_path)
    seen = []
    notes.changed.connect(seen.append)
    notes.add_tag(12, "  GT   wrong ")
    notes.add_tag(12, "audio-only")
    notes.add_tag(12, "GT wrong")  # already there
    notes.add_tag(30, "audio-only")
    notes.set_note(12, "the second knock is off-screen\nask Li")
    assert seen == [12, 12, 30, 12]
    on_disk = json.loads((tmp_path / "annotations.json").read_text())
    assert on_disk["items"]["12"] == {"tags": ["GT wrong", "audio-only"], "note": "the second knock is off-screen\nask Li"}
    again = Annotations.for_run(tmp_path)
    assert again.get(12) == ItemNote(("GT wrong", "audio-only"), "the second knock is off-screen\nask Li")
    assert again.get(99) == ItemNote()
    assert again.tags() == [("audio-only", 2), ("GT wrong", 1)]
    assert again.indices_with_tag("audio-only") == {12, 30}


def test_an_item_with_nothing_left_disappears_from_the_file(tmp_path):
    notes = Annotations.for_run(tmp_path)
    notes.add_tag(5, "odd")
    notes.set_note(5, "hmm")
    notes.remove_tag(5, "odd")
    notes.set_note(5, "   ")
    assert len(notes) == 0
    assert json.loads((tmp_path / "annotations.json").read_text())["items"] == {}
    assert [p.name for p in tmp_path.iterdir()] == ["annotations.json"]  # no temp file left behind


def test_bad_tags_are_user_errors(tmp_path):
    notes = Annotations.for_run(tmp_path)
    with pytest.raises(UserError, match="empty"):
        notes.add_tag(1, "   ")
    with pytest.raises(AnnotationsError, match="at most"):
        notes.add_tag(1, "x" * 41)
    assert not (tmp_path / "annotations.json").exists()


@pytest.mark.parametrize("content", ["{not json", '{"version": 1}', '{"items": {"a": {"tags": []}}}',
                                     '{"items": {"3": {"tags": "one"}}}', '{"items": {"3": {"tags": [""]}}}'])
def test_a_corrupt_file_is_reported_and_left_alone(tmp_path, content):
    path = tmp_path / "annotations.json"
    path.write_text(content)
    with pytest.raises(AnnotationsError, match="not a tags-and-notes file"):
        Annotations.for_run(tmp_path)
    assert path.read_text() == content


def test_a_failed_save_keeps_memory_and_disk_in_step(tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the run folder should be")
    notes = Annotations(blocker / "annotations.json")
    seen = []
    notes.changed.connect(seen.append)
    with pytest.raises(AnnotationsError, match="cannot save"):
        notes.add_tag(2, "lost?")
    assert notes.get(2) == ItemNote() and len(notes) == 0
    assert seen == []
