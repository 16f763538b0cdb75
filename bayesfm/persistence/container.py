"""The model-file container: magic bytes, a checked header, JSON config and a netCDF payload.

Everything here reads and writes bytes and data; nothing knows the estimators (see
:mod:`bayesfm.persistence.model_file` for what a file holds).
"""


from __future__ import annotations

import hashlib
import io
import json
import os
import secrets
from collections.abc import Buffer
from pathlib import Path
from typing import Any, BinaryIO, Final

import numpy as np
import xarray as xr

from bayesfm._version import __version__

__all__ = ["FORMAT_VERSION", "MAGIC", "MIN_FORMAT_VERSION", "ModelFileError"]


#: First bytes of every model file.
MAGIC = b"\x89BAYESFM\r\n\x1a\n"
#: Version of the container layout written by this bayesfm; :func:`load` reads up to it.
#: 1: the whole ``idata_``, uncompressed. 2: numeric arrays compressed (gzip + shuffle,
#: lossless), and a ``log_likelihood`` group left out and recomputed on load when the
#: DataTree holds what that needs.
FORMAT_VERSION = 2
#: Oldest format version this bayesfm reads (1 is the first).
MIN_FORMAT_VERSION = 1

_HEADER_KEYS = frozenset({"format_version", "config_length", "payload_length", "sha256"})
_MAX_HEADER = 1024
_CHUNK = 1 << 20
_NETCDF_ENGINE: Final = "h5netcdf"
#: HDF5 filters of every numeric array of at least _COMPRESS_BYTES: gzip is in every HDF5
#: build; the byte shuffle puts the exponent bytes of floats side by side, where gzip finds
#: their repeats (on a MovieLens 100K fit: 20.5 MB -> 17.1 MB, where level 9 gains 0.4%).
_COMPRESSION: Final = {"compression": "gzip", "compression_opts": 4, "shuffle": True}
_COMPRESS_BYTES: Final = 4096


class ModelFileError(ValueError):
    """A model file is not a bayesfm model, is corrupted or truncated, or is too new."""


def _dumps(obj: Any) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), allow_nan=False).encode()


def _plain(value: Any) -> Any:
    """``json.dumps`` hook: numpy scalars and arrays become Python numbers and lists."""
    if isinstance(value, np.generic | np.ndarray):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not a JSON type")


def _json_value(value: Any, what: str, *, exact: bool = True) -> Any:
    """Return ``value`` as plain JSON types; raise ``ValueError`` if it is not JSON data.

    With ``exact``, also refuse values that would load back different (a tuple, an array).
    """
    try:
        out = json.loads(json.dumps(value, default=_plain, allow_nan=False))
    except (TypeError, ValueError) as exc:
        raise ValueError(
            f"cannot save {what}={value!r}: a saved model holds only JSON values (numbers, "
            "strings, booleans, None, lists and dicts of them); set it to such a value, "
            "e.g. random_state=0, before saving"
        ) from exc
    if exact:
        try:
            same = bool(out == value)
        except ValueError:  # an array compared element by element
            same = False
        if not same:
            raise ValueError(f"cannot save {what}={value!r}: it would load back as {out!r}")
    return out


def _tree_digest(tree: xr.DataTree) -> str:
    """SHA-256 over the path, name, dims, dtype, shape and bytes of every variable."""
    h = hashlib.sha256()
    for node in sorted(tree.subtree, key=lambda n: n.path):
        ds = node.to_dataset(inherit=False)
        for name in sorted(ds.variables, key=str):
            data = np.asarray(ds.variables[name].values)
            raw: Buffer
            if data.dtype.kind in "OSU":
                # netCDF may return fixed-width or object strings: hash the text itself.
                dtype = "str"
                raw = json.dumps([x.decode() if isinstance(x, bytes) else str(x)
                                  for x in data.ravel().tolist()]).encode()
            else:
                data = np.ascontiguousarray(data, dtype=data.dtype.newbyteorder("<"))
                dtype, raw = data.dtype.str, data.reshape(-1).view(np.uint8)
            meta = [node.path, str(name), name in ds.coords, list(ds.variables[name].dims),
                    dtype, list(data.shape)]
            h.update(_dumps(meta) + b"\n")
            h.update(raw)
    return h.hexdigest()


def _tree_attrs(tree: xr.DataTree) -> dict[str, Any]:
    """Attributes of every group and variable as JSON (netCDF would change their types)."""
    return {node.path: {
        "node": _json_value(dict(node.attrs), f"attrs of {node.path}", exact=False),
        "variables": {str(k): _json_value(dict(v.attrs), f"attrs of {k}", exact=False)
                      for k, v in node.to_dataset(inherit=False).variables.items() if v.attrs},
    } for node in tree.subtree}


