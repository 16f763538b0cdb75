"""Convergence plots of a fit: trace, rank and ELBO (never of raw ``v``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import xarray as xr
from matplotlib.figure import Figure

__all__ = ["plot_trace", "plot_rank", "plot_elbo"]

_TRACE_DEFAULT = ("w0", "tau", "lambda_w", "mu_w", "log_likelihood")


def _trace_values(dt: xr.DataTree, name: str) -> xr.DataArray | None:
    for group in ("posterior", "sample_stats"):
        if group in dt.children and name in dt[group].data_vars:
            return dt[group].to_dataset()[name]
    return None


def _identifiable(
    dt: xr.DataTree, var_names: Sequence[str] | None, what: str
) -> list[tuple[str, xr.DataArray]]:
    """Return the requested variables (default: identifiable ones present); refuse raw ``v``."""
    names = list(var_names) if var_names is not None else list(_TRACE_DEFAULT)
    if "v" in names:
        raise ValueError(
            f"v is not identifiable (rotation, sign); {what} identifiable quantities such as "
            "w0, w, lambda_w, tau, eta_ref or log_likelihood"
        )
    found = [(n, _trace_values(dt, n)) for n in names]
    missing = [n for n, a in found if a is None]
    if var_names is not None and missing:
        raise ValueError(f"variables not in the fit: {missing}")
    return [(n, a) for n, a in found if a is not None]


_LINE_STYLES = ("-", "--", ":", "-.")


def _component_label(comp: object) -> str:
    """``user`` or ``group=a, factor=0`` for a stacked component coordinate."""
    if isinstance(comp, tuple):
        return ", ".join(str(c) for c in comp)
    return str(comp)


def plot_trace(
    dt: xr.DataTree, var_names: Sequence[str] | None = None, *, max_lines: int = 4
) -> Figure:
    """Trace and marginal density of identifiable quantities, one row per variable.

    Raw ``v`` is refused: it is identified only up to rotation and sign, so its trace says
    nothing about convergence.

    Parameters
    ----------
    dt : DataTree
        A fit's ``idata_``.
    var_names : sequence of str, optional
        Default ``w0, tau, lambda_w, mu_w, log_likelihood`` (those present).
    max_lines : int
        At most this many components of a vector variable are drawn.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import numpy as np, arviz as az
    >>> from bayesfm.plots import plot_trace
    >>> rng = np.random.default_rng(0)
    >>> dt = az.from_dict({"posterior": {"w0": rng.normal(size=(2, 100)),
    ...                                  "tau": rng.gamma(2.0, size=(2, 100))}})
    >>> fig = plot_trace(dt)
    >>> [ax.get_ylabel() for ax in fig.axes[::2]]
    ['w0', 'tau']
    """
    found = _identifiable(dt, var_names, "trace")
    fig, axes = plt.subplots(len(found), 2, figsize=(10, 2.2 * len(found)), squeeze=False)
    for row, (name, da) in enumerate(found):
        extra = [d for d in da.dims if d not in ("chain", "draw")]
        flat = da.stack(component=extra) if extra else da.expand_dims(component=[0])
        comps = flat["component"].values[:max_lines]
        for c_i, comp in enumerate(comps):
            sub = flat.isel(component=c_i)
            for k, chain in enumerate(sub["chain"].values):
                vals = np.asarray(sub.sel(chain=chain).values)
                # Scalars: one colour per chain; vectors: one colour per component and one
                # line style per chain, with a legend naming the components.
                vector = bool(extra)
                axes[row, 0].plot(
                    vals, lw=0.6, alpha=0.8, color=f"C{c_i}" if vector else f"C{k}",
                    ls=_LINE_STYLES[k % len(_LINE_STYLES)] if vector else "-",
                    label=(_component_label(comp) if vector and k == 0 else None))
            axes[row, 1].hist(np.asarray(sub.values).ravel(), bins=30, histtype="step",
                              color=f"C{c_i}", density=True)
        label = name if not extra else f"{name} ({len(comps)} of {flat.sizes['component']})"
        axes[row, 0].set_ylabel(label)
        if extra:
            axes[row, 0].legend(fontsize="x-small", loc="upper right", ncol=len(comps))
        axes[row, 1].set_yticks([])
    axes[-1, 0].set_xlabel("draw")
    axes[-1, 1].set_xlabel("value")
    axes[0, 0].set_title("trace (scalars: a colour per chain; vectors: a colour per "
                         "component, a line style per chain)", fontsize="small")
    axes[0, 1].set_title("marginal posterior")
    fig.tight_layout()
    return fig




def plot_rank(
    dt: xr.DataTree, var_names: Sequence[str] | None = None, *, max_components: int = 4
) -> Figure:
    """Rank plots (ECDF of fractional ranks minus uniform, one line per chain).

    Each variable's draws are ranked over all chains together; if the chains sample the same
    distribution, every chain's ranks are uniform and its line stays inside the envelope.
    A single chain is split into its two halves, which are ranked against each other.
    Drawn by :func:`arviz_plots.plot_rank`. Raw ``v`` is refused, as in :func:`plot_trace`.

    Parameters
    ----------
    dt : DataTree
        A fit's ``idata_``.
    var_names : sequence of str, optional
        Default ``w0, tau, lambda_w, mu_w, log_likelihood`` (those present); ``w`` and
        ``eta_ref`` may be asked for too.
    max_components : int
        At most this many components of a vector variable get a panel (the first ones).

    Returns
    -------
    matplotlib.figure.Figure
        One panel per scalar or component, titled with its name.

    Examples
    --------
    >>> import numpy as np, arviz as az
    >>> from bayesfm.plots import plot_rank
    >>> rng = np.random.default_rng(0)
    >>> dt = az.from_dict({"posterior": {"w0": rng.normal(size=(2, 100)),
    ...                                  "tau": rng.gamma(2.0, size=(2, 100))}})
    >>> fig = plot_rank(dt)
    >>> [ax.get_title() for ax in fig.axes]
    ['w0', 'tau']
    """
    import arviz_plots as azp

    if max_components < 1:
        raise ValueError(f"max_components must be >= 1, got {max_components}")
    found = _identifiable(dt, var_names, "rank-plot")
    if not found:
        raise ValueError("none of the variables to rank-plot is in the fit")
    ds = xr.Dataset(
        {
            name: da.isel({d: slice(0, max_components) for d in da.dims
                           if d not in ("chain", "draw")})
            for name, da in found
        }
    )
    split = ds.sizes["chain"] == 1
    if split:
        if ds.sizes["draw"] < 4:
            raise ValueError(f"rank plots need at least 4 draws, got {ds.sizes['draw']}")
        # One chain: rank its two halves against each other, as split-R-hat does.
        half = ds.sizes["draw"] // 2
        first = ds.isel(draw=slice(0, half))
        second = ds.isel(draw=slice(half, 2 * half)).assign_coords(draw=first["draw"].values)
        ds = xr.concat([first, second.assign_coords(chain=[1])], dim="chain")
    tree = xr.DataTree.from_dict({"posterior": ds})
    n_panels = sum(int(np.prod([ds[n].sizes[d] for d in ds[n].dims
                                if d not in ("chain", "draw")])) for n in ds.data_vars)
    cols = min(n_panels, 4)
    rows = -(-n_panels // cols)
    pc = azp.plot_rank(
        tree, backend="matplotlib", col_wrap=cols,
        figure_kwargs={"figsize": (3.2 * cols, 2.6 * rows), "layout": "constrained"},
    )
    fig: Figure = pc.viz["figure"].item()
    for ax in list(fig.axes):
        if not ax.get_lines():  # the unused cells of the last row of the grid
            fig.delaxes(ax)
            continue
        # arviz-plots stacks "name\ncoord"; one line reads better in a small panel.
        ax.set_title(ax.get_title().replace("\n", " "), fontsize="medium")
    if split:
        fig.suptitle("one chain: its first and second halves ranked against each other")
    return fig


def plot_elbo(dt: xr.DataTree, *, ax: Any = None) -> Figure:
    """Loss (negative ELBO) of every optimisation step of an SVI fit, with a running mean.

    A flat tail means the optimiser has settled; a curve still falling at the last step means
    ``svi_steps`` was too small. Minibatch losses are noisy, hence the running mean.

    Parameters
    ----------
    dt : DataTree
        The ``idata_`` of a fit with ``method="svi"`` (it holds the ``elbo`` group).
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    ValueError
        If ``dt`` has no ``elbo`` group (a Gibbs or NUTS fit).

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> from bayesfm.plots import plot_elbo
    >>> loss = 100.0 / np.arange(1, 501) + np.random.default_rng(0).normal(0, 0.1, 500)
    >>> dt = xr.DataTree.from_dict({"elbo": xr.Dataset({"loss": ("step", loss)})},
    ...                            name="fit")
    >>> plot_elbo(dt).axes[0].get_xlabel()
    'step'
    """
    if "elbo" not in dt.children or "loss" not in dt["elbo"].data_vars:
        engine = dt.attrs.get("engine", "unknown")
        raise ValueError(
            f"this fit has no ELBO trace (engine {engine!r}); only fits with method='svi' "
            "store one in their 'elbo' group"
        )
    loss = np.asarray(dt["elbo"]["loss"].values, dtype=float)
    steps = np.arange(1, loss.size + 1)
    window = max(1, loss.size // 50)
    running = np.convolve(loss, np.ones(window) / window, mode="valid")
    fig = ax.figure if ax is not None else plt.figure(figsize=(7, 3.5))
    ax = ax if ax is not None else fig.add_subplot()
    ax.plot(steps, loss, lw=0.5, alpha=0.4, color="C0", label="loss per step")
    ax.plot(steps[window - 1 :], running, lw=1.5, color="C1",
            label=f"running mean over {window} steps")
    # The first steps are orders of magnitude above the rest: zoom on the settled part.
    tail = loss[loss.size // 10 :]
    if tail.size:
        span = float(tail.max() - tail.min()) or 1.0
        ax.set_ylim(float(tail.min()) - 0.1 * span, float(tail.max()) + 0.5 * span)
    ax.set_xlabel("step")
    ax.set_ylabel("loss (negative ELBO)")
    ax.set_title(f"SVI: {loss.size} steps, final running loss {running[-1]:.4g}")
    ax.legend(loc="upper right")
    if len(fig.axes) == 1:
        fig.tight_layout()
    return fig
