"""The tags-and-note editor and the reasoning view with seek links, driven like a user would."""

from __future__ import annotations

from PySide6.QtCore import Qt, QUrl
from PySide6.QtGui import QTextCursor

from avr_studio.models.annotations import Annotations
from avr_studio.widgets.item_notes import ItemNotes
from avr_studio.widgets.reasoning_view import ReasoningView


def test_tags_and_notes_are_edited_and_saved(qtbot, tmp_path):
    widget = ItemNotes()
    qtbot.addWidget(widget)
    notes = Annotations.for_run(tmp_path)
    widget.show_item(notes, 7)
    qtbot.keyClicks(widget.tag_input, "GT wrong")
    qtbot.keyClick(widget.tag_input, Qt.Key.Key_Return)
    assert notes.get(7).tags == ("GT wrong",)
    assert [b.text() for b in widget.tag_buttons] == ["GT wrong  ×"]
    qtbot.keyClicks(widget.note, "second knock off-screen")
    widget.show_item(notes, 8)  # switching items saves the note at once
    assert Annotations.for_run(tmp_path).get(7).note == "second knock off-screen"
    assert widget.note.toPlainText() == "" and widget.tag_buttons == []
    widget.show_item(notes, 7)
    assert widget.note.toPlainText() == "second knock off-screen"
    qtbot.mouseClick(widget.tag_buttons[0], Qt.MouseButton.LeftButton)
    assert notes.get(7).tags == ()


def test_a_bad_tag_is_a_message(qtbot, tmp_path):
    widget = ItemNotes()
    qtbot.addWidget(widget)
    widget.show_item(Annotations.for_run(tmp_path), 1)
    with qtbot.waitSignal(widget.status) as blocker:
        qtbot.keyClicks(widget.tag_input, "x" * 41)
        qtbot.keyClick(widget.tag_input, Qt.Key.Key_Return)
    assert "at most 40" in blocker.args[0]


def test_the_note_is_saved_after_a_pause_in_typing(qtbot, tmp_path):
    widget = ItemNotes()
    qtbot.addWidget(widget)
    widget.show_item(Annotations.for_run(tmp_path), 3)
    qtbot.keyClicks(widget.note, "ask Li")
    qtbot.waitUntil(lambda: Annotations.for_run(tmp_path).get(3).note == "ask Li", timeout=3000)


def test_timestamps_in_reasoning_seek_the_player(qtbot):
    sought = []
    view = ReasoningView(seek=sought.append)
    qtbot.addWidget(view)
    view.show_text("<think>a knock at 12.5 s, another at 1:05</think><answer>2</answer>")
    assert 'href="seek:12.5"' in view.toHtml() or "seek:12.5" in view.toHtml()
    view.resize(500, 200)
    view.show()
    cursor = QTextCursor(view.document())
    cursor.setPosition(view.toPlainText().index("1:05") + 2)
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=view.cursorRect(cursor).center())
    assert sought == [65.0]  # a real click on the link
    view.anchorClicked.emit(QUrl("https://example.org"))
    assert sought == [65.0]  # other links are ignored
    assert view.toPlainText().startswith("<think>a knock at 12.5 s")
