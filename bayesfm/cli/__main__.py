"""``python -m bayesfm.cli``: the ``bayesfm`` command without the installed script."""

import sys

from bayesfm.cli import main

if __name__ == "__main__":  # importing this module (doctest discovery does) runs nothing
    sys.exit(main())
