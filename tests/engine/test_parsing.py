"""Answer parsing: the official rules (METRICS.md) and the strict extras."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.parsing import (
    answer_json_from_parsed,
    extract_answer_text,
    find_json,
    parse_clue,
    parse_count,
    split_reasoning,
)


@pytest.mark.parametrize(("text", "value"), [
    ("7", 7), ("seven", 7), ("I count seven", 7), ("twenty-one", 21), ("Seven", 7),
    ("one hundred and five", 105), ("two point five", 2.5),
])
def test_official_count_follows_word2number(text: str, value: float) -> None:
    assert parse_count(text).value == value


@pytest.mark.parametrize("text", [" 3", "3.7", "There are 9 of them.", "<answer>3</answer>", "", "none", "4 apples"])
def test_official_count_failures(text: str) -> None:
    parsed = parse_count(text)
    assert parsed.value is None and parsed.reason


@pytest.mark.parametrize(("text", "value"), [
    ("There are 9 of them.", 9), ("<answer>3</answer>", 3), (" 3", 3), ("<think>maybe 2</think><answer>5</answer>", 5),
])
def test_strict_count_reads_tags_and_digits(text: str, value: int) -> None:
    assert parse_count(text, "strict").value == value


def test_answer_tag_first_match_dotall() -> None:
    assert extract_answer_text("x <answer>\n[1]\n</answer> <answer>[2]</answer>") == "[1]"
    assert extract_answer_text("  plain  ") == "plain"


def test_find_json_scans_outermost_blocks() -> None:
    assert find_json("see [[1, 2], [3, 4]] here") == ([[1, 2], [3, 4]], True)
    # stack matching: an unclosed "[" keeps everything after it inside one open block
    assert find_json("bad [1, 2 and {\"a\": 1}") == (None, False)
    assert find_json("a ] stray close, then {\"a\": 1}") == ({"a": 1}, True)
    assert find_json("{not json} then [5]") == ([5], True)
    assert find_json("nothing") == (None, False)


def test_event_pairs_clock_strings_and_units() -> None:
    parsed = parse_clue("event", '[["03:14.42", "1:02:03.5"], ["577.1 seconds", 12], [1, "2.5"]]')
    assert parsed.intervals == ((194.42, 3723.5), (577.1, 12), (1, 2.5))


def test_event_pair_mixing_clock_and_plain_fails() -> None:
    parsed = parse_clue("event", '[["03:14", "200"]]')
    assert not parsed.ok and "pair 1" in parsed.failure


@pytest.mark.parametrize(("text", "reason"), [
    ('{"events": 3}', "list"), ("[[1, 2, 3]]", "pair 1"), ("no json here", "no JSON"), ('[["a", "b"]]', "pair 1"),
])
def test_event_failures_have_reasons(text: str, reason: str) -> None:
    parsed = parse_clue("event", text)
    assert not parsed.ok and reason in parsed.failure


def test_object_boxes_and_corner_pairs() -> None:
    text = '{"Frame1": [[1,2,3,4],[5,6],[7,8,9,10]], "Frame 2": [[0,0],[2,2],[9,9,9,9],[1,1],[3,3]], "note": 1, "Frame3": []}'
    parsed = parse_clue("object", text)
    assert parsed.frames == {0: [(1, 2, 3, 4), (7, 8, 9, 10)], 1: [(0, 0, 2, 2)], 2: []}


def test_object_requires_an_object() -> None:
    assert not parse_clue("object", "[[1,2,3,4]]").ok


def test_attribute_groups_by_label_and_reads_both_box_fields() -> None:
    text = ('{"Frame 1": [{"bbox": [0,0,1,1], "label": "A"}, {"bbox_2d": [2,2,3,3], "bbox": [4,4,5,5], "label": "B"}],'
            ' "Frame 2": [{"bbox": [6,6,7,7], "label": "A"}]}')
    parsed = parse_clue("attribute", text)
    assert list(parsed.clusters) == ["A", "B"]
    assert parsed.clusters["A"] == {0: [(0, 0, 1, 1)], 1: [(6, 6, 7, 7)]}
    assert parsed.clusters["B"] == {0: [(4, 4, 5, 5), (2, 2, 3, 3)]}


def test_split_reasoning_keeps_thinking_apart() -> None:
    thinking, answer = split_reasoning("<think>count the beeps</think>\n<answer>[[1, 2]]</answer>")
    assert thinking == "count the beeps" and answer == "[[1, 2]]"
    assert split_reasoning("just 3") == (None, "just 3")


@pytest.mark.parametrize("category", ["event", "object", "attribute"])
def test_answer_json_round_trips(category: str) -> None:
    texts = {"event": "[[1.5, 2.5], [3, 4]]", "object": '{"Frame1": [[1,2,3,4]], "Frame3": [[5,6,7,8]]}',
             "attribute": '{"Frame 1": [{"bbox": [1,2,3,4], "label": "x"}], "Frame 2": [{"bbox": [5,6,7,8], "label": "y"}]}'}
    parsed = parse_clue(category, texts[category])
    again = parse_clue(category, answer_json_from_parsed(parsed))
    assert (again.intervals, again.frames, again.clusters) == (parsed.intervals, parsed.frames, parsed.clusters)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(), max_size=300), st.sampled_from(["event", "object", "attribute"]))
def test_parsers_never_raise_on_arbitrary_text(text: str, category: str) -> None:
    for mode in ("official", "strict"):
        count = parse_count(text, mode)
        assert count.ok or count.reason
        clue = parse_clue(category, text, mode)
        assert clue.ok or clue.failure


@settings(max_examples=200, deadline=None)
@given(st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
                    lambda kids: st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=8), kids, max_size=4),
                    max_leaves=20),
       st.sampled_from(["event", "object", "attribute"]))
def test_parsers_never_raise_on_arbitrary_json(value: object, category: str) -> None:
    import json

    text = json.dumps(value)
    parsed = parse_clue(category, f"<answer>{text}</answer>")
    assert parsed.ok or parsed.failure


# ---------------------------------------------------------------- find_json against a plain reference
def _reference_find_json(text: str) -> tuple[object, bool]:
    """METRICS.md rule 1 written out: json.loads the text, else stack-match every outermost block
    (brackets in strings count, a mismatched closer empties the stack) and json.loads each."""
    try:
        return json.loads(text), True
    except (ValueError, RecursionError):
        pass
    stack: list[str] = []
    start = 0
    for i, ch in enumerate(text):
        if ch in "[{":
            if not stack:
                start = i
            stack.append(ch)
        elif ch in "]}" and stack:
            if stack[-1] != {"]": "[", "}": "{"}[ch]:
                stack.clear()
                continue
            stack.pop()
            if not stack:
                try:
                    return json.loads(text[start : i + 1]), True
                except (ValueError, RecursionError):
                    pass
    return None, False


_SOUP_PIECES = ["[", "]", "{", "}", "[", "]", '"', ",", ", ", ":", " ", "\n", "1", "-2.5e3", "x", "\\", "\\\"",
                "null", "true", "NaN", '"a"', '"]"', '"{"', "[]", "{}", '{"k": ', "[1, 2]", "\x01", "é"]
_soup = st.lists(st.sampled_from(_SOUP_PIECES), max_size=40).map("".join)


@st.composite
def _bracket_soups(draw) -> str:
    """Bracket soups, some with a block nested deeper than the regexes reach or repeated many times."""
    body = draw(_soup)
    depth = draw(st.integers(0, 20))
    block = "[" * depth + body + "]" * depth
    return draw(_soup) + block * draw(st.integers(1, 5)) + draw(_soup)


@st.composite
def _deep_mixed_blocks(draw) -> str:
    """Blocks up to 25 deep of both kinds, with soup between brackets, closed in mirror order or
    with a closer flipped, dropped or added: runs of openers and closers of every make-up."""
    kinds = draw(st.lists(st.sampled_from("[{"), max_size=25))
    openers = "".join(k + draw(st.sampled_from(["", "", "a", " ", "[x]", '"]"'])) for k in kinds)
    closers = ["]" if k == "[" else "}" for k in reversed(kinds)]
    edit = draw(st.sampled_from(["none", "flip", "drop", "add"]))
    if closers and edit != "none":
        where = draw(st.integers(0, len(closers) - 1))
        closers[where] = {"flip": {"]": "}", "}": "]"}[closers[where]], "drop": "", "add": closers[where] * 2}[edit]
    gaps = [draw(st.sampled_from(["", "", "b", "[1]", "{}"])) for _ in closers]
    block = openers + draw(_soup) + "".join(c + g for c, g in zip(closers, gaps, strict=True))
    return draw(_soup) + block * draw(st.integers(1, 3)) + draw(_soup)


@settings(max_examples=2000, deadline=None)
@given(_deep_mixed_blocks())
def test_find_json_matches_stack_matching_on_deep_mixed_blocks(text: str) -> None:
    assert repr(find_json(text)) == repr(_reference_find_json(text))


@settings(max_examples=3000, deadline=None)
@given(_bracket_soups())
def test_find_json_matches_the_plain_stack_matching_reference(text: str) -> None:
    assert repr(find_json(text)) == repr(_reference_find_json(text))  # repr: NaN != NaN


@pytest.mark.parametrize("text", [
    "[a[b[c[d[e[f[g[h[i[1]j]k]l]m]n]o]p]q]r] [2]",  # runs with text between their brackets
    "{" + "[a" * 12 + "]a" * 11 + "}b] [3]",  # a mismatch inside a closer run with text: cleared there
    "[" * 12 + "]" * 13 + " [4]",  # the run pops past the block's end: the rest are stray closers
    "[" * 10 + "[1]" * 3 + "}" + "]" * 10 + "[5]",  # pairs inside a deep block, then a mismatch
    "[" * 10 + '"]"' + "]" * 10 + "[6]",  # a string's bracket still counts
    "[{" * 6 + "x" + "}]" * 6 + "[{" * 6 + "y" + "}]" * 5 + "] [7]",
])
def test_deep_blocks_follow_stack_matching(text: str) -> None:
    assert repr(find_json(text)) == repr(_reference_find_json(text))
