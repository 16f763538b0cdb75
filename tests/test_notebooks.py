"""Every example notebook runs top to bottom, stays in sync with its script, and is stored
executed with small outputs.

The default suite runs each notebook with ``BAYESFM_FAST=1`` (small simulated data, few
draws); ``--runslow`` runs them as published, on the real data found through
``BAYESFM_DATA``. Notebooks are found by glob, so a new ``examples/*.ipynb`` is tested too.
"""

import importlib.util
import os
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
NOTEBOOKS = sorted(EXAMPLES.glob("*.ipynb"))
# Enough for every figure of a notebook at the small dpi the examples use; a notebook over
# this has an oversized figure or table in its stored outputs.
MAX_NOTEBOOK_BYTES = 600 * 1024

_TOOLS = ("nbclient", "nbformat", "ipykernel", "jupytext")
pytestmark = pytest.mark.skipif(
    any(importlib.util.find_spec(m) is None for m in _TOOLS),
    reason="notebook tools missing (install the dev extra)",
)


def _make_notebooks():
    sys.path.insert(0, str(EXAMPLES))
    try:
        import make_notebooks
    finally:
        sys.path.remove(str(EXAMPLES))
    return make_notebooks


def _run(path: Path, **env: str):
    import nbformat

    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = []
    _make_notebooks().execute(nb, EXAMPLES, timeout=900, JAX_PLATFORMS="cpu", **env)
    return nb


def _images(nb) -> int:
    return sum("image/png" in out.get("data", {})
               for cell in nb.cells if cell.cell_type == "code" for out in cell.outputs)


def test_examples_have_notebooks():
    names = {p.stem for p in NOTEBOOKS}
    assert {"quickstart", "ctr_uncertainty", "diagnostics", "engines_compared"} <= names


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_stored_executed_and_small(path):
    import nbformat

    nb = nbformat.read(path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code, f"{path.name} has no code"
    unexecuted = [i for i, c in enumerate(code) if c.execution_count is None]
    assert not unexecuted, f"{path.name}: code cells {unexecuted} were not executed"
    assert [c.execution_count for c in code] == list(range(1, len(code) + 1)), (
        f"{path.name} was not run top to bottom in one kernel")
    errors = [o for c in code for o in c.outputs if o.output_type == "error"]
    assert not errors, f"{path.name} stores an error: {errors[0].get('ename')}"
    assert path.stat().st_size < MAX_NOTEBOOK_BYTES, f"{path.name}: outputs too large"


@pytest.mark.parametrize("script", _make_notebooks().paired_scripts(EXAMPLES),
                         ids=lambda p: p.stem)
def test_notebook_matches_its_script(script):
    problem = _make_notebooks().out_of_sync(script)
    assert problem is None, f"{problem}; run examples/make_notebooks.py {script.stem}"


# The notebook runs are the last tests collected and together the longest (10-40 s each):
# scheduled one by one they end the run, each xdist worker finishing the notebooks queued on it
# while the other may sit idle. As one load group (with the docs build) they are scheduled
# among the first units (xdist takes the groups with most tests first), and the run ends on
# short tests.
@pytest.mark.xdist_group("subprocesses")
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_fast(path):
    import nbformat

    nb = _run(path, BAYESFM_FAST="1")
    if _images(nbformat.read(path, as_version=4)):
        # The figures reach the notebook (an inline backend, not the tests' headless one).
        assert _images(nb) >= 1


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_on_real_data(path):
    import nbformat

    if not os.environ.get("BAYESFM_DATA"):
        pytest.skip("BAYESFM_DATA is not set")
    nb = _run(path, BAYESFM_FAST="0")
    assert _images(nb) == _images(nbformat.read(path, as_version=4))
