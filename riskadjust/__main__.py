"""``python -m riskadjust``: see :mod:`riskadjust.cli`."""

import sys

from riskadjust.cli import main

sys.exit(main())
