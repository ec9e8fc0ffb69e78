"""The judged story-membership set (eval/story-membership): complete, in its two sets, with ANT ids;
and its scoring (scripts/story_membership.py) counts noise and recall as its README says."""

from __future__ import annotations

import collections
import re
import sys
from pathlib import Path

import numpy as np

SCRIPTS = Path(__file__).resolve().parents[1] / "scripts"
sys.path.insert(0, str(SCRIPTS))

import story_membership  # noqa: E402

DOCNO = re.compile(r"^(AL|BB|CN|FR|SK)-[A-Za-z]+-\d+-\d{8}$")  # ANT's <DOCNO>: source, category, number, date


def test_every_seed_has_its_hundred_nearest_judged_in_rank_order() -> None:
    judged = story_membership.read_judged()
    sets = collections.Counter(half for half, _ in judged)
    assert sets == {"tune": 20, "report": 10}
    for (_, seed), rows in judged.items():
        assert DOCNO.match(seed) and len(rows) == 100
        ids = [i for i, _ in rows]
        assert len(set(ids)) == 100 and seed not in ids and all(DOCNO.match(i) for i in ids)
        assert {label for _, label in rows} <= {0, 1, 2}
    text = story_membership.JUDGED.read_text(encoding="utf-8")
    assert not re.search(r"[\u0600-\u06FF]", text)  # ids and notes only: no ANT text is redistributed


def test_noise_counts_only_other_stories_and_recall_only_the_same_story() -> None:
    z = np.array([5.0, 4.5, 4.2, 3.0, 2.0])
    labels = np.array([2, 1, 0, 2, 0])
    kept = story_membership.measure([(z, labels)], 4.0)  # keeps 2, 1, 0
    assert kept["noise"] == round(1 / 3, 4) and kept["recall"] == 0.5 and kept["kept_per_seed"] == 3
    assert kept["noise_per_seed"] == 1
    assert story_membership.measure([(z, labels)], 6.0) == {"noise": 0.0, "recall": 0.0, "f05": 0.0,
                                                            "kept_per_seed": 0.0, "noise_per_seed": 0.0}
    pooled = story_membership.measure([(z, labels), (np.array([4.1]), np.array([2]))], 4.0)
    assert pooled["recall"] == round(2 / 3, 4) and pooled["kept_per_seed"] == 2.0  # micro: over every seed's articles
