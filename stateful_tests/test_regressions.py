"""Every shrunk counterexample the matrix found, replayed as a plain test.

Each story is the machine's shrunk failing example (``asofcut matrix -v``,
ci profile), transcribed step for step into ``machine.replay``'s vocabulary.
It must still be caught for the design that failed, and must be clean for
``exact_cut`` — the same events on impl and model, nothing else.
"""

from __future__ import annotations

from typing import Any

import pytest

from model.designs import Design
from stateful_tests.hazards import HAZARDS
from stateful_tests.machine import SoundnessViolation, replay

Story = list[tuple[Any, ...]]

#: (hazard, design that failed, steps, the PK the check wrongly claimed)
FOUND: list[tuple[str, str, Story, int]] = [
    # 1. delete s0 [0] (new shard s0)  2. two-phase arm  3. ↳ put s0 [3]  4. check drops 0, 3
    ("baseline", "live_tier", [("delete", 0), ("two_phase", [("put", 3)])], 3),
    # 1. delete s1 [4]  2. arm → s1: WalPositionCut(2)  3. delete s1 [1]: claims 1
    ("baseline", "wal_position_map", [("delete", 4), ("arm",), ("delete", 1)], 1),
    # 1. delete s0 [0]  2. ↳ between scan and capture: put s0 [3]  3. arm → AsOfCut(1, 2)
    ("H1", "fresh_tier_watermark", [("delete", 0), ("arm", 3)], 3),
    # lagged: 1. delete s0 [0] (invisible)  2. two-phase arm → AsOfCut(1, 1) (len)  3. drops 0
    ("H2", "as_of_cut", [("delete", 0), ("two_phase", [])], 0),
    # lagged: 1. put s0 [0]  2. two-phase arm → AsOfCut(1, 1)  3. ↳ publish s0  4. drops 0
    ("H2", "fresh_tier_watermark", [("put", 0), ("two_phase", [("publish", 0)])], 0),
    # lagged: 1. delete s0 [0]  2. freeze (unpublished tail)  3. arm → AsOfCut(2, 0)  4. drops 0
    ("H3", "as_of_cut", [("delete", 0), ("freeze", 0), ("two_phase", [])], 0),
    # H1 (hazard-window era, 2026-11-25): 1. delete s1 [4]  2. ↳ between scan and capture:
    # put s1 [1]  3. arm → AsOfCut(1, 2), observed [4]: claims 1
    ("H1", "as_of_cut", [("delete", 4), ("arm", 1)], 1),
    # H1: 1. delete s1 [1]  2. ↳ between scan and capture: put s1 [4]  3. arm → WalPositionCut(2,)
    ("H1", "wal_position_map", [("delete", 1), ("arm", 4)], 4),
    # lagged H3: 1. delete s0 [0]  2. freeze (unpublished tail)  3. arm → AsOfCut(2, 0)
    # 4. publish s0 (frozen tail 1): claims 0
    ("H3", "fresh_tier_watermark", [("delete", 0), ("freeze", 0), ("arm",), ("publish", 0)], 0),
    # H4 (release at flush): 1. put s0 [0]  2. arm  3. put s0 [3]: claims 3 (WAL position)
    ("H4", "wal_position_map", [("put", 0), ("arm",), ("put", 3)], 3),
    # H5b: 1. put s0 [0]  2. arm → WalPositionCut(2,)  3. put s0 [3]: claims 3
    ("H5b", "wal_position_map", [("put", 0), ("arm",), ("put", 3)], 3),
    # H6: 1. put s0 [0]  2. arm → s0: AsOfCut(1, 1)  3. put s1 [1] (new shard s1): claims 1
    ("H6", "as_of_cut", [("put", 0), ("arm",), ("put", 1)], 1),
    # H7: 1. put s1 [1]  2. put s1 [1]  3. put s1 [1] (auto-freeze)  4. arm → AsOfCut(2, 0)
    # 5. put s1 [4]  6. crash + reopen (renumbering): claims 4  (machine story, window merged)
    ("H7", "fresh_tier_watermark",
     [("put", 1), ("put", 1), ("put", 1), ("arm",), ("put", 4), ("crash",)], 4),
    # H7, hand-minimised from the machine's 12-event story: 1. delete s0 [0]  2. freeze s0
    # 3. arm → AsOfCut(2, 0)  4. put s0 [3]  5. crash + reopen: claims 3
    ("H7", "as_of_cut", [("delete", 0), ("freeze", 0), ("arm",), ("put", 3), ("crash",)], 3),
    # lagged H13: 1. delete s0 [0]  2. freeze (unpublished tail)  3. arm → AsOfCut(2, 0): claims 0
    ("H13", "as_of_cut", [("delete", 0), ("freeze", 0), ("arm",)], 0),
    # H13: ... 4. put s0 [0] + publish (publishes the frozen tombstone tail): claims 0
    ("H13", "fresh_tier_watermark", [("delete", 0), ("freeze", 0), ("arm",), ("put", 0)], 0),
    # H5a (2026-12-02): 1. put s0 [3]  2. freeze s0  3. ↳ between the arm's SSTable list and
    # its memtables: flush s0 (gen 1, released)  4. arm → AsOfCut(2, 0), observed []: claims 3
    ("H5a", "as_of_cut", [("put", 3), ("freeze", 0), ("arm", 0)], 3),
    # H8: 1. put s2 [2]  2. freeze s2  3. arm → AsOfCut(2, 1) (nothing visible: N = 0 + 1)
    # 4. put s2 [5] lands at batch 0 of gen 2: claims 5
    ("H8", "as_of_cut", [("put", 2), ("freeze", 2), ("arm",), ("put", 5)], 5),
    # H9 (rows visible before durable): 1. put s2 [5]  2. sync s2  3. freeze s2  4. arm →
    # AsOfCut(2, 0)  5. crash + reopen (gen 1 replayed as the active gen 1)  6. put s2 [2]
    ("H9", "as_of_cut", [("put", 5), ("sync", 5), ("freeze", 5), ("arm",), ("crash",),
                         ("put", 2)], 2),
    # H9, the pinned cut: 1. put s2 [5]  2. sync s2  3. put s2 [5] (pending, WAL 2)  4. arm →
    # PinnedCut(WAL 1..2)  5. crash loses WAL 2  6. put s2 [2] takes WAL position 2: claims 2
    ("H9", "pinned_cut", [("put", 5), ("sync", 5), ("put", 5), ("arm",), ("crash",),
                          ("put", 2)], 2),
    # H10 (1-bit PK hashes): 1. put s1 [4]  2. arm → AsOfCut(1, 1): 1 collides with 4, claims 1
    ("H10", "as_of_cut", [("put", 4), ("arm",)], 1),
]

