"""Loaders for the public benchmark sets: MovieLens 100K, MovieLens 1M (first half), frappe.

The data are never shipped with bayesfm (their licences forbid redistribution). A loader looks,
in order, in ``path=``, in the folder named by the environment variable ``BAYESFM_DATA``, in the
cache ``~/.cache/bayesfm``, and finally downloads the publisher's copy into that cache.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import scipy.sparse as sp

from bayesfm.data._fetch import (
    GROUPLENS,
    NFM_FRAPPE,
    _fetch_frappe,
    _fetch_ml1m_half,
    _fetch_ml100k,
    _how_to_get,
    _locate,
    cache_dir,
)
from bayesfm.data.design import Design, from_sparse
from bayesfm.data.libfm import read_libfm

__all__ = [
    "DatasetInfo",
    "cache_dir",
    "load_frappe",
    "load_movielens_100k",
    "load_movielens_1m_half",
    "load_movielens_ratings",
]

FRAPPE_FIELDS = ("user", "item", "daytime", "weekday", "isweekend", "homework", "cost",
                 "weather", "country", "city")
FRAPPE_FIELD_SIZES = (957, 4082, 7, 7, 2, 3, 2, 9, 80, 233)  # frappe README; sum 5382
ML100K_FOLDS = ("u1", "u2", "u3", "u4", "u5", "ua", "ub")


@dataclasses.dataclass(frozen=True, eq=False)
class DatasetInfo:
    """Column layout of a loaded data set: feature names and their groups.

    Parameters
    ----------
    name : str
        Which data set and split.
    feature_names : tuple of str
        Name of every column, e.g. ``"user=42"``.
    group_of_feature : ndarray of shape (n_features,), int32
        Group code of every column.
    group_names : tuple of str
        Name of every group.

    Examples
    --------
    >>> import numpy as np, scipy.sparse as sp
    >>> from bayesfm.data import DatasetInfo
    >>> info = DatasetInfo("toy", ("user=1", "item=1"), np.array([0, 1]), ("user", "item"))
    >>> info.group_sizes, info.design(sp.csr_matrix(np.ones((1, 2)))).n_groups
    ((1, 1), 2)

    """

    name: str
    feature_names: tuple[str, ...]
    group_of_feature: np.ndarray
    group_names: tuple[str, ...]

    @property
    def n_features(self) -> int:
        """Number of columns."""
        return len(self.feature_names)

    @property
    def group_sizes(self) -> tuple[int, ...]:
        """Number of columns in every group."""
        sizes = np.bincount(self.group_of_feature, minlength=len(self.group_names))
        return tuple(int(s) for s in sizes)

    def design(self, X: Any) -> Design:
        """Build a :class:`Design` of rows ``X`` with this layout's names and groups."""
        return from_sparse(
            X,
            groups=self.group_of_feature,
            feature_names=self.feature_names,
            group_names=self.group_names,
        )

    def write_groups(self, path: str | os.PathLike[str]) -> None:
        r"""Write the ``--groups`` file of ``bayesfm fit``: ``group<TAB>feature`` per feature.

        Examples
        --------
        >>> import numpy as np, tempfile, pathlib
        >>> from bayesfm.data import DatasetInfo
        >>> info = DatasetInfo("toy", ("user=1", "item=1"), np.array([0, 1]), ("user", "item"))
        >>> p = pathlib.Path(tempfile.mkdtemp()) / "toy.groups"
        >>> info.write_groups(p)
        >>> p.read_text().splitlines()
        ['user\tuser=1', 'item\titem=1']

        """
        lines = (f"{self.group_names[g]}\t{name}\n"
                 for g, name in zip(self.group_of_feature, self.feature_names, strict=True))
        with open(path, "w", encoding="utf-8") as fh:
            fh.writelines(lines)


Split = tuple[sp.csr_matrix, np.ndarray, sp.csr_matrix, np.ndarray, DatasetInfo]


def _one_hot_pairs(u: np.ndarray, i: np.ndarray, n_users: int, n_items: int) -> sp.csr_matrix:
    """Rows with a one at column ``u`` and at column ``n_users + i``."""
    n = u.shape[0]
    cols = np.stack([u, n_users + i], axis=1).ravel()
    return sp.csr_matrix(
        (np.ones(2 * n), (np.repeat(np.arange(n), 2), cols)), shape=(n, n_users + n_items)
    )


