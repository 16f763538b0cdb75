"""The model-comparison plot: ELPD of each fit and its difference to the best, with errors.

It draws the table :func:`bayesfm.compare` returns and needs nothing else from it, so the
statistics (:mod:`bayesfm.results.compare`) import no plotting library.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

__all__ = ["plot_compare"]


def plot_compare(table: pd.DataFrame, *, ax: Axes | None = None) -> Figure:
    """Plot a :func:`bayesfm.compare` table: each model's ELPD with its standard error, best on top.

    Filled points are the LOO ELPD with ``+-`` one standard error; open diamonds the
    difference to the best model (shifted onto the best model's ELPD) with ``+-`` the
    standard error of the difference, which is what decides between two models.

    Parameters
    ----------
    table : DataFrame
        The output of :func:`bayesfm.compare`.
    ax : matplotlib Axes, optional
        Draw here instead of on a new figure.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import pandas as pd
    >>> from bayesfm.plots import plot_compare
    >>> table = pd.DataFrame({"rank": [0, 1], "elpd": [-10.0, -14.0], "se": [1.0, 1.2],
    ...                       "elpd_diff": [0.0, -4.0], "dse": [0.0, 1.5]},
    ...                      index=["true", "noise"])
    >>> len(plot_compare(table).axes)
    1
    """
    missing = {"elpd", "se", "elpd_diff", "dse"} - set(table.columns)
    if missing:
        raise ValueError(f"table lacks columns {sorted(missing)}; pass the output of compare")

    t = table.sort_values("elpd", ascending=False)
    if ax is None:
        fig, ax = plt.subplots(figsize=(6.0, 0.6 * len(t) + 1.2), layout="constrained")
    else:
        fig = ax.get_figure()  # type: ignore[assignment]
    pos = -np.arange(len(t), dtype=float)
    elpd = t["elpd"].to_numpy(float)
    best = elpd[0]
    ax.errorbar(elpd, pos, xerr=t["se"].to_numpy(float), fmt="o", color="C0",
                label="ELPD (LOO) +- se")
    diff = t["elpd_diff"].to_numpy(float)
    ax.errorbar((best + diff)[1:], pos[1:] - 0.25, xerr=t["dse"].to_numpy(float)[1:], fmt="D",
                mfc="white", color="C1", label="difference to best +- se")
    ax.axvline(best, color="grey", lw=0.8, ls="--")
    ax.set_yticks(pos, [str(i) for i in t.index])
    ax.set_xlabel("expected log predictive density (higher is better)")
    # Above the axes: inside, it covered the markers of whichever model sat in its corner.
    ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=2, fontsize="small",
              frameon=False)
    return fig  # type: ignore[return-value]