#: (hazard, story, PK) that every design over-counts: the arm itself is inconsistent
EVERY_DESIGN: list[tuple[str, Story, int]] = [
    # H15: 1. put s1 [4]  2. ↳ between the arm's scan and its counts: put s1 [1]  3. arm →
    # ExactCut(1, ((1, 2),)) though the scan read one batch: claims 1
    ("H15", [("put", 4), ("arm", 1)], 1),
]

#: (hazard, design, story, shortfall reason or None): under-counts, duplicates not losses
UNDER: list[tuple[str, str, Story, str | None]] = [
    # H11: a memtable without a PK index blocks nothing under V-FTW
    ("H11", "fresh_tier_watermark", [("put", 0), ("arm",), ("check", 1, True)], "no PK index"),
    # H12: the check's Int32 keys match nothing in the Int64 index
    ("H12", "pinned_cut", [("put", 0), ("arm",), ("check", 1, True, True)], None),
]


@pytest.mark.parametrize(("hazard", "story", "pk"), EVERY_DESIGN,
                         ids=[h for h, _, _ in EVERY_DESIGN])
@pytest.mark.parametrize("design", [Design.AS_OF_CUT, Design.EXACT_CUT, Design.PINNED_CUT],
                         ids=lambda d: d.value)
def test_an_inconsistent_arm_fails_every_design(hazard: str, story: Story, pk: int,
                                                design: Design) -> None:
    with pytest.raises(SoundnessViolation, match=f"claims PK {pk}, arm #1 never observed it"):
        replay(design, HAZARDS[hazard], story)


@pytest.mark.parametrize(("hazard", "design", "story", "reason"), UNDER,
                         ids=[f"{d}-{h}" for h, d, _, _ in UNDER])
def test_under_count_is_still_an_under_count(hazard: str, design: str, story: Story,
                                            reason: str | None) -> None:
    h = replay(Design(design), HAZARDS[hazard], story)
    assert h.counters["violation"] == 0 and h.counters["under-count"] == 1
    if reason is not None:
        assert h.counters[f"shortfall: {reason}"] == 1
    clean = replay(Design(design), HAZARDS["baseline"], [s[:3] for s in story])
    assert clean.counters["under-count"] == 0  # the column's knob, not the story, does it


@pytest.mark.parametrize(("hazard", "design", "story", "pk"), FOUND,
                         ids=[f"{d}-{h}" for h, d, _, _ in FOUND])
def test_counterexample_is_still_caught(hazard: str, design: str, story: Story, pk: int) -> None:
    with pytest.raises(SoundnessViolation, match=f"claims PK {pk}, arm #1 never observed it"):
        replay(Design(design), HAZARDS[hazard], story)


@pytest.mark.parametrize(("hazard", "design", "story", "pk"), FOUND,
                         ids=[f"{d}-{h}" for h, d, _, _ in FOUND])
def test_counterexample_is_clean_under_exact_cut(
    hazard: str, design: str, story: Story, pk: int
) -> None:
    h = replay(Design.EXACT_CUT, HAZARDS[hazard], story)
    assert len(h.story) >= len(story)  # every step ran, none raised
    assert h.counters["violation"] == 0
