"""`idealoop` on the command line: the parser and `main`, idea commands, tune arguments."""

from runners.cli.parser import build_parser, console, main

__all__ = ["build_parser", "console", "main"]
