"""`python -m runners.cli` (what MLproject calls) is the `idealoop` console script."""

import sys

from runners.cli.parser import main

sys.exit(main())
