"""Checks of the estimators' settings and inputs: every error names the problem."""

from __future__ import annotations

import numbers
import warnings
from typing import Any

import jax
import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.utils.validation import column_or_1d

from bayesfm.data.design import Design, check_finite
from bayesfm.engines import GUIDES, METHODS, STORES
from bayesfm.engines.gibbs import MOVES
from bayesfm.engines.svi import check_batch_size
from bayesfm.model import PARAMETERIZATIONS, FMPriors, get_interaction

__all__ = [
    "FLOAT32_MAX_ABS_VALUE",
    "PrecisionWarning",
    "as_1d",
    "check_params",
    "check_positive_int",
    "check_sample_weight",
    "check_X_shape_and_kind",
    "float_dtype",
    "is_all_numeric",
    "numeric_labels",
    "warn_if_imprecise",
]

#: Largest feature value that float32 fits handle without a measurable loss of accuracy.
#: Measured (docs/precision.md): a standard-normal column times 1e4 (values up to 3e4) fits as
#: well as unscaled; times 1e5 and 1e6 the float32 RMSE grows by 20% and 70%, float64's not.
FLOAT32_MAX_ABS_VALUE = 5e4


class PrecisionWarning(UserWarning):
    """The data are such that float32 arithmetic loses accuracy."""


