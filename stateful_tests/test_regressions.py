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
]


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
