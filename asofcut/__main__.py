"""``python -m asofcut`` — the same as the ``asofcut`` console script."""

import sys

from asofcut.cli import main

sys.exit(main())
