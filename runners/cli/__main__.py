"""`python -m runners.cli` (what MLproject calls) is the `idealoop` console script."""

from runners.cli.parser import console

console()