def _user_item_info(name: str, users: Sequence[Any], items: Sequence[Any]) -> DatasetInfo:
    names = tuple(f"user={u}" for u in users) + tuple(f"item={i}" for i in items)
    groups = np.repeat(np.array([0, 1], dtype=np.int32), [len(users), len(items)])
    return DatasetInfo(name, names, groups, ("user", "item"))


def _read_table(file: Path, sep: str, n_cols: int) -> pd.DataFrame:
    try:
        table = pd.read_csv(file, sep=sep, header=None, encoding="latin-1")
    except (ValueError, pd.errors.ParserError) as err:
        raise ValueError(f"{file}: malformed ratings file ({err})") from None
    if table.shape[1] != n_cols:
        raise ValueError(f"{file}: expected {n_cols} fields per line, found {table.shape[1]}")
    return table


def _int_columns(table: pd.DataFrame, cols: Sequence[int], file: Path) -> np.ndarray:
    sub = table.iloc[:, list(cols)].apply(pd.to_numeric, errors="coerce")
    values = sub.to_numpy(dtype=np.float64, na_value=np.nan)
    bad = ~np.isfinite(values).all(1)
    bad[~bad] = (values[~bad] != np.round(values[~bad])).any(1)
    if bad.any():
        row = int(np.argmax(bad))
        raise ValueError(
            f"{file}, line {row + 1}: expected integer fields, got {table.iloc[row].tolist()}"
        )
    return values.astype(np.int64)


def load_movielens_100k(
    fold: str = "u1",
    path: str | os.PathLike[str] | None = None,
    *,
    as_frame: bool = False,
    download: bool = True,
) -> tuple[Any, np.ndarray, Any, np.ndarray, DatasetInfo]:
    """Load a MovieLens 100K train/test fold with one-hot user and item columns.

    Parameters
    ----------
    fold : {"u1", "u2", "u3", "u4", "u5", "ua", "ub"}, default "u1"
        The GroupLens split (``{fold}.base`` is the train set, ``{fold}.test`` the test set).
    path : str or path, optional
        Folder holding ``ml-100k/`` (or the ``ml-100k`` folder itself).
    as_frame : bool, default False
        Return the rows as DataFrames with categorical ``user`` and ``item`` columns (for
        :class:`~bayesfm.data.FMEncoder`) instead of CSR matrices.
    download : bool, default True
        Whether to download ``ml-100k.zip`` from GroupLens when the data are not found.

    Returns
    -------
    X_train, y_train, X_test, y_test, info
        ``X`` are CSR matrices of shape ``(n, 943 + 1682)`` with columns ``user=1 ..`` then
        ``item=1 ..`` (the same layout for train and test), or DataFrames; ``y`` are the
        ratings 1-5 as floats; ``info`` is the :class:`DatasetInfo` of the columns.

    Examples
    --------
    >>> from bayesfm.data import load_movielens_100k
    >>> Xtr, ytr, Xte, yte, info = load_movielens_100k("u1")  # doctest: +SKIP
    >>> Xtr.shape, info.group_sizes  # doctest: +SKIP
    ((80000, 2625), (943, 1682))

    """
    if fold not in ML100K_FOLDS:
        raise ValueError(f"fold must be one of {list(ML100K_FOLDS)}, got {fold!r}")
    help_text = _how_to_get("MovieLens 100K", "ml-100k", GROUPLENS + "ml-100k.zip (unzip it)")
    d = _locate("ml-100k", [f"{fold}.base", f"{fold}.test", "u.info"], path, download,
                _fetch_ml100k, help_text)
    counts = {}
    for line in (d / "u.info").read_text(encoding="latin-1").splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0].isdigit():
            counts[parts[1]] = int(parts[0])
    if "users" not in counts or "items" not in counts:
        raise ValueError(f"{d / 'u.info'}: expected lines '<n> users' and '<n> items'")
    n_users, n_items = counts["users"], counts["items"]
    info = _user_item_info(f"ml-100k/{fold}", range(1, n_users + 1), range(1, n_items + 1))
    out: list[Any] = []
    for part in ("base", "test"):
        file = d / f"{fold}.{part}"
        raw = _int_columns(_read_table(file, "\t", 4), [0, 1, 2], file)
        u, i = raw[:, 0] - 1, raw[:, 1] - 1
        if np.any((u < 0) | (u >= n_users) | (i < 0) | (i >= n_items)):
            raise ValueError(f"{file}: user or item ID outside 1..{n_users} / 1..{n_items}")
        if as_frame:
            X: Any = pd.DataFrame({
                "user": pd.Categorical(u + 1, categories=range(1, n_users + 1)),
                "item": pd.Categorical(i + 1, categories=range(1, n_items + 1)),
            })
        else:
            X = _one_hot_pairs(u, i, n_users, n_items)
        out += [X, raw[:, 2].astype(np.float64)]
    return out[0], out[1], out[2], out[3], info


