"""Read and write libFM / svmlight (``label idx:val ...``) and libFFM (``label field:idx:val``).

A fast vectorised path parses well-formed files; when it meets anything it does not expect, a
careful line-by-line parser runs instead, so every error names the file, the 1-based line number
and the offending token.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import IO, Any, Literal, NamedTuple

import numpy as np
import scipy.sparse as sp

__all__ = ["read_libfm", "read_libffm", "write_libfm"]

PathOrFile = str | os.PathLike[str] | IO[str] | IO[bytes]


def _read_text(source: PathOrFile) -> tuple[str, str]:
    """Return ``(text, name)`` where ``name`` is what error messages call the source."""
    if isinstance(source, str | os.PathLike):
        path = Path(source)
        if not path.is_file():
            raise FileNotFoundError(f"libFM file not found: {str(path)!r}")
        return _decode(path.read_bytes(), str(path)), str(path)
    data = source.read()
    name = str(getattr(source, "name", "<file>"))
    if isinstance(data, bytes):
        data = _decode(data, name)
    return data, name


def _decode(raw: bytes, name: str) -> str:
    """UTF-8 text of ``raw``, or a ``ValueError`` naming the line with the bad byte."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as err:
        line = raw.count(b"\n", 0, err.start) + 1
        raise ValueError(
            f"{name}, line {line}: byte {raw[err.start]:#04x} is not UTF-8 text; is this a "
            "libFM text file?"
        ) from None


def _lines(text: str) -> list[tuple[int, list[str]]]:
    """Split ``text`` into ``(line number, tokens)`` for every line with content."""
    has_comment = "#" in text
    out = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        if has_comment:
            line = line.split("#", 1)[0]
        tokens = line.split()
        if tokens:
            out.append((lineno, tokens))
    return out


