"""Turn what a user passes to ``fit`` / ``predict`` into a :class:`~bayesfm.data.Design`.

One encoding rule for every path: a DataFrame goes through :class:`~bayesfm.data.FMEncoder`
when it has a categorical, string, boolean or list column or when the estimator declares
``categorical=`` / ``numeric=`` columns; an all-numeric DataFrame without declarations is used
like an array but keeps its column names (and warns about integer columns that look like
IDs). Arrays and sparse matrices take ``groups``, ``feature_names`` and ``group_names``, or a
loader's :class:`~bayesfm.data.DatasetInfo`, or come as a :class:`~bayesfm.data.Design`.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pandas as pd
from sklearn.utils.validation import _check_feature_names, _check_n_features, validate_data

from bayesfm.data._columns import integer_id_columns, warn_integer_columns
from bayesfm.data.datasets import DatasetInfo
from bayesfm.data.design import Design, from_sparse
from bayesfm.data.encoder import FMEncoder
from bayesfm.estimators._validation import (
    check_X_shape_and_kind,
    float_dtype,
    is_all_numeric,
    warn_if_imprecise,
)

__all__ = ["Layout", "design_of", "layout_of"]


@dataclasses.dataclass
class Layout:
    """Groups and names of the columns of an array or sparse ``X`` (all optional)."""

    groups: Any = None
    feature_names: Any = None
    group_names: Any = None


def _names(est: Any, what: str) -> list[Any]:
    v = getattr(est, what, None)
    if v is None:
        return []
    if isinstance(v, str):
        raise TypeError(f"{what} must be a list of column names, not the string {v!r}")
    return list(v)


def layout_of(X: Any, groups: Any, feature_names: Any, group_names: Any) -> tuple[Any, Layout]:
    """Split a :class:`Design` or a :class:`DatasetInfo` passed as ``groups`` into rows and names.

    Returns ``(X as the estimator validates it, Layout)``.
    """
    if isinstance(X, Design):
        if groups is not None:
            raise ValueError("groups cannot be given with a Design: it carries its groups")
        return X.to_csr(), Layout(X.group_of_feature, feature_names or X.feature_names,
                                  group_names or X.group_names)
    if isinstance(groups, DatasetInfo):
        return X, Layout(groups.group_of_feature, feature_names or groups.feature_names,
                         group_names or groups.group_names)
    if isinstance(X, pd.DataFrame) and (groups is not None or feature_names is not None
                                        or group_names is not None):
        raise ValueError("groups, feature_names and group_names cannot be given with a "
                         "DataFrame: its columns are the groups and name the features")
    return X, Layout(groups, feature_names, group_names)


def design_of(est: Any, X: Any, *, reset: bool, layout: Layout | None = None) -> Design:
    """Validate ``X`` and turn it into a Design laid out like the training data."""
    if isinstance(X, Design):
        X = X.to_csr()
    declared = _names(est, "categorical") + _names(est, "numeric")
    if isinstance(X, pd.DataFrame) and (declared or not is_all_numeric(X)):
        return _design_from_frame(est, X, reset=reset)
    if declared:
        raise TypeError(
            f"categorical= / numeric= name DataFrame columns, but X is a {type(X).__name__}; "
            "pass a DataFrame, or give groups= for an array"
        )
    if reset:
        est.encoder_ = None
    elif getattr(est, "encoder_", None) is not None:
        raise TypeError(
            "this model was fitted on a DataFrame; pass a DataFrame with the same columns"
        )
    check_X_shape_and_kind(X)
    frame = X if isinstance(X, pd.DataFrame) else None
    X = validate_data(
        est, X, reset=reset, accept_sparse=["csr", "csc", "coo"],
        dtype=[np.float64, np.float32], ensure_min_samples=1,
    )
    if not reset:
        return est.design_template_.with_rows(X)
    layout = layout or Layout()
    names = layout.feature_names
    if frame is not None:
        warn_integer_columns(integer_id_columns(frame), stacklevel=5)
        names = [str(c) for c in frame.columns]
    design = from_sparse(X, groups=layout.groups, feature_names=names,
                         group_names=layout.group_names, dtype=float_dtype())
    warn_if_imprecise(design)
    return design


def _design_from_frame(est: Any, X: pd.DataFrame, *, reset: bool) -> Design:
    if not reset and getattr(est, "encoder_", None) is None:
        raise TypeError("this model was fitted on an array; pass an array, not a DataFrame")
    _check_feature_names(est, X, reset=reset)
    _check_n_features(est, X, reset=reset)
    if X.shape[0] == 0:
        raise ValueError("X has 0 rows; at least one row is required")
    if reset:
        est.encoder_ = FMEncoder(categorical=est.categorical, numeric=est.numeric).fit(X)
    design = est.encoder_.transform(X)
    dtype = float_dtype() if reset else est.design_template_.values.dtype
    return dataclasses.replace(design, values=design.values.astype(dtype))
