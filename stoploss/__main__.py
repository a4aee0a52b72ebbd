"""``python -m stoploss``: see ``stoploss.cli``."""

import sys

from stoploss.cli import main

sys.exit(main())
