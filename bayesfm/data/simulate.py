"""Data simulated from the FM itself, with the planted truth kept for checks and the demo."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp
from scipy.special import expit, ndtr

__all__ = ["SimulatedFM", "simulate_fm"]


@dataclasses.dataclass(frozen=True)
class SimulatedFM:
    """Rows simulated from a factorization machine with known parameters.

    Attributes
    ----------
    X : scipy.sparse.csr_matrix of shape (n_rows, n_features)
        One-hot rows, one feature per group.
    y : ndarray of shape (n_rows,)
        Observations: real values (regression), 0/1 clicks (binary) or integer class codes
        ``0 .. C-1`` (ordinal).
    eta : ndarray of shape (n_rows,)
        The noiseless FM score of every row (the regression mean).
    prob : ndarray of shape (n_rows,) or (n_rows, C), or None
        For binary data, the true click probability (``Phi(eta)`` or ``sigmoid(eta)``); for
        ordinal data, the true class probabilities.
    params : dict of str to ndarray
        The planted ``w0``, ``w``, ``v``, ``tau`` (regression) and ``cutpoints`` (ordinal).
    groups : ndarray of shape (n_features,)
        Group code of every feature.
    group_names, feature_names : list of str
    """

    X: sp.csr_matrix
    y: np.ndarray
    eta: np.ndarray
    prob: np.ndarray | None
    params: dict[str, np.ndarray]
    groups: np.ndarray
    group_names: list[str]
    feature_names: list[str]


def simulate_fm(
    n_rows: int = 2000,
    group_sizes: Sequence[int] = (40, 30, 10),
    rank: int = 4,
    *,
    task: str = "regression",
    weight_sd: float = 0.5,
    factor_sd: float = 0.5,
    noise_sd: float = 0.5,
    popularity: float = 1.0,
    cutpoints: Sequence[float] = (0.0, 0.75, 1.5),
    seed: int = 0,
    model: str = "fm",
    degree: int = 2,
    link: str = "probit",
    model_options: dict | None = None,
    network_sd: float = 1.0,
) -> SimulatedFM:
    """Simulate one-hot rows and observations from the FM of DESIGN section 1.

    Parameters are drawn from the model's conditional priors with fixed hyperparameters
    (``mu = 0``, ``lambda_w = 1 / weight_sd**2``, ``lambda_v = 1 / factor_sd**2``), so the
    scores have a sensible scale; each row takes one feature from every group, drawn with
    Zipf-like popularity (``popularity=0`` is uniform) so that features have very different
    amounts of data, as in real CTR logs.

    Parameters
    ----------
    n_rows : int
    group_sizes : sequence of int
        Number of features in each one-hot group.
    rank : int
    task : {"regression", "binary", "ordinal"}
        Binary draws clicks from ``Bernoulli(Phi(eta))`` (the probit model; ``link="logit"``:
        ``Bernoulli(sigmoid(eta))``); ordinal draws
        class ``c`` when ``cutpoints[c-1] < eta + Normal(0, 1) <= cutpoints[c]`` (the ordered
        probit of :mod:`bayesfm.model.likelihoods.ordinal`).
    weight_sd, factor_sd : float
        Prior standard deviations of ``w`` and ``v``.
    noise_sd : float
        Observation noise (regression); ``tau = 1 / noise_sd**2``.
    popularity : float
        Zipf exponent of feature popularity within a group.
    cutpoints : sequence of float
        Increasing cutpoints of the ordinal task (``C - 1`` of them). bayesfm's model fixes
        the first at 0, so planted values with ``cutpoints[0] = 0`` are directly comparable.
    seed : int
    model : {"fm", "ffm", "ifm", "cfm"}
        ``"ffm"`` plants a field-aware FM: ``v`` of shape ``(p, G, rank)``, one vector per
        feature and other group (:mod:`bayesfm.model.interactions.field_aware`).
        ``"ifm"`` plants an input-aware FM (a factor-estimating network rescales every
        row's fields, :mod:`bayesfm.model.interactions.input_aware`), ``"cfm"`` a
        convolutional FM (:mod:`bayesfm.model.interactions.convolutional`); their weight
        arrays are drawn from the model's prior at ``lambda = 1 / network_sd**2`` and
        returned in ``params`` under the model's site names.
    degree : {2, 3}
        ``3`` adds the order-3 ANOVA term of a second factor matrix ``v3`` (sd
        ``factor_sd``); plain FM only.
    link : {"probit", "logit"}
        Link of the binary task.
    model_options : dict, optional
        The planted network's options, as the estimators' ``model_options``: IFM
        ``hidden_units`` (default ``(16,)``) and ``temperature`` (1.0); CFM ``channels`` (4).
    network_sd : float
        Prior standard deviation of the network weights (times ``1 / sqrt(fan_in)``).

    Returns
    -------
    SimulatedFM

    Examples
    --------
    >>> from bayesfm.data import simulate_fm
    >>> sim = simulate_fm(n_rows=100, group_sizes=(5, 4), rank=2, task="binary", seed=1)
    >>> sim.X.shape, sorted(set(sim.y.tolist()))
    ((100, 9), [0.0, 1.0])
    """
    if task not in ("regression", "binary", "ordinal"):
        raise ValueError(f"unknown task {task!r}; valid: regression, binary, ordinal")
    if link not in ("probit", "logit"):
        raise ValueError(f"unknown link {link!r}; valid: probit, logit")
    cut = np.asarray(cutpoints, dtype=np.float64)
    if task == "ordinal" and (cut.ndim != 1 or cut.size < 1 or np.any(np.diff(cut) <= 0)):
        raise ValueError(f"cutpoints must be a non-empty increasing sequence, got {cutpoints!r}")
    rng = np.random.default_rng(seed)
    sizes = np.asarray(group_sizes, dtype=int)
    p = int(sizes.sum())
    offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    cols = np.empty((n_rows, len(sizes)), dtype=np.int64)
    for g, (size, off) in enumerate(zip(sizes, offsets, strict=True)):
        weights = 1.0 / np.arange(1, size + 1) ** popularity
        cols[:, g] = off + rng.choice(size, size=n_rows, p=weights / weights.sum())
    X = sp.csr_matrix(
        (np.ones(cols.size), cols.ravel(), np.arange(0, cols.size + 1, len(sizes))),
        shape=(n_rows, p),
    )
    w0 = rng.normal(0.0, 0.5)
    w = rng.normal(0.0, weight_sd, size=p)
    if model not in ("fm", "ffm", "ifm", "cfm") or degree not in (2, 3) or (
            model != "fm" and degree == 3):
        raise ValueError(f"unsupported model={model!r} with degree={degree!r}")
    n_groups = len(sizes)
    v = rng.normal(0.0, factor_sd, size=(p, n_groups, rank) if model == "ffm" else (p, rank))
    params: dict[str, np.ndarray] = {"w0": np.asarray(w0), "w": w, "v": v}
    if model == "ifm":
        net, m = _plant_ifm(rng, v[cols], dict(model_options or {}), network_sd)
        params.update(net)
        s = (m[..., None] * v[cols]).sum(axis=1)
        pairs = 0.5 * (s * s - ((m[..., None] * v[cols]) ** 2).sum(axis=1)).sum(axis=1)
        eta = w0 + (m * w[cols]).sum(axis=1) + pairs
    elif model == "cfm":
        net, read = _plant_cfm(rng, v[cols], dict(model_options or {}), network_sd)
        params.update(net)
        eta = w0 + w[cols].sum(axis=1) + read
    elif model == "ffm":  # one feature per group: the pair (g, h) meets v[c_g, h] . v[c_h, g]
        pairs = sum(
            np.sum(v[cols[:, g], h] * v[cols[:, h], g], axis=1)
            for g in range(n_groups) for h in range(g + 1, n_groups)
        )
    else:
        s = v[cols].sum(axis=1)
        pairs = 0.5 * (s * s - (v[cols] ** 2).sum(axis=1)).sum(axis=1)
    if model in ("fm", "ffm"):
        eta = w0 + w[cols].sum(axis=1) + pairs
    if degree == 3:
        v3 = rng.normal(0.0, factor_sd, size=(p, rank))
        a = v3[cols]  # (n, G, k); the order-3 ANOVA term over the row's G features
        p1, p2, p3 = a.sum(axis=1), (a**2).sum(axis=1), (a**3).sum(axis=1)
        eta = eta + ((p1**3 - 3 * p1 * p2 + 2 * p3) / 6).sum(axis=1)
        params["v3"] = v3
    if task == "regression":
        y = eta + rng.normal(0.0, noise_sd, size=n_rows)
        prob = None
        params["tau"] = np.asarray(1.0 / noise_sd**2)
    elif task == "ordinal":
        cdf = ndtr(cut[None, :] - eta[:, None])
        prob = np.diff(np.column_stack([np.zeros(n_rows), cdf, np.ones(n_rows)]), axis=1)
        z = eta + rng.normal(size=n_rows)
        y = np.sum(z[:, None] > cut[None, :], axis=1).astype(np.int64)
        params["cutpoints"] = cut
    else:
        prob = ndtr(eta) if link == "probit" else expit(eta)
        y = (rng.uniform(size=n_rows) < prob).astype(np.float64)
    groups = np.repeat(np.arange(len(sizes)), sizes)
    group_names = [f"field{g}" for g in range(len(sizes))]
    feature_names = [f"field{g}={j}" for g, size in enumerate(sizes) for j in range(size)]
    return SimulatedFM(X, y, eta, prob, params, groups, group_names, feature_names)


def _relu(a: np.ndarray) -> np.ndarray:
    return np.maximum(a, 0.0)


def _plant_ifm(rng: np.random.Generator, e: np.ndarray, options: dict,
               sd: float) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """FEN weights from the prior and the factors ``m`` (n, G) of one-hot rows ``e`` (n, G, k)."""
    unknown = set(options) - {"hidden_units", "temperature"}
    if unknown:
        raise ValueError(f"unknown model_options {sorted(unknown)} for model='ifm'")
    hidden = tuple(options.get("hidden_units", (16,)))
    t = float(options.get("temperature", 1.0))
    n, n_groups, rank = e.shape
    params: dict[str, np.ndarray] = {}
    a = e.reshape(n, -1)
    shape_in = (n_groups, rank)
    for layer, width in enumerate((*hidden, n_groups)):
        fan_in = int(np.prod(shape_in))
        wl = rng.normal(0.0, sd / np.sqrt(fan_in), size=(*shape_in, width))
        params[f"fen_w{layer}"] = wl
        a = a @ wl.reshape(fan_in, width)
        if layer < len(hidden):
            b = rng.normal(0.0, sd, size=width)
            params[f"fen_b{layer}"] = b
            a = _relu(a + b)
        shape_in = (width,)
    z = a / t
    z = np.exp(z - z.max(axis=1, keepdims=True))
    return params, n_groups * z / z.sum(axis=1, keepdims=True)


def _plant_cfm(rng: np.random.Generator, e: np.ndarray, options: dict,
               sd: float) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Convolution weights from the prior and the read-out (n,) of one-hot rows ``e``."""
    unknown = set(options) - {"channels"}
    if unknown:
        raise ValueError(f"unknown model_options {sorted(unknown)} for model='cfm'")
    channels = int(options.get("channels", 4))
    n, n_groups, rank = e.shape
    g, h = np.triu_indices(n_groups, 1)
    z = (e[:, g, :, None] * e[:, h, None, :])[..., None]  # (n, P, k, k, 1)
    params: dict[str, np.ndarray] = {}
    layer = 0
    while max(z.shape[1:4]) > 1:
        kernel = tuple(2 if s > 1 else 1 for s in z.shape[1:4])
        pad = [(0, 0)] + [(0, s % 2 if k == 2 else 0) for s, k in zip(z.shape[1:4], kernel,
                                                                      strict=True)] + [(0, 0)]
        z = np.pad(z, pad)
        c_in = z.shape[-1]
        fan_in = int(np.prod(kernel)) * c_in
        wl = rng.normal(0.0, sd / np.sqrt(fan_in), size=(*kernel, c_in, channels))
        b = rng.normal(0.0, sd, size=channels)
        nn, d1, d2, d3, c = z.shape
        k1, k2, k3 = kernel
        blocks = z.reshape(nn, d1 // k1, k1, d2 // k2, k2, d3 // k3, k3, c)
        z = _relu(np.einsum("nakblcmi,klmio->nabco", blocks, wl) + b)
        params[f"conv_w{layer}"], params[f"conv_b{layer}"] = wl, b
        layer += 1
    r = rng.normal(0.0, sd / np.sqrt(z.shape[-1]), size=z.shape[-1])
    params["conv_out"] = r
    return params, z.reshape(n, -1) @ r