def load_movielens_1m_half(
    path: str | os.PathLike[str] | None = None, seed: int = 0, *, download: bool = True
) -> Split:
    """Load MovieLens 1M users 1-2998 (487,515 ratings) with a random 90/10 split.

    Users and items are coded by ``np.unique`` over the whole file; the split takes the first
    90% of ``np.random.default_rng(seed).permutation(n)`` as train, in that order.

    Parameters
    ----------
    path : str or path, optional
        Folder holding ``ml-1m-half/ratings.dat`` (or the ``ml-1m-half`` folder itself).
    seed : int, default 0
        Seed of the split.
    download : bool, default True
        Whether to download ``ml-1m.zip`` from GroupLens and keep its first 487,515 ratings
        when the data are not found.

    Returns
    -------
    X_train, y_train, X_test, y_test, info
        CSR matrices with columns ``user=ID`` then ``item=ID``, ratings as floats, and the
        :class:`DatasetInfo`.

    Examples
    --------
    >>> from bayesfm.data import load_movielens_1m_half
    >>> Xtr, ytr, Xte, yte, info = load_movielens_1m_half()  # doctest: +SKIP
    >>> Xtr.shape[0] + Xte.shape[0]  # doctest: +SKIP
    487515

    """
    help_text = _how_to_get(
        "the first half of MovieLens 1M", "ml-1m-half",
        GROUPLENS + "ml-1m.zip (keep the first 487,515 lines of ratings.dat)",
    )
    d = _locate("ml-1m-half", ["ratings.dat"], path, download, _fetch_ml1m_half, help_text)
    file = d / "ratings.dat"
    # "u::i::r::t" read with sep=":" gives empty fields between the values.
    raw = _int_columns(_read_table(file, ":", 7), [0, 2, 4], file)
    users, u = np.unique(raw[:, 0], return_inverse=True)
    items, i = np.unique(raw[:, 1], return_inverse=True)
    X = _one_hot_pairs(u, i, len(users), len(items))
    y = raw[:, 2].astype(np.float64)
    n = len(raw)
    perm = np.random.default_rng(seed).permutation(n)
    cut = int(0.9 * n)
    tr, te = perm[:cut], perm[cut:]
    info = _user_item_info(f"ml-1m-half/seed{seed}", users.tolist(), items.tolist())
    return X[tr], y[tr], X[te], y[te], info


def load_movielens_ratings(
    name: Literal["ml-100k", "ml-1m-half"] = "ml-100k",
    path: str | os.PathLike[str] | None = None,
    *,
    download: bool = True,
) -> pd.DataFrame:
    """Load every rating of MovieLens 100K or of ML-1M's first half, with its time stamp.

    The interaction log behind the splits of :mod:`bayesfm.metrics` (leave-one-out takes each
    user's latest) and :func:`bayesfm.data.sample_negatives`: ML-100K's ``u.data``, or the
    ``ratings.dat`` of :func:`load_movielens_1m_half`, in file order, unsplit.

    Parameters
    ----------
    name : {"ml-100k", "ml-1m-half"}, default "ml-100k"
    path : str or path, optional
        Folder holding ``ml-100k/`` or ``ml-1m-half/`` (or that folder itself).
    download : bool, default True
        Whether to download the GroupLens archive when the data are not found.

    Returns
    -------
    pandas.DataFrame
        Columns ``user`` and ``item`` (0-based codes: ML-100K's ids minus one; for ML-1M,
        the positions in ``np.unique`` of the ids, as :func:`load_movielens_1m_half` codes
        them), ``rating`` (1-5) and ``timestamp`` (seconds), all int64; ``attrs`` hold
        ``n_users`` and ``n_items``.

    Examples
    --------
    >>> from bayesfm.data import load_movielens_ratings
    >>> log = load_movielens_ratings("ml-100k")  # doctest: +SKIP
    >>> len(log), log.attrs["n_users"], log.attrs["n_items"]  # doctest: +SKIP
    (100000, 943, 1682)

    """
    if name == "ml-100k":
        help_text = _how_to_get("MovieLens 100K", "ml-100k", GROUPLENS + "ml-100k.zip (unzip it)")
        d = _locate("ml-100k", ["u.data"], path, download, _fetch_ml100k, help_text)
        file = d / "u.data"
        raw = _int_columns(_read_table(file, "\t", 4), [0, 1, 2, 3], file)
        u, i = raw[:, 0] - 1, raw[:, 1] - 1
        if u.min() < 0 or i.min() < 0:
            raise ValueError(f"{file}: user and item IDs start at 1")
        n_users, n_items = int(u.max()) + 1, int(i.max()) + 1
    elif name == "ml-1m-half":
        help_text = _how_to_get(
            "the first half of MovieLens 1M", "ml-1m-half",
            GROUPLENS + "ml-1m.zip (keep the first 487,515 lines of ratings.dat)",
        )
        d = _locate("ml-1m-half", ["ratings.dat"], path, download, _fetch_ml1m_half, help_text)
        file = d / "ratings.dat"
        raw = _int_columns(_read_table(file, ":", 7), [0, 2, 4, 6], file)
        users, u = np.unique(raw[:, 0], return_inverse=True)
        items, i = np.unique(raw[:, 1], return_inverse=True)
        n_users, n_items = len(users), len(items)
    else:
        raise ValueError(f"name must be 'ml-100k' or 'ml-1m-half', got {name!r}")
    log = pd.DataFrame({"user": u.astype(np.int64), "item": i.astype(np.int64),
                        "rating": raw[:, 2], "timestamp": raw[:, 3]})
    log.attrs.update(n_users=n_users, n_items=n_items)
    return log


