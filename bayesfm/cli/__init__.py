"""The ``bayesfm`` command line.

``bayesfm demo`` runs the main job end to end on simulated data; ``bayesfm fit`` fits libFM /
svmlight or CSV files and writes predictions with intervals, the posterior, a summary, plots
and a report. Errors are one line on stderr and a non-zero exit status, never a traceback.

The parts: :mod:`~bayesfm.cli.parser` (options and their checks), :mod:`~bayesfm.cli.demo`,
:mod:`~bayesfm.cli.fit` and :mod:`~bayesfm.cli.inputs` (reading the files of ``fit``).
"""

from __future__ import annotations

import sys

from bayesfm.cli.demo import run_demo
from bayesfm.cli.parser import build_parser

__all__ = ["build_parser", "main", "run_demo"]


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``bayesfm`` command."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except (ValueError, TypeError, OSError, FloatingPointError) as err:
        # One line, whatever the message: a script reading stderr gets one error per run.
        print(f"bayesfm: error: {' '.join(str(err).split())}", file=sys.stderr)
        return 2
