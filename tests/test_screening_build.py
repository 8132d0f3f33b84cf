"""The name matcher's bulk build path: derived per distinct word, equal to each label's own."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from stylegate.bench.names import synthetic_names
from stylegate.governance.screening.skeleton import _bulk_label_skeletons, _label_forms


def _labels() -> list[str]:
    corpus = json.loads((Path(__file__).parent / "realnames" / "artists.json").read_text(encoding="utf-8"))
    labels = [lab for a in corpus for lab in [a["name"], *a.get("aliases", [])]]
    # Spelling tricks a registry may hold: separators, "j" read both ways, one-word and long names.
    labels += ["Jan Matejko", "Josef Čapek", "Mikalojus Konstantinas Čiurlionis", "Hilma af Klint", "ミヤザキ・ハヤオ",
               "O'Keeffe", "Jean-Michel Basquiat", "Tab\tSeparated  Name ", "J.M.W. Turner", "Smith, John", "Анри Матисс", "  ", "-", "宮崎駿", "Ab Cd Ef Gh Ij"]
    return labels + synthetic_names(3000, seed=7)


def test_bulk_skeletons_are_each_labels_own_forms() -> None:
    """Per-word caches shared by all labels give every label the skeletons of its own forms, in order."""
    labels = _labels()
    cache: dict[tuple[str, str], str] = {}
    bulk = [_bulk_label_skeletons(label, cache) for label in labels]
    own = [_label_forms(label) for label in labels]
    for label, (script, names, surnames), (o_script, o_names, o_surnames) in zip(labels, bulk, own):
        assert (script, names, surnames) == (o_script, [f.skeleton for f in o_names], [f.skeleton for f in o_surnames]), label
    assert sum(bool(b[1]) for b in bulk) > len(labels) // 2  # most labels have skeletons: not vacuous
    assert sum(k[0] != "" for k in cache) < sum(len(label.split()) for label in labels)  # words were read once, shared


def _state(matcher: object) -> tuple:
    m: Any = matcher
    return (
        m._keys._hashes.tolist(), m._keys._codes.tolist(), m._surnames._hashes.tolist(), m._surnames._codes.tolist(),
        m._given._hashes.tolist(), m._given._codes.tolist(), list(m._label_text), m._label_artist.tolist(),
        m._unbuilt, m._max_key_len, m._max_tokens, m._n_keys, m._skeletons._pending,
    )


def test_two_plain_words_are_filed_as_their_operations_file_them(monkeypatch: pytest.MonkeyPatch) -> None:
    """The build's shortcut for "Given Surname" labels files exactly the rows the general path files."""
    from stylegate.governance.screening import names

    labels = _labels()
    # Repeated words and a doubled one ("Anna Anna"), short surnames, one-letter given names.
    labels += ["Anna Anna", "Li Wu", "J Kowalski", "Greg Rutkowski", "greg rutkowski", "Ann Lee"]
    entries = [(1 + k % 2000, label) for k, label in enumerate(labels)]
    fast = names.NameMatcher(entries)
    assert sum(names._plain_pair(label, {}) is not None for label in labels) > len(labels) // 2  # the shortcut ran
    monkeypatch.setattr(names, "_plain_pair", lambda label, plain: None)
    slow = names.NameMatcher(entries)
    assert _state(fast) == _state(slow)
    fast.ensure_built()
    slow.ensure_built()
    for prompt in ["a portrait by Greg Rutkowski", "in the style of Rutkowskiego", "Kowalski's harbour", "anna anna"]:
        assert fast.find(prompt) == slow.find(prompt)


def test_a_plain_labels_given_name_and_surname_are_read_as_its_operations_read_them() -> None:
    """Rows of the surname and given-name tables are verified against their label; for a label of
    two plain words that reading must be the one its operations file."""
    from stylegate.governance.screening import names

    for label in _labels() + ["Anna Anna", "Li Wu", "J Kowalski", "Ann Lee"]:
        ops = names._ops(label)
        surnames = {op[1] for op in ops if op[0] == "surname"}
        given = {op[1] for op in ops if op[0] == "given"}
        words = {w for op in ops if op[0] == "key" for w in [op[1]]} | surnames | given | {"anna", "wu", "lee"}
        for key in words:
            assert names._files_surname(label, key) == (key in surnames), (label, key)
            assert names._files_given(label, key) == (key in given), (label, key)


def test_a_given_names_owners_follow_registrations_and_removals() -> None:
    """The owners of a given name are kept between prompts; a registration or removal must renew them."""
    from stylegate.governance.screening.names import NameMatcher

    matcher = NameMatcher([(1, "Junji Itokawa"), (3, "Oskar Lindqvist")])
    prompt = "a ghost story in the style of Junji"
    assert {h.artist_id for h in matcher.find(prompt)} == {1}  # one owner: the given name alone stands
    matcher.add(2, "Junji Morimoto")
    assert matcher.find(prompt) == []  # shared now: it names nobody
    matcher.remove(2)
    assert {h.artist_id for h in matcher.find(prompt)} == {1}
    matcher.remove(1)
    assert matcher.find(prompt) == []
