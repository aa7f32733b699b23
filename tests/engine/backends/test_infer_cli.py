"""`avr infer` end to end through the real CLI process: replay, export, dry run, refusal,
and kill -9 mid-run followed by the same command (no row lost or duplicated)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from engine.predictions import load_predictions


def _infer(tiny_bench, *args: str, **kwargs) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "engine.cli", "infer", "--dataset", str(tiny_bench.dataset),
               "--videos", str(tiny_bench.videos), *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=300, **kwargs)


def _rows(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_replay_writes_rows_and_the_benchmark_folder(tiny_bench, tiny_items, tmp_path):
    out, folder = tmp_path / "replay.jsonl", tmp_path / "export"
    done = _infer(tiny_bench, "--backend", "replay", "--source", str(tiny_bench.oracle_direct), "--protocol", "clue",
                  "--out", str(out), "--export-folder", str(folder))
    assert done.returncode == 0, done.stderr
    source = load_predictions(tiny_bench.oracle_direct, "clue")
    rows = _rows(out)
    assert [r["index"] for r in rows] == [i.index for i in tiny_items]
    assert all(r["pred"] == source.records[r["index"]].pred and r["error"] is None for r in rows)
    assert all(r["backend"] == "replay" and r["prompt_set"] == "official" for r in rows)
    exported = load_predictions(folder / "clue_acc")
    assert {i: r.pred for i, r in exported.records.items()} == {r["index"]: r["pred"] for r in rows}
    again = _infer(tiny_bench, "--backend", "replay", "--source", str(tiny_bench.oracle_direct), "--protocol", "clue",
                   "--out", str(out))
    assert again.returncode == 0 and "0 answered" in again.stdout and len(_rows(out)) == len(rows)
    other = _infer(tiny_bench, "--backend", "replay", "--source", str(tiny_bench.oracle_thinking), "--protocol",
                   "clue", "--out", str(out))
    assert other.returncode == 2 and "Traceback" not in other.stderr
    assert other.stderr.count("\n") == 1 and "was made with model" in other.stderr
    mixed = _infer(tiny_bench, "--backend", "replay", "--source", str(tiny_bench.oracle_direct), "--protocol",
                   "long", "--out", str(out))
    assert mixed.returncode == 2 and "holds clue answers" in mixed.stderr and len(_rows(out)) == len(rows)


def test_dry_run_writes_requests_not_answers(tiny_bench, tiny_items, tmp_path):
    out = tmp_path / "dry.jsonl"
    done = _infer(tiny_bench, "--backend", "transformers-not-needed", "--protocol", "ref", "--out", str(out),
                  "--dry-run", "--frames", "6", "--no-audio", "--limit", "3")
    assert done.returncode == 0, done.stderr
    rows = _rows(out)
    assert [r["index"] for r in rows] == [i.index for i in tiny_items[:3]]
    for row, item in zip(rows, tiny_items, strict=False):
        start, end = item.query_interval
        assert len(row["frame_times"]) == 6 and 0 <= row["frame_times"][0] <= row["frame_times"][-1] <= end - start
        assert row["audio_spans"] == [] and "--no-audio" in row["audio_note"]
        assert row["text"].startswith("This is a video:") and row["prompt_tokens"] is None
    assert "audio: off" in done.stderr


@pytest.mark.slow
def test_kill_dash_nine_then_rerun_loses_and_duplicates_nothing(tiny_bench, tiny_items, tmp_path):
    out = tmp_path / "killed.jsonl"
    args = ["--backend", "baseline", "--protocol", "long", "--out", str(out)]
    command = [sys.executable, "-m", "engine.cli", "infer", "--dataset", str(tiny_bench.dataset),
               "--videos", str(tiny_bench.videos), *args]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and process.poll() is None:
            if out.exists() and len(out.read_bytes().splitlines()) >= 3:
                break
            time.sleep(0.02)
        assert process.poll() is None, "the run ended before it could be killed; the test needs a slower backend"
        os.kill(process.pid, signal.SIGKILL)
        process.wait(10)
    finally:
        if process.poll() is None:
            process.kill()
    written = out.read_bytes()
    before = written[: written.rfind(b"\n") + 1]  # whole rows only (a kill can land mid-write)
    answered_before = len(before.splitlines())
    assert 3 <= answered_before < len(tiny_items)
    with open(out, "ab") as handle:  # what a kill in the middle of a write leaves
        handle.write(b'{"index": 999, "pred": "tor')
    rerun = _infer(tiny_bench, *args)
    assert rerun.returncode == 0, rerun.stderr
    assert "torn last line" in rerun.stderr
    rows = _rows(out)
    indices = [r["index"] for r in rows]
    assert sorted(indices) == sorted(i.index for i in tiny_items)  # none lost, none twice
    assert out.read_bytes().startswith(before)  # earlier rows untouched
    clean = tmp_path / "clean.jsonl"
    assert _infer(tiny_bench, "--backend", "baseline", "--protocol", "long", "--out", str(clean)).returncode == 0
    assert {r["index"]: r["pred"] for r in rows} == {r["index"]: r["pred"] for r in _rows(clean)}


@pytest.mark.slow
def test_dry_run_counts_tokens_with_the_models_processor(tiny_bench, tiny_model_dir, tmp_path):
    counts = {}
    for label, extra in (("audio", []), ("no-audio", ["--no-audio"])):
        out = tmp_path / f"dry-{label}.jsonl"
        done = _infer(tiny_bench, "--backend", "transformers", "--model", str(tiny_model_dir), "--protocol", "long",
                      "--out", str(out), "--dry-run", "--frames", "4", "--limit", "1", *extra)
        assert done.returncode == 0, done.stderr
        counts[label] = _rows(out)[0]["prompt_tokens"]
    assert isinstance(counts["no-audio"], int) and counts["no-audio"] > 0
    # 30 s of audio is about 750 audio tokens (~25 per second)
    assert 600 < counts["audio"] - counts["no-audio"] < 900


def test_fast_seek_uses_keyframes_and_states_their_true_times(tiny_bench, tiny_items, tmp_path):
    from engine.media.sampling import _frame_table

    exact, fast = tmp_path / "exact.jsonl", tmp_path / "fast.jsonl"
    common = ("--backend", "baseline", "--protocol", "long", "--dry-run", "--frames", "8", "--limit", "2")
    assert _infer(tiny_bench, *common, "--out", str(exact)).returncode == 0
    done = _infer(tiny_bench, *common, "--fast-seek", "--out", str(fast))
    assert done.returncode == 0, done.stderr
    for plain, snapped, item in zip(_rows(exact), _rows(fast), tiny_items, strict=False):
        table, _ = _frame_table(tiny_bench.videos / item.video)
        keyframes = {int(k) for k in table.keyframe_indices}
        assert set(snapped["frame_indices"]) <= keyframes
        assert snapped["frame_indices"] != plain["frame_indices"]  # the sampled midpoints are not all keyframes
        assert snapped["frame_times"] == [round(float(table.times[i]), 2) for i in snapped["frame_indices"]]
        assert f"sampled at {snapped['frame_times'][1]} seconds" in snapped["text"]


def test_sigterm_ends_the_run_as_interrupted_and_events_stream_the_text(tiny_bench, tiny_items, tmp_path):
    from engine.runs.manifest import manifest_path

    out = tmp_path / "term.jsonl"
    command = [sys.executable, "-m", "engine.cli", "infer", "--dataset", str(tiny_bench.dataset), "--videos",
               str(tiny_bench.videos), "--backend", "baseline", "--protocol", "long", "--out", str(out), "--events"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        first = json.loads(process.stdout.readline())
        assert first["event"] == "chunk" and isinstance(first["text"], str)
        assert first["index"] == tiny_items[0].index
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not (out.exists() and out.read_bytes().count(b"\n") >= 2):
            time.sleep(0.02)
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 130 and "Traceback" not in err, err
    manifest = json.loads(manifest_path(out).read_text())
    # a signal landing between a row's write and its count leaves the manifest one short: rows rule
    assert manifest["status"] == "interrupted" and 1 <= manifest["done"] <= len(_rows(out)) < len(tiny_items)


def test_a_runs_protocol_comes_from_its_manifest_not_from_the_answers(tiny_bench, tiny_items, tmp_path):
    from engine.predictions import load_run

    out = tmp_path / "long.jsonl"
    assert _infer(tiny_bench, "--backend", "baseline", "--protocol", "long", "--limit", "2",
                  "--out", str(out)).returncode == 0
    rows = _rows(out)
    out.write_text("".join(json.dumps(row | {"pred": "[[1, 2]] {\"Frame1\": []}"}) + "\n" for row in rows))
    assert list(load_run(out)) == ["long"]  # bracket-laden answers alone would read as clue
    (tmp_path / "long.jsonl.manifest.json").unlink()
    assert list(load_run(out)) == ["clue"]
