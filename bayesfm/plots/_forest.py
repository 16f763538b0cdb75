"""Forest plot of per-feature (or per-group) posteriors, labelled with feature names."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import xarray as xr
from matplotlib.figure import Figure

__all__ = ["plot_forest"]


def _as_list(value: str | Sequence[str] | None) -> list[str] | None:
    if value is None:
        return None
    return [value] if isinstance(value, str) else [str(v) for v in value]


def _feature_groups(dt: xr.DataTree, n_features: int) -> tuple[np.ndarray, list[str]]:
    """Group code of every feature and the group names (one group ``all`` if not stored)."""
    if "constant_data" in dt.children and "group_of_feature" in dt["constant_data"].data_vars:
        codes = np.asarray(dt["constant_data"]["group_of_feature"].values, dtype=int)
    else:
        codes = np.zeros(n_features, dtype=int)
    post = dt["posterior"].to_dataset()
    if "group" in post.coords:
        names = [str(g) for g in post.coords["group"].values]
    else:
        names = [f"g{g}" for g in range(int(codes.max(initial=0)) + 1)]
    return codes, names


def plot_forest(
    dt: xr.DataTree,
    *,
    group: str | Sequence[str] | None = None,
    features: Sequence[str] | None = None,
    top: int | None = 30,
    prob: float = 0.9,
    var: str = "w",
) -> Figure:
    """Posterior mean and credible intervals of feature weights, one row per feature.

    Rows are labelled with the feature names (the DataTree's ``feature`` coordinate) and
    coloured by group (field); within a group the largest mean comes first. Each row shows
    the posterior mean (dot), the central 50% interval (thick) and the ``prob`` interval
    (thin), all equal-tailed over every chain and draw.

    Parameters
    ----------
    dt : DataTree
        A fit's ``idata_``.
    group : str or sequence of str, optional
        Keep only the features of these groups (e.g. ``"user"``).
    features : sequence of str, optional
        Keep only these features, by name.
    top : int or None, default 30
        After filtering, show at most this many rows: those with the largest absolute
        posterior mean. ``None`` shows them all.
    prob : float, default 0.9
        Mass of the outer interval.
    var : str, default "w"
        A posterior variable with one dimension per draw: ``w`` (per feature), or ``mu_w`` /
        ``lambda_w`` (per group). Raw ``v`` is refused: it is not identifiable.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import numpy as np, arviz as az
    >>> from bayesfm.plots import plot_forest
    >>> rng = np.random.default_rng(0)
    >>> dt = az.from_dict(
    ...     {"posterior": {"w": rng.normal(np.arange(4.0), 0.3, size=(2, 100, 4)),
    ...                    "mu_w": rng.normal(size=(2, 100, 2))},
    ...      "constant_data": {"group_of_feature": np.array([0, 0, 1, 1])}},
    ...     dims={"w": ["feature"], "mu_w": ["group"], "group_of_feature": ["feature"]},
    ...     coords={"feature": ["user=a", "user=b", "item=x", "item=y"],
    ...             "group": ["user", "item"]})
    >>> fig = plot_forest(dt, group="item")
    >>> [t.get_text() for t in fig.axes[0].get_yticklabels()]
    ['item=y', 'item=x']
    """
    if var == "v":
        raise ValueError("v is not identifiable (rotation, sign); plot w, mu_w or lambda_w")
    if not 0.5 < prob < 1.0:
        raise ValueError(f"prob must be in (0.5, 1), got {prob}")
    if top is not None and (int(top) != top or top < 1):
        raise ValueError(f"top must be a positive integer or None, got {top!r}")
    post = dt["posterior"].to_dataset()
    if var not in post.data_vars:
        have = sorted(map(str, post.data_vars))
        raise ValueError(f"variable {var!r} is not in the posterior: {have}")
    da = post[var]
    extra = [d for d in da.dims if d not in ("chain", "draw")]
    if len(extra) != 1:
        raise ValueError(f"{var} has dims {extra}; plot_forest needs exactly one per draw")
    dim = str(extra[0])
    names = [str(n) for n in da.coords[dim].values]
    draws = np.asarray(da.transpose("chain", "draw", dim).values, dtype=float)
    draws = draws.reshape(-1, len(names))
    if dim == "feature":
        codes, group_names = _feature_groups(dt, len(names))
    else:
        codes, group_names = np.arange(len(names)), names

    keep = np.ones(len(names), dtype=bool)
    wanted_groups = _as_list(group)
    if wanted_groups is not None:
        unknown = sorted(set(wanted_groups) - set(group_names))
        if unknown:
            raise ValueError(f"unknown group(s) {unknown}; groups of this fit: {group_names}")
        keep &= np.isin(codes, [group_names.index(g) for g in wanted_groups])
    wanted_features = _as_list(features)
    if wanted_features is not None:
        unknown = sorted(set(wanted_features) - set(names))
        if unknown:
            raise ValueError(f"unknown feature(s) {unknown[:10]} (of {len(unknown)})")
        keep &= np.isin(names, wanted_features)
    rows = np.flatnonzero(keep)
    if rows.size == 0:
        raise ValueError("no feature is left after filtering by group and features")
    mean = draws.mean(axis=0)
    n_selected = rows.size
    if top is not None and rows.size > top:
        rows = rows[np.argsort(-np.abs(mean[rows]), kind="stable")[: int(top)]]
    # Group by group, largest mean first within a group; the first row is drawn at the top.
    rows = rows[np.lexsort((-mean[rows], codes[rows]))]
    q = np.quantile(draws[:, rows], [(1 - prob) / 2, 0.25, 0.75, (1 + prob) / 2], axis=0)

    fig, ax = plt.subplots(figsize=(6.5, 1.2 + 0.24 * rows.size))
    ypos = np.arange(rows.size)[::-1]
    for g in np.unique(codes[rows]):
        m = codes[rows] == g
        color = f"C{g % 10}"
        ax.hlines(ypos[m], q[0, m], q[3, m], color=color, lw=1)
        ax.hlines(ypos[m], q[1, m], q[2, m], color=color, lw=3)
        ax.plot(mean[rows][m], ypos[m], "o", color=color, ms=4, label=group_names[g])
    ax.axvline(0.0, color="grey", lw=0.8, ls="--")
    ax.set_yticks(ypos, [names[r] for r in rows])
    ax.set_ylim(-0.7, rows.size - 0.3)
    ax.set_xlabel(f"{var}: posterior mean, 50% and {prob:.0%} intervals")
    what = "features" if dim == "feature" else "groups"
    title = f"{var}: {rows.size} of {n_selected} {what}"
    if rows.size < n_selected:
        title += " (largest |mean|)"
    ax.set_title(title)
    if dim == "feature":  # even for one group: the legend names it
        ax.legend(title="group", loc="best", fontsize="small")
    fig.tight_layout()
    return fig