def _fast_parse(
    lines: list[tuple[int, list[str]]], n_parts: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None:
    """Vectorised parse; ``None`` when anything looks wrong (the careful parser then reports)."""
    labels = [tokens[0] for _, tokens in lines]
    counts = np.fromiter((len(t) - 1 for _, t in lines), dtype=np.int64, count=len(lines))
    feats: list[str] = []
    for _, tokens in lines:
        feats.extend(tokens[1:])
    joined = " ".join(feats)
    if joined.count(":") != (n_parts - 1) * len(feats):
        return None
    parts = joined.replace(":", " ").split()
    if len(parts) != n_parts * len(feats):
        return None
    try:
        y = np.array(labels, dtype=np.float64)
        idx = np.array(parts[n_parts - 2 :: n_parts], dtype=np.int64)
        vals = np.array(parts[n_parts - 1 :: n_parts], dtype=np.float64)
        fields = (
            np.array(parts[0::n_parts], dtype=np.int64) if n_parts == 3 else np.zeros(0, np.int64)
        )
    except (ValueError, OverflowError):
        return None
    if not (np.all(np.isfinite(y)) and np.all(np.isfinite(vals))):
        return None
    return y, counts, idx, vals, fields


def _careful_parse(
    lines: list[tuple[int, list[str]]],
    n_parts: int,
    name: str,
    n_features: int | None,
    zero_based: bool,
) -> None:
    """Parse line by line and raise ``ValueError`` at the first problem found."""
    first = 0 if zero_based else 1
    form = "idx:val" if n_parts == 2 else "field:idx:val"
    for lineno, tokens in lines:
        where = f"{name}, line {lineno}"
        try:
            label = float(tokens[0])
        except ValueError:
            raise ValueError(f"{where}: label {tokens[0]!r} is not a number") from None
        if not np.isfinite(label):
            raise ValueError(f"{where}: label {tokens[0]!r} is not finite")
        seen: set[tuple[int, ...]] = set()
        for tok in tokens[1:]:
            pieces = tok.split(":")
            if len(pieces) != n_parts:
                raise ValueError(f"{where}: malformed token {tok!r}, expected {form}")
            try:
                ints = [int(q) for q in pieces[:-1]]
            except ValueError:
                raise ValueError(
                    f"{where}: feature index or field in token {tok!r} is not an integer"
                ) from None
            j = ints[-1]
            if n_parts == 3 and ints[0] < 0:
                raise ValueError(f"{where}: negative field in token {tok!r}")
            try:
                v = float(pieces[-1])
            except ValueError:
                raise ValueError(f"{where}: value in token {tok!r} is not a number") from None
            if not np.isfinite(v):
                raise ValueError(f"{where}: value in token {tok!r} is not finite")
            if j < first:
                raise ValueError(
                    f"{where}: feature index {j} in token {tok!r} is below {first} "
                    f"(zero_based={zero_based})"
                )
            j -= first
            if n_features is not None and j >= n_features:
                raise ValueError(
                    f"{where}: feature index in token {tok!r} is out of range for "
                    f"n_features={n_features}"
                )
            key = (ints[0], j) if n_parts == 3 else (j,)
            if key in seen:
                raise ValueError(f"{where}: duplicate feature index in token {tok!r}")
            seen.add(key)


class _Parsed(NamedTuple):
    X: sp.csr_matrix  # indices sorted within rows; libFFM may repeat one under two fields
    y: np.ndarray
    fields: np.ndarray  # field of every stored entry of X (libFFM), else empty
    lineno: np.ndarray  # 1-based file line of every row
    name: str  # what error messages call the source


def _parse(
    source: PathOrFile, n_parts: int, n_features: int | None, zero_based: bool
) -> _Parsed:
    if n_features is not None and (int(n_features) != n_features or n_features < 1):
        raise ValueError(f"n_features must be a positive integer, got {n_features!r}")
    if not isinstance(zero_based, bool | np.bool_):
        raise TypeError(f"zero_based must be True or False, got {zero_based!r}")
    text, name = _read_text(source)
    lines = _lines(text)
    if not lines:
        raise ValueError(f"{name}: no data lines (the file is empty or holds only comments)")
    parsed = _fast_parse(lines, n_parts)
    if parsed is not None:
        y, counts, idx, vals, fields = parsed
        idx = idx - (0 if zero_based else 1)
        n = len(lines)
        rows = np.repeat(np.arange(n), counts)
        new_row = np.diff(rows) != 0
        if bool(np.all((np.diff(idx) > 0) | new_row)):
            order = None  # already sorted within rows, hence no repeats
            repeated = False
        else:
            # In libFFM one index may recur in a row under another field (hashing); only a
            # repeated (field, index) pair is an error there.
            order = np.lexsort((fields, idx, rows) if fields.size else (idx, rows))
            same = (np.diff(idx[order]) == 0) & ~new_row
            if fields.size:
                same &= np.diff(fields[order]) == 0
            repeated = bool(np.any(same))
        ok = (
            bool(np.all(idx >= 0))
            and bool(np.all(fields >= 0))
            and (n_features is None or idx.size == 0 or int(idx.max()) < n_features)
            and not repeated
        )
        if ok:
            if order is not None:
                idx, vals = idx[order], vals[order]
                fields = fields[order] if fields.size else fields
            p = n_features if n_features is not None else int(idx.max(initial=-1)) + 1
            indptr = np.concatenate([[0], np.cumsum(counts)])
            X = sp.csr_matrix((vals, idx, indptr), shape=(n, p))
            lineno = np.fromiter((k for k, _ in lines), dtype=np.int64, count=n)
            return _Parsed(X, y, fields, lineno, name)
    _careful_parse(lines, n_parts, name, n_features, zero_based)
    raise ValueError(f"{name}: could not parse the file")  # pragma: no cover


def read_libfm(
    path_or_file: PathOrFile, *, n_features: int | None = None, zero_based: bool = True
) -> tuple[sp.csr_matrix, np.ndarray]:
    r"""Read a libFM / svmlight text file of lines ``label idx:val idx:val ...``.

    Parameters
    ----------
    path_or_file : str, path or file object
        The file to read (text or binary mode, UTF-8).
    n_features : int, optional
        Number of columns; default one more than the largest index seen. Give it so that train
        and test files share one column layout.
    zero_based : bool, default True
        Whether feature indices start at 0 (libFM) or at 1 (svmlight / LIBSVM).

    Returns
    -------
    X : scipy.sparse.csr_matrix of shape (n_rows, n_features)
    y : ndarray of shape (n_rows,)

    Raises
    ------
    FileNotFoundError
        If the path does not exist.
    ValueError
        On a malformed line, a non-numeric or non-finite number, a negative or out-of-range
        index, an index repeated within a row, or bytes that are not UTF-8; the message names
        the file, the 1-based line number and the token. Also for a file with no data lines.
    TypeError
        If ``zero_based`` is not a bool.

    Notes
    -----
    Blank lines and ``#`` comments are skipped.

    Examples
    --------
    >>> import io
    >>> from bayesfm.data import read_libfm
    >>> X, y = read_libfm(io.StringIO("1 0:1 3:0.5\n-1 2:1\n"), n_features=4)
    >>> X.toarray().tolist(), y.tolist()
    ([[1.0, 0.0, 0.0, 0.5], [0.0, 0.0, 1.0, 0.0]], [1.0, -1.0])

    """
    parsed = _parse(path_or_file, 2, n_features, zero_based)
    return parsed.X, parsed.y


def read_libffm(
    path_or_file: PathOrFile,
    *,
    n_features: int | None = None,
    zero_based: bool = True,
    on_conflict: Literal["error", "first"] = "error",
) -> tuple[sp.csr_matrix, np.ndarray, np.ndarray]:
    r"""Read a libFFM text file of lines ``label field:idx:val ...``.

    Parameters
    ----------
    path_or_file : str, path or file object
        The file to read.
    n_features : int, optional
        Number of columns; default one more than the largest index seen.
    zero_based : bool, default True
        Whether feature indices start at 0 or 1 (fields are taken as written).
    on_conflict : {"error", "first"}, default "error"
        What to do when one feature index occurs under two fields (hashed files do this):
        raise, or keep the field of its first occurrence.

    Returns
    -------
    X : scipy.sparse.csr_matrix of shape (n_rows, n_features)
    y : ndarray of shape (n_rows,)
    field_of_feature : ndarray of shape (n_features,), int64
        The field of every feature; ``-1`` for features that never occur in the file.

    Examples
    --------
    >>> import io
    >>> from bayesfm.data import read_libffm
    >>> X, y, field = read_libffm(io.StringIO("1 0:0:1 1:2:1\n0 0:1:1 1:3:1\n"))
    >>> X.shape, field.tolist()
    ((2, 4), [0, 0, 1, 1])

    """
    if on_conflict not in ("error", "first"):
        raise ValueError(f"on_conflict must be 'error' or 'first', got {on_conflict!r}")
    X, y, fields, lineno, name = _parse(path_or_file, 3, n_features, zero_based)
    field_of_feature = np.full(X.shape[1], -1, dtype=np.int64)
    if X.nnz:
        # Rows are in file order, so the first stored entry of a feature is its first occurrence.
        uniq, first = np.unique(X.indices, return_index=True)
        field_of_feature[uniq] = fields[first]
        clash = field_of_feature[X.indices] != fields
        if on_conflict == "error" and np.any(clash):
            k = int(np.argmax(clash))
            j = int(X.indices[k])
            row = int(np.searchsorted(X.indptr, k, side="right")) - 1
            raise ValueError(
                f"{name}, line {int(lineno[row])}: feature {j} occurs under field "
                f"{int(fields[k])}, but earlier under field {int(field_of_feature[j])}; pass "
                "on_conflict='first' to keep its first field"
            )
    # A feature met twice in a row under two fields becomes one column: sum the two values.
    X.sum_duplicates()
    return X, y, field_of_feature


def _fmt(values: np.ndarray) -> list[str]:
    """Shortest round-trip text of every value, with integral values written without ``.0``."""
    out = [repr(v) for v in values.astype(np.float64).tolist()]
    return [s[:-2] if s.endswith(".0") else s for s in out]


def write_libfm(
    path_or_file: str | os.PathLike[str] | IO[str],
    X: Any,
    y: Any,
    *,
    zero_based: bool = True,
) -> None:
    r"""Write rows to a libFM / svmlight text file that :func:`read_libfm` reads back exactly.

    Parameters
    ----------
    path_or_file : str, path or text file object
        Destination; an existing file is overwritten.
    X : sparse matrix or array-like of shape (n_rows, n_features)
        The rows; only nonzero entries are written.
    y : array-like of shape (n_rows,)
        The labels.
    zero_based : bool, default True
        Write indices from 0 (libFM) or from 1 (svmlight).

    Examples
    --------
    >>> import io, numpy as np
    >>> from bayesfm.data import write_libfm
    >>> buf = io.StringIO()
    >>> write_libfm(buf, np.array([[1.0, 0, 0.25]]), [3.5])
    >>> buf.getvalue()
    '3.5 0:1 2:0.25\n'

    """
    X = sp.csr_matrix(X, dtype=np.float64)
    X.sum_duplicates()
    X.eliminate_zeros()
    y = np.asarray(y, dtype=np.float64).ravel()
    if y.shape[0] != X.shape[0]:
        raise ValueError(f"X has {X.shape[0]} rows but y has {y.shape[0]} labels")
    if not (np.all(np.isfinite(X.data)) and np.all(np.isfinite(y))):
        raise ValueError("X and y must be finite to be written in libFM format")
    idx = [str(j) for j in (X.indices + (0 if zero_based else 1)).tolist()]
    vals = _fmt(X.data)
    pairs = [f"{j}:{v}" for j, v in zip(idx, vals, strict=True)]
    labels = _fmt(y)
    ptr = X.indptr.tolist()
    lines = [
        " ".join([labels[i], *pairs[ptr[i] : ptr[i + 1]]]) + "\n" for i in range(X.shape[0])
    ]
    if isinstance(path_or_file, str | os.PathLike):
        with open(path_or_file, "w", encoding="utf-8") as fh:
            fh.writelines(lines)
    else:
        path_or_file.writelines(lines)

