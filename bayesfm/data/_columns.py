"""Column-level helpers of :class:`~bayesfm.data.FMEncoder`: kind inference, labels, scaling."""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "INTEGER_ID_MIN_LEVELS",
    "IntegerColumnWarning",
    "infer_kind",
    "integer_id_columns",
    "is_json_label",
    "labels_of",
    "numeric_values",
    "plain",
    "warn_integer_columns",
]


def is_listlike(v: Any) -> bool:
    """Whether a cell holds several labels (a multi-hot cell)."""
    return isinstance(v, list | tuple | set | frozenset | np.ndarray)


def is_json_label(v: Any) -> bool:
    """Whether ``v`` survives a JSON round trip unchanged (NaN and infinity do not)."""
    if isinstance(v, bool | str | int):
        return True
    return isinstance(v, float) and math.isfinite(v)


def infer_kind(col: pd.Series) -> str:
    """Return ``"onehot"``, ``"multihot"`` or ``"numeric"`` from the dtype and cells of ``col``."""
    dtype = col.dtype
    if isinstance(dtype, pd.CategoricalDtype) or pd.api.types.is_bool_dtype(dtype):
        return "onehot"
    if pd.api.types.is_numeric_dtype(dtype):
        return "numeric"
    if pd.api.types.is_object_dtype(dtype) or pd.api.types.is_string_dtype(dtype):
        cells = col.tolist()
        lists = [is_listlike(v) for v in cells]
        single = [not is_list and not pd.isna(v) for v, is_list in zip(cells, lists, strict=True)]
        if any(lists) and any(single):
            raise TypeError(
                f"column {col.name!r} mixes lists and single labels; make every cell a list "
                "(multi-hot) or none (one-hot)"
            )
        return "multihot" if any(lists) else "onehot"
    raise TypeError(
        f"column {col.name!r} has dtype {dtype}, which FMEncoder cannot encode; convert it, or "
        "name it in categorical=[...] or numeric=[...]"
    )


def labels_of(col: pd.Series, kind: str, cast_str: bool) -> tuple[np.ndarray, np.ndarray]:
    """Row positions and labels of the present cells of ``col`` (exploded for multi-hot)."""
    values = pd.Series(col.to_numpy(dtype=object), index=np.arange(len(col)), dtype=object)
    if kind == "multihot":
        values = values.explode()
    rows = values.index.to_numpy(dtype=np.int64)
    labels = values.to_numpy(dtype=object)
    present = ~pd.isna(labels)
    rows, labels = rows[present], labels[present]
    if cast_str:
        labels = labels.astype(str).astype(object)
    return rows, labels


def plain(v: Any) -> Any:
    """Return a numpy scalar or str subclass as the plain Python value JSON writes."""
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, str):
        v = str(v)
    return v


def numeric_values(col: pd.Series, name: Any) -> np.ndarray:
    """Return ``col`` as finite float64 values; raise naming the first missing or infinite row."""
    try:
        x = pd.to_numeric(col, errors="raise").to_numpy(dtype=np.float64, na_value=np.nan)
    except (TypeError, ValueError) as err:
        raise ValueError(f"numeric column {name!r} holds non-numeric values: {err}") from None
    bad = ~np.isfinite(x)
    if bad.any():
        i = int(np.argmax(bad))
        kind = "NaN (missing)" if np.isnan(x[i]) else "infinity"
        raise ValueError(
            f"numeric column {name!r} has {kind} at row {i} (index label {col.index[i]!r}); "
            "fill or drop it, or encode the column as categorical"
        )
    return x



#: An undeclared integer column with more distinct values than this looks like an ID column.
INTEGER_ID_MIN_LEVELS = 20


class IntegerColumnWarning(UserWarning):
    """An undeclared integer column with many distinct values is encoded as one number."""


def integer_id_columns(df: pd.DataFrame, declared: Any = ()) -> list[Any]:
    """Undeclared integer columns of ``df`` with more than :data:`INTEGER_ID_MIN_LEVELS` values.

    Such a column (``user``, ``item``) is encoded as one scaled number unless named in
    ``categorical=[...]``; this is rarely what an ID column means.

    Examples
    --------
    >>> import pandas as pd
    >>> from bayesfm.data._columns import integer_id_columns
    >>> df = pd.DataFrame({"user": range(30), "age": [20.5] * 30, "flag": [0, 1] * 15})
    >>> integer_id_columns(df)
    ['user']
    """
    skip = set(declared or ())
    return [
        c for c in df.columns
        if c not in skip and pd.api.types.is_integer_dtype(df[c].dtype)
        and not pd.api.types.is_bool_dtype(df[c].dtype)
        and df[c].nunique() > INTEGER_ID_MIN_LEVELS
    ]


def warn_integer_columns(columns: list[Any], stacklevel: int = 3) -> None:
    """Warn that ``columns`` (integer, many values, undeclared) are encoded as numbers."""
    if not columns:
        return
    names = ", ".join(repr(c) for c in columns)
    warnings.warn(
        f"integer column(s) {names} have more than {INTEGER_ID_MIN_LEVELS} distinct values and "
        "are encoded as one number each; if they are IDs, declare categorical="
        f"{list(columns)!r}, else numeric={list(columns)!r} to silence this warning",
        IntegerColumnWarning,
        stacklevel=stacklevel,
    )
