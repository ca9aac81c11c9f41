"""Real Lance MemWAL (pylance 14.0.2) behind asofcut's state machine: a package of its own.

* ``driver`` -- ``LanceMemWalDriver``: one real Lance dataset driven deterministically (settle,
  crash, compaction, scans), and the recognition of the known 14.0.2 defect by its evidence;
* ``backend`` -- ``LanceBackend``: the machine's ``Backend`` seam over the driver, with the
  ``capabilities`` the machine's rule preconditions read;
* ``machine`` -- ``LanceHarness`` / ``LanceMachine``: ``stateful_tests.machine``'s harness and
  machine over that backend.

Importing it needs ``pylance`` (``pip install -e '.[lance]'``); the tests that use it are marked
``lance`` and run by ``tox -e lance``. The findings are written up in ``docs/LANCE_FINDINGS.md``.
"""