def check_positive_int(value: Any, name: str, minimum: int = 1) -> int:
    """``value`` as an int, or ``TypeError``/``ValueError`` naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {value!r} ({type(value).__name__})")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


def _check_priors(priors: Any) -> FMPriors:
    if priors is not None and not isinstance(priors, dict):
        raise TypeError(
            f"priors must be a dict of prior constants (e.g. {{'a0': 2.0}}), got "
            f"{priors!r} ({type(priors).__name__})"
        )
    given = dict(priors or {})
    unknown = set(given) - set(FMPriors._fields)
    if unknown:
        raise ValueError(
            f"unknown prior constants {sorted(unknown)}; valid: {', '.join(FMPriors._fields)}"
        )
    for k, v in given.items():
        if isinstance(v, bool) or not isinstance(v, numbers.Real):
            raise TypeError(f"prior constant {k} must be a number, got {v!r}")
        if not np.isfinite(v) or (k != "mu0" and v <= 0):
            raise ValueError(f"prior constant {k} must be finite (and > 0), got {v}")
    return FMPriors(**given)


def check_params(est: Any) -> FMPriors:
    """Check every setting of a bayesfm estimator; return its prior constants.

    Combinations of likelihood, model, method and store are checked once the likelihood is
    known (:func:`bayesfm.engines.check_supported`); here each setting on its own.
    """
    check_positive_int(est.rank, "rank")
    if est.method not in METHODS:
        raise ValueError(f"unknown method {est.method!r}; valid methods: {', '.join(METHODS)}")
    get_interaction(est.model, est.degree, est.model_options)
    check_positive_int(est.num_warmup, "num_warmup", minimum=0)
    check_positive_int(est.num_samples, "num_samples")
    check_positive_int(est.num_chains, "num_chains")
    check_positive_int(est.thinning, "thinning")
    if est.method in ("gibbs", "nuts") and est.thinning > est.num_samples:
        raise ValueError(
            f"thinning ({est.thinning}) must not exceed num_samples ({est.num_samples}): "
            "num_samples counts post-warmup sweeps, of which every thinning-th is kept"
        )
    if est.store not in STORES:
        raise ValueError(f"unknown store {est.store!r}; valid stores: {', '.join(STORES)}")
    check_positive_int(est.max_kept, "max_kept")
    if not isinstance(est.moves, str) or est.moves not in MOVES:
        raise ValueError(f"unknown moves {est.moves!r}; valid moves: {', '.join(MOVES)}")
    if est.moves != "none" and est.method != "gibbs":
        raise ValueError(f"moves={est.moves!r} needs method='gibbs' (got method="
                         f"{est.method!r}): the mixing moves are steps of the Gibbs sweep")
    check_devices(est.devices, est.method)
    if est.store == "moments":
        if est.method != "gibbs":
            raise ValueError(
                f"store='moments' needs method='gibbs' (got method={est.method!r}); "
                "NUTS and SVI keep every draw"
            )
        if est.log_likelihood is True:
            raise ValueError(
                "log_likelihood=True needs every draw of w and v, which store='moments' "
                "does not keep; use log_likelihood='auto' or False, or store='draws'"
            )
    check_positive_int(est.svi_steps, "svi_steps")
    check_batch_size(est.batch_size)
    if est.batch_size is not None and not isinstance(est.batch_size, str):
        check_positive_int(est.batch_size, "batch_size")
    if est.guide not in GUIDES:
        raise ValueError(f"unknown guide {est.guide!r}; valid guides: {', '.join(GUIDES)}")
    if est.parameterization not in PARAMETERIZATIONS:
        raise ValueError(
            f"unknown parameterization {est.parameterization!r}; "
            f"valid: {', '.join(PARAMETERIZATIONS)}"
        )
    lr = est.learning_rate
    if isinstance(lr, bool) or not isinstance(lr, numbers.Real):
        raise TypeError(f"learning_rate must be a number, got {lr!r} ({type(lr).__name__})")
    if not (np.isfinite(lr) and lr > 0):
        raise ValueError(f"learning_rate must be finite and > 0, got {lr}")
    if est.progress_bar is not None and not isinstance(est.progress_bar, bool):
        raise TypeError(f"progress_bar must be True, False or None, got {est.progress_bar!r}")
    if est.log_likelihood not in (True, False, "auto"):
        raise ValueError(
            f"log_likelihood must be True, False or 'auto', got {est.log_likelihood!r}"
        )
    return _check_priors(est.priors)


def check_sample_weight(sample_weight: Any, n_rows: int) -> np.ndarray | None:
    """Non-negative finite frequency weights of shape ``(n_rows,)``, or ``None``."""
    if sample_weight is None:
        return None
    sw = np.asarray(sample_weight)
    if sw.dtype.kind not in "biuf":
        try:
            sw = sw.astype(np.float64)
        except (TypeError, ValueError):
            raise TypeError(
                f"sample_weight must be numeric, got dtype {sw.dtype} (first value "
                f"{sw.ravel()[0].item()!r})"
            ) from None
    sw = sw.astype(np.float64)
    if sw.ndim == 0:
        sw = np.full(n_rows, float(sw))
    if sw.shape != (n_rows,):
        raise ValueError(f"sample_weight has shape {sw.shape}, but X has {n_rows} rows")
    check_finite(sw, "sample_weight")
    if np.any(sw < 0):
        row = int(np.argmax(sw < 0))
        raise ValueError(f"sample_weight must be non-negative, got {sw[row]} at row {row}")
    if not np.any(sw > 0):
        raise ValueError("sample_weight is zero for every row")
    return sw


def float_dtype() -> np.dtype[Any]:
    """float64 when JAX runs in 64-bit mode (``jax_enable_x64``), else float32."""
    return np.dtype(np.float64 if jax.config.jax_enable_x64 else np.float32)


def warn_if_imprecise(design: Design) -> None:
    """Warn when float32 scores lose accuracy: feature values far from unit scale."""
    if design.values.dtype != np.float32 or design.values.size == 0:
        return
    k = int(np.argmax(np.abs(design.values)))
    big = float(np.abs(design.values.flat[k]))
    if big > FLOAT32_MAX_ABS_VALUE:
        row, slot = np.unravel_index(k, design.values.shape)
        col = int(design.indices[row, slot])
        warnings.warn(
            f"X has values up to {big:.3g} (column {col}, row {int(row)}); FM scores multiply "
            f"pairs of values, and in float32 values beyond {FLOAT32_MAX_ABS_VALUE:g} lose "
            "accuracy: standardise the column, or fit in float64 "
            "(jax.config.update('jax_enable_x64', True))",
            PrecisionWarning,
            stacklevel=4,
        )


def check_X_shape_and_kind(X: Any) -> None:
    """Errors that name ``X``: wrong number of dimensions, no rows or columns, text values."""
    if sp.issparse(X):
        shape = X.shape
    else:
        arr = X.to_numpy() if isinstance(X, pd.DataFrame) else np.asarray(X)
        if arr.dtype.kind in "USV":
            first = arr.ravel()[0].item()
            raise TypeError(
                f"X must be numeric, got dtype {arr.dtype} (e.g. {first!r}); encode text "
                "columns with a DataFrame (bayesfm.data.FMEncoder)"
            )
        if arr.ndim != 2:
            raise ValueError(
                f"X must be 2-dimensional (rows x features), got shape {arr.shape}. Reshape "
                "your data: a single row is X.reshape(1, -1)"
            )
        shape = arr.shape
    if shape[0] == 0:
        raise ValueError(f"X has 0 rows (shape={shape}); at least one row is required")
    if shape[1] == 0:
        raise ValueError(
            f"X has 0 feature(s) (shape={shape}) while a minimum of 1 is required."
        )


def as_1d(y: Any, n_rows: int) -> np.ndarray:
    """``y`` as a 1-D array of ``n_rows`` values, or an error naming the problem."""
    if y is None:
        raise ValueError("this estimator requires y to be passed, but the target y is None")
    if isinstance(y, pd.DataFrame | pd.Series):
        y = y.to_numpy()
    if sp.issparse(y):
        raise TypeError("y must be a dense 1-D array, got a sparse matrix")
    y_arr = np.asarray(y)
    if y_arr.ndim == 2 and y_arr.shape[1] == 1:
        y_arr = column_or_1d(y_arr, warn=True)
    if y_arr.ndim != 1:
        raise ValueError(f"y must be 1-dimensional, got shape {y_arr.shape}")
    if y_arr.shape[0] != n_rows:
        raise ValueError(f"y has {y_arr.shape[0]} values, but X has {n_rows} rows")
    return y_arr


def is_all_numeric(df: pd.DataFrame) -> bool:
    """All columns numeric (not bool): such a frame is used like an array, unencoded."""
    return all(
        pd.api.types.is_numeric_dtype(t) and not pd.api.types.is_bool_dtype(t) for t in df.dtypes
    )


def numeric_labels(y: np.ndarray) -> np.ndarray:
    """Convert ``y`` to float64, or raise naming the first value that is not a number."""
    if y.dtype.kind in "biuf":
        return y.astype(np.float64)
    try:
        return y.astype(np.float64)
    except (TypeError, ValueError):
        first = next((v for v in y if not isinstance(v, numbers.Real)), y[0])
        raise ValueError(
            f"Unknown label type: y must be numeric, got dtype {y.dtype} with value {first!r}"
        ) from None


def check_devices(devices: Any, method: str) -> None:
    """Validate ``devices=``: ``None`` (every device) or a count of the available devices."""
    available = len(jax.devices())
    if devices is None:
        return
    if isinstance(devices, bool) or not isinstance(devices, numbers.Integral) or not (
            1 <= int(devices) <= available):
        raise ValueError(f"devices must be None (every device) or an integer in 1 .. "
                         f"{available} (the {jax.devices()[0].platform} devices available), "
                         f"got {devices!r}")
    if int(devices) > 1 and method == "nuts":
        raise ValueError(f"devices={devices} needs method='gibbs' or 'svi' (got method="
                         "'nuts'): NUTS runs on one device")


def mesh_attrs(method: str, devices: int | None, n_rows: int) -> dict[str, int]:
    """Return the DataTree attributes recording the mesh: ``num_devices``, ``num_processes``.

    Gibbs splits the rows over ``devices`` (every device when ``None``), SVI too where they
    split evenly (:func:`bayesfm.engines.svi.run_svi`); NUTS uses one device.
    """
    n = len(jax.devices()) if devices is None else int(devices)
    if method == "nuts" or (method == "svi" and n_rows % n):
        n = 1
    return {"num_devices": n, "num_processes": jax.process_count() if n > 1 else 1}