def _temp_path(target: Path, suffix: str) -> Path:
    return target.with_name(f".bayesfm-{secrets.token_hex(8)}{suffix}")


def _sha256(f: BinaryIO, digest: Any) -> str:
    while chunk := f.read(_CHUNK):
        digest.update(chunk)
    return str(digest.hexdigest())


def _fsync_dir(directory: Path) -> None:
    if os.name != "posix":
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class _Window(io.RawIOBase):
    """Read-only view of ``length`` bytes of ``file`` from ``offset``, for h5py."""

    mode = "rb"

    def __init__(self, file: io.BufferedIOBase, offset: int, length: int) -> None:
        self._file, self._offset, self._length, self._pos = file, offset, length, 0

    def seek(self, pos: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._length}[whence]
        self._pos = max(0, base + pos)
        return self._pos

    def readinto(self, buffer: Any) -> int:
        n = max(0, min(len(buffer), self._length - self._pos))
        self._file.seek(self._offset + self._pos)
        got = self._file.readinto(memoryview(buffer)[:n]) or 0
        self._pos += got
        return got


def _read_header(f: BinaryIO, where: str) -> dict[str, Any]:
    if f.read(len(MAGIC)) != MAGIC:
        raise ModelFileError(f"{where} is not a bayesfm model file (wrong magic bytes)")
    line = f.readline(_MAX_HEADER)
    try:
        header = json.loads(line)
    except ValueError:
        header = None
    version = header.get("format_version") if isinstance(header, dict) else None
    if type(version) is int and version > FORMAT_VERSION:
        raise ModelFileError(
            f"{where} has model format version {version}, but bayesfm {__version__} reads "
            f"format versions up to {FORMAT_VERSION}: upgrade to a bayesfm that reads format "
            f"version {version}"
        )
    if type(version) is int and version < MIN_FORMAT_VERSION:
        raise ModelFileError(
            f"{where} has model format version {version}, but bayesfm {__version__} reads "
            f"format versions {MIN_FORMAT_VERSION} to {FORMAT_VERSION}: load it with a bayesfm "
            f"that reads format version {version} and save it again"
        )
    # Canonical and complete: every byte of the header matters, like those of the payload.
    ok = (isinstance(header, dict) and set(header) == _HEADER_KEYS
          and type(version) is int and MIN_FORMAT_VERSION <= version <= FORMAT_VERSION
          and _dumps(header) + b"\n" == line
          and all(type(header[k]) is int and header[k] >= 0
                  for k in ("config_length", "payload_length")))
    if not ok:
        raise ModelFileError(f"{where}: the header is corrupted")
    return header


def _write_tree(tree: xr.DataTree, path: Path) -> None:
    """Write ``tree`` as netCDF4 at ``path``, its larger numeric arrays compressed."""
    encoding = {}
    for node in tree.subtree:
        ds = node.to_dataset(inherit=False)
        encoding[node.path] = {name: dict(_COMPRESSION) for name, var in ds.variables.items()
                               if var.dtype.kind in "iuf" and var.nbytes >= _COMPRESS_BYTES}
    tree.to_netcdf(path, engine=_NETCDF_ENGINE, encoding=encoding)


def _read_tree(f: io.BufferedIOBase, offset: int, length: int) -> xr.DataTree:
    """Decode the netCDF payload into an in-memory DataTree of plain numpy arrays."""
    # Raw values: no masking or scaling, no times; bools and strings still decode.
    lazy = xr.open_datatree(
        _Window(f, offset, length), engine=_NETCDF_ENGINE, mask_and_scale=False,
        decode_times=False, decode_timedelta=False,
    )
    try:
        nodes = {}
        for node in lazy.subtree:
            ds = node.to_dataset(inherit=False)
            nodes[node.path] = xr.Dataset(
                {k: (v.dims, np.array(v.values)) for k, v in ds.data_vars.items()},
                coords={k: (v.dims, np.array(v.values)) for k, v in ds.coords.items()},
            )
    finally:
        lazy.close()
    return xr.DataTree.from_dict(nodes)


def _dtype(name: str, kinds: str) -> np.dtype[Any]:
    dtype = np.dtype(name)
    if dtype.kind not in kinds:
        raise ModelFileError(f"unexpected dtype {name!r} in the configuration")
    return dtype

