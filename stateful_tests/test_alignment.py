"""impl and model agree on the two points that used to differ (fixed in model/).

1. WAL positions are 1-based per shard (Lance's entries are), so a
   ``WalPositionCut`` means the same number on both sides.
2. A capture variant changes only ``AsOfCut``'s N; ``exact_cut`` records what
   the scan read and ``wal_position_map`` the positions it read, whatever the
   variant.
"""

from __future__ import annotations

from model.designs import Capture, Design
from model.read import capture, observe
from model.state import Config, initial, put, rows
from stateful_tests.backend import model_cut_key
from stateful_tests.hazards import HAZARDS
from stateful_tests.machine import replay


def test_model_wal_positions_start_at_one() -> None:
    st = put(put(initial(), "s", (("a", 1),)), "s", (("b", 2),))
    assert [r.wal for r in rows(st)] == [1, 2]


def test_wal_position_cut_is_one_past_the_highest_position_read_on_both_sides() -> None:
    h = replay(Design.WAL_POSITION_MAP, HAZARDS["baseline"], [("put", 0), ("put", 3), ("arm",)])
    assert h.live[1].view.cut_key == (("s0", ("WalPositionCut", 3)),)


def test_capture_variants_change_only_the_as_of_count() -> None:
    st = put(initial(config=Config(lagged=True)), "s", (("a", 1),))
    arm = observe(st)
    def exact_fields(variant: Capture) -> tuple[object, ...]:
        c = capture(Design.EXACT_CUT, arm, variant).get("s")
        assert c is not None
        return (c.epoch, c.observed, c.wal_position)

    for variant in Capture:
        assert exact_fields(variant) == exact_fields(Capture.VISIBLE_COUNT)
    assert capture(Design.AS_OF_CUT, arm, Capture.LEN).get("s") is not None
    assert capture(Design.AS_OF_CUT, arm, Capture.LEN).shards[0][1].active_batch_count == 1
    assert capture(Design.AS_OF_CUT, arm).shards[0][1].active_batch_count == 0


def test_impl_and_model_cuts_agree_under_every_variant() -> None:
    # (H2's as_of_cut over-counts at once: len() admits the unpublished put)
    cells = [("H1", d) for d in (Design.AS_OF_CUT, Design.FRESH_TIER_WATERMARK)]
    for hazard, design in [*cells, ("H1", Design.EXACT_CUT), ("H2", Design.EXACT_CUT)]:
        h = replay(design, HAZARDS[hazard], [("put", 1), ("arm", None)])
        live = h.live[1]
        assert live.view.cut_key == model_cut_key(design, live.cut)
