"""The ``bayesfm`` command line (a package: the parser, ``fit`` and ``demo`` apart)."""

from bayesfm.cli.parser import build_parser, main, run_demo

__all__ = ["build_parser", "main", "run_demo"]
