"""Load the Hypothesis profile (``stateful_tests.profiles``) before any machine is built."""

from __future__ import annotations

from stateful_tests import profiles

profiles.load()
