"""Sphinx configuration of the bayesfm documentation.

Build (from the repository root; needs the ``docs`` extra):

    .venv/bin/sphinx-build -W -b html docs docs/_build/html

The example notebooks are rendered with the outputs stored in ``examples/*.ipynb``; they are
never executed here (``examples/make_notebooks.py`` executes and stores them).
"""

import contextlib
import io
import os
import shutil
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

import bayesfm  # noqa: E402
from bayesfm.cli import build_parser  # noqa: E402
from bayesfm.engines import support_table  # noqa: E402

project = "bayesfm"
author = "the bayesfm developers"
copyright = "2026, the bayesfm developers"  # noqa: A001
release = bayesfm.__version__
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "numpydoc",
    "myst_nb",
]

# -- the notebooks: copies of examples/*.ipynb (every one there, found by glob) ---------------
NOTEBOOKS = HERE / "notebooks"
shutil.rmtree(NOTEBOOKS, ignore_errors=True)
NOTEBOOKS.mkdir()
for _nb in sorted((ROOT / "examples").glob("*.ipynb")):
    shutil.copy2(_nb, NOTEBOOKS / _nb.name)

nb_execution_mode = "off"  # render the stored outputs; executing is the notebooks' own job
nb_merge_streams = True
myst_enable_extensions = ["dollarmath", "colon_fence"]
myst_heading_anchors = 3
suppress_warnings = ["mystnb.unknown_mime_type"]

# -- the command line's own help, as the reference of docs/cli.md ------------------------------
CLI_HELP = HERE / "_cli"
CLI_HELP.mkdir(exist_ok=True)
os.environ["COLUMNS"] = "92"  # argparse wraps the help to the terminal width
for _cmd in ("fit", "predict", "demo"):
    _buf = io.StringIO()
    with contextlib.redirect_stdout(_buf), contextlib.suppress(SystemExit):
        build_parser().parse_args([_cmd, "--help"])
    (CLI_HELP / f"{_cmd}.txt").write_text(_buf.getvalue(), encoding="utf-8")

# -- what fits what: the support table, from the code (bayesfm.engines.support_table) -----------
GENERATED = HERE / "_generated"
GENERATED.mkdir(exist_ok=True)


def _support_markdown() -> str:
    """One row per likelihood x interaction term, one column per engine and store."""
    cells = {(c.likelihood, c.interaction, c.method, c.store): c for c in support_table()}
    columns = [("gibbs", "draws"), ("gibbs", "moments"), ("nuts", "draws"), ("svi", "draws")]
    head = "| likelihood | model | " + " | ".join(
        f"`{m}`" + (f", `store=\"{s}\"`" if m == "gibbs" else "") for m, s in columns) + " |"
    lines = [head, "|" + " --- |" * (2 + len(columns))]
    order = ["gaussian", "probit", "logit", "ordinal", "fm", "ffm", "fm3", "ifm", "cfm"]
    rows = sorted({(c.likelihood, c.interaction) for c in cells.values()},
                  key=lambda r: tuple(order.index(x) if x in order else len(order) for x in r))
    for lik, term in rows:
        marks = ["yes" if cells[(lik, term, m, s)].supported else "no" for m, s in columns]
        lines.append(f"| `{lik}` | `{term}` | " + " | ".join(marks) + " |")
    reasons = sorted({c.reason for c in cells.values()
                      if not c.supported and c.method == "gibbs" and c.store == "draws"})
    notes = "".join(f"\n- {r}" for r in reasons)
    return ("\n".join(lines) + "\n\nModels: `fm` is the plain FM (`model=\"fm\", degree=2`), "
            "`ffm` the field-aware FM, `fm3` the degree-3 FM (`degree=3`), `ifm` the input-aware "
            "and `cfm` the convolutional FM. `store=\"moments\"` "
            "is the Gibbs engine's memory mode; NUTS and SVI keep every draw. Why a cell says "
            "no:" + notes + "\n")


(GENERATED / "support.md").write_text(_support_markdown(), encoding="utf-8")

# -- API reference -----------------------------------------------------------------------------
autosummary_generate = True
autosummary_ignore_module_all = False  # a module documents exactly its __all__
autodoc_typehints = "none"  # the numpydoc Parameters sections say the types
autodoc_default_options = {"member-order": "bysource"}
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_validation_checks: set[str] = set()

templates_path = ["_templates"]
exclude_patterns = ["_build", "**.ipynb_checkpoints", "Thumbs.db", ".DS_Store"]
source_suffix = {".rst": "restructuredtext", ".md": "myst-nb", ".ipynb": "myst-nb"}

html_theme = "pydata_sphinx_theme"
html_title = f"bayesfm {release}"
html_theme_options = {"navigation_with_keys": False, "show_toc_level": 2}
html_static_path: list[str] = []
