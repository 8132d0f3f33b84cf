"""What the name matcher remembers between prompts (issue #11, item 7: screening latency).

The matcher keeps the registry's answers for the window texts it has screened (their
entries, fuzzy and sound-alike keys, stems) and the process keeps tokenised chunks; these
tests check that a registry change is seen by the very next prompt, whatever was
remembered, and that remembering changes no hit.
"""

from __future__ import annotations

import pytest

from stylegate.governance.screening.canonical import tokenize
from stylegate.governance.screening.keytable import KeyTable
from stylegate.governance.screening.names import NameMatcher

ARTISTS = [(1, "Simon Stalenhag"), (2, "Ilya Kuvshinov"), (3, "Кувшинова Анна"), (4, "宮崎駿")]


def ids(matcher: NameMatcher, prompt: str) -> list[int]:
    return [h.artist_id for h in matcher.find(prompt)]


@pytest.mark.parametrize("prompt, written", [
    ("a harbour at dawn, in the style of Amara Lindqvist-Osei", "exact"),
    ("a harbour at dawn, in the style of Amara Lindqvst-Osei", "one edit"),
    ("portret w stylu Lindqvistowskiego", "inflected"),
    ("art by Lindqvist-Osei", "surname"),
])
def test_an_artist_added_after_a_prompt_was_screened_matches_it_next_time(prompt: str, written: str) -> None:
    matcher = NameMatcher(ARTISTS)
    matcher.ensure_built()
    name = "Amara Lindqvistowski" if written == "inflected" else "Amara Lindqvist-Osei"
    assert ids(matcher, prompt) == []  # its windows are now remembered as naming nobody
    matcher.add(9, name)
    assert 9 in ids(matcher, prompt), written
    matcher.remove(9)
    assert 9 not in ids(matcher, prompt), written


def test_a_removed_artist_stops_matching_prompts_screened_before() -> None:
    matcher = NameMatcher(ARTISTS)
    prompts = ["in the style of Simon Stalenhag", "by Simon Stalenhags", "Simon Stalenhga poster"]
    assert all(1 in ids(matcher, p) for p in prompts)
    matcher.remove(1)
    assert all(1 not in ids(matcher, p) for p in prompts)
    matcher.add(1, "Simon Stalenhag")
    assert all(1 in ids(matcher, p) for p in prompts)


def test_remembering_changes_no_hit() -> None:
    matcher = NameMatcher(ARTISTS)
    prompts = [
        "a forest, in the style of Ilya Kuvshinov", "portrait by Илья Кувшинов", "イリヤ・クブシノブ風のイラスト",
        "宮崎駿風の森", "by s i m o n stalenhag", "Simon_Stalenhag 4ever", "a quiet harbour at dawn, 8k",
    ]
    first = [matcher.find(p) for p in prompts]
    assert any(first), "the prompts name registered artists"
    assert [matcher.find(p) for p in prompts] == first  # everything remembered
    for p, hits in zip(prompts, first):
        matcher.forget_lookups()
        assert matcher.find(p) == hits  # nothing remembered


def test_repeated_chunks_keep_their_own_spans() -> None:
    # Chunks are tokenised once and shifted to where each occurs.
    text = "Monet, monet MONET Кувшинова, Кувшинова"
    tokens = tokenize(text)
    assert [t.text for t in tokens] == ["monet", "monet", "monet", "кувшинова", "кувшинова"]
    assert [text[t.start : t.end] for t in tokens] == ["Monet", "monet", "MONET", "Кувшинова", "Кувшинова"]


def test_key_table_present_finds_built_and_added_keys_only() -> None:
    table = KeyTable()
    for key, code in (("simonstalenhag", 1 << 12), ("ilyakuvshinov", 2 << 12)):
        table.file_bulk(key, code)
    table.settle(lambda codes: codes >> 12)
    table.add("amaralindqvist", 3 << 12)
    assert table.present(["simonstalenhag", "amaralindqvist", "ilyakuvshinov", "simonstalenha", ""]) == [
        True, True, True, False, False,
    ]
    assert table.present([]) == []


def test_a_prompt_keeps_its_answers_when_its_memo_is_freed_midway() -> None:
    # A registry change in another thread lets the memo go and later prompts free it while
    # this prompt may still be reading it: what it asked must not be lost.
    matcher = NameMatcher(ARTISTS)
    prompt = "in the style of Simon Stalenhga, by Ilya Kuvshinv"  # one edit each: fuzzy answers
    expected = matcher.find(prompt)
    assert {1, 2} <= {h.artist_id for h in expected}
    matcher.forget_lookups()
    tokens = tokenize(prompt)
    memo = matcher._lookups()
    readings = [matcher._windows(prompt, tokens, "as written")]
    answers = matcher._look_up(readings, memo)
    for part in memo.values():  # freed, as a let-go memo is, a little per later prompt
        part.clear()
    found = matcher._find_in(prompt, readings[0], memo, answers)
    assert {1, 2} <= {h.artist_id for h in found if h.rule == "fuzzy"}
