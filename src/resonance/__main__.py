"""``python -m resonance``: the same as the ``resonance`` command."""

import sys

from resonance.flows.cli import main

sys.exit(main())
