"""Tailing growing files and measuring progress: plain Python, no Qt, no process."""

from __future__ import annotations

import json

import pytest

from avr_studio.workers.progress import ProgressMeter, format_duration
from avr_studio.workers.tail import FileTail, LineBuffer, parse_json_lines
from engine.io import write_text_atomic


def test_line_buffer_keeps_a_torn_line_until_its_newline():
    lines = LineBuffer()
    assert lines.feed(b'{"a": 1}\n{"b"') == ['{"a": 1}']
    assert lines.pending_bytes == 4
    assert lines.feed(b": 2}") == []
    assert lines.feed(b"\r\n") == ['{"b": 2}']
    assert lines.flush() == []


def test_line_buffer_never_splits_a_multibyte_character():
    text = "durée 5 s\n".encode()
    lines = LineBuffer()
    cut = text.index("é".encode()) + 1  # inside the two-byte é
    assert lines.feed(text[:cut]) == []
    assert lines.feed(text[cut:]) == ["durée 5 s"]


def test_file_tail_reads_only_new_bytes(tmp_path):
    path = tmp_path / "rows.jsonl"
    tail = FileTail(path)
    assert tail.read_lines() == []  # not there yet
    with open(path, "w") as handle:
        handle.write('{"index": 0}\n{"ind')
    assert tail.read_lines() == ['{"index": 0}']
    offset = tail.offset
    with open(path, "a") as handle:
        handle.write('ex": 1}\n')
    assert tail.read_lines() == ['{"index": 1}']
    assert tail.offset > offset
    assert tail.read_lines() == []


def test_a_line_longer_than_one_read_still_arrives_whole(tmp_path):
    path = tmp_path / "rows.jsonl"
    long_line = json.dumps({"index": 0, "pred": "y" * 5000})
    path.write_text(long_line + "\n" + '{"index": 1}\n')
    tail = FileTail(path, max_bytes=1024)
    assert tail.read_lines()[0] == long_line


def test_file_tail_takes_a_big_backlog_in_slices(tmp_path):
    path = tmp_path / "rows.jsonl"
    path.write_text("".join(json.dumps({"index": i, "text": "x" * 100}) + "\n" for i in range(1000)))
    tail = FileTail(path, max_bytes=16 * 1024)
    batches = []
    while True:
        batches.append(tail.read_lines())
        if not tail.has_backlog:
            break
    assert len(batches) > 5
    assert [json.loads(line)["index"] for batch in batches for line in batch] == list(range(1000))


def test_file_tail_starts_over_when_the_file_is_replaced(tmp_path):
    path = tmp_path / "rows.jsonl"
    path.write_text('{"index": 0}\n{"index": 1}\n')
    tail = FileTail(path)
    assert len(tail.read_lines()) == 2
    write_text_atomic(path, '{"index": 7}\n')  # a new inode
    assert tail.read_lines() == ['{"index": 7}']
    assert tail.resets == 1
    with open(path, "w") as handle:  # truncated in place, smaller than what was read
        handle.write("")
    assert tail.read_lines() == []
    with open(path, "a") as handle:
        handle.write('{"index": 9}\n')
    assert tail.read_lines() == ['{"index": 9}']
    assert tail.resets == 2


def test_file_tail_forgets_a_torn_line_the_writer_cuts_off(tmp_path):
    path = tmp_path / "rows.jsonl"
    path.write_text('{"index": 0}\n{"index": 1, "pred": "cut by a ki')
    tail = FileTail(path)
    assert tail.read_lines() == ['{"index": 0}']
    with open(path, "rb+") as handle:  # what `avr infer` does on resume: cut back to the last newline
        handle.truncate(len('{"index": 0}\n'))
    with open(path, "a") as handle:  # rewritten longer than the torn half before we looked again
        handle.write('{"index": 1, "pred": "a much longer answer this time"}\n')
    assert tail.read_lines() == ['{"index": 1, "pred": "a much longer answer this time"}']
    assert tail.resets == 0  # nothing read twice


def test_parse_json_lines_reports_corrupt_lines():
    parsed = parse_json_lines(['{"index": 1}', "", "not json", "[1, 2]", '{"index": 2}'])
    assert [r["index"] for r in parsed.records] == [1, 2]
    assert parsed.bad_lines == ("not json", "[1, 2]")


def test_progress_rate_ignores_rows_from_before_the_job_and_the_model_load():
    meter = ProgressMeter(total=20, started_at=100.0)
    meter.set_baseline(8)  # a resumed run: 8 done before
    first = meter.update(8, 100.1)
    assert first.done == 8 and first.rate is None and first.eta_seconds is None
    meter.update(9, 130.0)  # 30 s of model loading before the first new item
    later = meter.update(11, 134.0)  # then 2 items in 4 s
    assert later.rate == pytest.approx(0.5)
    assert later.eta_seconds == pytest.approx(18.0)  # 9 left at 0.5/s
    assert later.fraction == pytest.approx(11 / 20)
    assert later.describe() == "11/20 items, 0.5/s, ETA 18 s"


def test_progress_never_goes_backwards_and_unknown_totals_have_no_eta():
    meter = ProgressMeter(total=None, started_at=0.0)
    meter.update(3, 1.0)
    meter.update(5, 2.0)
    assert meter.update(4, 3.0).done == 5
    assert meter.progress(3.0).eta_seconds is None and meter.progress(3.0).fraction is None


@pytest.mark.parametrize(("seconds", "text"), [(4.4, "4 s"), (65, "1 min 05 s"), (3 * 3600 + 120, "3 h 02 min")])
def test_format_duration(seconds, text):
    assert format_duration(seconds) == text

