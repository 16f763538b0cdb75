"""Diagnostics and prediction plots (matplotlib; every function returns the figure).

None of these calls ``plt.show``: in a notebook the returned figure displays itself, in a
script save it with ``fig.savefig``.

- convergence: :func:`plot_trace`, :func:`plot_rank` (identifiable quantities only, never
  raw ``v``) and :func:`plot_elbo` (SVI fits);
- parameters: :func:`plot_forest` (feature weights by name and group);
- predictions: :func:`plot_calibration` (classifiers), :func:`plot_intervals`,
  :func:`plot_uncertainty` (regression) and :func:`plot_ppc` (both);
- model choice: :func:`plot_compare` (the table of :func:`bayesfm.compare`).
"""

from bayesfm.plots._compare import plot_compare
from bayesfm.plots._diagnostics import plot_elbo, plot_rank, plot_trace
from bayesfm.plots._forest import plot_forest
from bayesfm.plots._predictive import (
    plot_calibration,
    plot_intervals,
    plot_ppc,
    plot_uncertainty,
)

__all__ = [
    "plot_calibration",
    "plot_compare",
    "plot_elbo",
    "plot_forest",
    "plot_intervals",
    "plot_ppc",
    "plot_rank",
    "plot_trace",
    "plot_uncertainty",
]
