"""`python -m bridge ...`: the bridge's command, as the local stack starts it."""

import sys

from bridge.command import main

sys.exit(main())
