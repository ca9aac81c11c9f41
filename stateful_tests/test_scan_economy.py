"""The search compares the full scan less often; it still catches a scan that lies.

Between its steps the machine compares impl's full scan (base table included)
with the model's only after a compaction or a crash, and at the end of every
test case (``Harness.agree(full=False)``); every arm compares the fresh tier's
rows.  These planted backends lie in the scan alone, where no arm looks, so
only that economy stands between them and a passing run.
"""

from __future__ import annotations

from functools import partial

import pytest

from stateful_tests import profiles
from stateful_tests.backend import ImplBackend
from stateful_tests.machine import Disagreement, impl_backend, machine_for
from stateful_tests.matrix import _run_budgeted


class FrozenScanLies(ImplBackend):
    """impl, except that while a frozen memtable exists the scan drops its smallest key,
    in a test case with no compaction and no crash: only the end-of-case scan sees it."""

    quiet = True

    def compact(self) -> None:
        self.quiet = False
        super().compact()

    def crash_reopen(self) -> None:
        self.quiet = False
        super().crash_reopen()

    def scan(self) -> dict[int, str]:
        rows = super().scan()
        if self.quiet and rows and any(self.stats(s).frozen for s in self.shards()):
            del rows[min(rows)]
        return rows


class BaseScanLies(ImplBackend):
    """impl, except that after a compaction the scan forgets base key 4."""

    compacted = False

    def compact(self) -> None:
        super().compact()
        self.compacted = True

    def scan(self) -> dict[int, str]:
        rows = super().scan()
        if self.compacted:
            rows.pop(4, None)
        return rows


@pytest.mark.parametrize("liar", [FrozenScanLies, BaseScanLies], ids=lambda c: c.__name__)
def test_a_scan_that_lies_where_no_arm_looks_is_caught(liar: type[ImplBackend]) -> None:
    cls = machine_for("exact_cut", "baseline", backend=partial(impl_backend, cls=liar))
    with pytest.raises(Disagreement, match="scan: impl"):
        _run_budgeted(cls, profiles.GATE, 0)
