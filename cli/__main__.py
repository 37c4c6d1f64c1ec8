"""`python -m cli ...` is `chartcoder ...` (what the local stack starts its bridge with)."""

import sys

from cli.commands import main

sys.exit(main())
