import sys

from reserving.cli import main

sys.exit(main())