def load_frappe(
    kind: Literal["published", "full"] = "published",
    path: str | os.PathLike[str] | None = None,
    *,
    download: bool = True,
) -> Split:
    """Load the frappe app-usage click data (10 one-hot fields, 5,382 features).

    Parameters
    ----------
    kind : {"published", "full"}, default "published"
        ``"published"``: the NFM paper's files, ``frappe.validation.libfm`` (57,722 rows) as
        train and ``frappe.test.libfm`` (28,860 rows) as test. ``"full"``: the 7:2:1 rebuild
        from the raw log in ``frappe/full/`` (train 202,026 rows, test 28,861 rows).
    path : str or path, optional
        Folder holding ``frappe/`` (or the ``frappe`` folder itself).
    download : bool, default True
        Whether to download the published files from the NFM repository when not found
        (the ``"full"`` rebuild cannot be downloaded).

    Returns
    -------
    X_train, y_train, X_test, y_test, info
        CSR matrices of shape ``(n, 5382)``, labels as 0/1 integers (from -1/+1), and the
        :class:`DatasetInfo`; features are named ``field=code``, the code counted within
        the field, since the published files do not carry the original values.

    Examples
    --------
    >>> from bayesfm.data import load_frappe
    >>> Xtr, ytr, Xte, yte, info = load_frappe()  # doctest: +SKIP
    >>> info.group_names[:3], Xtr.shape  # doctest: +SKIP
    (('user', 'item', 'daytime'), (57722, 5382))

    """
    if kind == "published":
        files, folder = ("frappe.validation.libfm", "frappe.test.libfm"), "frappe"
        fetch: Callable[[Path], None] | None = _fetch_frappe
        source = NFM_FRAPPE + "{frappe.validation.libfm, frappe.test.libfm}"
    elif kind == "full":
        files, folder = ("frappe.train.libfm", "frappe.test.libfm"), os.path.join("frappe", "full")
        fetch, source = None, "the raw frappe log by the 7:2:1 rebuild (frappe/full/)"
    else:
        raise ValueError(f"kind must be 'published' or 'full', got {kind!r}")
    d = _locate(folder, files, path, download, fetch, _how_to_get("frappe", folder, source))
    p = sum(FRAPPE_FIELD_SIZES)
    out: list[Any] = []
    for name in files:
        X, y = read_libfm(d / name, n_features=p, zero_based=True)
        if not np.all(np.isin(y, (-1.0, 1.0))):
            raise ValueError(f"{d / name}: labels must be -1 or +1")
        out += [X, (y > 0).astype(np.int64)]
    names = tuple(
        f"{f}={j}" for f, size in zip(FRAPPE_FIELDS, FRAPPE_FIELD_SIZES, strict=True)
        for j in range(size)
    )
    groups = np.repeat(np.arange(len(FRAPPE_FIELDS), dtype=np.int32), FRAPPE_FIELD_SIZES)
    info = DatasetInfo(f"frappe/{kind}", names, groups, FRAPPE_FIELDS)
    return out[0], out[1], out[2], out[3], info
