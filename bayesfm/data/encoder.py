"""``FMEncoder``: a fitted, reusable map from a pandas DataFrame to a :class:`Design`.

Every encoded column becomes one group: a categorical column a one-hot group, a numeric column
a single standardised value feature, a column of lists a multi-hot group whose values in a row
sum to 1. Categories unseen at fit time contribute no feature here; the estimators draw their
weights from the field's prior (:func:`bayesfm.data.unseen_levels`). The fitted state is
plain JSON, because saved models are JSON plus netCDF, never pickle.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from bayesfm.data._columns import (
    infer_kind,
    integer_id_columns,
    is_json_label,
    is_listlike,
    labels_of,
    numeric_values,
    plain,
    warn_integer_columns,
)
from bayesfm.data.design import Design, from_sparse

__all__ = ["FMEncoder"]

_STATE_FORMAT = "bayesfm.FMEncoder"
_STATE_VERSION = 1
_KINDS = ("onehot", "multihot", "numeric")


class FMEncoder(BaseEstimator):
    """Encode a DataFrame into a sparse FM :class:`Design`, one group per column.

    Parameters
    ----------
    categorical : sequence of str, optional
        Columns to one-hot encode whatever their dtype (integer IDs such as ``user``).
    numeric : sequence of str, optional
        Columns to encode as one standardised value feature whatever their dtype.
    multi_hot : sequence of str, optional
        Columns whose cells are lists of labels; inferred for object columns holding lists.
    min_frequency : int, optional
        Categories seen fewer times at fit time get no feature (treated as unseen).
    max_categories : int, optional
        Keep at most this many of the most frequent categories per column (ties by label order).

    Attributes
    ----------
    columns_ : list of dict
        The fitted state of every column: name, kind, categories or mean and sd.
    feature_names_out : tuple of str
        Feature names such as ``"user=42"`` (one-hot, multi-hot) or ``"age"`` (numeric).
    group_names : tuple of str
        One group per encoded column, named after it.
    n_features : int
        Number of features.

    Notes
    -----
    Inference: bool, categorical, object and string columns are one-hot; object columns whose
    cells are lists, tuples or sets are multi-hot with values ``count / n_known_labels``, so a
    row's values in the group sum to 1; other numeric columns are numeric, standardised with
    the fit-time mean and standard deviation (a zero sd is taken as 1). Integer ID columns are
    numeric by dtype: name them in ``categorical`` (an undeclared integer column with more than
    20 distinct values warns, :class:`~bayesfm.data.IntegerColumnWarning`). Missing categorical
    labels give no feature; missing numeric values raise. Columns present at transform time
    but not at fit time are ignored.

    Examples
    --------
    >>> import pandas as pd
    >>> from bayesfm.data import FMEncoder
    >>> df = pd.DataFrame({"user": [1, 2, 1], "age": [20.0, 30.0, 40.0],
    ...                    "genres": [["a"], ["a", "b"], []]})
    >>> enc = FMEncoder(categorical=["user"]).fit(df)
    >>> enc.feature_names_out
    ('user=1', 'user=2', 'age', 'genres=a', 'genres=b')
    >>> d = enc.transform(pd.DataFrame({"user": [3], "age": [30.0], "genres": [["b"]]}))
    >>> d.to_csr().toarray().round(3).tolist()  # user 3 is unseen: no user feature
    [[0.0, 0.0, 0.0, 0.0, 1.0]]

    """

    def __init__(
        self,
        categorical: Sequence[str] | None = None,
        numeric: Sequence[str] | None = None,
        multi_hot: Sequence[str] | None = None,
        min_frequency: int | None = None,
        max_categories: int | None = None,
    ) -> None:
        self.categorical = categorical
        self.numeric = numeric
        self.multi_hot = multi_hot
        self.min_frequency = min_frequency
        self.max_categories = max_categories

    # -- fitting ---------------------------------------------------------------------------

    def _kinds(self, df: pd.DataFrame) -> dict[Any, str]:
        forced: dict[Any, str] = {}
        for option, kind in (
            (self.categorical, "onehot"),
            (self.numeric, "numeric"),
            (self.multi_hot, "multihot"),
        ):
            if isinstance(option, str):
                raise TypeError(f"give a list of column names, not the string {option!r}")
            for name in option or ():
                if name in forced and forced[name] != kind:
                    raise ValueError(f"column {name!r} is named in two of categorical, "
                                     "numeric and multi_hot")
                forced[name] = kind
        missing = [c for c in forced if c not in df.columns]
        if missing:
            raise ValueError(f"columns {missing} were named but are not in the DataFrame")
        return {c: forced.get(c) or infer_kind(df[c]) for c in df.columns}

    def _check_options(self) -> None:
        for name in ("min_frequency", "max_categories"):
            v = getattr(self, name)
            if v is not None and (not isinstance(v, int | np.integer) or v < 1):
                raise ValueError(f"{name} must be a positive integer or None, got {v!r}")

    def fit(self, df: pd.DataFrame, y: Any = None) -> FMEncoder:
        """Learn the categories and scales of every column of ``df``.

        Parameters
        ----------
        df : pandas.DataFrame
            The training rows; every column is encoded.
        y : ignored
            Accepted for scikit-learn pipelines.

        Returns
        -------
        FMEncoder
            ``self``, fitted.

        Examples
        --------
        >>> import pandas as pd
        >>> from bayesfm.data import FMEncoder
        >>> FMEncoder().fit(pd.DataFrame({"x": ["b", "a", "b"]})).feature_names_out
        ('x=a', 'x=b')

        """
        if not isinstance(df, pd.DataFrame):
            raise TypeError(f"FMEncoder expects a pandas DataFrame, got {type(df).__name__}")
        if df.shape[1] == 0:
            raise ValueError("the DataFrame has no columns to encode")
        if not df.columns.is_unique:
            raise ValueError("the DataFrame has duplicate column names")
        self._check_options()
        kinds = self._kinds(df)
        declared = [*(self.categorical or ()), *(self.numeric or ()), *(self.multi_hot or ())]
        warn_integer_columns(integer_id_columns(df, declared))
        columns = []
        for name, kind in kinds.items():
            if not isinstance(plain(name), str | int) or isinstance(name, bool):
                raise TypeError(f"column names must be str or int, got {name!r}")
            columns.append(self._fit_column(df[name], plain(name), kind))
        self.columns_ = columns
        return self

    def _fit_column(self, col: pd.Series, name: Any, kind: str) -> dict[str, Any]:
        if kind == "numeric":
            x = numeric_values(col, name)
            sd = float(x.std()) if x.size else 0.0
            return {"name": name, "kind": kind, "mean": float(x.mean()) if x.size else 0.0,
                    "sd": sd if sd > 0 else 1.0}
        _, labels = labels_of(col, kind, cast_str=False)
        if kind == "onehot" and col.dtype == object and any(map(is_listlike, labels)):
            raise TypeError(f"column {name!r} holds lists; name it in multi_hot=[...]")
        counts = pd.Series(labels, dtype=object).value_counts(sort=False)
        cats = [plain(v) for v in counts.index]
        cast_str = not all(is_json_label(v) for v in cats)
        if cast_str:
            _, labels = labels_of(col, kind, cast_str=True)
            counts = pd.Series(labels, dtype=object).value_counts(sort=False)
            cats = [str(v) for v in counts.index]
        freq_of = dict(zip(cats, counts.to_numpy(), strict=True))
        try:
            cats = sorted(cats)
        except TypeError:
            cats = sorted(cats, key=lambda v: (type(v).__name__, str(v)))
        if isinstance(col.dtype, pd.CategoricalDtype) and not cast_str:
            order = {c: i for i, c in enumerate(col.cat.categories)}
            cats = sorted(cats, key=lambda v: order.get(v, len(order)))
        freq = np.array([freq_of[c] for c in cats], dtype=np.int64)
        keep = np.ones(len(cats), dtype=bool)
        if self.min_frequency is not None:
            keep &= freq >= self.min_frequency
        if self.max_categories is not None and keep.sum() > self.max_categories:
            # A stable sort keeps label order among equally frequent categories.
            ranked = np.argsort(np.where(keep, -freq, 1), kind="stable")
            keep = np.zeros(len(cats), dtype=bool)
            keep[ranked[: self.max_categories]] = True
        cats = [c for c, k in zip(cats, keep, strict=True) if k]
        if not cats:
            raise ValueError(
                f"column {name!r} has no category left to encode (all missing, or all dropped "
                "by min_frequency)"
            )
        return {"name": name, "kind": kind, "categories": cats, "cast_str": cast_str}

    # -- fitted views ----------------------------------------------------------------------

    def _fitted(self) -> list[dict[str, Any]]:
        check_is_fitted(self, "columns_")
        return self.columns_

    @property
    def feature_names_out(self) -> tuple[str, ...]:
        """Name of every feature, in column order."""
        names: list[str] = []
        for c in self._fitted():
            if c["kind"] == "numeric":
                names.append(str(c["name"]))
            else:
                names.extend(f"{c['name']}={v}" for v in c["categories"])
        return tuple(names)

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """Feature names as an object array (scikit-learn's spelling)."""
        return np.asarray(self.feature_names_out, dtype=object)

    @property
    def group_names(self) -> tuple[str, ...]:
        """Name of every group: one per encoded column."""
        return tuple(str(c["name"]) for c in self._fitted())

    @property
    def group_sizes(self) -> tuple[int, ...]:
        """Number of features in every group."""
        return tuple(
            1 if c["kind"] == "numeric" else len(c["categories"]) for c in self._fitted()
        )

    @property
    def n_features(self) -> int:
        """Number of features."""
        return sum(self.group_sizes)

    # -- transforming ----------------------------------------------------------------------

    def transform_csr(self, df: pd.DataFrame) -> sp.csr_matrix:
        """Encode ``df`` as a CSR matrix of shape ``(len(df), n_features)``.

        Examples
        --------
        >>> import pandas as pd
        >>> from bayesfm.data import FMEncoder
        >>> enc = FMEncoder().fit(pd.DataFrame({"x": ["a", "b"]}))
        >>> enc.transform_csr(pd.DataFrame({"x": ["b", "c"]})).toarray().tolist()
        [[0.0, 1.0], [0.0, 0.0]]

        """
        columns = self._fitted()
        if not isinstance(df, pd.DataFrame):
            raise TypeError(f"FMEncoder expects a pandas DataFrame, got {type(df).__name__}")
        missing = [c["name"] for c in columns if c["name"] not in df.columns]
        if missing:
            raise ValueError(f"columns missing from the DataFrame: {missing}")
        n = len(df)
        rows, cols, vals = [], [], []
        offset = 0
        for c in columns:
            col = df[c["name"]]
            if c["kind"] == "numeric":
                x = (numeric_values(col, c["name"]) - c["mean"]) / c["sd"]
                rows.append(np.arange(n))
                cols.append(np.full(n, offset))
                vals.append(x)
                offset += 1
                continue
            r, labels = labels_of(col, c["kind"], c["cast_str"])
            cats = pd.Index(c["categories"], dtype=object)
            code = cats.get_indexer(labels)
            known = code >= 0
            r = r[known]
            v = np.ones(r.size)
            if c["kind"] == "multihot":
                v = v / np.bincount(r, minlength=n)[r]
            rows.append(r)
            cols.append(offset + code[known])
            vals.append(v)
            offset += len(cats)
        X = sp.coo_matrix(
            (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
            shape=(n, offset),
        ).tocsr()
        X.sum_duplicates()
        return X

    def transform(self, df: pd.DataFrame) -> Design:
        """Encode ``df`` as a :class:`Design` with this encoder's features and groups.

        Parameters
        ----------
        df : pandas.DataFrame
            Rows to encode; must hold every fitted column.

        Returns
        -------
        Design

        Raises
        ------
        sklearn.exceptions.NotFittedError
            If called before :meth:`fit`.
        ValueError
            If a fitted column is missing, or a numeric cell is missing or not finite.

        Examples
        --------
        >>> import pandas as pd
        >>> from bayesfm.data import FMEncoder
        >>> enc = FMEncoder().fit(pd.DataFrame({"x": ["a", "b"], "z": [1.0, 3.0]}))
        >>> d = enc.transform(pd.DataFrame({"x": ["b"], "z": [3.0]}))
        >>> d.feature_names, d.group_names, d.to_csr().toarray().tolist()
        (('x=a', 'x=b', 'z'), ('x', 'z'), [[0.0, 1.0, 1.0]])

        """
        X = self.transform_csr(df)
        groups = np.repeat(np.arange(len(self.group_sizes)), self.group_sizes)
        return from_sparse(
            X, groups=groups, feature_names=self.feature_names_out, group_names=self.group_names
        )

    def fit_transform(self, df: pd.DataFrame, y: Any = None) -> Design:
        """Fit on ``df`` and encode it.

        Examples
        --------
        >>> import pandas as pd
        >>> from bayesfm.data import FMEncoder
        >>> FMEncoder().fit_transform(pd.DataFrame({"x": ["a", "b"]})).n_features
        2

        """
        return self.fit(df, y).transform(df)

    # -- plain JSON state ------------------------------------------------------------------

    def get_state(self) -> dict[str, Any]:
        """Return the fitted state as a dict of plain JSON types (``json.dumps`` works).

        Examples
        --------
        >>> import json, pandas as pd
        >>> from bayesfm.data import FMEncoder
        >>> enc = FMEncoder().fit(pd.DataFrame({"x": ["a", "b"]}))
        >>> FMEncoder.from_state(json.loads(json.dumps(enc.get_state()))).feature_names_out
        ('x=a', 'x=b')

        """
        columns = self._fitted()
        params = {k: (list(v) if isinstance(v, Sequence) and not isinstance(v, str) else v)
                  for k, v in self.get_params().items()}
        return {
            "format": _STATE_FORMAT,
            "version": _STATE_VERSION,
            "params": params,
            "columns": [dict(c) for c in columns],
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> FMEncoder:
        """Rebuild a fitted encoder from :meth:`get_state` output."""
        if not isinstance(state, dict) or state.get("format") != _STATE_FORMAT:
            raise ValueError(f"not an FMEncoder state (expected format {_STATE_FORMAT!r})")
        if state.get("version") != _STATE_VERSION:
            raise ValueError(
                f"FMEncoder state version {state.get('version')!r} is not supported "
                f"(this bayesfm reads version {_STATE_VERSION})"
            )
        enc = cls(**state.get("params", {}))
        columns = []
        for c in state["columns"]:
            if c.get("kind") not in _KINDS:
                raise ValueError(f"bad column kind in FMEncoder state: {c.get('kind')!r}")
            columns.append(dict(c))
        enc.columns_ = columns
        return enc
