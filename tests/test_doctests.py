"""Every Examples section in bayesfm's docstrings runs and prints what it shows.

Users copy these examples first; one that no longer runs (an API change, a JAX that refuses
``float()`` of a one-element array) is a bug in the documentation.
"""

import doctest
import importlib
import pkgutil

import pytest

import bayesfm

MODULES = sorted(m.name for m in pkgutil.walk_packages(bayesfm.__path__, "bayesfm."))
FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


@pytest.mark.parametrize("name", ["bayesfm", *MODULES])
def test_docstring_examples_run(name):
    module = importlib.import_module(name)
    report = []
    runner = doctest.DocTestRunner(optionflags=FLAGS)
    for test in doctest.DocTestFinder(exclude_empty=True).find(module, name):
        runner.run(test, out=report.append)
    result = runner.summarize(verbose=False)
    assert result.failed == 0, "".join(report)


def test_the_examples_are_found():
    # A finder that looked in the wrong place would make the test above pass vacuously.
    found = sum(len([t for t in doctest.DocTestFinder(exclude_empty=True).find(
        importlib.import_module(n), n) if t.examples]) for n in MODULES)
    assert found >= 60, found
