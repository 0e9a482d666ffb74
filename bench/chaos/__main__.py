"""``python -m bench.chaos``: see ``bench.chaos``."""

import sys

from bench.chaos.campaign import main

sys.exit(main())
